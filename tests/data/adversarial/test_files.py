"""Each adversarial file of :mod:`make_files`, ingested as a user would: the ``cvm ingest`` command
as a process, and ``Workspace.ingest``. Stored rows, source lines, quarantine reasons and raw
text must be what the file was built to hold; the spreadsheets are read in bounded memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cvm.data import Workspace, readers
from cvm.data.reasons import quarantine_reason, reason_kind

from .make_files import MAKERS, make_all


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_all(tmp_path_factory.mktemp("adversarial-files"))


NAMES = [pytest.param(name, marks=pytest.mark.slow) if "40mb" in name else name
         for name in (m.__name__.removeprefix("make_") for m in MAKERS)]


def _cli_ingest(path: Path, ws: Path) -> dict:
    """``cvm ingest PATH --json`` run as its own process: the installed console script."""
    cvm = Path(sys.executable).with_name("cvm")
    command = [str(cvm)] if cvm.exists() else [sys.executable, "-c",
                                               "import sys; from cvm.cli import main; sys.exit(main())"]
    proc = subprocess.run([*command, "ingest", str(path), "--workspace", str(ws), "--json"],
                          capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _check(ws: Workspace, report: dict, expected) -> None:
    assert (report["rows_read"], report["accepted"], report["quarantined"], report["duplicates"]) == \
        (expected.rows_read, len(expected.stored), len(expected.quarantine), 0)
    assert report["rows_read"] == report["accepted"] + report["quarantined"] + report["duplicates"]
    stored = ws.con.execute("SELECT customer_id, amount, line FROM transactions ORDER BY line").fetchall()
    assert stored == expected.stored
    quarantined = ws.con.execute("SELECT line, reason, raw FROM quarantine ORDER BY line").fetchall()
    assert len(quarantined) == len(expected.quarantine)
    for (line, reason, raw), (want_line, want_reason) in zip(quarantined, expected.quarantine):
        assert line == want_line and reason.startswith(want_reason), (line, reason)
        if line in expected.raw:
            assert raw == expected.raw[line]
    for customer, channel in expected.channels.items():
        got = ws.con.execute("SELECT channel FROM transactions WHERE customer_id = ?", [customer]).fetchall()
        assert got == [(channel,)]


# first: a regression here would make the in-process ingests below grow past 6 GB
@pytest.mark.parametrize("short", ["stray_cell_far_corner", "stray_cell_far_right"])
def test_spreadsheet_with_a_stray_far_cell_is_read_in_bounded_memory(files, tmp_path, short):
    path, expected = files[short]
    assert path.stat().st_size < 10_000  # a small file: its stated dimension is the whole grid
    script = textwrap.dedent(f"""
        import json, resource
        from cvm.data import Workspace, readers
        with Workspace.open({str(tmp_path / 'ws')!r}) as ws:
            report = ws.ingest({str(path)!r})
        try:  # this process's own peak (getrusage's ru_maxrss keeps the parent's peak across fork + exec)
            status = open("/proc/self/status").read()
            peak_mb = int(status.split("VmHWM:")[1].split()[0]) / 1024
        except (OSError, IndexError):
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({{"accepted": report.accepted, "quarantined": report.quarantined, "peak_mb": peak_mb}}))
    """)
    # the old reader grew past 6 GB on this file: the timeout stops a regression before the machine does
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (result["accepted"], result["quarantined"]) == (len(expected.stored), len(expected.quarantine))
    assert result["peak_mb"] < expected.max_memory_mb


@pytest.mark.parametrize("short", NAMES)
def test_workspace_ingest(files, tmp_path, short):
    path, expected = files[short]
    with Workspace.open(tmp_path / "ws") as ws:
        report = ws.ingest(path).to_dict()
        _check(ws, report, expected)


@pytest.mark.parametrize("short", NAMES)
def test_cvm_ingest_as_a_process(files, tmp_path, short):
    path, expected = files[short]
    report = _cli_ingest(path, tmp_path / "ws")
    with Workspace.open(tmp_path / "ws", read_only=True) as ws:
        _check(ws, report, expected)
    # a second process on the same workspace finds every row already there
    again = _cli_ingest(path, tmp_path / "ws")
    assert (again["accepted"], again["duplicates"], again["quarantined"]) == \
        (0, len(expected.stored), len(expected.quarantine))


def test_new_reasons_in_dutch_and_by_kind():
    # (code and values as stored, stored, Dutch by hand, kind in English, kind in Dutch)
    cases = [
        ("invalid_utf8", {"byte": "0xEB", "position": "3"},
         "invalid UTF-8: 0xEB at byte 3", "ongeldige UTF-8: 0xEB op byte 3", "invalid UTF-8", "ongeldige UTF-8"),
        ("unclosed_quote", None, 'unclosed quote: the line opens a field with " that is never closed',
         'aanhalingsteken niet gesloten: de regel opent een veld met " dat nergens wordt gesloten',
         'unclosed quote: the line opens a field with " that is never closed',
         'aanhalingsteken niet gesloten: de regel opent een veld met " dat nergens wordt gesloten'),
    ]
    for code, values, stored, dutch, kind_en, kind_nl in cases:
        assert quarantine_reason(stored, "nl", code=code, values=values) == dutch
        assert reason_kind(stored, code=code, values=values) == kind_en
        assert reason_kind(stored, "nl", code=code, values=values) == kind_nl


@pytest.mark.parametrize("short", ["quoted_line_break", "multiline_notes", "multiline_after_sample",
                                   "multiline_with_rejects"])
def test_records_over_several_lines_read_alike_fast_and_line_by_line(files, tmp_path, monkeypatch, short):
    """DuckDB's read_csv (fast) and the line-exact reader give the same rows, lines and reasons."""
    path, expected = files[short]
    results = []
    for fast in (True, False):
        original = readers.stage
        with monkeypatch.context() as m:
            m.setattr(readers, "stage", lambda *a, **k: original(*a, **{**k, "fast": fast and k.get("fast", True)}))
            with Workspace.open(tmp_path / f"ws-{fast}") as ws:
                report = ws.ingest(path).to_dict()
                _check(ws, report, expected)
                results.append((report["detected"].get("reader"), report["blank_lines"],
                                ws.con.execute("SELECT line, reason FROM quarantine ORDER BY line").fetchall()))
    (fast_reader, *fast_rest), (slow_reader, *slow_rest) = results
    assert fast_reader == "duckdb read_csv" and slow_reader is None
    assert fast_rest == slow_rest
