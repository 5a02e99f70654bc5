"""Fast reads of the latest scoring run for the pages and the JSON API.

The ``scores`` table keeps every run (see :mod:`cvm.data.scores`); the web app
mostly needs the latest one. These queries filter on ``run_id`` and
``customer_id`` so DuckDB reads only what it must; an ART index on
``scores(customer_id)`` (created on start) makes a single-customer lookup a
point query instead of a scan, which is what lets the detail endpoint serve
many concurrent clients on a million customers.
"""

from __future__ import annotations

import json

from typing import Any

def has_table(con: Any, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'", [name]
    ).fetchone()
    return bool(row and row[0])


def ensure_customer_index(con: Any) -> bool:
    """Create the index on ``scores(customer_id)`` when the table exists; True when present."""
    if not has_table(con, "scores"):
        return False
    con.execute("CREATE INDEX IF NOT EXISTS scores_customer_id_idx ON scores(customer_id)")
    return True


def latest_run(con: Any) -> dict[str, Any] | None:
    """The default valuation (``score_runs`` row as a dict), or None when nothing is scored.

    That is the run with the latest as-of date, not the run made last: a run at an
    earlier date (migration, ``--as-of``) is history (:data:`cvm.data.scores.LATEST_FIRST`).
    """
    from cvm.data.scores import LATEST_FIRST

    if not has_table(con, "score_runs"):
        return None
    cur = con.execute(f"SELECT * FROM score_runs ORDER BY {LATEST_FIRST} LIMIT 1")
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row))


def _records(cur) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def customer_score(con: Any, run_id: str, customer_id: str) -> dict[str, Any] | None:
    """One customer's row of the run ``run_id`` (point lookup on the index), or None."""
    cur = con.execute("SELECT * FROM scores WHERE customer_id = ? AND run_id = ?", [customer_id, run_id])
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row))


def similar_customers(con: Any, run_id: str, text: str, limit: int = 5) -> list[str]:
    """Ids of the run's customers that look most like ``text`` (Jaro-Winkler similarity), for a "did you mean"."""
    text = text.strip()
    if not text:
        return []
    cur = con.execute("SELECT customer_id FROM scores WHERE run_id = ? "
                      "ORDER BY jaro_winkler_similarity(customer_id, ?) DESC, customer_id LIMIT ?", [run_id, text, limit])
    return [str(r[0]) for r in cur.fetchall()]


def kpis(con: Any, run_id: str) -> dict[str, Any]:
    """Headline numbers of one run: customers, expected active share, historic and predicted value."""
    cur = con.execute(
        "SELECT count(*) AS customers, avg(probability_alive) AS active_share, "
        "sum(historic_value) AS historic_value, sum(clv) AS predicted_value, "
        "sum(clv_low) AS predicted_value_low, sum(clv_high) AS predicted_value_high "
        "FROM scores WHERE run_id = ?", [run_id]
    )
    return _records(cur)[0]


def value_trend(con: Any) -> list[dict[str, Any]]:
    """Customers, expected active share and total value at every as-of date that was scored.

    When one date was scored more than once, the latest run of that date counts.
    """
    if not has_table(con, "score_runs"):
        return []
    cur = con.execute(
        "WITH last AS (SELECT as_of, arg_max(run_id, created) AS run_id FROM score_runs GROUP BY as_of) "
        "SELECT l.as_of, count(*) AS customers, avg(s.probability_alive) AS active_share, "
        "sum(s.historic_value) AS historic_value, sum(s.clv) AS predicted_value "
        "FROM last l JOIN scores s ON s.run_id = l.run_id GROUP BY l.as_of ORDER BY l.as_of"
    )
    return _records(cur)


def export_csv_rows(con: Any, run_id: str, batch: int = 50_000, model: str | None = None):
    """The run's scores as CSV text, in batches (a streaming export).

    The layout of every export of a run (:func:`cvm.data.export.run_export_sql`):
    ``run_id``, ``as_of`` (a date), the scores, ``model`` last (default: the run's
    model); texts a spreadsheet would take for a formula are prefixed with ``'``.
    """
    import csv
    import io

    from cvm.data.export import run_export_sql

    if model is None:
        row = con.execute("SELECT model FROM score_runs WHERE run_id = ?", [run_id]).fetchone()
        model = row[0] if row else None
    sql, params = run_export_sql(con, run_id, model)
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(names)
    yield buffer.getvalue()
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            break
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        yield buffer.getvalue()


def recent_runs(con: Any, limit: int = 20) -> list[dict[str, Any]]:
    """The scoring runs made last (``score_runs`` rows), newest first."""
    if not has_table(con, "score_runs"):
        return []
    return _records(con.execute("SELECT * FROM score_runs ORDER BY created DESC LIMIT ?", [limit]))


def recent_fits(con: Any, limit: int = 20) -> list[dict[str, Any]]:
    """The fits stored last in the ``models`` table (without their parameters' JSON), newest first."""
    if not has_table(con, "models"):
        return []
    return _records(con.execute(
        "SELECT model_id, created, model, as_of, calibration_end, time_unit, n_customers, log_likelihood "
        "FROM models ORDER BY created DESC LIMIT ?", [limit]))


def quarantine_rows(con: Any, limit: int = 200) -> tuple[int, list[dict[str, Any]]]:
    """Rows that ingest rejected, with the reason (English, and its code and values) and the source line."""
    if not has_table(con, "quarantine"):
        return 0, []
    total = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    from cvm.data.reasons import code_columns_sql

    cur = con.execute(f"SELECT source, line, reason, raw, {code_columns_sql(con)} FROM quarantine "
                      f"ORDER BY source, line LIMIT ?", [limit])
    rows = _records(cur)
    for row in rows:  # the values as an object (JSON in the table)
        row["reason_values"] = json.loads(row["reason_values"]) if row.get("reason_values") else None
    return int(total), rows
