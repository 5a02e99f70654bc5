"""Keeping every scoring run: the ``scores`` and ``score_runs`` tables.

Every call of :func:`cvm.service.score_customers` with ``store=True`` appends one
row per customer to ``scores`` and one row to ``score_runs``, so the value of a
customer can be shown "at any moment" and compared over time (migration,
P(alive) history in the customer view).

The default valuation, the one ``cvm customers``, ``cvm customer``, ``cvm actions``,
the report, the dashboard and every export use, is the run with the **latest as-of
date**; of several runs at that date, the one made last (:data:`LATEST_FIRST`).
Runs at earlier dates (made by ``cvm migration``, the report's migration section or
``cvm score --as-of``) are history: they never replace it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from cvm.data.validate import id_storage
from cvm.errors import SchemaError, WorkspaceError

#: columns of ``scores`` in storage order (``run_id`` and ``as_of`` first)
SCORE_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR",
    "as_of": "TIMESTAMP",
    "customer_id": "VARCHAR",
    "frequency": "DOUBLE",
    "recency": "DOUBLE",
    "T": "DOUBLE",
    "monetary_value": "DOUBLE",
    "n_transactions": "DOUBLE",
    "first_purchase": "TIMESTAMP",
    "last_purchase": "TIMESTAMP",
    "historic_value": "DOUBLE",
    "margin_rate": "DOUBLE",
    "probability_alive": "DOUBLE",
    "expected_purchases": "DOUBLE",
    "expected_spend": "DOUBLE",
    "clv": "DOUBLE",
    "clv_low": "DOUBLE",
    "clv_high": "DOUBLE",
    "residual_value": "DOUBLE",
    "rank": "BIGINT",
    "percentile": "DOUBLE",
    "value_tier": "VARCHAR",
    "lifecycle_stage": "VARCHAR",
    "planned_cost": "DOUBLE",
    "max_investment": "DOUBLE",
}

RUN_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR",
    "as_of": "TIMESTAMP",
    "created": "TIMESTAMP",
    "model": "VARCHAR",
    "model_reason": "VARCHAR",
    "model_reason_code": "VARCHAR",
    "model_reason_values": "VARCHAR",  # JSON
    "horizon": "BIGINT",
    "time_unit": "VARCHAR",
    "discount_rate": "DOUBLE",
    "margin": "DOUBLE",
    "level": "DOUBLE",
    "n_customers": "BIGINT",
    "total_clv": "DOUBLE",
}


#: SQL order of ``score_runs`` that puts the default valuation first: latest as-of date, then the run
#: made last at that date (a rerun after corrected data), then the id (sortable by creation time)
LATEST_FIRST = "as_of DESC NULLS LAST, created DESC NULLS LAST, run_id DESC"


def _ensure_tables(con) -> None:
    # the customer ids stored like the transactions' (1 M scores: 0.32 CPU-s and 5 MB by default, 0.22 s and 11 MB)
    ids = id_storage(con)
    cols = ", ".join(f'"{k}" {v}{ids if k == "customer_id" else ""}' for k, v in SCORE_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS scores ({cols})")
    cols = ", ".join(f'"{k}" {v}' for k, v in RUN_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS score_runs ({cols})")
    for name, kind in RUN_COLUMNS.items():  # workspaces made by an earlier version lack newer columns
        con.execute(f'ALTER TABLE score_runs ADD COLUMN IF NOT EXISTS "{name}" {kind}')


def new_run_id() -> str:
    """A sortable, unique id: creation time plus a short random suffix (the same in both engines)."""
    return datetime.now().strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:6]


#: rows converted to Arrow and inserted at a time: the copy of all scores made at once raised the peak
#: of ``cvm run`` by 2.4 GB for 10 M customers and 0.44 GB for 1 M; slices of about 250,000 rows add
#: about 0.24 GB at the same CPU time (1.22-1.31 s for 1 M, measured with benchmarks/profile_run.py).
#: A whole number of DuckDB row groups (122,880 rows each): every slice but the last fills its row
#: groups, so the checkpoint that publishes the workspace has no partial row groups to merge and
#: rewrite (slices of 250,000 rows left 0.6 CPU-s of that work at 1 M customers, aligned ones 0.02 s)
STORE_ROWS = 2 * 122_880
#: DuckDB's memory cap while a run is stored (then back to the workspace's own): the blocks it kept from
#: the summary and the margins are let go (they are on disk), so they do not sit beside the run
STORE_MEMORY_LIMIT = "256MB"


def save_scores(ws: Any, scores: pd.DataFrame, run: dict[str, Any]) -> str:
    """Append one scoring run to ``scores`` and ``score_runs`` in one transaction; returns the run id.

    The scores go in slices of :data:`STORE_ROWS` rows, so storing never holds a second copy of
    the whole run in memory; the transaction makes the run appear whole or not at all. DuckDB
    works under :data:`STORE_MEMORY_LIMIT` meanwhile: ``cvm run`` peaks here, with the whole run
    in memory and ``--out`` being written beside the store (10 M customers, benchmarks/profile_run.py
    under load: the store and the writing together added 0.28 GB to the peak under this cap and
    0.60 GB without it; the store alone, before the writing overlapped it, 0.55 GB).
    """
    con = ws.con
    _ensure_tables(con)

    # the run's id and date are constants of the INSERT, not million-row columns; columns the
    # scores lack are left to the table's NULL default (BY NAME)
    present = [c for c in SCORE_COLUMNS if c not in ("run_id", "as_of") and c in scores.columns]
    key = [run["run_id"], pd.Timestamp(run["as_of"]).to_pydatetime()]
    record = pd.DataFrame([{k: run.get(k) for k in RUN_COLUMNS}])
    from cvm.data.validate import quote_literal
    from cvm.data.warehouse import _default_memory_limit

    try:
        con.execute(f"SET memory_limit = {quote_literal(STORE_MEMORY_LIMIT)}")
        lowered = True
    except duckdb.Error:  # what DuckDB holds now cannot be let go (another reader pins it): stored as it is
        lowered = False
    try:
        _insert_run(con, scores, present, key, record)
    finally:
        if lowered:
            con.execute(f"SET memory_limit = {quote_literal(_default_memory_limit())}")
    return run["run_id"]


def _insert_run(con: Any, scores: pd.DataFrame, present: list[str], key: list[Any], record: pd.DataFrame) -> None:
    import pyarrow as pa

    con.execute("BEGIN TRANSACTION")
    try:
        for start in range(0, max(len(scores), 1), STORE_ROWS):
            part = scores.iloc[start:start + STORE_ROWS]
            table = pa.table({c: pa.array(part[c].astype(str) if c == "customer_id" else part[c], from_pandas=True)
                              for c in present})
            con.register("_cvm_scores_in", table)
            try:
                con.execute("INSERT INTO scores BY NAME SELECT CAST(? AS VARCHAR) AS run_id, CAST(? AS TIMESTAMP) AS as_of, * "
                            "FROM _cvm_scores_in", key)
            finally:
                con.unregister("_cvm_scores_in")
            del table
        con.register("_cvm_run_in", record)
        try:
            con.execute("INSERT INTO score_runs BY NAME SELECT * FROM _cvm_run_in")
        finally:
            con.unregister("_cvm_run_in")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _has(ws: Any, table: str) -> bool:
    if hasattr(ws, "has_table"):
        return bool(ws.has_table(table))
    row = ws.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchone()
    return bool(row and row[0])


def score_runs(ws: Any) -> pd.DataFrame:
    """Every stored scoring run, oldest first (empty frame when none)."""
    if not _has(ws, "score_runs"):
        return pd.DataFrame(columns=list(RUN_COLUMNS))
    return ws.con.execute("SELECT * FROM score_runs ORDER BY created, run_id").df()


def latest_run(ws: Any) -> dict[str, Any] | None:
    """The ``score_runs`` row of the default valuation: the latest as-of date (ties: made last), or None."""
    if not _has(ws, "score_runs"):
        return None
    cur = ws.con.execute(f"SELECT * FROM score_runs ORDER BY {LATEST_FIRST} LIMIT 1")
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row))


def latest_run_id(ws: Any) -> str | None:
    """The id of the default valuation (:func:`latest_run`), or None when nothing is scored."""
    run = latest_run(ws)
    return None if run is None else run["run_id"]


def load_scores(ws: Any, run_id: str | None = None, as_of: Any = None) -> pd.DataFrame:
    """The scores of one stored run.

    Parameters
    ----------
    run_id
        A run id from :func:`score_runs`; default the run with the latest as-of date (of
        several at that date, the one made last), or the latest made at ``as_of``.
    as_of
        Take the latest run made for exactly this as-of date.

    Raises
    ------
    WorkspaceError
        When no run matches (the hint says how to make one).
    """
    runs = score_runs(ws)
    if runs.empty:
        raise WorkspaceError.coded("nothing_scored")
    if run_id is not None:
        if run_id not in set(runs["run_id"]):
            raise SchemaError(f"unknown scoring run '{run_id}'", hint=f"known runs: {', '.join(runs['run_id'].tail(5))}")
        chosen = run_id
    elif as_of is not None:
        stamp = pd.Timestamp(as_of)
        match = runs[pd.to_datetime(runs["as_of"]) == stamp]
        if match.empty:
            raise WorkspaceError.coded("no_run_as_of", date=str(stamp.date()))
        chosen = match["run_id"].iloc[-1]
    else:
        chosen = latest_run_id(ws)
    frame = ws.con.execute("SELECT * FROM scores WHERE run_id = ? ORDER BY rank, customer_id", [chosen]).df()
    info = runs[runs["run_id"] == chosen].iloc[0]
    frame.attrs.update(
        run_id=chosen,
        as_of=str(pd.Timestamp(info["as_of"]).date()),
        model=info["model"],
        model_reason=info.get("model_reason"),
        time_unit=info["time_unit"],
        horizon=None if pd.isna(info["horizon"]) else int(info["horizon"]),
    )
    return frame


def latest_scores(ws: Any) -> pd.DataFrame:
    """The scores of the default valuation: the latest as-of date, not the run made last (see :func:`load_scores`)."""
    return load_scores(ws)
