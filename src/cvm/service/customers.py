"""The scored customer list: one question, filtered and sorted in DuckDB, shown alike by every face.

``cvm customers``, the dashboard's Klanten page and ``GET /api/customers`` all ask
:func:`customer_list`; a person sees the columns of :data:`CUSTOMER_COLUMNS` (in that
order, both on the command line and on the page), a script gets every column of
the stored scores.

The reads here are queries on the workspace's ``scores``, ``score_runs`` and
``customers`` tables: the filters, the order and the page are SQL, so a list of a
million customers costs one indexed scan and the rows asked for, never a frame of
every customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cvm.errors import SchemaError, WorkspaceError
from cvm.jsonsafe import json_safe

if TYPE_CHECKING:
    import pandas as pd

#: what a person sees of the list, in this order (the CLI's table and the web page)
CUSTOMER_COLUMNS = (
    "customer_id", "value_tier", "lifecycle_stage", "frequency", "probability_alive",
    "expected_purchases", "historic_value", "clv", "clv_low", "clv_high",
)
#: which of them stay when a terminal is narrow, most important first (the last is left out first)
CUSTOMER_PRIORITY = (
    "customer_id", "clv", "probability_alive", "value_tier", "lifecycle_stage", "historic_value",
    "expected_purchases", "frequency", "clv_low", "clv_high",
)
#: columns of a ``customers`` table that hold a customer's name (searched by ``name_contains``)
NAME_COLUMNS = ("name", "customer_name", "naam", "company", "bedrijf")


@dataclass(frozen=True)
class CustomerList:
    """One page of a valuation's customers.

    Attributes
    ----------
    run_id, as_of, model
        The stored valuation the rows come from (``as_of`` as ``YYYY-MM-DD``).
    total
        How many customers match the filters (all pages).
    rows
        The page: one row per customer in the order asked, in the columns asked
        (plus ``name`` when names were searched); its ``attrs`` name the run
        (``run_id``, ``as_of``, ``model``), as those of every stored scores frame.
    """

    run_id: str
    as_of: str
    model: str | None
    total: int
    rows: pd.DataFrame

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-safe objects (missing numbers as ``None``, dates as ISO text)."""
        return json_safe(self.rows)


def customer_list(
    ws: Any,
    *,
    value_tier: str | None = None,
    lifecycle_stage: str | None = None,
    id_prefix: str | None = None,
    name_contains: str | None = None,
    sort: str = "clv",
    ascending: bool = False,
    limit: int | None = None,
    offset: int = 0,
    columns: Sequence[str] | None = CUSTOMER_COLUMNS,
    run_id: str | None = None,
) -> CustomerList:
    """The customers of a stored valuation, filtered, sorted and paged in SQL.

    Parameters
    ----------
    ws
        The workspace (its ``con`` is queried; its settings name the value tiers).
    value_tier, lifecycle_stage
        Keep only customers in this tier / journey stage. An unknown tier is an error
        naming the tiers of the settings.
    id_prefix, name_contains
        Keep customers whose id starts with ``id_prefix`` or whose name (a ``name``
        column of the ``customers`` table) contains ``name_contains``; both ignore case.
        Given both, a customer matching either is kept.
    sort, ascending
        The column to order by (any column of the scores; missing values last), then
        the customer id.
    limit, offset
        The page: at most ``limit`` rows (None: all) after skipping ``offset``.
    columns
        The columns of the rows (those the scores have); None for every column.
    run_id
        The valuation; default the latest as-of date (:func:`cvm.data.scores.latest_run`).

    Raises
    ------
    WorkspaceError
        When nothing has been scored.
    SchemaError
        For an unknown sort column or value tier.
    """
    con = ws.con
    run = _run(ws, run_id)
    available = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'scores' AND table_schema = 'main' "
        "ORDER BY ordinal_position").fetchall()]
    if sort not in available:
        raise SchemaError(f"cannot sort by '{sort}'", hint=f"columns: {', '.join(available)}")
    where, params = ["s.run_id = ?"], [run["run_id"]]
    if value_tier:
        tiers = list(ws.settings.tier_cutoffs)
        if value_tier not in tiers:
            raise SchemaError(f"unknown value tier '{value_tier}'",
                              hint=f"the tiers are {', '.join(tiers)} (cvm settings)")
        where.append("s.value_tier = ?")
        params.append(value_tier)
    if lifecycle_stage:
        where.append("s.lifecycle_stage = ?")
        params.append(lifecycle_stage)
    name_column = _name_column(con) if name_contains and name_contains.strip() else None
    matches, match_params = [], []
    if id_prefix and id_prefix.strip():
        matches.append("lower(s.customer_id) LIKE ? ESCAPE '\\'")
        match_params.append(_escaped(id_prefix.strip().lower()) + "%")
    if name_column:
        matches.append(f'lower(CAST(c."{name_column}" AS VARCHAR)) LIKE ? ESCAPE \'\\\'')
        match_params.append("%" + _escaped(name_contains.strip().lower()) + "%")
    if matches:
        where.append("(" + " OR ".join(matches) + ")")
        params += match_params
    source = "scores s"
    if name_column:
        source += ' LEFT JOIN customers c ON CAST(c.customer_id AS VARCHAR) = s.customer_id'
    clause = " AND ".join(where)
    total = con.execute(f"SELECT count(*) FROM {source} WHERE {clause}", params).fetchone()[0]
    chosen = available if columns is None else [c for c in columns if c in available]
    select = ", ".join(f's."{c}"' for c in chosen)
    if name_column:
        select += f', c."{name_column}" AS name'
    page = f" LIMIT {int(limit)}" if limit is not None else ""
    page += f" OFFSET {int(offset)}" if offset else ""
    direction = "ASC" if ascending else "DESC"
    rows = con.execute(
        f'SELECT {select} FROM {source} WHERE {clause} ORDER BY s."{sort}" {direction} NULLS LAST, s.customer_id{page}',
        params,
    ).df()
    if name_column and "customer_id" in rows.columns:  # the name next to the id
        rows = rows[["customer_id", "name"] + [c for c in rows.columns if c not in ("customer_id", "name")]]
    listing = CustomerList(run_id=run["run_id"], as_of=str(run["as_of"])[:10], model=run.get("model"),
                           total=int(total), rows=rows)
    # the run travels with the rows, as with every stored scores frame (an export writes it: cvm.data.export)
    rows.attrs.update(run_id=listing.run_id, as_of=listing.as_of, model=listing.model)
    return listing


def _run(ws: Any, run_id: str | None) -> dict[str, Any]:
    """The ``score_runs`` row of ``run_id`` (default: the latest valuation)."""
    from cvm.data.scores import latest_run  # pandas and the store's tables: only when a list is asked for

    if run_id is None:
        run = latest_run(ws)
    else:
        cur = ws.con.execute("SELECT * FROM score_runs WHERE run_id = ?", [run_id])
        row = cur.fetchone()
        if row is None:
            raise SchemaError(f"unknown scoring run '{run_id}'", hint="cvm score makes one")
        run = dict(zip([d[0] for d in cur.description], row))
    if run is None:
        raise WorkspaceError.coded("nothing_scored")
    return run


def _name_column(con: Any) -> str | None:
    """The column of the ``customers`` table that holds names, or None."""
    found = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers' AND table_schema = 'main' "
        "ORDER BY ordinal_position").fetchall()
    return next((name for (name,) in found if name.lower() in NAME_COLUMNS), None)


def _escaped(text: str) -> str:
    """``text`` with LIKE's wildcards and escape character taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
