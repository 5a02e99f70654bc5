"""The transactions' fingerprint (what a stored backtest is checked against) is the same on every call.

Found by the engineers timing ``cvm run``: the fingerprint held ``sum(amount)`` as a float, and
DuckDB's threads add a million floats in an order that differs from call to call (19 different
sums in 30 calls), so a stored backtest was judged stale at random and ``--model auto`` lost the
backtest's reason for its choice. The amounts are now summed in whole millionths (as the summary
sums money, :func:`cvm.data.summary.micros_sql`): whole numbers add up the same in any order.
"""

from __future__ import annotations

from cvm.data.warehouse import Workspace


def test_the_fingerprint_of_a_million_rows_is_the_same_on_every_call(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    try:
        ws.con.execute("SET threads = 2")
        # 1,000,000 rows of amounts with many decimals (several row groups, summed by both threads)
        ws.con.execute("INSERT INTO transactions (customer_id, ts, amount, source, line) "
                       "SELECT 'c' || (i % 1000), TIMESTAMP '2024-01-01' + to_seconds(i), "
                       "round(((i * 7919) % 100003) / 7.0 + 1e-3, 6), 'made here', i FROM range(1000000) t(i)")
        prints = {ws.transactions_fingerprint() for _ in range(30)}
        assert len(prints) == 1, prints
        # the total in it is the exact sum: by hand, sum of round(v, 6) in whole millionths with Python integers
        exact = sum(round(round(((i * 7919) % 100003) / 7.0 + 1e-3, 6) * 1_000_000) for i in range(1_000_000))
        whole, micros = divmod(exact, 1_000_000)
        assert prints.pop().endswith(f"|{whole}.{micros:06d}")
    finally:
        ws.close()
