"""Compare two workspaces after the same ``cvm run`` (before and after a change): the same tables, rows and contents.

    python benchmarks/compare_workspaces.py OLD/cvm.duckdb NEW/cvm.duckdb

For every table: the same columns, and the same row count and content, as an order-free sum
of row hashes over every column but those that differ between two runs by design
(``run_id``, ``created``, ``ingested``, ``model_id``). Prints one line per table and exits 1
when anything differs.
"""

from __future__ import annotations

import sys

import duckdb

from common import verdict

PER_RUN = {"run_id", "created", "ingested", "model_id"}


def tables(con) -> list[str]:
    return sorted(r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall())


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    old, new = (duckdb.connect(p, read_only=True) for p in sys.argv[1:3])
    bad = []
    if tables(old) != tables(new):
        print(f"tables differ:\n  old {tables(old)}\n  new {tables(new)}")
        bad.append("tables")
    for table in sorted(set(tables(old)) & set(tables(new))):
        cols = [r[0] for r in old.execute(f'DESCRIBE "{table}"').fetchall()]
        same_cols = cols == [r[0] for r in new.execute(f'DESCRIBE "{table}"').fetchall()]
        kept = ", ".join(f'"{c}"' for c in cols if c not in PER_RUN)
        sql = f'SELECT count(*), sum(hash({kept})) FROM "{table}"' if kept else f'SELECT count(*) FROM "{table}"'
        a, b = old.execute(sql).fetchall(), new.execute(sql).fetchall()
        ok = same_cols and a == b
        print(f"{table:<22} columns equal: {same_cols}; rows {a[0][0]:,} / {b[0][0]:,}; contents equal: {a == b}")
        if not ok:
            bad.append(table)
    verdict(bad)


if __name__ == "__main__":
    main()
