"""Run every benchmark (each in its own process), print medians and ratios against lifetimes.

    python benchmarks/run.py            # full sizes (tens of minutes on 2 cores)
    python benchmarks/run.py --quick    # small sizes, a few minutes
    python benchmarks/run.py --only models pipeline

Results are also written to bench-results/results.json and bench-results/table.md
(the README's performance table is copied from there).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: name -> (script, full-size arguments, quick arguments); the commands users run come first
BENCHMARKS = {
    # `cvm run` as a whole process against lifetimes' script for the same job; `cvm run` alone at 10 M customers
    "commands": ("bench_commands.py", [], ["--customers", "100000", "--big-customers", "1000000"]),
    "models": ("bench_models.py", [], ["--customers", "20000", "--repeat", "3"]),
    "pipeline": ("bench_pipeline.py", [], ["--customers", "100000"]),
    "data": ("bench_data.py", [], ["--customers", "1000000", "--csv-transactions", "500000"]),
    "value": ("bench_value.py", [], ["--customers", "200000"]),
    # fits at the edge of the models' space (limits, refusals) and `cvm score --model auto` as a process
    "boundary": ("bench_boundary.py", [], ["--customers", "2000"]),
    "web": ("web_load.py", [], ["--customers", "100000", "--requests", "5000"]),
    "spark": ("spark_scale.py", [], ["--transactions", "1000000"]),
    # needs an interpreter with pymc-marketing in CVM_PYMC_PYTHON (see the script); else reports nothing
    "pymc": ("bench_pymc.py", [], ["--customers", "20000"]),
}


def run_one(name: str, quick: bool) -> list[dict]:
    script, full, small = BENCHMARKS[name]
    path = HERE / script
    if not path.exists():
        print(f"[{name}] {script} not present, skipped")
        return []
    cmd = [sys.executable, str(path), *(small if quick else full)]
    print(f"[{name}] {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True)
    rows = [{**json.loads(line[6:]), "suite": name} for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if proc.returncode != 0:
        print(f"[{name}] failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    print(f"[{name}] {time.perf_counter() - start:.0f} s", flush=True)
    return rows


#: the engine rows as README's performance table gave them before this run (commit 5150a28):
#: benchmark name -> (README's figure, its slowest time in seconds); a row more than 15 % above is marked slower
README_BEFORE = {
    "BG/NBD fit + std errors, CDNOW 2,357": ("7–14 ms", 0.014),
    "Pareto/NBD fit, CDNOW 2,357": ("17–27 ms", 0.027),
    "Pareto/NBD fit, 100,000 simulated (no std errors on either side)": ("0.20–0.30 s", 0.30),
    "CSV → 12-period CLV (BG/NBD + Gamma-Gamma), 1,000,000 customers (2.8 M transactions)": ("1.95–2.24 s", 2.24),
    "same, through a validated workspace ingest, 1,000,000 customers (2.8 M transactions)": ("4.2–4.6 s", 4.6),
    "value 1,000,000 customers with 90% CLV intervals": ("5.2–6.3 s", 6.3),
    "CSV → summary_data_from_transaction_data, 2.5 M transactions": ("0.89–1.28 s", 1.28),
}


def before(row: dict) -> str:
    """README's earlier figure for this row, and whether this run is slower (empty when README has none)."""
    known = README_BEFORE.get(row["benchmark"])
    if known is None or row.get("cvm_s") is None:
        return ""
    text, slowest = known
    return f"{text}{' **slower**' if row['cvm_s'] > 1.15 * slowest else ''}"


def fmt_seconds(v) -> str:
    if v is None:
        return "–"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def table(rows: list[dict]) -> str:
    lines = ["| benchmark | cvm | lifetimes | ratio | README before | notes |", "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['ratio']:.1f}×" if r.get("ratio") else "–"
        notes = r.get("notes", "")
        if "cvm_ll" in r and "lifetimes_ll" in r:
            notes = (notes + " " if notes else "") + f"LL cvm {r['cvm_ll']:,.1f} / lifetimes {r['lifetimes_ll']:,.1f}"
        if "cvm_peak_mb" in r:
            notes = (notes + "; " if notes else "") + f"cvm peak {r['cvm_peak_mb']:,.0f} MB"
        lines.append(f"| {r['benchmark']} | {fmt_seconds(r.get('cvm_s'))} | {fmt_seconds(r.get('lifetimes_s'))} | {ratio} "
                     f"| {before(r)} | {notes} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--only", nargs="*", choices=list(BENCHMARKS), help="run only these")
    args = parser.parse_args()
    chosen = args.only or list(BENCHMARKS)
    out_dir = HERE.parent / "bench-results"
    out_dir.mkdir(exist_ok=True)
    results = out_dir / ("results-quick.json" if args.quick else "results.json")
    # rows of the suites not run now are kept from the previous run (with --only)
    rows: list[dict] = []
    if args.only and results.exists():
        rows = [r for r in json.loads(results.read_text()) if r.get("suite") not in chosen]
    for name in chosen:
        rows.extend(run_one(name, args.quick))
    order = list(BENCHMARKS)
    rows.sort(key=lambda r: order.index(r["suite"]) if r.get("suite") in order else len(order))
    results.write_text(json.dumps(rows, indent=2))
    text = table(rows)
    (out_dir / ("table-quick.md" if args.quick else "table.md")).write_text(text + "\n")
    print()
    print(text)


if __name__ == "__main__":
    main()
