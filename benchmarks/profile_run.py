"""Where the seconds of one ``cvm run`` go: the command in this process, each stage timed.

    python benchmarks/profile_run.py FILE [cvm run options ...]

Runs ``cvm run FILE --out OUT --workspace WS --time-unit month --horizon 12
--discount-rate 0.126825`` (fresh temporary workspace and output unless given) through
the CLI's own entry point, with a wall-clock timer around each stage of the path
(imports, ingest, summary, fits, valuation, ranks and tiers, storing, writing, closing
the workspace). Stages
nest: a stage's time includes those inside it. Printed to stderr, one line per stage
(wall seconds, CPU seconds of the process, every thread: less disturbed by a busy machine, and
the peak resident memory so far),
in the order they ended, then the whole run and the peak resident memory. A stage not
found in this version of the code is left out (its time stays in its caller).
"""

from __future__ import annotations

import functools
import importlib
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

START = time.perf_counter()
TIMES: list[tuple[str, int, float, float, float]] = []
_nesting = threading.local()  # each thread nests its own stages (--out is written in a second thread)

#: (module, attribute path, label): what is timed when present
STAGES = [
    ("cvm.data.warehouse", "Workspace.ingest", "ingest (read + validate + quarantine + insert)"),
    ("cvm.data.warehouse", "Workspace._insert_passed", "ingest: insert passing rows"),
    ("cvm.data.warehouse", "Workspace._quarantine", "ingest: quarantine"),
    ("cvm.data.readers", "stage", "ingest: stage the file"),
    ("cvm.service.scoring", "score_customers", "score_customers (everything below)"),
    ("cvm.service.scoring", "score_table", "score_table (everything below)"),
    ("cvm.service.scoring", "_inputs", "inputs: summary + fits + margins"),
    ("cvm.service.scoring", "resolve_as_of", "as-of date"),
    ("cvm.data.summary", "workspace_summary", "summary"),
    ("cvm.data.summary", "summary_with_margins", "summary + customer margins (one scan)"),
    ("cvm.data.summary", "summary_table", "summary"),
    ("cvm.value.clv", "Histories.of", "distinct histories"),
    ("cvm.service.scoring", "distinct_histories", "distinct histories (for the fit and the valuation)"),
    ("cvm.service.scoring", "fit_model", "fit purchase model"),
    ("cvm.service.scoring", "fit_spend_model", "fit spend model"),
    ("cvm.data.tables", "WorkspaceTables.customer_revenue_and_margin", "customer margins"),
    ("cvm.service.scoring", "valuation_columns", "valuation"),
    ("cvm.value.clv", "_residual_purchases", "valuation: residual value"),
    ("cvm.value.clv", "log_gradient", "valuation: interval gradients"),
    ("cvm.service.scoring", "rank_and_percentile", "ranks"),
    ("cvm.service.scoring", "stage_codes", "lifecycle stages"),
    ("cvm.service.scoring", "planned_costs", "planned costs"),
    ("cvm.service.scoring", "save_scores", "store scores"),
    ("cvm.data.scores", "save_scores", "store scores"),
    ("cvm.cli.value_commands", "write_run", "write --out"),
    ("cvm.data.export", "export", "write --out"),
    ("cvm.data.export", "export_table", "write --out"),
    ("cvm.service.scoring", "stage_export", "write --out (a second thread, while the scores are stored)"),
    ("cvm.data.export", "stage_export", "write --out (a second thread, while the scores are stored)"),
    ("cvm.data.generations", "release", "close the workspace: checkpoint + publish"),
]


def _wrap(fn, label):
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        depth = getattr(_nesting, "depth", 0)
        _nesting.depth = depth + 1
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            _nesting.depth = depth
            TIMES.append((label, depth, time.perf_counter() - start, time.process_time() - cpu,
                          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    return timed


def _install() -> None:
    done = set()
    for module, path, label in STAGES:
        try:
            owner = importlib.import_module(module)
        except ImportError:
            continue
        *parents, name = path.split(".")
        for part in parents:
            owner = getattr(owner, part, None)
        fn = getattr(owner, name, None) if owner is not None else None
        if fn is None or (id(owner), name) in done:
            continue
        done.add((id(owner), name))
        setattr(owner, name, _wrap(fn, label))


def main() -> None:
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    work = Path(tempfile.mkdtemp(prefix="cvm-profile-"))
    if "--out" not in args:
        args += ["--out", str(work / "scores.parquet")]
    if "--workspace" not in args:
        args += ["--workspace", str(work / "ws")]
    if "--time-unit" not in args:
        args += ["--time-unit", "month", "--horizon", "12", "--discount-rate", "0.126825"]
    t0, c0 = time.perf_counter(), time.process_time()
    from cvm.cli import main as cli_main

    imported, imported_cpu = time.perf_counter() - t0, time.process_time() - c0
    _install()
    wrapped = time.perf_counter() - t0 - imported
    begun, begun_cpu = time.perf_counter(), time.process_time()
    try:
        code = cli_main(["run", *args])
    finally:
        total = time.perf_counter() - START
        shutil.rmtree(work, ignore_errors=True)
    err = sys.stderr
    print(f"{'stage':<52} {'wall s':>7} {'cpu s':>7} {'peak MB so far':>15}", file=err)
    print(f"{'import cvm.cli':<52} {imported:7.3f} {imported_cpu:7.3f}", file=err)
    print(f"{'imports made while wrapping stages':<52} {wrapped:7.3f}", file=err)
    for label, depth, seconds, cpu, peak in TIMES:
        print(f"{'  ' * depth + label:<52} {seconds:7.3f} {cpu:7.3f} {peak:15.0f}", file=err)
    print(f"{'the command (after imports)':<52} {time.perf_counter() - begun:7.3f} {time.process_time() - begun_cpu:7.3f}",
          file=err)
    print(f"{'whole process (since this script started)':<52} {total:7.3f} {time.process_time():7.3f}   exit {code}",
          file=err)
    print(f"{'peak resident memory':<52} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MB", file=err)


if __name__ == "__main__":
    main()
