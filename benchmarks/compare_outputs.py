"""Compare two ``cvm run`` output files column by column (the same run before and after a change).

    python benchmarks/compare_outputs.py OLD NEW [--rtol 1e-12]

Every column must be present in both, in the same order, with the same values row by row:
texts, dates and whole numbers exactly equal, floats within ``--rtol`` relative (and equal
where either is NaN). ``run_id`` differs between two runs by design and is only checked for
being one value per file. Prints one line per column (the largest relative difference of
floats) and exits 1 when any column differs.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from common import verdict


def read(path: str) -> pd.DataFrame:
    return pd.read_csv(path) if path.endswith(".csv") else pd.read_parquet(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rtol", type=float, default=1e-12)
    args = parser.parse_args()
    old, new = read(args.old), read(args.new)
    bad = []
    if list(old.columns) != list(new.columns):
        print(f"columns differ:\n  old {list(old.columns)}\n  new {list(new.columns)}")
        bad.append("columns")
    if len(old) != len(new):
        print(f"rows differ: {len(old)} vs {len(new)}")
        sys.exit(1)
    for col in old.columns:
        if col not in new.columns:
            continue
        a, b = old[col], new[col]
        kinds = f"{a.dtype} / {b.dtype}"
        if col == "run_id":
            ok = a.nunique() == 1 and b.nunique() == 1
            print(f"{col:<20} one run id per file: {ok}  ({kinds})")
        elif pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
            x, y = a.to_numpy(float), b.to_numpy(float)
            same_nan = np.array_equal(np.isnan(x), np.isnan(y))
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.abs(x - y) / np.maximum(np.abs(x), np.abs(y))
            rel = np.where((x == y) | (np.isnan(x) & np.isnan(y)), 0.0, rel)
            worst = float(np.nanmax(rel)) if len(rel) else 0.0
            exact = int(np.sum((x == y) | (np.isnan(x) & np.isnan(y))))
            ok = same_nan and worst <= args.rtol
            print(f"{col:<20} max rel diff {worst:.3g}; {exact:,} of {len(x):,} bit-equal  ({kinds})")
        else:
            ok = bool((a.astype(str).to_numpy() == b.astype(str).to_numpy()).all()) and a.dtype == b.dtype
            print(f"{col:<20} equal: {ok}  ({kinds})")
        if not ok:
            bad.append(col)
    verdict(bad)


if __name__ == "__main__":
    main()
