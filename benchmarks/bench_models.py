"""Model fitting speed: cvm against lifetimes in the same run, on the same data.

* CDNOW 1/10th sample (2,357 customers): BG/NBD and Pareto/NBD fits.
* Simulated customers (default 100,000): Pareto/NBD fit (lifetimes: one run, it is slow).

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
    report(rows)


if __name__ == "__main__":
    main()
