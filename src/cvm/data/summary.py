"""Per-customer summaries of a transaction log, computed in DuckDB SQL.

The recency–frequency summary (Fader, Hardie and Lee 2005, "Counting your customers the
easy way", section 2; the ``lifetimes`` conventions) of customer *i* as of date *E*:

* purchases are first collapsed to **periods** (by default calendar days): several
  purchases in one period count as one, with their amounts summed;
* ``frequency`` x = number of periods with a purchase, minus the first (repeat purchases);
* ``recency`` t_x = time from the first to the last purchase period;
* ``T`` = time from the first purchase period to *E*;
* ``monetary_value`` = mean spend per repeat period (the first period excluded; 0 when x = 0);

with times expressed in the time unit: ``day`` (1 day), ``week`` (7 days), ``month``
(365.25/12 days) or ``year`` (365.25 days). With the default day periods,
``recency = days(first, last) / days_per_unit`` — exactly lifetimes'
``freq='D', freq_multiplier=7`` for weeks — and it reproduces the CDNOW figures of the
papers: 2,357 customers, 1,411 without a repeat purchase and 2,457 repeat purchases in the
39-week calibration, 4,339 by week 78 (repeat purchases counted per *day*; counting
transaction lines instead gives 2,603 and 4,562).

**Returns.** A row with a negative amount is a return, not a purchase: it never makes a
purchase period, so it moves neither ``frequency``, ``recency``, ``T`` nor the first
purchase. A return whose order id is carried by a purchase of the same customer (up to the
as-of date) reduces the spend of that purchase's period; any other return (no order id, or
an order not found) is taken off the customer's repeat spend, so
``monetary_value = (repeat-period spend + those returns) / frequency`` (0 when x = 0) and
may become zero or negative; ``total_amount`` is the net spend. A customer with only
returns is not a buyer: no row, the ids are listed in ``attrs["returns_only_customers"]``.
In a calibration/holdout split only returns dated in the holdout count there, attached to
a holdout purchase of the same order or else taken off the holdout spend. The
lifetimes-compatible functions below (:func:`summary_data_from_transaction_data`,
:func:`calibration_and_holdout_data`) exist to equal lifetimes and keep its behaviour: a
negative amount is a transaction like any other there.

With ``period="week"`` (or month, year) purchases are collapsed into periods of that
length floor-divided from each customer's first purchase, and ``recency``/``T`` are whole
numbers of periods: ``k = floor(days(first, d) / P)``, ``recency = k_last``,
``T = floor(days(first, E) / P)``.

Python never loops over rows here: the log stays in DuckDB and only one row per
customer comes back.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cvm.errors import SchemaError
from cvm.settings import DAYS_PER_UNIT
from cvm.data.validate import quote_ident, quote_literal

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]
#: amounts are added up in millionths of the currency unit, as whole numbers held in doubles: a sum of
#: whole numbers below 2**53 (9e9 currency units) is exact, so it does not depend on the order in which
#: DuckDB's threads deliver the rows (beyond that it is as good as a sum of doubles, in the last bit)
MICROS = 1_000_000.0


def micros_sql(expr: str) -> str:
    """SQL for an amount in whole millionths of the currency unit (a double holding an integer)."""
    return f"round({expr} * {MICROS!r})"


def unit_days(time_unit: str) -> float:
    if time_unit not in DAYS_PER_UNIT:
        raise SchemaError(f"unknown time unit '{time_unit}'", hint=f"use one of {', '.join(DAYS_PER_UNIT)}")
    return DAYS_PER_UNIT[time_unit]


def _as_date(value: Any, what: str) -> dt.date | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise SchemaError(f"{what} '{value}' is not a date", hint="write dates as YYYY-MM-DD") from None
    if pd.isna(stamp):
        raise SchemaError(f"{what} is missing")
    return stamp.date()


def _connection(source: Any):
    """(connection, table SQL) for a Workspace, a DuckDB connection or a transactions frame."""
    import duckdb

    if hasattr(source, "con") and hasattr(source, "has_table"):
        if not source.has_table("transactions"):
            raise SchemaError("the workspace has no transactions", hint="ingest a file first: cvm ingest FILE")
        return source.con, "transactions"
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source, "transactions"
    from cvm.data.readers import _to_arrow

    table = _to_arrow(source)
    missing = [c for c in ("customer_id", "ts") if c not in table.column_names]
    if missing:
        raise SchemaError(f"the frame lacks {', '.join(missing)}; it has {', '.join(table.column_names)}",
                          hint="name the columns customer_id, ts (and amount), or ingest it into a workspace")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.register("transactions_frame", table)
    return con, "transactions_frame"


# ----------------------------------------------------------------------------- workspace summary
def workspace_summary(source: Any, as_of: Any = None, time_unit: str = "week", calibration_end: Any = None,
                      holdout_end: Any = None, channel: str | None = None, period: str = "day") -> pd.DataFrame:
    """The customer summary of a workspace (or connection, or transactions frame) as of a date.

    Parameters
    ----------
    source
        A :class:`~cvm.data.warehouse.Workspace`, a DuckDB connection holding ``transactions``,
        or a frame with ``customer_id, ts[, amount]``.
    as_of
        End of the observation (inclusive, whole day); default: the day of the last transaction.
    time_unit
        Unit of ``recency``, ``T`` and ``duration_holdout``.
    calibration_end, holdout_end
        With ``calibration_end`` the summary covers the calibration only, and
        ``frequency_holdout`` (repeat periods in ``(calibration_end, holdout_end]``),
        ``monetary_value_holdout`` (mean spend per holdout period) and
        ``duration_holdout`` are added; ``holdout_end`` defaults to ``as_of``.
    channel
        Only the transactions of this channel.
    period
        ``day`` (default) or a time unit: the granularity at which purchases collapse.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``: frequency, recency, T, monetary_value, first_purchase,
        last_purchase, n_transactions (purchase rows; returns not counted), total_amount
        (net of returns) [+ holdout columns]. Negative amounts are returns (see the module
        docstring); ``attrs["returns_only_customers"]`` lists the customers with only returns,
        who have no row.
    """
    return _summary(source, as_of, time_unit, calibration_end, holdout_end, channel, period)[0]


def summary_with_margins(source: Any, default_margin: float, as_of: Any = None, time_unit: str = "week",
                         channel: str | None = None, period: str = "day") -> tuple[pd.DataFrame, dict[str, Any]]:
    """:func:`workspace_summary` and each summarised customer's revenue and margin, from one scan of the rows.

    Revenue is the sum of the customer's amounts (returns included, as ``total_amount``); the
    margin sums each row's ``margin`` where the row has one, else ``amount * default_margin``.
    Both are added in whole millionths (:data:`MICROS`), so they are the same sums whatever the
    grouping (tests/data/test_summary.py checks them against a plain pandas sum to the bit); the
    margin rides along in the summary's own aggregation instead of a second pass over the
    transactions.

    Returns
    -------
    (summary, margins)
        The summary frame (exactly as :func:`workspace_summary` gives it) and a dict of
        ``customer_id`` (Arrow large_string, the summary's order), ``revenue`` and
        ``historic_value`` (NumPy float arrays).
    """
    return _summary(source, as_of, time_unit, None, None, channel, period, default_margin)


def _summary(source: Any, as_of: Any, time_unit: str, calibration_end: Any, holdout_end: Any,
             channel: str | None, period: str, margin: float | None = None
             ) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The summary (see :func:`workspace_summary`) and, with ``margin``, the customers' money sums."""
    con, table = _connection(source)
    unit = unit_days(time_unit)
    p_days = unit_days(period)
    # the channel is written into the SQL as a quoted literal: the row filter appears in several subqueries
    where = "" if channel is None else f" AND channel = {quote_literal(str(channel))}"
    has_amount = _has_column(con, table, "amount")
    any_return = "bool_or(amount < 0)" if has_amount else "false"
    last, returns = con.execute(f"SELECT max(CAST(ts AS DATE)), coalesce({any_return}, false) FROM {table} "
                                f"WHERE true{where}").fetchall()[0]
    if last is None:
        raise SchemaError("there are no transactions to summarise" + (f" in channel '{channel}'" if channel else ""),
                          hint="ingest transactions first, or check the channel name")
    end = _as_date(as_of, "as_of") or last
    cal = _as_date(calibration_end, "calibration_end")
    if cal is not None:
        hold = _as_date(holdout_end, "holdout_end") or end
        if hold <= cal:
            raise SchemaError(f"holdout_end {hold} must come after calibration_end {cal}")
        obs_end = cal
    else:
        obs_end = end
    # money is summed in whole millionths (see MICROS): a sum of fractions depends on the order DuckDB's
    # threads deliver the rows, so two runs on the same data could differ in the last bit, and the fits
    # downstream by more; whole numbers add up the same in any order
    amount = micros_sql("amount") if has_amount else repr(MICROS)
    order = "order_id" if _has_column(con, table, "order_id") else "CAST(NULL AS VARCHAR)"
    margin_sql = None
    if margin is not None:
        if cal is not None or not has_amount:
            raise ValueError("margins are summed only without a calibration split, over rows with an amount")
        rate = f"CAST({float(margin)!r} AS DOUBLE)"
        row_margin = f"coalesce(margin, amount * {rate})" if _has_column(con, table, "margin") else f"amount * {rate}"
        margin_sql = micros_sql(row_margin)
    hist = ", hist" if margin_sql else ""
    pre, days, loose = _purchase_days(f"FROM {table} WHERE CAST(ts AS DATE) <= DATE '{obs_end}'{where}", amount,
                                      order, bool(returns), "cal", margin_sql)
    if p_days == 1:
        periods = f"SELECT customer_id, d AS first_d, d AS last_d, d AS k_key, spend, n{hist} FROM ({days})"
        recency = f"date_diff('day', first_d, last_d) / {unit!r}"
        t_expr = f"date_diff('day', first_d, DATE '{obs_end}') / {unit!r}"
    else:
        periods = (f"SELECT customer_id, any_value(first_d) AS first_d, max(d) AS last_d, k AS k_key, "
                   f"sum(spend) AS spend, sum(n) AS n{', sum(hist) AS hist' if hist else ''} FROM ("
                   f"SELECT *, min(d) OVER (PARTITION BY customer_id) AS first_d, "
                   f"floor(date_diff('day', min(d) OVER (PARTITION BY customer_id), d) / {p_days!r}) AS k FROM ({days})"
                   f") GROUP BY customer_id, k")
        recency = f"last_k * {p_days / unit!r}"
        t_expr = f"floor(date_diff('day', first_d, DATE '{obs_end}') / {p_days!r}) * {p_days / unit!r}"
    customers = (f"SELECT customer_id, count(*) - 1 AS frequency, min(first_d) AS first_d, max(last_d) AS last_d, "
                 f"max(k_key) AS last_k, sum(n) AS n_transactions, sum(spend) AS total_amount, "
                 f"arg_min(spend, k_key) AS first_spend{', sum(hist) AS historic' if hist else ''} "
                 f"FROM ({periods}) GROUP BY customer_id")
    ctes = f"c AS ({customers})"
    repeat_spend, total, historic = "total_amount - first_spend", "total_amount", "historic"
    if loose:
        # returns that belong to no purchase: taken off the customer's repeat spend (and total)
        loose_hist = ", coalesce(l.returned_hist, 0.0) AS returned_hist" if hist else ""
        customers = (f"SELECT c0.*, coalesce(l.returned, 0.0) AS returned{loose_hist} FROM ({customers}) c0 "
                     f"LEFT JOIN loose l ON l.customer_id = c0.customer_id")
        ctes = f"{pre}, loose AS MATERIALIZED ({loose}), c AS ({customers})"
        repeat_spend, total = "total_amount - first_spend + returned", "total_amount + returned"
        historic = "historic + returned_hist"
    select = (f"SELECT c.customer_id, CAST(c.frequency AS DOUBLE) AS frequency, CAST({recency} AS DOUBLE) AS recency, "
              f"CAST({t_expr} AS DOUBLE) AS T, CASE WHEN frequency > 0 THEN ({repeat_spend}) / (frequency * {MICROS!r}) "
              f"ELSE 0.0 END AS monetary_value, CAST(first_d AS TIMESTAMP) AS first_purchase, "
              f"CAST(last_d AS TIMESTAMP) AS last_purchase, CAST(n_transactions AS BIGINT) AS n_transactions, "
              f"({total}) / {MICROS!r} AS total_amount")
    if hist:  # every row of the customer (returns too): revenue and margin in money
        select += f", ({total}) / {MICROS!r} AS revenue, ({historic}) / {MICROS!r} AS historic_value"
    # customers with returns and no purchase are not buyers: named in attrs, not summarised
    returns_only = (f" UNION ALL SELECT l.customer_id{', NULL' * (10 if hist else 8)}{{holdout_nulls}} FROM loose l "
                    f"ANTI JOIN c ON c.customer_id = l.customer_id") if loose else ""
    if cal is None:
        sql = (f"WITH {ctes} {select} FROM c{returns_only.format(holdout_nulls='')} "
               f"ORDER BY customer_id")
    else:
        hpre, hdays, hloose = _purchase_days(f"FROM {table} WHERE CAST(ts AS DATE) > DATE '{cal}' "
                                             f"AND CAST(ts AS DATE) <= DATE '{hold}'{where}", amount, order,
                                             bool(returns), "hold")
        if p_days == 1:
            hkey = "h.d"
        else:
            hkey = f"floor(date_diff('day', c.first_d, h.d) / {p_days!r})"
        hspend = "sum(spend)"
        hjoin = ""
        if hloose:
            hspend = "sum(spend) + coalesce(any_value(hl.returned), 0.0)"
            hjoin = "LEFT JOIN hloose hl ON hl.customer_id = p.customer_id "
            ctes += f", {hpre}, hloose AS ({hloose})"
        holdout = (f"SELECT p.customer_id, count(*) AS frequency_holdout, ({hspend}) / (count(*) * {MICROS!r}) "
                   f"AS monetary_value_holdout FROM ("
                   f"SELECT h.customer_id, {hkey} AS key, sum(h.spend) AS spend FROM ({hdays}) h "
                   f"JOIN c ON c.customer_id = h.customer_id GROUP BY h.customer_id, key) p {hjoin}"
                   f"GROUP BY p.customer_id")
        duration = (hold - cal).days / unit
        sql = (f"WITH {ctes}, h AS ({holdout}) {select}, "
               f"CAST(coalesce(h.frequency_holdout, 0) AS DOUBLE) AS frequency_holdout, "
               f"coalesce(h.monetary_value_holdout, 0.0) AS monetary_value_holdout, "
               f"{duration!r} AS duration_holdout FROM c LEFT JOIN h ON h.customer_id = c.customer_id"
               f"{returns_only.format(holdout_nulls=', NULL, NULL, NULL')} ORDER BY customer_id")
    # through Arrow, typed in SQL (timestamps, BIGINT): the columns arrive as pandas needs them, no conversion
    table = con.sql(sql).to_arrow_table()
    not_buyers: list[str] = []
    if loose:
        import pyarrow.compute as pc

        gone = pc.is_null(table["frequency"])
        not_buyers = [str(c) for c in table.filter(gone)["customer_id"].to_pylist()]
        table = table.filter(pc.invert(gone))
    margins = None
    if hist:  # taken out before pandas: the summary's columns stay as they are
        import pyarrow as pa

        margins = {"customer_id": table.column("customer_id").combine_chunks().cast(pa.large_string()),
                   **{k: table.column(k).to_numpy().astype(float) for k in ("revenue", "historic_value")}}
        table = table.drop_columns(["revenue", "historic_value"])
    # one block per column: numbers without gaps are taken over from Arrow without a copy
    frame = table.to_pandas(split_blocks=True, self_destruct=True).set_index("customer_id")
    del table
    frame.attrs.update({"as_of": str(obs_end), "time_unit": time_unit, "period": period,
                        "calibration_end": None if cal is None else str(cal),
                        "holdout_end": None if cal is None else str(hold),
                        "returns_only_customers": not_buyers})
    return frame, margins


def _purchase_days(rows: str, amount: str, order: str, returns: bool, name: str,
                   margin: str | None = None) -> tuple[str, str, str | None]:
    """SQL for the purchase days of the rows ``rows`` (a ``FROM … WHERE`` clause).

    Returns ``(ctes, days, loose)``: common table expressions to put in the ``WITH``
    clause (named after ``name``; empty without returns), the query of the purchase
    days ``(customer_id, d, spend, n)``, and the query of each customer's returns that
    belong to no purchase ``(customer_id, returned)`` (None without returns).

    A return (negative amount) never makes a purchase day. With an order id that a
    purchase of the same customer carries (among these rows) it is added to the spend
    of that purchase's (first) day; otherwise it is the customer's, in ``loose``.
    ``n`` counts purchase rows only.

    With ``margin`` (SQL of a row's margin in whole millionths) every row's margin goes
    where its amount goes: the days carry ``hist`` and ``loose`` carries ``returned_hist``.
    """
    hist = f", {margin} AS hist" if margin else ""
    base = f"SELECT customer_id, CAST(ts AS DATE) AS d, {amount} AS amount{hist}{{extra}} {rows}"
    day_hist = ", sum(hist) AS hist" if margin else ""
    if not returns:
        return "", (f"SELECT customer_id, d, sum(amount) AS spend, count(*) AS n{day_hist} FROM ({base.format(extra='')}) "
                    f"GROUP BY customer_id, d"), None
    r_hist, hist_col = (", r.hist", ", hist") if margin else ("", "")
    tagged = base.format(extra=f", coalesce(amount < 0, false) AS is_return, {order} AS order_id")
    ctes = (f"{name}_returns AS MATERIALIZED (SELECT * FROM ({tagged}) WHERE is_return), "
            f"{name}_returned AS MATERIALIZED (SELECT r.customer_id, r.amount{r_hist}, o.d FROM {name}_returns r LEFT JOIN ("
            f"SELECT customer_id, order_id, min(d) AS d FROM ({tagged}) WHERE NOT is_return AND order_id IN ("
            f"SELECT order_id FROM {name}_returns) GROUP BY customer_id, order_id) o "
            f"ON o.customer_id = r.customer_id AND o.order_id = r.order_id)")
    days = (f"SELECT customer_id, d, sum(amount) AS spend, sum(n) AS n{day_hist} FROM ("
            f"SELECT customer_id, d, amount, 1 AS n{hist_col} FROM ({tagged}) WHERE NOT is_return "
            f"UNION ALL SELECT customer_id, d, amount, 0 AS n{hist_col} FROM {name}_returned WHERE d IS NOT NULL"
            f") GROUP BY customer_id, d")
    loose_hist = ", sum(hist) AS returned_hist" if margin else ""
    loose = (f"SELECT customer_id, sum(amount) AS returned{loose_hist} FROM {name}_returned WHERE d IS NULL "
             f"GROUP BY customer_id")
    return ctes, days, loose


def _has_column(con, table: str, column: str) -> bool:
    names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()]
    return column in names


# ----------------------------------------------------------------------------- lifetimes-compatible
#: lifetimes ``freq`` codes we support → (DuckDB date_trunc part, length in microseconds)
_FREQ = {
    "D": ("day", 86_400e6), "W": ("week", 7 * 86_400e6), "h": ("hour", 3_600e6), "H": ("hour", 3_600e6),
    "min": ("minute", 60e6), "T": ("minute", 60e6), "s": ("second", 1e6), "S": ("second", 1e6),
}


def _freq(freq: str) -> tuple[str, float]:
    if freq not in _FREQ:
        raise SchemaError(f"freq '{freq}' is not supported", hint="use D, W, h, min or s (or time_unit in ws.summary)")
    return _FREQ[freq]


def _sniffed_csv(con, path: Path) -> str:
    """``read_csv(...)`` with the dialect and column types DuckDB detects, detected once.

    A plain ``read_csv(path)`` runs the sniffer every time a query that uses it is
    bound; ``sniff_csv`` returns the same detection as an explicit call
    (``auto_detect=false`` with every option spelled out), which later queries read
    without sniffing again.
    """
    plain = f"read_csv({quote_literal(str(path))})"
    try:
        prompt = str(con.execute(f"SELECT Prompt FROM sniff_csv({quote_literal(str(path))})").fetchall()[0][0])
    except Exception:  # noqa: BLE001 - the plain reader reports the problem in its own words
        return plain
    prompt = prompt.strip().rstrip(";").strip()
    if not (prompt.startswith("FROM read_csv(") and prompt.endswith(")")):
        return plain
    return prompt[len("FROM "):]


def _register_log(con, transactions: Any, customer_id_col: str, datetime_col: str,
                  monetary_value_col: str | None, datetime_format: str | None) -> str:
    """Register the caller's frame (or stream a CSV/Parquet file) and return SQL giving (cid, ts, amount)."""
    if isinstance(transactions, (str, Path)):
        path = Path(transactions)
        if not path.exists():
            raise SchemaError(f"file not found: {path}")
        if path.suffix.lower() in (".parquet", ".pq"):
            source = f"read_parquet({quote_literal(str(path))})"
        else:
            source = _sniffed_csv(con, path)
        con.execute(f"CREATE OR REPLACE TEMP VIEW log AS SELECT * FROM {source}")
    else:
        from cvm.data.readers import _to_arrow

        con.register("log", _to_arrow(transactions))
    types = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE log").fetchall()}
    names = list(types)
    for col in [customer_id_col, datetime_col] + ([monetary_value_col] if monetary_value_col else []):
        if col not in names:
            raise SchemaError(f"the transactions have no column '{col}'; columns: {', '.join(names)}")
    ts_type = types[datetime_col]
    ts = quote_ident(datetime_col)
    if datetime_format and not ts_type.startswith(("TIMESTAMP", "DATE")):
        # numbers such as 19970101 with "%Y%m%d" (how lifetimes' CDNOW loads) are read as their digits
        ts = f"strptime(CAST({ts} AS VARCHAR), {quote_literal(datetime_format)})"
    else:
        ts = f"CAST({ts} AS TIMESTAMP)"
    amount = f"CAST({quote_ident(monetary_value_col)} AS DOUBLE)" if monetary_value_col else "CAST(NULL AS DOUBLE)"
    return f"SELECT {quote_ident(customer_id_col)} AS cid, {ts} AS ts, {amount} AS amount FROM log"


def _arrow_frame(con, sql: str) -> pd.DataFrame:
    """A query's result as pandas through Arrow (one copy fewer than ``.df()`` for text columns)."""
    return con.sql(sql).to_arrow_table().to_pandas()


def _lifetimes_summary(con, log_sql: str, end: pd.Timestamp | None, freq: str, freq_multiplier: float,
                       with_money: bool, include_first: bool, cal_filter: str = "") -> pd.DataFrame:
    part, micros = _freq(freq)
    scale = micros * freq_multiplier
    offset = 0 if include_first else 1
    money = ""
    if with_money:
        if include_first:
            money = f", coalesce(sum(spend) / (count(spend) * {MICROS!r}), 0.0) AS monetary_value"
        else:
            money = (f", CASE WHEN count(*) > 1 THEN (sum(spend) - arg_min(spend, p)) / ((count(*) - 1) * {MICROS!r}) "
                     "ELSE 0.0 END AS monetary_value")
    columns = (f"SELECT cid, CAST(count(*) - {offset} AS DOUBLE) AS frequency, "
               f"epoch_us(max(p) - min(p)) / {scale!r} AS recency, epoch_us({{end}} - min(p)) / {scale!r} AS T{money}")
    if end is None and not cal_filter:
        # the end is the last period with a purchase: one pass over the log (a streamed file is read once),
        # the purchase periods kept in memory for the second aggregation
        sql = (f"WITH periods AS MATERIALIZED (SELECT cid, date_trunc('{part}', ts) AS p, sum({micros_sql('amount')}) AS spend "
               f"FROM ({log_sql}) GROUP BY cid, p), last_period AS (SELECT max(p) AS e FROM periods) "
               + columns.format(end="any_value(last_period.e)")
               + " FROM periods, last_period GROUP BY cid ORDER BY cid")
        return _arrow_frame(con, sql)
    if end is None:
        last = con.execute(f"SELECT max(ts) FROM ({log_sql})").fetchall()[0][0]
        end = pd.Timestamp(last) if last is not None else pd.Timestamp("1970-01-01")
    end_sql = f"date_trunc('{part}', TIMESTAMP '{end.isoformat(sep=' ')}')"
    periods = (f"SELECT cid, date_trunc('{part}', ts) AS p, sum({micros_sql('amount')}) AS spend FROM ({log_sql}) "
               f"WHERE date_trunc('{part}', ts) <= {end_sql}{cal_filter} GROUP BY cid, p")
    sql = columns.format(end=end_sql) + f" FROM ({periods}) GROUP BY cid ORDER BY cid"
    frame = _arrow_frame(con, sql)
    return frame


def _unreadable_dates(datetime_col: str, datetime_format: str | None, exc: Exception) -> SchemaError:
    """The error for dates DuckDB cannot read (a SchemaError, hence also a ValueError)."""
    how = f" with datetime_format {datetime_format!r}" if datetime_format else ""
    first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return SchemaError(f"the values of column '{datetime_col}' do not read as dates{how} ({first_line})",
                       hint="pass datetime_format, e.g. '%Y%m%d' for 19970101 or '%d-%m-%Y' for 31-12-2024")


def summary_data_from_transaction_data(transactions: Any, customer_id_col: str, datetime_col: str,
                                       monetary_value_col: str | None = None, datetime_format: str | None = None,
                                       observation_period_end: Any = None, freq: str = "D",
                                       freq_multiplier: float = 1, include_first_transaction: bool = False
                                       ) -> pd.DataFrame:
    """lifetimes' ``summary_data_from_transaction_data``, same signature and result, computed in DuckDB.

    Kept equal to lifetimes on purpose, returns included: a negative amount is a transaction
    like any other here (it counts as a purchase and moves recency). :func:`workspace_summary`
    (what ``cvm`` uses) treats it as a return instead.

    Timestamps are floored to ``freq`` periods (``D`` days, ``W`` weeks starting Monday,
    ``h``, ``min``, ``s``); purchases in one period collapse into one with their amounts
    summed; transactions after the (floored) ``observation_period_end`` are ignored.
    ``frequency = periods - 1``, ``recency = (last - first) / (freq * freq_multiplier)``,
    ``T = (end - first) / (freq * freq_multiplier)``, ``monetary_value`` = mean spend per
    repeat period (0 without repeats).

    ``transactions`` is a pandas, polars or Arrow frame, or the path of a CSV or Parquet file,
    which DuckDB streams without loading it into Python.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"id": [1, 1, 2], "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-03"])})
    >>> summary_data_from_transaction_data(tx, "id", "date", observation_period_end="2024-01-15")
        frequency  recency     T
    id
    1         1.0      7.0  14.0
    2         0.0      0.0  12.0
    """
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")  # every result here ends in ORDER BY
    try:
        log_sql = _register_log(con, transactions, customer_id_col, datetime_col, monetary_value_col, datetime_format)
        end = None if observation_period_end is None else pd.Timestamp(observation_period_end)
        frame = _lifetimes_summary(con, log_sql, end, freq, freq_multiplier, bool(monetary_value_col),
                                   include_first_transaction)
    except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
        raise _unreadable_dates(datetime_col, datetime_format, exc) from None
    finally:
        con.close()
    return frame.rename(columns={"cid": customer_id_col}).set_index(customer_id_col)


def calibration_and_holdout_data(transactions: Any, customer_id_col: str, datetime_col: str,
                                 calibration_period_end: Any, observation_period_end: Any = None, freq: str = "D",
                                 freq_multiplier: float = 1, datetime_format: str | None = None,
                                 monetary_value_col: str | None = None, include_first_transaction: bool = False
                                 ) -> pd.DataFrame:
    """lifetimes' ``calibration_and_holdout_data``, same signature and result, computed in DuckDB.

    Calibration: transactions with timestamp <= ``calibration_period_end``, summarised as of
    that date (columns suffixed ``_cal``). Holdout: ``(calibration_period_end,
    observation_period_end]``; ``frequency_holdout`` = distinct ``freq`` periods with a
    purchase, ``monetary_value_holdout`` = mean transaction amount (as lifetimes does),
    ``duration_holdout`` = periods between the two ends / ``freq_multiplier``. Only
    customers seen in the calibration are returned. As lifetimes does, a negative amount
    counts as a transaction (see :func:`workspace_summary` for cvm's own rule on returns).
    """
    import duckdb

    part, micros = _freq(freq)
    cal = pd.Timestamp(calibration_period_end)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")  # every result here ends in ORDER BY
    try:
        log_sql = _register_log(con, transactions, customer_id_col, datetime_col, monetary_value_col, datetime_format)
        obs = (pd.Timestamp(con.execute(f"SELECT max(ts) FROM ({log_sql})").fetchall()[0][0])
               if observation_period_end is None else pd.Timestamp(observation_period_end))
        cal_sql = f"TIMESTAMP '{cal.isoformat(sep=' ')}'"
        obs_sql = f"TIMESTAMP '{obs.isoformat(sep=' ')}'"
        cal_log = f"SELECT * FROM ({log_sql}) WHERE ts <= {cal_sql}"
        calib = _lifetimes_summary(con, cal_log, cal, freq, freq_multiplier, bool(monetary_value_col),
                                   include_first_transaction)
        calib.columns = ["cid"] + [f"{c}_cal" for c in calib.columns[1:]]
        hold_log = f"SELECT * FROM ({log_sql}) WHERE ts > {cal_sql} AND ts <= {obs_sql}"
        n_hold = con.execute(f"SELECT count(*) FROM ({hold_log})").fetchall()[0][0]
        if n_hold == 0:
            raise SchemaError("there are no transactions in the holdout period",
                              hint="check observation_period_end and calibration_period_end")
        money = (f", sum({micros_sql('amount')}) / (count(amount) * {MICROS!r}) AS monetary_value_holdout"
                 if monetary_value_col else "")
        hold = con.execute(
            f"SELECT cid, CAST(count(DISTINCT date_trunc('{part}', ts)) AS DOUBLE) AS frequency_holdout{money} "
            f"FROM ({hold_log}) GROUP BY cid").df()
        duration = con.execute(
            f"SELECT epoch_us(date_trunc('{part}', {obs_sql}) - date_trunc('{part}', {cal_sql}))").fetchall()[0][0]
    except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
        raise _unreadable_dates(datetime_col, datetime_format, exc) from None
    finally:
        con.close()
    out = calib.merge(hold, on="cid", how="left").fillna(
        {"frequency_holdout": 0.0, "monetary_value_holdout": 0.0})
    out["duration_holdout"] = duration / micros / freq_multiplier
    return out.rename(columns={"cid": customer_id_col}).set_index(customer_id_col)


# ----------------------------------------------------------------------------- compression, BG/BB, sBG
def compress_summary(frame: pd.DataFrame, columns: Sequence[str] | None = None,
                     weights: str = "weights") -> pd.DataFrame:
    """Collapse identical histories into unique rows with a ``weights`` count.

    The likelihood of the models depends on a customer only through these columns
    (sufficient statistics), so fitting the weighted unique rows gives the same estimates.
    Existing weights are summed. Default columns: those of frequency, recency, T,
    n_periods, monetary_value present in ``frame``.
    """
    if columns is None:
        columns = [c for c in ("frequency", "recency", "T", "n_periods", "periods", "monetary_value") if c in frame]
    missing = [c for c in columns if c not in frame]
    if missing:
        raise SchemaError(f"cannot compress: no column(s) {', '.join(missing)}")
    if not columns:
        raise SchemaError("cannot compress: the frame has none of frequency, recency, T, n_periods")
    w = frame[weights] if weights in frame else pd.Series(1, index=frame.index)
    out = (frame.assign(**{weights: w}).groupby(list(columns), as_index=False, sort=True)[weights].sum())
    out[weights] = out[weights].astype("int64") if np.allclose(out[weights] % 1, 0) else out[weights]
    return out


def _trunc_diff(unit: str, a: str, b: str) -> str:
    if unit == "week":
        return f"(date_diff('day', {a}, {b}) // 7)"
    return f"date_diff('{unit}', {a}, {b})"


def _no_returns(con, table: str) -> str:
    """SQL condition leaving out returns (negative amounts): they are never purchases (see the module docstring)."""
    return " AND NOT coalesce(amount < 0, false)" if _has_column(con, table, "amount") else ""


def _period_source(source: Any, as_of: Any, time_unit: str) -> tuple[Any, str, Any, str]:
    """Connection, table, the as-of date (default: the last purchase day) and SQL for its period's start."""
    if time_unit not in DAYS_PER_UNIT:
        raise SchemaError(f"unknown time unit '{time_unit}'", hint=f"use one of {', '.join(DAYS_PER_UNIT)}")
    con, table = _connection(source)
    last = con.execute(f"SELECT max(CAST(ts AS DATE)) FROM {table}").fetchall()[0][0]
    if last is None:
        raise SchemaError("there are no transactions to summarise", hint="ingest transactions first")
    end = _as_date(as_of, "as_of") or last
    return con, table, end, f"date_trunc('{time_unit}', DATE '{end}')"


def discrete_summary(source: Any, as_of: Any = None, time_unit: str = "year") -> pd.DataFrame:
    """BG/BB input: per customer ``frequency``, ``recency`` and ``n_periods`` over calendar periods.

    Following Fader, Hardie and Shang (2010, "Customer-base analysis in a discrete-time
    noncontractual setting", section 2): the period of the first purchase is the start;
    each later calendar period (``day``, ``week`` starting Monday, ``month``, ``year``) up to
    and including the one containing ``as_of`` is one opportunity (``n_periods``);
    ``frequency`` is the number of those periods with a purchase and ``recency`` the index
    of the last one (0 when there is none). Returns (negative amounts) are not purchases.
    """
    con, table, end, end_p = _period_source(source, as_of, time_unit)
    sql = (f"WITH p AS (SELECT DISTINCT customer_id, date_trunc('{time_unit}', CAST(ts AS DATE)) AS p FROM {table} "
           f"WHERE CAST(ts AS DATE) <= DATE '{end}'{_no_returns(con, table)}), "
           f"c AS (SELECT customer_id, count(*) - 1 AS frequency, min(p) AS first_p, max(p) AS last_p "
           f"FROM p GROUP BY customer_id) "
           f"SELECT customer_id, frequency, {_trunc_diff(time_unit, 'first_p', 'last_p')} AS recency, "
           f"{_trunc_diff(time_unit, 'first_p', end_p)} AS n_periods, first_p AS first_period FROM c "
           f"ORDER BY customer_id")
    frame = con.execute(sql).df().set_index("customer_id")
    for col in ("frequency", "recency", "n_periods"):
        frame[col] = frame[col].astype("int64")
    return frame


def cohort_survival(source: Any, as_of: Any = None, time_unit: str = "year") -> pd.DataFrame:
    """sBG input: per acquisition cohort, how many customers are still active in each period.

    A customer's cohort is the calendar period of the first purchase; the customer counts as
    active in period ``k`` (0 = the acquisition period) when a purchase (not a return) falls in period ``k``
    or later — the renewal reading of the shifted-beta-geometric model (Fader and Hardie
    2007, "How to project customer retention", section 2). Only periods that have begun by
    ``as_of`` are listed.

    Returns
    -------
    pandas.DataFrame
        Long format: ``cohort`` (period start), ``period`` (k), ``alive``, ``cohort_size``.
    """
    con, table, end, end_p = _period_source(source, as_of, time_unit)
    sql = (f"WITH p AS (SELECT customer_id, min(date_trunc('{time_unit}', CAST(ts AS DATE))) AS cohort, "
           f"max(date_trunc('{time_unit}', CAST(ts AS DATE))) AS last_p FROM {table} "
           f"WHERE CAST(ts AS DATE) <= DATE '{end}'{_no_returns(con, table)} GROUP BY customer_id), "
           f"g AS (SELECT cohort, {_trunc_diff(time_unit, 'cohort', 'last_p')} AS life, count(*) AS n FROM p GROUP BY ALL), "
           f"s AS (SELECT cohort, sum(n) AS cohort_size, max({_trunc_diff(time_unit, 'cohort', end_p)}) AS horizon "
           f"FROM g GROUP BY cohort) "
           f"SELECT s.cohort, k.period, CAST(sum(CASE WHEN g.life >= k.period THEN g.n ELSE 0 END) AS BIGINT) AS alive, "
           f"CAST(s.cohort_size AS BIGINT) AS cohort_size "
           f"FROM s CROSS JOIN (SELECT range AS period FROM range(0, (SELECT max(horizon) + 1 FROM s))) k "
           f"JOIN g ON g.cohort = s.cohort WHERE k.period <= s.horizon "
           f"GROUP BY s.cohort, k.period, s.cohort_size ORDER BY s.cohort, k.period")
    frame = con.execute(sql).df()
    frame["cohort"] = pd.to_datetime(frame["cohort"])
    return frame
