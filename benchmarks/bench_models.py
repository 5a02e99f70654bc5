"""Model fitting speed: cvm against lifetimes in the same run, on the same data.

* CDNOW 1/10th sample (2,357 customers): BG/NBD and Pareto/NBD fits.
* Simulated customers (default 100,000): Pareto/NBD fit (lifetimes: one run, it is slow).
* Discounted residual purchases (DERT, infinite horizon) of BG/NBD, MBG/NBD and Pareto/NBD for
  1,000,000 simulated customers with day-unit histories (``--dert-customers``), as ``cvm run``
  values them; lifetimes has no DERT for these models.

Both libraries fit the same summary; the log-likelihoods are printed so the
comparison is of equally good fits.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from common import log_likelihood_at, report, timed


def cdnow():
    from cvm.data.datasets import load_cdnow_summary

    return load_cdnow_summary()


def _with_stderr(model):
    model.stderr_  # standard errors are computed on first use
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dert-customers", type=int, default=1_000_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, ParetoNBDFitter

    from cvm.models import BGNBD, ParetoNBD

    d = cdnow()
    x, tx, T = d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy()
    rows = []
    for name, cls, ours, theirs, rep_theirs in (
        # lifetimes' BetaGeoFitter computes its Hessian in fit: time cvm's fit plus standard errors
        ("BG/NBD fit + std errors, CDNOW 2,357", BGNBD, lambda: _with_stderr(BGNBD().fit(x, tx, T)), lambda: BetaGeoFitter().fit(x, tx, T), args.repeat),
        # lifetimes' ParetoNBDFitter (Nelder-Mead) computes no Hessian: both sides fit only
        ("Pareto/NBD fit, CDNOW 2,357", ParetoNBD, lambda: ParetoNBD().fit(x, tx, T), lambda: ParetoNBDFitter().fit(x, tx, T), 3),
    ):
        t_ours, _, m_ours = timed(ours, repeat=args.repeat)
        t_theirs, _, m_theirs = timed(theirs, repeat=rep_theirs, warmup=0)
        rows.append({
            "benchmark": name, "cvm_s": t_ours, "lifetimes_s": t_theirs, "ratio": t_theirs / t_ours,
            "cvm_ll": m_ours.log_likelihood_, "lifetimes_ll": log_likelihood_at(cls, m_theirs.params_, x, tx, T),
        })

    truth = ParetoNBD.from_params(r=0.55, alpha=10.6, s=0.61, beta=11.7)
    sim = truth.simulate(args.customers, T=np.random.default_rng(1).uniform(30, 78, args.customers), seed=2)
    sx, stx, sT = sim["frequency"].to_numpy(), sim["recency"].to_numpy(), sim["T"].to_numpy()
    t_ours, _, m_ours = timed(lambda: ParetoNBD().fit(sx, stx, sT), repeat=3)
    t_theirs, _, m_theirs = timed(lambda: ParetoNBDFitter().fit(sx, stx, sT), repeat=1, warmup=0)
    rows.append({
        "benchmark": f"Pareto/NBD fit, {args.customers:,} simulated (no std errors on either side)", "cvm_s": t_ours, "lifetimes_s": t_theirs,
        "ratio": t_theirs / t_ours, "cvm_ll": m_ours.log_likelihood_,
        "lifetimes_ll": log_likelihood_at(ParetoNBD, m_theirs.params_, sx, stx, sT),
    })
    rows.extend(dert_rows(args.dert_customers, args.repeat))
    report(rows)


def dert_rows(n: int, repeat: int) -> list[dict]:
    """DERT at 10 % a year in weeks on the distinct ``(x, t_x, T)`` of ``n`` customers whose first purchases
    fall on the days of a 12-week acquisition window, observed 78 weeks (the CDNOW design)."""
    from cvm.models import BGNBD, MBGNBD, ParetoNBD
    from cvm.models.base import compress

    rng = np.random.default_rng(3)
    T = (78 * 7 - np.floor(rng.uniform(0, 84, n))) / 7.0
    rows = []
    for model in (BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426),
                  MBGNBD.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614),
                  ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)):
        sim = model.simulate(n, T=T, seed=4)
        keys, _, _ = compress({"x": sim["frequency"].to_numpy(), "tx": np.round(sim["recency"].to_numpy() * 7) / 7,
                               "T": sim["T"].to_numpy()})
        d = 1.1 ** (7 / 365.25) - 1
        t_ours, _, _ = timed(lambda: model.discounted_expected_purchases(keys["x"], keys["tx"], keys["T"], d), repeat=repeat)
        rows.append({"benchmark": f"{type(model).__name__} DERT, {n:,} customers ({keys['x'].size:,} distinct histories)",
                     "cvm_s": t_ours, "lifetimes_s": None, "ratio": None, "notes": "no lifetimes equivalent"})
    return rows


if __name__ == "__main__":
    main()
