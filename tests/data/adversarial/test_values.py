"""Every adversarial values file (make_values.py) through the user's own paths, against its expected outcome.

Each file is ingested by ``Workspace.ingest`` and by ``cvm ingest`` as a separate process
(with the machine's time zone set to New York, and for zone-aware files also to UTC: the
stored times must not move), and the stored rows and quarantine reasons compared with
what make_values.py says by hand. One realistic Dutch export also runs through ``cvm run``:
its scores must be finite and not constant.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

from cvm.data import Workspace
from cvm.errors import CvmError

from .make_values import Case, make

ZONED = {"iso_offsets", "zone_aware_parquet", "zone_aware_utc_parquet"}


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Case]:
    return {c.name: c for c in make(tmp_path_factory.mktemp("adversarial-values"))}


CASE_NAMES = [c.name for c in make(Path(tempfile.mkdtemp(prefix="cvm-adversarial-values-")))]


def cvm_process(*args: str, tz: str = "America/New_York") -> subprocess.CompletedProcess:
    """The ``cvm`` command as a whole process, with the machine's time zone set to ``tz``."""
    script = Path(sys.executable).with_name("cvm")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "import sys; from cvm.cli import main; sys.exit(main())"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env={**os.environ, "TZ": tz}, timeout=300)


def _flags(options: dict) -> list[str]:
    return [part for key, value in options.items() for part in (f"--{key.replace('_', '-')}", str(value))]


def _stored(con) -> tuple[dict, dict]:
    rows = {line: (cid, ts, amount) for cid, ts, amount, line in
            con.execute("SELECT customer_id, ts, amount, line FROM transactions").fetchall()}
    reasons = dict(con.execute("SELECT line, reason FROM quarantine").fetchall())
    return rows, reasons


def _assert_outcome(case: Case, rows: dict, reasons: dict) -> None:
    assert reasons == case.quarantined, case.why
    assert set(rows) == set(case.stored), case.why
    for line, (cid, ts, amount) in case.stored.items():
        got = rows[line]
        assert got[0] == cid and got[1] == ts, (line, got, case.why)
        assert math.isclose(got[2], amount, rel_tol=1e-12, abs_tol=1e-12), (line, got, case.why)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_workspace_ingest(cases, tmp_path, name):
    case = cases[name]
    with Workspace.open(tmp_path / "ws") as ws:
        if case.refused:
            with pytest.raises(CvmError, match=case.refused):
                ws.ingest(case.path, **case.options)
            assert ws.con.execute("SELECT count(*) FROM transactions").fetchall() == [(0,)]
            return
        report = ws.ingest(case.path, **case.options)
        assert report.rows_read == report.accepted + report.quarantined + report.duplicates
        assert (report.accepted, report.quarantined) == (len(case.stored), len(case.quarantined))
        _assert_outcome(case, *_stored(ws.con))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_cvm_ingest_process(cases, tmp_path, name):
    case = cases[name]
    ws = tmp_path / "ws"
    done = cvm_process("ingest", str(case.path), "--workspace", str(ws), "--json", *_flags(case.options))
    if case.refused:
        assert done.returncode == 1 and case.refused in done.stderr and "Traceback" not in done.stderr
        return
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["accepted"], report["quarantined"]) == (len(case.stored), len(case.quarantined))
    with duckdb.connect(str(ws / "cvm.duckdb"), read_only=True) as con:
        _assert_outcome(case, *_stored(con))


@pytest.mark.parametrize("name", sorted(ZONED))
@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo"])
def test_zoned_times_do_not_follow_the_machine(cases, tmp_path, name, tz):
    case = cases[name]
    ws = tmp_path / "ws"
    done = cvm_process("ingest", str(case.path), "--workspace", str(ws), "--json", tz=tz)
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(ws / "cvm.duckdb"), read_only=True) as con:
        _assert_outcome(case, *_stored(con))


def test_workspace_time_zone_setting_moves_zoned_times(cases, tmp_path):
    # the same instant, read into a workspace that keeps New York time: 2024-02-29 23:30 UTC is 18:30 there
    with Workspace.open(tmp_path / "ws") as ws:
        ws.save_settings(ws.settings.set("time_zone", "America/New_York"))
        ws.ingest(cases["zone_aware_utc_parquet"].path)
        assert ws.con.execute("SELECT ts FROM transactions").fetchall() == [(dt.datetime(2024, 2, 29, 18, 30),)]


def test_a_dutch_export_with_two_digit_years_scores_finite_and_varied(tmp_path):
    """The issue's case: 11-09-25 was stored as year 0025, T became 104,370 weeks and CLV collapsed."""
    import numpy as np
    import pandas as pd

    from cvm.data.simulate import simulate_transactions

    tx = simulate_transactions(300, seed=3).to_pandas()
    lines = ["Klantnummer;Orderdatum;Bedrag"]
    for i, row in enumerate(tx.itertuples()):
        amount = f"€ {row.amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
        cid = f"{row.customer_id}\u00a0" if i % 7 == 0 else row.customer_id  # NBSP after some ids
        lines.append(f"{cid};{row.ts:%d-%m-%y};{amount}")
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "scores.csv"
    done = cvm_process("run", str(path), "--out", str(out), "--workspace", str(tmp_path / "ws"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["ingest"]
    assert report["accepted"] == len(tx) and report["quarantined"] == 0
    scores = pd.read_csv(out)
    assert len(scores) == tx["customer_id"].nunique()  # NBSP ids are the same customers
    for column in ("clv", "probability_alive", "expected_purchases", "T"):
        values = scores[column].to_numpy(dtype=float)
        assert np.isfinite(values).all(), column
        assert np.ptp(values) > 0, f"{column} is constant"
    assert scores["T"].max() < 200  # weeks: the simulated history is 78 weeks long


@pytest.mark.parametrize("library", ["pandas", "polars", "arrow"])
def test_zone_aware_frames_land_on_the_workspace_clock(tmp_path, monkeypatch, library):
    """Midnight in Amsterdam stays that midnight, whatever zone the machine (and DuckDB's session) is in."""
    import time

    import pandas as pd

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        frame = pd.DataFrame({"customer_id": ["a", "b"], "amount": [1.0, 2.0],
                              "ts": pd.to_datetime(["2024-03-01 00:00", "2024-10-27 02:30"]).tz_localize(
                                  "Europe/Amsterdam", ambiguous=[True, True])})
        if library == "polars":
            import polars as pl

            frame = pl.from_pandas(frame)
        elif library == "arrow":
            import pyarrow as pa

            frame = pa.Table.from_pandas(frame, preserve_index=False)
        with Workspace.open(tmp_path / "ws") as ws:
            ws.ingest(frame)
            got = [r[0] for r in ws.con.execute("SELECT ts FROM transactions ORDER BY line").fetchall()]
    finally:
        monkeypatch.undo()
        time.tzset()
    # 2024-10-27 02:30 happens twice in Amsterdam (clocks go back); the summer-time one was given
    assert got == [dt.datetime(2024, 3, 1), dt.datetime(2024, 10, 27, 2, 30)]
