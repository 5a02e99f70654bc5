"""How the workspace reads and stores its rows: id columns, workspaces of an older storage format, blank rows.

Id columns are declared ZSTD-compressed where the database file's storage format allows it
(:func:`cvm.data.validate.id_storage`); a workspace whose file an older DuckDB wrote keeps
DuckDB's own choice, and must ingest and store scores as before.
"""

from __future__ import annotations


import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cvm.data import Workspace
from cvm.data.readers import blank_row_sql
from cvm.data.scores import load_scores, save_scores

ROWS = "customer_id,ts,amount,order_id,channel\n" + "".join(
    f"C{i % 7},2024-0{1 + i % 9}-1{i % 10} 10:00:00,{10 + i}.50,O{i},{'web' if i % 2 else 'store'}\n"
    for i in range(40))


def _compression(path, table: str) -> dict[str, set[str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(f"SELECT column_name, compression FROM pragma_storage_info('{table}') "
                           f"WHERE segment_type <> 'VALIDITY'").fetchall()
    finally:
        con.close()
    found: dict[str, set[str]] = {}
    for column, method in rows:
        found.setdefault(column, set()).add(method)
    return found


def _scores(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ids, "clv": [float(i) for i in range(len(ids))],
                         "rank": list(range(1, len(ids) + 1))})


def _run(run_id: str, n: int) -> dict:
    return {"run_id": run_id, "as_of": pd.Timestamp("2024-12-31"), "created": pd.Timestamp.now(),
            "model": "bgnbd", "n_customers": n, "total_clv": 0.0}


def test_new_workspace_stores_id_columns_with_zstd(tmp_path):
    (tmp_path / "tx.csv").write_text(ROWS)
    ws = Workspace.open(tmp_path / "ws")
    assert ws.ingest(tmp_path / "tx.csv").accepted == 40
    save_scores(ws, _scores([f"C{i}" for i in range(7)]), _run("r1", 7))
    ws.close()
    tx = _compression(tmp_path / "ws" / "cvm.duckdb", "transactions")
    assert tx["customer_id"] == {"ZSTD"} and tx["order_id"] == {"ZSTD"}
    assert "ZSTD" not in tx["channel"] | tx["source"]  # other text keeps DuckDB's choice
    scores = _compression(tmp_path / "ws" / "cvm.duckdb", "scores")
    assert scores["customer_id"] == {"ZSTD"} and "ZSTD" not in scores["run_id"]


def test_workspace_of_an_older_storage_format_ingests_and_scores(tmp_path):
    # a workspace file as DuckDB 1.0 wrote it (storage format v1.0.0: no ZSTD columns), with
    # transactions already in it; its new tables and rows keep DuckDB's own compression
    folder = tmp_path / "ws"
    folder.mkdir()
    con = duckdb.connect()
    con.execute(f"ATTACH '{folder / 'cvm.duckdb'}' AS old (STORAGE_VERSION 'v1.0.0')")
    con.execute("CREATE TABLE old.transactions (customer_id VARCHAR, ts TIMESTAMP, amount DOUBLE, order_id VARCHAR, "
                "channel VARCHAR, margin DOUBLE, source VARCHAR, line BIGINT)")
    con.execute("INSERT INTO old.transactions VALUES ('C0', TIMESTAMP '2023-12-01', 5.0, 'X1', 'web', NULL, 'old.csv', 2)")
    con.execute("DETACH old")
    con.close()
    (tmp_path / "tx.csv").write_text(ROWS)
    (tmp_path / "customers.csv").write_text("customer_id,name\nC1,Ann\nC2,Bob\n")
    ws = Workspace.open(folder)
    assert ws.ingest(tmp_path / "tx.csv").accepted == 40
    assert ws.ingest(tmp_path / "customers.csv", kind="customers").accepted == 2
    save_scores(ws, _scores(["C1", "C2"]), _run("r1", 2))
    ws.close()
    again = Workspace.open(folder, read_only=True)
    try:
        assert again.con.execute("SELECT count(*) FROM transactions").fetchall() == [(41,)]
        assert list(load_scores(again)["customer_id"]) == ["C1", "C2"]
        version = again.con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                                    "WHERE database_name = current_database()").fetchall()[0][0]
        assert version.startswith("v1.0.0")
    finally:
        again.close()
    for table in ("transactions", "customers", "scores"):
        assert all("ZSTD" not in methods for methods in _compression(folder / "cvm.duckdb", table).values())


#: the cells of a blank row as the line-exact path reads them: white space (RE2's \s: tab, line
#: feed, form feed, carriage return, space), quotes and the delimiter, or nothing at all (NULL)
_CELLS = st.one_of(st.none(), st.text(alphabet=' \t\n\f\r";,!#a', max_size=4))


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(_CELLS, min_size=1, max_size=4), delimiter=st.sampled_from([",", ";"]))
def test_blank_row_sql_against_its_definition(cells, delimiter):
    # reference: a row is blank when each cell is NULL or made of white space, quotes and the delimiter only
    blank_chars = set(' \t\n\f\r"' + delimiter)
    expected = all(c is None or set(c) <= blank_chars for c in cells)
    fields = [f"f{i}" for i in range(len(cells))]
    con = duckdb.connect()
    select = ", ".join(f"CAST(? AS VARCHAR) AS {f}" for f in fields)
    got = con.execute(f"SELECT {blank_row_sql(fields, delimiter)} FROM (SELECT {select})", cells).fetchall()[0][0]
    assert got is expected
