"""The commands users run, timed as whole processes: ``cvm run`` against lifetimes' script for the same job.

Each row runs a command in a fresh process and measures its wall time (from start to exit,
imports included) and its peak resident memory (the child's ``ru_maxrss`` from ``wait4``):

1. ``cvm run FILE --out scores.parquet --workspace WS --time-unit month --horizon 12
   --discount-rate 0.126825`` on ``--customers`` customers (default 1,000,000, about 2.8 M
   transactions), from Parquet and from CSV, against ``python benchmarks/lifetimes_run.py
   FILE out.parquet --horizon 12 --discount 0.01`` (pandas read, summary, BetaGeoFitter,
   GammaGammaFitter, ``customer_lifetime_value``, one row per customer written). Both value
   12 months discounted 1 % a month (0.126825 a year = 1.01**12 - 1); cvm also validates,
   quarantines and stores every row and the run in its workspace, and values with the margin.
   The two commands alternate (cvm, lifetimes, cvm, …), each workspace and output fresh;
   medians of ``--repeat`` runs. In the same alternation, :mod:`floor_run` (the least the
   job needs: imports, DuckDB's read + summary, a valuation with fixed parameters, the output
   file; and the same keeping the rows in a DuckDB file) gives ``floor_s`` and
   ``floor_store_s``, and ``floor_ratio`` / ``floor_store_ratio``: lifetimes' time over the
   floor's, the most any command doing this job could reach on this machine.
2. The same ``cvm run`` on ``--big-customers`` customers (default 10,000,000, about 28 M
   transactions, Parquet); lifetimes is not run at this size (its pandas summary and
   fit would take many minutes and more memory than the machine has to spare). Target
   ≤ 60 s and ≤ 4 GB.

``--before SRC`` times an earlier cvm too (its source folder, e.g. a ``git archive`` of an earlier
commit's ``src``), in the same alternation, as ``before_s`` and ``before_peak_mb``: a before/after
comparison under the same load.

The transaction files are made once by :func:`cvm.data.simulate.write_transactions`
(seed 1) in ``--data`` (default ``bench-results/data``, or ``$CVM_BENCH_DATA``) and kept
there for the next run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

HERE = Path(__file__).resolve().parent
HORIZON, MONTHLY = 12, 0.01
YEARLY = round((1 + MONTHLY) ** 12 - 1, 6)  # 0.126825: cvm's rate is yearly, converted per month


def data_file(folder: Path, customers: int, suffix: str) -> Path:
    """The simulated transaction file of ``customers`` customers (made on first use, in its own process)."""
    path = folder / f"tx-{customers}-seed1{suffix}"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        code = ("import sys; from cvm.data.simulate import write_transactions; "
                "write_transactions(sys.argv[1], n_customers=int(sys.argv[2]), seed=1, format=sys.argv[3])")
        print(f"making {path} …", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-c", code, str(partial), str(customers), suffix[1:]], check=True)
        os.replace(partial, path)
    return path


def cvm_command(path: Path, out: Path, workspace: Path) -> list[str]:
    cvm = Path(sys.executable).with_name("cvm")
    head = [str(cvm)] if cvm.exists() else [sys.executable, "-m", "cvm.cli"]
    return head + ["run", str(path), "--out", str(out), "--workspace", str(workspace), "--time-unit", "month",
                   "--horizon", str(HORIZON), "--discount-rate", str(YEARLY)]


def lifetimes_command(path: Path, out: Path) -> list[str]:
    return [sys.executable, str(HERE / "lifetimes_run.py"), str(path), str(out), "--horizon", str(HORIZON),
            "--discount", str(MONTHLY)]


def floor_command(path: Path, out: Path, store: Path | None = None) -> list[str]:
    """:mod:`floor_run`: the least the job needs (read + summary + value + write; ``store``: + keep the rows)."""
    return ([sys.executable, str(HERE / "floor_run.py"), str(path), str(out), "--horizon", str(HORIZON)]
            + ([] if store is None else ["--store", str(store)]))


def measure(cmd: list[str], src: Path | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak resident MB, CPU seconds) of ``cmd`` as one process; raises when it fails.

    The CPU seconds are user + system time of the process and every thread it ran (``wait4``):
    less disturbed than the wall time when other work shares the machine.

    ``src``: run cvm from this source folder (first on ``PYTHONPATH``) instead of the installed one.
    """
    env = None
    if src is not None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), *filter(None, [os.environ.get("PYTHONPATH")])])}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime  # ru_maxrss: kilobytes on Linux


def shown(cmd: list[str], path: Path) -> str:
    """The command as a user types it (file names without the temporary folders)."""
    words = ["cvm" if w.endswith("/cvm") or w == "cvm.cli" else w for w in cmd]
    if words[:2] == [sys.executable, "-m"]:
        words = words[2:]
    words = [path.name if w == str(path) else Path(w).name if os.sep in w else w for w in words]
    if words[0] == sys.executable or words[0].endswith("python"):
        words[0] = "python"
    if len(words) > 1 and words[1].endswith(("lifetimes_run.py", "floor_run.py")):
        words[1] = "benchmarks/" + Path(words[1]).name
    return "`" + " ".join(words) + "`"


def count_rows(path: Path) -> int:
    import duckdb

    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    return int(duckdb.connect().execute(f"SELECT count(*) FROM {reader}(?)", [str(path)]).fetchall()[0][0])


def compare(path: Path, customers: int, repeat: int, work: Path, with_lifetimes: bool,
            before: Path | None = None) -> dict:
    """``cvm run`` (and lifetimes' script, alternated) on ``path``; medians of ``repeat`` runs.

    With ``before`` (a source folder of an earlier cvm) that version's ``cvm run`` is timed too,
    in the same alternation (before, now, lifetimes, before, now, …), as ``before_s``.
    """
    ours, theirs, earlier, floor, floor_store = [], [], [], [], []
    for i in range(repeat):
        if before is not None:
            workspace, out = work / f"before-ws{i}", work / f"before{i}.parquet"
            earlier.append(measure(cvm_command(path, out, workspace), src=before))
            shutil.rmtree(workspace, ignore_errors=True)
            out.unlink(missing_ok=True)
        workspace, out = work / f"ws{i}", work / f"cvm{i}.parquet"
        ours.append(measure(cvm_command(path, out, workspace)))
        shutil.rmtree(workspace, ignore_errors=True)
        out.unlink(missing_ok=True)
        if with_lifetimes:
            out = work / f"lifetimes{i}.parquet"
            theirs.append(measure(lifetimes_command(path, out)))
            out.unlink(missing_ok=True)
            # the floor (benchmarks/floor_run.py): without and with keeping the rows in a DuckDB file
            out, store = work / f"floor{i}.parquet", work / f"floor{i}.duckdb"
            floor.append(measure(floor_command(path, out)))
            floor_store.append(measure(floor_command(path, out, store)))
            out.unlink(missing_ok=True)
            store.unlink(missing_ok=True)
    n_tx = count_rows(path)
    kind = "Parquet" if path.suffix == ".parquet" else "CSV"
    t_ours = statistics.median(t for t, _, _ in ours)
    row = {
        "benchmark": f"{shown(cvm_command(path, work / 'scores.parquet', work / 'ws'), path)}: "
                     f"{customers:,} customers, {n_tx / 1e6:.2f} M transactions, {kind}",
        "cvm_s": t_ours, "cvm_peak_mb": max(m for _, m, _ in ours), "command": "cvm run",
        "runs_cvm_s": [round(t, 2) for t, _, _ in ours],
        "cvm_cpu_s": statistics.median(c for _, _, c in ours), "load_average": os.getloadavg()[0],
    }
    spread = f"cvm runs {', '.join(f'{t:.1f}' for t, _, _ in ours)} s"
    if earlier:
        row.update({"before_s": statistics.median(t for t, _, _ in earlier),
                    "before_peak_mb": max(m for _, m, _ in earlier), "runs_before_s": [round(t, 2) for t, _, _ in earlier],
                    "before_cpu_s": statistics.median(c for _, _, c in earlier)})
    if theirs:
        t_theirs = statistics.median(t for t, _, _ in theirs)
        row.update({
            "lifetimes_s": t_theirs, "ratio": t_theirs / t_ours, "lifetimes_peak_mb": max(m for _, m, _ in theirs),
            "runs_lifetimes_s": [round(t, 2) for t, _, _ in theirs],
            "lifetimes_cpu_s": statistics.median(c for _, _, c in theirs),
        })
        for key, runs in (("floor", floor), ("floor_store", floor_store)):
            row[f"{key}_s"] = statistics.median(t for t, _, _ in runs)
            row[f"{key}_cpu_s"] = statistics.median(c for _, _, c in runs)
            row[f"{key}_ratio"] = t_theirs / row[f"{key}_s"]  # the most a command doing this job could reach
        row["notes"] = (f"lifetimes: {shown(lifetimes_command(path, work / 'out.parquet'), path)}; medians of "
                        f"{repeat} alternated runs ({spread}; lifetimes {', '.join(f'{t:.1f}' for t, _, _ in theirs)} s); "
                        f"lifetimes peak {row['lifetimes_peak_mb']:,.0f} MB")
    else:
        row["notes"] = (f"lifetimes not run at this size (its pandas summary and fit would take many minutes); "
                        f"median of {repeat} ({spread}); target ≤ 60 s, ≤ 4 GB")
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--big-customers", type=int, default=10_000_000, help="0: skip the cvm-only row")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big-repeat", type=int, help="runs at --big-customers (default: --repeat)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("CVM_BENCH_DATA", HERE.parent / "bench-results" / "data")))
    parser.add_argument("--skip-csv", action="store_true")
    parser.add_argument("--before", type=Path, help="source folder (holding cvm/) of an earlier cvm to time beside this one")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cvm-bench-commands-"))
    rows = []
    try:
        suffixes = [".parquet"] + ([] if args.skip_csv else [".csv"])
        for suffix in suffixes:
            rows.append(compare(data_file(args.data, args.customers, suffix), args.customers, args.repeat, work, True,
                                args.before))
        if args.big_customers:
            path = data_file(args.data, args.big_customers, ".parquet")
            rows.append(compare(path, args.big_customers, args.big_repeat or args.repeat, work, False, args.before))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(rows)


if __name__ == "__main__":
    main()
