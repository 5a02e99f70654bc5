"""Fits at the edge of the models' space: how long they take to end in a limit or a refusal.

* The Pareto/NBD log-likelihood (value and gradient) at extreme parameters, where the dropout
  integral is summed by quadrature (before: 2F1 tails of up to 1e5 terms, ~10 s per call).
* Fitting for prediction (:func:`cvm.models.limits.fit_for_prediction`) on boundary data:
  heterogeneous buyers without dropout (-> NBD), steady buyers at one rate (-> NBD or Poisson),
  clockwork buyers (-> Poisson), nobody buying twice (-> refusal).
* ``cvm score`` with the default model (``--model auto``) as a whole process: on the CDNOW demo
  workspace and on simulated workspaces (CDNOW-like parameters and steady buyers without dropout).

    python benchmarks/bench_boundary.py [--customers 5000] [--no-cli]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from common import report, timed

#: steady buyers: every customer buys at 0.5 a week (gamma with a huge shape) and (almost) never drops out
STEADY = {"r": 1e6, "alpha": 2e6, "s": 1e-9, "beta": 1e9}


def poisson_buyers(n, rate_shape=None, seed=0):
    rng = np.random.default_rng(seed)
    T = rng.uniform(60, 78, n)
    lam = np.full(n, 0.5) if rate_shape is None else rng.gamma(rate_shape, 0.5 / rate_shape, n)
    x = rng.poisson(lam * T).astype(float)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1), 0.0)
    return x, tx, T


def boundary_fits(n):
    from cvm.errors import ConvergenceError
    from cvm.models import BGNBD, ParetoNBD
    from cvm.models.limits import fit_for_prediction

    rng = np.random.default_rng(9)
    T = rng.uniform(60, 78, n)
    cases = {
        "no dropout, heterogeneous rates": poisson_buyers(n, rate_shape=2.0, seed=1),
        "steady buyers, one rate": poisson_buyers(n, seed=2),
        "clockwork buyers": (np.floor(T / 2.0), 2.0 * np.floor(T / 2.0), T),
        "nobody buys twice": (np.zeros(n), np.zeros(n), T),
    }
    rows = []
    for case, (x, tx, T_) in cases.items():
        for cls in (BGNBD, ParetoNBD):
            def run():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        return type(fit_for_prediction(cls, x, tx, T_)[1]).__name__
                    except ConvergenceError as exc:
                        return f"refused ({exc.code})"
            seconds, _, outcome = timed(run, repeat=3)
            rows.append({"benchmark": f"{cls.__name__} fit, {case}, {n:,} customers", "cvm_s": seconds,
                         "notes": f"ends in {outcome}"})
    return rows


def extreme_likelihood(n):
    from cvm.models import ParetoNBD

    x, tx, T = poisson_buyers(n, seed=3)
    data = {"frequency": x, "recency": tx, "T": T}
    rows = []
    for params in ({"r": 1e6, "alpha": 2e6, "s": 1e-9, "beta": 1e9}, {"r": 3.6e9, "alpha": 7.1e9, "s": 8e-13, "beta": 1.3e3},
                   {"r": 0.3, "alpha": 0.01, "s": 0.4, "beta": 50.0}):
        m = ParetoNBD.from_params(**params)
        theta = m.params_.to_numpy()

        def run():
            m._last_eval = None
            return m._evaluate(theta, data, True)

        seconds, _, (ll, _) = timed(run, repeat=3)
        shown = ", ".join(f"{k}={v:g}" for k, v in params.items())
        rows.append({"benchmark": f"Pareto/NBD log-likelihood + gradient at {shown}, {n:,} customers", "cvm_s": seconds,
                     "notes": "finite" if np.all(np.isfinite(ll)) else "NOT FINITE"})
    return rows


def cvm_score(workdir: Path, sizes):
    """``cvm score`` (default model) as a whole process, after ``cvm ingest`` / ``cvm demo`` (not timed)."""
    from cvm.data.simulate import write_transactions

    cvm = [sys.executable, "-m", "cvm.cli"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    workspaces = []
    ws = workdir / "cdnow"
    subprocess.run([*cvm, "demo", "--workspace", str(ws), "--json"], check=True, capture_output=True, env=env)
    workspaces.append(("CDNOW demo workspace (2,357 customers)", ws))
    for n in sizes:
        for label, options in (("CDNOW-like", {}), ("steady buyers, no dropout", {"model": "pnbd", "params": STEADY})):
            path = write_transactions(workdir / f"sim-{n}-{len(options)}.csv", n_customers=n, seed=n, **options)
            ws = workdir / f"ws-{n}-{len(options)}"
            subprocess.run([*cvm, "ingest", str(path), "--workspace", str(ws), "--json"], check=True, capture_output=True, env=env)
            workspaces.append((f"{n:,} simulated customers, {label}", ws))
    rows = []
    for label, ws in workspaces:
        start = time.perf_counter()
        proc = subprocess.run([*cvm, "score", "--workspace", str(ws), "--json"], capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
        model = None
        if proc.returncode == 0:
            import json

            model = json.loads(proc.stdout).get("model")
        rows.append({"benchmark": f"cvm score (--model auto), {label}", "cvm_s": seconds,
                     "notes": f"exit {proc.returncode}, model {model}"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--no-cli", action="store_true", help="skip the cvm score processes")
    args = parser.parse_args()
    rows = extreme_likelihood(args.customers) + boundary_fits(args.customers)
    if not args.no_cli:
        with tempfile.TemporaryDirectory() as tmp:
            rows += cvm_score(Path(tmp), sorted({300, args.customers}))
    report(rows)


if __name__ == "__main__":
    main()
