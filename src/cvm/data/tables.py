"""What the valuation and the management questions read from a workspace: one typed method per question.

:class:`WorkspaceTables` is part of :class:`cvm.data.Workspace`; every read of the
``transactions``, ``customers``, ``costs``, ``invoices`` and ``referrals`` tables and of
the stored backtests that :mod:`cvm.service` needs is here, so :mod:`cvm.value` and
:mod:`cvm.evaluation` stay pure functions over frames and arrays. A table that is not
in the workspace reads as empty (with its columns) where the question can still be
answered without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


#: the stored backtests (one row per run, the result as JSON)
BACKTEST_TABLE = "backtests"
#: cohort periods DuckDB's ``date_trunc`` / ``date_diff`` understand here
COHORT_PERIODS = ("week", "month", "quarter", "year")


def _next_day(as_of: Any) -> pd.Timestamp:
    """The exclusive end of the as-of day."""
    return pd.Timestamp(as_of) + pd.Timedelta(days=1)


class WorkspaceTables:
    """Typed reads of the workspace tables (mixed into :class:`cvm.data.Workspace`)."""

    con: Any  # the DuckDB connection; ``has_table`` is the Workspace's

    # ------------------------------------------------------------------ transactions
    def transaction_columns(self) -> set[str]:
        """The column names of ``transactions`` (empty when there is no such table)."""
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'transactions'").fetchall()
        return {r[0] for r in rows}

    def transaction_span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None, int]:
        """``(first ts, last ts, number of rows)`` of ``transactions``; ``(None, None, 0)`` when there are none."""
        if not self.has_table("transactions"):
            return None, None, 0
        first, last, n = self.con.execute("SELECT min(ts), max(ts), count(*) FROM transactions").fetchone()
        return (None if first is None else pd.Timestamp(first), None if last is None else pd.Timestamp(last), int(n))

    def transactions_fingerprint(self) -> str:
        """Count, first and last time and total amount of ``transactions``: changes when the data change.

        The total is summed in whole millionths as integers (a float sum depends on the order
        DuckDB's threads add the rows: the same data gave different fingerprints, and a stored
        backtest was judged stale at random) and written with six decimals.
        """
        n, first, last, total = self.con.execute(
            "SELECT count(*), min(ts), max(ts), sum(CAST(round(amount * 1000000) AS HUGEINT)) FROM transactions"
        ).fetchone()
        first, last = (pd.NaT if v is None else pd.Timestamp(v) for v in (first, last))
        whole, micros = divmod(abs(int(total or 0)), 1_000_000)
        return f"{int(n)}|{first}|{last}|{'-' if (total or 0) < 0 else ''}{whole}.{micros:06d}"

    def first_channels(self, as_of: Any = None) -> pd.Series:
        """Channel of each customer's first transaction (up to the as-of day), when transactions carry one."""
        if not self.has_table("transactions") or "channel" not in self.transaction_columns():
            return pd.Series(dtype=object)
        where, params = "", []
        if as_of is not None:
            where, params = "WHERE ts < ?", [_next_day(as_of)]
        frame = self.con.execute(
            "SELECT CAST(customer_id AS VARCHAR) AS customer_id, arg_min(channel, ts) AS channel "
            f"FROM transactions {where} GROUP BY 1", params).df()
        return frame.set_index("customer_id")["channel"]

    def cohort_activity(self, period: str, as_of: Any, default_margin: float) -> pd.DataFrame:
        """Per acquisition cohort and age: active customers and margin (see :mod:`cvm.value.cohorts`).

        Columns ``cohort`` (start of the period of the first purchase), ``age`` (periods since),
        ``active``, ``value`` and ``last_age`` (the age of the as-of day's period for the cohort).
        """
        if period not in COHORT_PERIODS:
            raise ValueError(f"unknown cohort period {period!r}")
        value_expr = "coalesce(margin, amount * ?)" if "margin" in self.transaction_columns() else "amount * ?"
        stamp = pd.Timestamp(as_of)
        return self.con.execute(
            f"""
            WITH tx AS (
                SELECT CAST(customer_id AS VARCHAR) AS customer_id, ts, {value_expr} AS value
                FROM transactions WHERE ts < ?
            ), first AS (
                SELECT customer_id, date_trunc('{period}', min(ts)) AS cohort FROM tx GROUP BY 1
            )
            SELECT f.cohort AS cohort,
                   date_diff('{period}', f.cohort, date_trunc('{period}', t.ts)) AS age,
                   count(DISTINCT t.customer_id) AS active,
                   sum(t.value) AS value,
                   any_value(date_diff('{period}', f.cohort, date_trunc('{period}', CAST(? AS TIMESTAMP)))) AS last_age
            FROM tx t JOIN first f USING (customer_id)
            GROUP BY 1, 2 ORDER BY 1, 2
            """,
            [default_margin, _next_day(stamp), stamp],
        ).df()

    def purchase_days(self, until: Any) -> pd.DataFrame:
        """One row per customer and calendar day with a purchase up to ``until`` (inclusive): ``customer_id, day``."""
        return self.con.execute(
            "SELECT DISTINCT CAST(customer_id AS VARCHAR) AS customer_id, CAST(ts AS DATE) AS day FROM transactions "
            "WHERE CAST(ts AS DATE) <= ?", [pd.Timestamp(until).date()]).df()

    # ------------------------------------------------------------------ one customer
    def has_purchases(self, customer_id: str) -> bool:
        """Whether ``customer_id`` has any row in ``transactions``."""
        if not self.has_table("transactions"):
            return False
        return self.con.execute("SELECT count(*) FROM transactions WHERE CAST(customer_id AS VARCHAR) = ?",
                                [customer_id]).fetchone()[0] > 0

    def similar_customer_ids(self, customer_id: str, n: int = 5) -> list[str]:
        """The ``n`` ids in ``transactions`` most like ``customer_id`` (Jaro-Winkler)."""
        if not self.has_table("transactions"):
            return []
        return [r[0] for r in self.con.execute(
            "SELECT DISTINCT CAST(customer_id AS VARCHAR) AS c FROM transactions "
            "ORDER BY jaro_winkler_similarity(c, ?) DESC LIMIT ?", [customer_id, n]).fetchall()]

    def customer_purchases(self, customer_id: str, limit: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
        """One customer's latest ``limit`` transactions and their totals per channel."""
        cols = self.transaction_columns()
        pick = ["ts", "amount"] + [c for c in ("order_id", "channel", "margin") if c in cols]
        tx = self.con.execute(
            f"SELECT {', '.join(pick)} FROM transactions WHERE CAST(customer_id AS VARCHAR) = ? ORDER BY ts DESC LIMIT ?",
            [customer_id, limit]).df()
        group = "coalesce(channel, '(none)')" if "channel" in cols else "'(all)'"
        channels = self.con.execute(
            f"SELECT {group} AS channel, count(*) AS transactions, sum(amount) AS amount, min(ts) AS first, max(ts) AS last "
            "FROM transactions WHERE CAST(customer_id AS VARCHAR) = ? GROUP BY 1 ORDER BY amount DESC",
            [customer_id]).df()
        return tx, channels

    def score_history(self, customer_id: str) -> pd.DataFrame:
        """One customer's P(alive), CLV, tier and stage in every stored scoring run, oldest first."""
        columns = ["as_of", "run_id", "probability_alive", "clv", "clv_low", "clv_high", "value_tier", "lifecycle_stage"]
        if not self.has_table("scores"):
            return pd.DataFrame(columns=columns)
        return self.con.execute(
            f"SELECT {', '.join('s.' + c for c in columns)} "
            "FROM scores s JOIN score_runs r USING (run_id) WHERE s.customer_id = ? ORDER BY s.as_of, r.created",
            [customer_id]).df()

    # ------------------------------------------------------------------ other tables
    def _table_or_empty(self, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
        if not self.has_table(name):
            return pd.DataFrame(columns=list(columns))
        return self.con.execute(f"SELECT * FROM {name}").df()

    def customers(self) -> pd.DataFrame:
        """The ``customers`` table as stored (a frame with only ``customer_id`` when absent)."""
        return self._table_or_empty("customers", ("customer_id",))

    def customer_ids(self) -> list[str]:
        """Every customer id in ``customers`` (as text, without missing ids)."""
        if not self.has_table("customers"):
            return []
        rows = self.con.execute("SELECT DISTINCT CAST(customer_id AS VARCHAR) FROM customers").fetchall()
        return [r[0] for r in rows if r[0] is not None]

    def costs(self) -> pd.DataFrame:
        """The ``costs`` table as stored (empty frame with ``ts, amount, customer_id`` when absent)."""
        return self._table_or_empty("costs", ("ts", "amount", "customer_id"))

    def invoices(self) -> pd.DataFrame:
        """The ``invoices`` table as stored (empty frame with the invoice columns when absent)."""
        return self._table_or_empty("invoices", ("invoice_id", "customer_id", "issued", "amount", "due", "paid"))

    def referrals(self) -> pd.DataFrame:
        """The ``referrals`` table as stored (empty frame with ``referrer_id, referred_id, ts`` when absent)."""
        return self._table_or_empty("referrals", ("referrer_id", "referred_id", "ts"))

    # ------------------------------------------------------------------ backtests
    def save_backtest_payload(self, *, calibration_end: str, holdout_end: str, time_unit: str, best: str,
                              reason: str, payload: str) -> None:
        """Append one backtest (its JSON payload) to ``backtests``, with the fingerprint of the data."""
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {BACKTEST_TABLE} (created TIMESTAMP, calibration_end VARCHAR, "
            "holdout_end VARCHAR, time_unit VARCHAR, best VARCHAR, reason VARCHAR, fingerprint VARCHAR, payload VARCHAR)")
        self.con.execute(
            f"INSERT INTO {BACKTEST_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [pd.Timestamp.now().to_pydatetime(), calibration_end, holdout_end, time_unit, best, reason,
             self.transactions_fingerprint(), payload])

    def latest_backtest_payload(self, current_only: bool = False) -> str | None:
        """The JSON payload of the latest stored backtest, or None; ``current_only`` ignores older data."""
        if not self.has_table(BACKTEST_TABLE):
            return None
        row = self.con.execute(
            f"SELECT fingerprint, payload FROM {BACKTEST_TABLE} ORDER BY created DESC LIMIT 1").fetchone()
        if row is None:
            return None
        if current_only and row[0] != self.transactions_fingerprint():
            return None
        return row[1]
