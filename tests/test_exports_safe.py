"""Exports are safe to open: an id that looks like a formula comes out as text, everywhere.

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read by a spreadsheet as a formula (OWASP, "CSV Injection"). cvm writes such texts in
``.xlsx`` as string cells (read back with openpyxl: ``data_type == 's'``, and no ``<f>``
formula element in the sheet's XML), and in ``.csv`` with a single quote in front, as
OWASP recommends. Numbers stay numbers. Control characters (which an .xlsx cannot hold)
never crash an export. Checked on ``cvm.data.export`` itself, on ``cvm`` processes
(``score --out``, ``customers --out``, ``actions --out``) and on ``/api/scores.csv`` from a
real server.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pandas as pd
import pytest

#: ids of the brief, each of which a spreadsheet would run or evaluate
FORMULA_IDS = ["=1+1", '=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1", "@SUM(1)", "\t=1"]
#: more texts of the same kind, and texts openpyxl would otherwise turn into something else
MORE_IDS = ["-2+3", "\r=1", "#N/A", "=", "plain"]
#: texts an .xlsx cannot hold (XML 1.0): they used to crash every Excel export
CONTROL_IDS = ["K\x00NUL", "K\x07BELL", "K\x1bESC"]


def cvm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True, timeout=600)


def csv_rows(source: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV file (read without newline translation: a CR inside a field stays) or text."""
    if isinstance(source, Path):
        with open(source, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    return list(csv.DictReader(io.StringIO(source, newline="")))


def xlsx_cells(path: Path) -> dict[str, list]:
    """Column name -> cells (openpyxl), and a check that the workbook holds no formula at all."""
    import openpyxl

    with zipfile.ZipFile(path) as book:
        for name in book.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in book.read(name) and b"<f " not in book.read(name), "a formula in " + name
    sheet = openpyxl.load_workbook(path).active
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    return {name: [row[i] for row in rows[1:]] for i, name in enumerate(header)}


def expected_csv(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# ----------------------------------------------------------------------------- cvm.data.export itself


@pytest.fixture()
def frame() -> pd.DataFrame:
    ids = FORMULA_IDS + MORE_IDS
    out = pd.DataFrame({"customer_id": ids, "amount": [-10.5] + [1.0] * (len(ids) - 1),
                        "n": list(range(len(ids))), "note": ["=2*3"] + [None] * (len(ids) - 1)})
    out.attrs.update(run_id="r1", as_of="2024-12-31", model="bgnbd")
    return out


def test_xlsx_writes_every_text_as_a_string_cell(tmp_path, frame):
    from cvm.data.export import export

    cells = xlsx_cells(export(frame, tmp_path / "out.xlsx"))
    assert [c.value for c in cells["customer_id"]] == [i.replace("\r", "\n") if i.startswith("\r") else i
                                                      for i in frame["customer_id"]]
    assert {c.data_type for c in cells["customer_id"]} == {"s"}
    assert cells["note"][0].value == "=2*3" and cells["note"][0].data_type == "s"
    # numbers stay numbers, the negative amount included
    assert cells["amount"][0].value == -10.5 and cells["amount"][0].data_type == "n"
    assert [c.value for c in cells["n"]] == list(range(len(frame)))
    assert {c.value for c in cells["model"]} == {"bgnbd"} and {c.value.date().isoformat() for c in cells["as_of"]} == {
        "2024-12-31"}


def test_csv_prefixes_formula_texts_with_a_quote(tmp_path, frame):
    from cvm.data.export import export

    rows = csv_rows(export(frame, tmp_path / "out.csv"))
    assert [r["customer_id"] for r in rows] == [expected_csv(i) for i in frame["customer_id"]]
    assert rows[0]["customer_id"] == "'=1+1" and rows[1]["customer_id"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert rows[5]["customer_id"] == "'\t=1" and rows[-1]["customer_id"] == "plain"
    assert rows[0]["note"] == "'=2*3"
    assert rows[0]["amount"] == "-10.5"  # a number, not a text: no quote
    assert {r["as_of"] for r in rows} == {"2024-12-31"} and {r["model"] for r in rows} == {"bgnbd"}


def test_parquet_keeps_texts_unchanged(tmp_path, frame):
    from cvm.data.export import export

    back = pd.read_parquet(export(frame, tmp_path / "out.parquet"))
    assert list(back["customer_id"]) == list(frame["customer_id"]) and set(back["model"]) == {"bgnbd"}


def test_control_characters_never_crash_an_export(tmp_path):
    from cvm.data.export import export

    frame = pd.DataFrame({"customer_id": CONTROL_IDS, "clv": [1.0, 2.0, 3.0]})
    cells = xlsx_cells(export(frame, tmp_path / "out.xlsx"))
    assert [c.value for c in cells["customer_id"]] == ["K\ufffdNUL", "K\ufffdBELL", "K\ufffdESC"]
    rows = csv_rows(export(frame, tmp_path / "out.csv"))
    assert [r["customer_id"] for r in rows] == CONTROL_IDS  # a CSV can hold them


def test_column_names_are_safe_too(tmp_path):
    from cvm.data.export import export

    frame = pd.DataFrame({"=cmd|' /C calc'!A0": ["x"], "@name": [1.0]})
    assert next(csv.reader(io.StringIO((export(frame, tmp_path / "o.csv")).read_text()))) == [
        "'=cmd|' /C calc'!A0", "'@name"]
    cells = xlsx_cells(export(frame, tmp_path / "o.xlsx"))
    assert list(cells) == ["=cmd|' /C calc'!A0", "@name"]


# ----------------------------------------------------------------------------- cvm processes


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    """A workspace whose transactions carry the formula ids (300 simulated customers, 6 renamed), scored by cvm."""
    from cvm.data.simulate import simulate_transactions

    root = tmp_path_factory.mktemp("safe")
    frame = simulate_transactions(300, start="2023-01-01", end="2024-12-31", acquisition_end="2023-06-30", seed=11,
                                  as_pandas=True)
    rename = dict(zip([f"C{i}" for i in range(1, len(FORMULA_IDS) + 1)], FORMULA_IDS))
    frame["customer_id"] = frame["customer_id"].map(lambda c: rename.get(c, c))
    frame.to_csv(root / "orders.csv", index=False)
    ws = root / "ws"
    assert cvm("ingest", str(root / "orders.csv"), "--workspace", str(ws)).returncode == 0
    proc = cvm("score", "--model", "bgnbd", "--out", str(root / "scores.xlsx"), "--workspace", str(ws))
    assert proc.returncode == 0, proc.stderr
    return ws


def stored_ids(ws: Path) -> list[str]:
    """The ids as the workspace holds them (whatever the ingest made of a leading tab)."""
    import duckdb

    with duckdb.connect(str(ws / "cvm.duckdb"), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT customer_id FROM scores").fetchall()]


def risky(ids: list[str]) -> set[str]:
    return {i for i in ids if i[:1] in ("=", "+", "-", "@", "\t", "\r")}


def test_score_out_xlsx_from_the_cli(scored):
    ids = stored_ids(scored)
    assert len(risky(ids)) >= 5  # the ingest kept them as ids (a leading tab may be trimmed)
    cells = xlsx_cells(scored.parent / "scores.xlsx")
    written = {c.value: c.data_type for c in cells["customer_id"]}
    assert set(written) == set(ids) and set(written.values()) == {"s"}
    assert {c.data_type for c in cells["clv"]} == {"n"}


@pytest.mark.parametrize("command", ["customers", "actions"])
def test_customers_and_actions_out_from_the_cli(scored, tmp_path, command):
    ids = stored_ids(scored)
    for name in ("out.csv", "out.xlsx"):
        proc = cvm(command, "--out", str(tmp_path / name), "--workspace", str(scored))
        assert proc.returncode == 0, proc.stderr
    rows = csv_rows(tmp_path / "out.csv")
    assert {r["customer_id"] for r in rows} == {expected_csv(i) for i in ids}
    assert all(r["customer_id"] == "'" + r["customer_id"][1:] for r in rows if r["customer_id"][1:] in risky(ids))
    cells = xlsx_cells(tmp_path / "out.xlsx")
    assert {c.value for c in cells["customer_id"]} == set(ids) and {c.data_type for c in cells["customer_id"]} == {"s"}


def test_control_character_ids_in_a_stored_run_export_from_the_cli(tmp_path):
    """A run holding ids with NUL and other control characters: every format is written, nothing crashes."""
    from cvm.data import Workspace
    from cvm.data.scores import new_run_id, save_scores

    ws = Workspace.open(tmp_path / "ws")
    ids = CONTROL_IDS + FORMULA_IDS
    save_scores(ws, pd.DataFrame({"customer_id": ids, "clv": [float(i) for i in range(len(ids))],
                                  "rank": list(range(1, len(ids) + 1)), "value_tier": ["=gold"] * len(ids)}),
                {"run_id": new_run_id(), "as_of": "2024-12-31", "created": pd.Timestamp.now(), "model": "bgnbd"})
    ws.close()
    for name in ("c.xlsx", "c.csv", "c.parquet"):
        proc = cvm("customers", "--out", str(tmp_path / name), "--workspace", str(tmp_path / "ws"))
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    cells = xlsx_cells(tmp_path / "c.xlsx")
    assert {c.value for c in cells["customer_id"]} == {"K\ufffdNUL", "K\ufffdBELL", "K\ufffdESC"} | set(FORMULA_IDS)
    assert {c.value for c in cells["value_tier"]} == {"=gold"} and {c.data_type for c in cells["value_tier"]} == {"s"}
    rows = csv_rows(tmp_path / "c.csv")
    assert sorted(r["customer_id"] for r in rows) == sorted(expected_csv(i) for i in ids)
    assert {r["value_tier"] for r in rows} == {"'=gold"}


# ----------------------------------------------------------------------------- the web API


def test_api_scores_csv_prefixes_formula_texts(scored, tmp_path):
    import shutil

    from cvm.web.app import create_app
    from cvm.web.auth import create_token
    from tests.web.conftest import LiveServer

    copy = tmp_path / "ws"
    shutil.copytree(scored, copy)
    token = create_token(copy, "viewer", name="viewer token")
    server = LiveServer(create_app(copy)).start()
    try:
        response = httpx.get(server.url + "/api/scores.csv", headers={"Authorization": f"Bearer {token}"})
    finally:
        server.stop()
    assert response.status_code == 200
    rows = csv_rows(response.text)
    ids = stored_ids(scored)
    assert len(rows) == len(ids)
    assert {r["customer_id"] for r in rows} == {expected_csv(i) for i in ids}
    assert "'=HYPERLINK(\"http://x\",\"y\")" in {r["customer_id"] for r in rows}
    assert "'=cmd|' /C calc'!A0" in {r["customer_id"] for r in rows}
    # numbers are not texts: no quote in front of them
    assert all(not r["clv"].startswith("'") and float(r["clv"]) >= 0 for r in rows)
    assert {r["model"] for r in rows} == {"bgnbd"} and len({r["as_of"] for r in rows}) == 1


def test_a_run_written_in_slices_is_the_file_written_whole(tmp_path, monkeypatch):
    # CSV and Parquet are written EXPORT_ROWS rows at a time (memory); with slices of 3 rows, 10 rows
    # must give the CSV byte for byte and the Parquet table (types, pandas metadata, values) of one write
    import pyarrow as pa
    import pyarrow.parquet as pq

    import cvm.data.export as export_module

    frame = pd.DataFrame({"customer_id": pd.array([f"=C{i}" for i in range(10)], dtype="str"),
                          "clv": [float(i) / 3 for i in range(10)], "rank": list(range(1, 11))})
    frame.attrs.update(run_id="r1", as_of="2024-06-30", model="bgnbd")
    whole = {suffix: export_module.export(frame, tmp_path / f"whole{suffix}") for suffix in (".csv", ".parquet")}
    monkeypatch.setattr(export_module, "EXPORT_ROWS", 3)
    sliced = {suffix: export_module.export(frame, tmp_path / f"sliced{suffix}") for suffix in (".csv", ".parquet")}
    assert sliced[".csv"].read_bytes() == whole[".csv"].read_bytes()
    assert pq.ParquetFile(sliced[".parquet"]).metadata.num_row_groups == 4  # 3 + 3 + 3 + 1 rows
    expected, got = pq.read_table(whole[".parquet"]), pq.read_table(sliced[".parquet"])
    assert got.schema.equals(expected.schema, check_metadata=True) and got.equals(expected)
    assert got.column("run_id").to_pylist() == ["r1"] * 10 and got.column("as_of").type == pa.date32()


def test_parquet_dictionary_only_for_columns_that_repeat_values(tmp_path):
    # a column whose values all differ (the id, the CLV) is written plainly, one of few values with a
    # dictionary; the file holds the same table either way (pandas and DuckDB read the same rows)
    import duckdb
    import pyarrow.parquet as pq

    from cvm.data.export import export

    n = 20_000
    frame = pd.DataFrame({"customer_id": pd.array([f"C{i}" for i in range(n)], dtype="str"),
                          "clv": [i / 7 for i in range(n)], "frequency": [float(i % 5) for i in range(n)],
                          "value_tier": pd.array(["gold", "silver"] * (n // 2), dtype="str")})
    frame.attrs.update(run_id="r1", as_of="2024-06-30", model="bgnbd")
    path = export(frame, tmp_path / "scores.parquet")
    column = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {column.column(i).path_in_schema: column.column(i).encodings for i in range(column.num_columns)}
    assert not any("DICTIONARY" in e for e in encodings["customer_id"] + encodings["clv"])
    assert all(any("DICTIONARY" in e for e in encodings[c]) for c in ("frequency", "value_tier", "model", "run_id"))
    back = pd.read_parquet(path)
    assert back["customer_id"].tolist() == frame["customer_id"].tolist()
    assert back["clv"].tolist() == frame["clv"].tolist() and back["frequency"].tolist() == frame["frequency"].tolist()
    assert back["value_tier"].tolist() == frame["value_tier"].tolist() and set(back["model"]) == {"bgnbd"}
    rows = duckdb.sql(f"SELECT count(*), count(DISTINCT customer_id), max(clv), count(DISTINCT frequency) "
                      f"FROM read_parquet('{path}')").fetchall()[0]
    assert rows == (n, n, (n - 1) / 7, 5)


def test_csv_is_pandas_to_csv_text_byte_for_byte(tmp_path):
    # The CSV of a frame DuckDB can write is written by DuckDB (17 -> ~4 CPU-s for 1 M scores); the
    # reference is pandas' own to_csv of the same safe frame, the writer every CSV export used before.
    # Every kind of cell where the two writers differ by default: NaN and empty texts (empty cell in
    # pandas), booleans (True/False), timestamps (dates when all midnight, microseconds when any),
    # quotes, delimiters, CR and LF inside a text, formula texts, -0.0, exponents, inf, None, NaT.
    import datetime as dt

    import numpy as np

    from cvm.data.export import _duckdb_csv_columns, export, run_frame, safe_for_csv

    texts = ["a,b", 'x"y', "line\nbreak", "cr\rx", "", None, " sp ", "é€ Zoë", "=1+1", "-2"]
    frames = {
        "cells": pd.DataFrame({
            "text": pd.array(texts, dtype="str"),
            "float": [np.nan, np.inf, -np.inf, -0.0, 1e-05, 1e16, 0.1 + 0.2, 73.0, 1 / 3, -2.5e-300],
            "int": np.arange(-5, 5, dtype="int64"),
            "flag": [True, False] * 5,
            "midnight": pd.to_datetime(["2024-01-01", None] + ["2024-02-29"] * 8),
            "seconds": pd.to_datetime(["2024-01-01 10:00:01", "2024-01-01 00:00:00"] + [None] * 8),
            "millis": pd.to_datetime(["2024-01-01 10:00:01.5", "2024-01-01 10:00:00.0"] + ["2024-03-01 00:00:00.0"] * 8),
            "micros": pd.to_datetime(["2024-01-01 10:00:01.123456"] + ["2024-03-01 00:00:00.0"] * 9),
            "day": [dt.date(2024, 1, i + 1) for i in range(9)] + [None],
            '"quoted", name': np.zeros(10),
        }),
        "empty": pd.DataFrame({"customer_id": pd.array([], dtype="str"), "clv": np.array([], dtype=float)}),
    }
    run = pd.DataFrame({"customer_id": pd.array(["=C1", "C2"], dtype="str"), "clv": [1.5, np.nan]})
    run.attrs.update(run_id="r1", as_of="2024-06-30", model="bgnbd")
    frames["run"] = run
    for name, frame in frames.items():
        reference = safe_for_csv(run_frame(frame)).to_csv(index=False, lineterminator="\r\n").encode()
        assert _duckdb_csv_columns(safe_for_csv(run_frame(frame))) is not None, name  # DuckDB writes it
        assert export(frame, tmp_path / f"{name}.csv").read_bytes() == reference, name


def test_a_csv_duckdb_cannot_write_as_pandas_does_goes_through_pandas(tmp_path):
    # a column of mixed Python objects: pandas' writer, as before (its text is the reference)
    import decimal

    from cvm.data.export import _duckdb_csv_columns, export

    frame = pd.DataFrame({"mixed": [1, "a", decimal.Decimal("1.10"), None], "x": [1.0, 2.0, 3.0, 4.0]})
    assert _duckdb_csv_columns(frame) is None
    assert export(frame, tmp_path / "m.csv").read_bytes() == frame.to_csv(index=False, lineterminator="\r\n").encode()
