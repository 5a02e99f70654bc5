"""BG/NBD fits: cvm against pymc-marketing's maximum a posteriori fit, on the same summaries.

pymc-marketing brings PyMC and PyTensor (a C compiler at run time), so it is not a
dependency of cvm: point ``--pymc-python`` (or ``CVM_PYMC_PYTHON``) at an interpreter
that has it, for example::

    python3 -m venv /tmp/pymc-venv && /tmp/pymc-venv/bin/pip install pymc-marketing
    python benchmarks/bench_pymc.py --pymc-python /tmp/pymc-venv/bin/python

Without one the benchmark says so and reports nothing. Each fit is timed from the
summary frame to fitted parameters, model construction included (what a user waits
for); medians of ``--repeat`` runs, each library in its own process. Note that
pymc-marketing's MAP fit maximises the posterior under its default priors, so its
estimates differ somewhat from the maximum-likelihood ones that cvm and lifetimes give.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from common import report

PYMC_SCRIPT = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
from pymc_marketing.clv import BetaGeoModel
data = pd.read_parquet(sys.argv[1])
data.insert(0, "customer_id", range(len(data)))
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    model = BetaGeoModel(data=data[["customer_id", "frequency", "recency", "T"]])
    model.fit(method="map", progressbar=False)
    times.append(time.perf_counter() - start)
summary = model.fit_summary()
print("RESULT " + json.dumps({"times": times, "params": {k: float(summary[k]) for k in ("r", "alpha", "a", "b")}}))
"""


def cvm_times(path: Path, repeat: int) -> tuple[list[float], dict[str, float]]:
    import pandas as pd

    from cvm.models import BGNBD

    data = pd.read_parquet(path)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        model = BGNBD().fit(data["frequency"], data["recency"], data["T"])
        times.append(time.perf_counter() - start)
    return times, {k: float(v) for k, v in model.params_.items()}


def pymc_times(python: str, path: Path, repeat: int) -> tuple[list[float], dict[str, float]]:
    proc = subprocess.run([python, "-c", PYMC_SCRIPT, str(path), str(repeat)], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"pymc-marketing run failed:\n{proc.stderr[-2000:]}")
    result = json.loads(lines[-1][7:])
    return result["times"], result["params"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pymc-python", default=os.environ.get("CVM_PYMC_PYTHON"))
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if not args.pymc_python:
        print("pymc-marketing: no interpreter given (--pymc-python or CVM_PYMC_PYTHON); nothing measured")
        return
    from cvm.data.datasets import load_cdnow_summary
    from cvm.models import BGNBD

    work = Path(tempfile.mkdtemp(prefix="cvm-bench-pymc-"))
    cdnow = load_cdnow_summary()[["frequency", "recency", "T"]].reset_index(drop=True)
    # CDNOW-like customers (the published estimates, 39-week calibration): the generative process
    simulated = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426).simulate(args.customers, T=39.0, seed=3)
    rows = []
    for label, frame in ((f"CDNOW {len(cdnow):,}", cdnow), (f"{args.customers:,} simulated", simulated)):
        path = work / "summary.parquet"
        frame.to_parquet(path)
        ours, ours_params = cvm_times(path, args.repeat)
        theirs, their_params = pymc_times(args.pymc_python, path, args.repeat)
        cvm_s, pymc_s = float(np.median(ours)), float(np.median(theirs))
        rows.append({
            "benchmark": f"BG/NBD fit, {label}: cvm (ML) vs pymc-marketing (MAP)", "cvm_s": cvm_s,
            "pymc_s": pymc_s, "ratio_pymc": pymc_s / cvm_s,
            "notes": f"pymc-marketing {pymc_s:.2f} s (first run {theirs[0]:.2f} s) = {pymc_s / cvm_s:.0f}x cvm; "
                     + "estimates r/alpha/a/b cvm " + "/".join(f"{ours_params[k]:.3f}" for k in ("r", "alpha", "a", "b"))
                     + ", pymc " + "/".join(f"{their_params[k]:.3f}" for k in ("r", "alpha", "a", "b")),
        })
    report(rows)


if __name__ == "__main__":
    main()
