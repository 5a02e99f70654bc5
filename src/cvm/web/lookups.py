"""Fast reads of the latest scoring run for the pages and the JSON API.

The ``scores`` table keeps every run (see :mod:`cvm.data.scores`); the web app
mostly needs the latest one. These queries filter on ``run_id`` and
``customer_id`` so DuckDB reads only what it must; an ART index on
``scores(customer_id)`` (created on start) makes a single-customer lookup a
point query instead of a scan, which is what lets the detail endpoint serve
many concurrent clients on a million customers.
"""

from __future__ import annotations

from typing import Any

#: columns a client may sort the customer list by
SORTABLE = (
    "customer_id", "clv", "clv_low", "clv_high", "historic_value", "probability_alive",
    "expected_purchases", "frequency", "recency", "monetary_value", "rank", "percentile",
    "value_tier", "lifecycle_stage", "last_purchase",
)
LIST_COLUMNS = (
    "customer_id", "clv", "clv_low", "clv_high", "historic_value", "probability_alive",
    "expected_purchases", "frequency", "monetary_value", "value_tier", "lifecycle_stage", "rank",
)


def has_table(con: Any, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'", [name]
    ).fetchone()
    return bool(row and row[0])


def table_columns(con: Any, name: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
        "ORDER BY ordinal_position", [name]
    ).fetchall()
    return [r[0] for r in rows]


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


def customer_history(con: Any, customer_id: str) -> list[dict[str, Any]]:
    """The customer's value and P(alive) at every stored scoring run, oldest first."""
    if not has_table(con, "scores"):
        return []
    cur = con.execute(
        "SELECT as_of, run_id, probability_alive, clv, clv_low, clv_high, value_tier, lifecycle_stage "
        "FROM scores WHERE customer_id = ? ORDER BY as_of, run_id", [customer_id]
    )
    return _records(cur)


def customers_page(
    con: Any,
    run_id: str,
    page: int = 1,
    page_size: int = 50,
    sort: str = "clv",
    order: str = "desc",
    value_tier: str | None = None,
    lifecycle_stage: str | None = None,
    search: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """One page of the run's customers, filtered and sorted; returns ``(total, rows)``.

    ``search`` matches the start of the customer id (case-insensitive). ``sort`` must
    be one of :data:`SORTABLE` (checked by the caller's schema).
    """
    where = ["run_id = ?"]
    params: list[Any] = [run_id]
    if value_tier:
        where.append("value_tier = ?")
        params.append(value_tier)
    if lifecycle_stage:
        where.append("lifecycle_stage = ?")
        params.append(lifecycle_stage)
    if search:
        where.append("lower(customer_id) LIKE ? ESCAPE '\\'")
        params.append(_like_prefix(search.lower()))
    clause = " AND ".join(where)
    total = con.execute(f"SELECT count(*) FROM scores WHERE {clause}", params).fetchone()[0]
    direction = "DESC" if order == "desc" else "ASC"
    column = sort if sort in SORTABLE else "clv"
    cols = ", ".join(f'"{c}"' for c in LIST_COLUMNS)
    cur = con.execute(
        f'SELECT {cols} FROM scores WHERE {clause} ORDER BY "{column}" {direction} NULLS LAST, customer_id '
        f"LIMIT ? OFFSET ?",
        params + [page_size, (page - 1) * page_size],
    )
    return int(total), _records(cur)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def find_customers(con: Any, run_id: str, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Customers whose id starts with ``text`` or whose name contains it (when a customers table has names)."""
    text = text.strip()
    if not text:
        return []
    found = {r["customer_id"]: r for r in customers_page(con, run_id, page_size=limit, search=text, sort="clv")[1]}
    name_col = _name_column(con)
    if name_col and len(found) < limit:
        cur = con.execute(
            f'SELECT s.customer_id, c."{name_col}" AS name, s.clv, s.value_tier, s.lifecycle_stage '
            f"FROM customers c JOIN scores s ON s.customer_id = CAST(c.customer_id AS VARCHAR) AND s.run_id = ? "
            f'WHERE lower(CAST(c."{name_col}" AS VARCHAR)) LIKE ? ESCAPE \'\\\' LIMIT ?',
            [run_id, "%" + _like_prefix(text.lower()), limit],
        )
        for row in _records(cur):
            found.setdefault(row["customer_id"], row)
    return list(found.values())[:limit]


def similar_customers(con: Any, run_id: str, text: str, limit: int = 5) -> list[str]:
    """Ids of the run's customers that look most like ``text`` (Jaro-Winkler similarity), for a "did you mean"."""
    text = text.strip()
    if not text:
        return []
    cur = con.execute("SELECT customer_id FROM scores WHERE run_id = ? "
                      "ORDER BY jaro_winkler_similarity(customer_id, ?) DESC, customer_id LIMIT ?", [run_id, text, limit])
    return [str(r[0]) for r in cur.fetchall()]


def _name_column(con: Any) -> str | None:
    if not has_table(con, "customers"):
        return None
    for col in table_columns(con, "customers"):
        if col.lower() in ("name", "customer_name", "naam", "company", "bedrijf"):
            return col
    return None


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


def quarantine_rows(con: Any, limit: int = 200) -> tuple[int, list[dict[str, Any]]]:
    """Rows that ingest rejected, with the reason and the source line (newest sources last)."""
    if not has_table(con, "quarantine"):
        return 0, []
    total = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    cur = con.execute("SELECT source, line, reason, raw FROM quarantine ORDER BY source, line LIMIT ?", [limit])
    return int(total), _records(cur)
