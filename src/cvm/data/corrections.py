"""Corrected orders: the same order id arriving again with other content replaces what was stored.

A transaction with an order id belongs to the order ``(customer_id, order_id)``, purchases
and returns apart (a return carries the order id of the purchase it belongs to, so it is a
record of its own next to that purchase, never a version of it). An order may have several
**lines** (a webshop or ERP export has a row per product); the order's **content** is the
multiset of its lines' ``(ts, amount, channel, margin)``.

* **within one file** every line of an order is kept: rows that share an order id are the
  lines of that order, never corrections of each other (an export with a row per product
  would otherwise lose all but one product);
* **between files** the later ingest wins: when the workspace holds an order whose content
  differs from the file's (a line's amount, date, channel or margin changed, a line added or
  taken away), the stored lines go to ``transactions_history`` with the file and line they
  came from, when they were replaced and by which file and line, and the file's lines take
  their place; they are counted ``changed``, not ``accepted``;
* an order whose content equals the stored one is a duplicate, line for line;
* a version the workspace already replaced once (history holds the same content for that
  order) is not brought back by re-reading an old file: its lines count as duplicates, so
  ingesting any file a second time still changes nothing.

Contents are compared by their line count and the sum of the lines' 64-bit hashes (as a
HUGEINT, so the sum does not depend on the lines' order).

Rows without an order id have no identity but their whole content: they keep the
multiset rule of :mod:`cvm.data.warehouse` (no corrections are possible for them).

Every step is one SQL statement over the rows of the file, guarded by one aggregation over
the order ids the file shares with the workspace, so a file that brings only new orders
pays that and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvm.data.validate import column_ddl

HISTORY = "transactions_history"
VERSIONS = "_cvm_versions"
#: what a correction may change; the order's identity is (customer_id, order_id)
CONTENT = ("ts", "amount", "channel", "margin")


def history_ddl(con) -> str:
    """``CREATE TABLE`` of ``transactions_history`` on ``con``: the replaced rows, where they came from and
    what replaced them (id columns stored as in ``transactions``)."""
    cols = column_ddl("transactions", con)
    cols += ["source VARCHAR", "line BIGINT", "replaced TIMESTAMP", "replaced_by_source VARCHAR",
             "replaced_by_line BIGINT"]
    return f"CREATE TABLE IF NOT EXISTS {HISTORY} ({', '.join(cols)})"


#: a return (negative amount) is a record of its own next to the purchase whose order id it carries
IS_RETURN = "coalesce(amount < 0, false)"


def _fingerprint(alias: str = "") -> str:
    """SQL aggregate: the multiset of an order's lines as one number (see the module docstring)."""
    a = f"{alias}." if alias else ""
    return f"sum(CAST(hash({', '.join(a + c for c in CONTENT)}) AS HUGEINT))"


@dataclass
class Corrections:
    """Rows of one file by what the correction rules did with them."""

    replacing: int = 0  #: rows (order lines) that replaced stored lines of other content: ``changed``
    stale: int = 0  #: rows re-sending a version that was replaced before: duplicates

    @property
    def changed(self) -> int:
        return self.replacing

    @property
    def duplicates(self) -> int:
        return self.stale


def replace_changed_orders(con, parsed: str, source: str) -> Corrections:
    """Orders of the staged file ``parsed`` that the workspace holds with other content: the file wins.

    The stored lines of such an order go to history and are deleted (the caller's insert
    then adds the file's lines as new); lines of an order whose content history already
    holds are removed from ``parsed`` (duplicates).
    """
    con.execute(history_ddl(con))
    con.execute(f"DROP TABLE IF EXISTS {VERSIONS}")
    keys = "customer_id, order_id, ret"
    con.execute(f"""
        CREATE TEMP TABLE {VERSIONS} AS
        WITH incoming AS (
            SELECT customer_id, order_id, {IS_RETURN} AS ret, count(*) AS n, {_fingerprint()} AS fp,
                   min(line) AS first_line
            FROM {parsed} WHERE order_id IS NOT NULL GROUP BY ALL),
        stored AS (
            SELECT customer_id, order_id, {IS_RETURN} AS ret, count(*) AS n, {_fingerprint()} AS fp
            FROM transactions WHERE order_id IN (SELECT order_id FROM incoming) GROUP BY ALL),
        past AS (
            SELECT DISTINCT customer_id, order_id, ret, n, fp FROM (
                SELECT customer_id, order_id, {IS_RETURN} AS ret, count(*) AS n, {_fingerprint()} AS fp
                FROM {HISTORY} WHERE order_id IN (SELECT order_id FROM incoming)
                GROUP BY customer_id, order_id, ret, replaced, replaced_by_source))
        SELECT i.*, p.n IS NOT NULL AS stale
        FROM incoming i JOIN stored s USING ({keys})
        LEFT JOIN past p ON p.customer_id = i.customer_id AND p.order_id = i.order_id AND p.ret = i.ret
                        AND p.n = i.n AND p.fp = i.fp
        WHERE s.n <> i.n OR s.fp <> i.fp
    """)
    stale, replacing = con.execute(
        f"SELECT coalesce(sum(n) FILTER (WHERE stale), 0), coalesce(sum(n) FILTER (WHERE NOT stale), 0) "
        f"FROM {VERSIONS}").fetchall()[0]
    same_key = ("{a}.customer_id = v.customer_id AND {a}.order_id = v.order_id "
                f"AND coalesce({{a}}.amount < 0, false) = v.ret")
    if stale:
        con.execute(f"DELETE FROM {parsed} p USING {VERSIONS} v WHERE {same_key.format(a='p')} AND v.stale")
    if replacing:
        con.execute(f"INSERT INTO {HISTORY} SELECT t.customer_id, t.ts, t.amount, t.order_id, t.channel, t.margin, "
                    f"t.source, t.line, CAST(now() AS TIMESTAMP), ?, v.first_line FROM transactions t "
                    f"JOIN {VERSIONS} v ON {same_key.format(a='t')} WHERE NOT v.stale", [source])
        con.execute(f"DELETE FROM transactions t USING {VERSIONS} v WHERE {same_key.format(a='t')} AND NOT v.stale")
    con.execute(f"DROP TABLE IF EXISTS {VERSIONS}")
    return Corrections(replacing=int(replacing), stale=int(stale))
