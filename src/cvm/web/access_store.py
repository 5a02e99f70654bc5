"""Where the access of a workspace is kept: users, API tokens, sessions and the audit log.

These are small writes made often and by several processes at once: the web server
starts and touches sessions and audits every login, while an admin adds a user or
a token from the command line. The workspace's DuckDB file lets one process write
at a time and is published in generations (:mod:`cvm.data.generations`), which
suits a nightly refresh but not a write per login. So access lives in
``access.sqlite`` in the workspace folder: SQLite in write-ahead-log mode lets any
number of processes read while one writes, and a writer waits (``busy_timeout``)
for the few milliseconds another one needs, instead of failing (SQLite, "Write-Ahead
Logging", https://sqlite.org/wal.html).

The file is created with mode 0600 (it holds password hashes and token hashes). A
workspace made before this store had its access tables in ``cvm.duckdb``: the first
open copies them over once (the ``meta`` row ``copied_from_duckdb`` says it was done).

A team workspace (``cvm init --catalog postgresql://…``, :mod:`cvm.data.catalog`) keeps
the same tables in its PostgreSQL catalog database instead, so the dashboards of a team
on several machines share logins, sessions, revocations and the audit log. The callers
write the same SQL for both; :class:`PostgresAccess` translates the few words that
differ (``?`` → ``%s``, ``INSERT OR IGNORE`` → ``ON CONFLICT DO NOTHING``, and
``BEGIN IMMEDIATE`` → ``BEGIN`` plus an advisory lock, so transactions of the store
follow each other as SQLite's do).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from cvm.data import catalog

ACCESS_FILE = "access.sqlite"
#: how long a write waits for another process's write before SQLite says "database is locked"
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS users(name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, "
    "created TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS api_tokens(token_hash TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT, "
    "created TIMESTAMP NOT NULL, expires TIMESTAMP, revoked TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, user_name TEXT NOT NULL, created TIMESTAMP NOT NULL, "
    "last_seen TIMESTAMP NOT NULL, address TEXT)",
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_name)",
    "CREATE TABLE IF NOT EXISTS audit(ts TIMESTAMP NOT NULL, event TEXT NOT NULL, actor TEXT, target TEXT, "
    "address TEXT, detail TEXT)",
    "CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts)",
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)",
    # failed logins of a team workspace's dashboards (cvm.web.shared_throttle; the embedded server counts in memory)
    "CREATE TABLE IF NOT EXISTS login_failures(key TEXT PRIMARY KEY, failures INTEGER NOT NULL, "
    "last_failure DOUBLE PRECISION NOT NULL)",
)
_COPIED = (("users", "name, password_hash, role, created"),
           ("api_tokens", "token_hash, role, name, created, expires, revoked"),
           ("sessions", "id, user_name, created, last_seen, address"),
           ("audit", "ts, event, actor, target, address, detail"))


def _timestamp(value: bytes) -> datetime:
    return datetime.fromisoformat(value.decode("ascii"))


# timestamps are kept as ISO text and read back as naive UTC datetimes (as DuckDB gave them)
sqlite3.register_adapter(datetime, lambda moment: moment.isoformat(" "))
sqlite3.register_converter("TIMESTAMP", _timestamp)


def connect(folder: str | Path) -> Any:
    """A connection to the access store of the workspace ``folder`` (created when missing).

    Every statement commits by itself (``autocommit``); use :func:`transaction` for
    several statements that belong together. One connection per thread. A team
    workspace's store is its PostgreSQL catalog (a :class:`PostgresAccess`).
    """
    folder = Path(folder)
    cat = catalog.of(folder)
    if cat is not None:
        con = PostgresAccess(catalog.connect(cat))
        ensure_schema(con)
        return con
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ACCESS_FILE
    if not path.exists():
        try:  # owner-only from the start; a second process creating it at the same moment is fine
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
    con = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                          detect_types=sqlite3.PARSE_DECLTYPES)
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")  # durable at each checkpoint; WAL keeps it consistent always
    ensure_schema(con)
    _copy_from_duckdb_once(con, folder)
    return con


def ensure_schema(con: Any) -> None:
    """Create the tables of the access store when missing (cheap: ``IF NOT EXISTS``)."""
    if isinstance(con, PostgresAccess):  # two processes creating the tables at once take turns
        if not con.schema_ready:
            with transaction(con):
                for sql in _SCHEMA:
                    con.execute(sql)
            con.schema_ready = True
        return
    for sql in _SCHEMA:
        con.execute(sql)


class PostgresAccess:
    """The access store in a team workspace's PostgreSQL catalog, spoken to in the SQL of the SQLite store.

    ``execute`` and ``executemany`` take SQLite's statements and ``?`` parameters and
    return a cursor (``fetchone``, ``fetchall``, ``rowcount``), as :mod:`sqlite3` does.
    """

    def __init__(self, pg: Any) -> None:
        self.pg = pg
        self.schema_ready = False

    def execute(self, sql: str, params: Any = ()) -> Any:
        if sql == "BEGIN IMMEDIATE":  # SQLite's writers take turns from BEGIN on; here an advisory lock does
            self.pg.execute("BEGIN")
            return self.pg.execute("SELECT pg_advisory_xact_lock(%s, 1)", (catalog.STORE_CLASS,))
        return self.pg.execute(postgres_sql(sql), tuple(params) if params else None)

    def executemany(self, sql: str, rows: Any) -> None:
        with self.pg.cursor() as cur:
            cur.executemany(postgres_sql(sql), [tuple(row) for row in rows])

    def close(self) -> None:
        self.pg.close()


def postgres_sql(sql: str) -> str:
    """A statement of the SQLite store in PostgreSQL's words (the store's statements hold no ``?`` in literals)."""
    text = sql.replace("%", "%%").replace("?", "%s")
    if text.startswith("INSERT OR IGNORE INTO "):
        text = "INSERT INTO " + text[len("INSERT OR IGNORE INTO "):] + " ON CONFLICT DO NOTHING"
    return text


class transaction:
    """``with transaction(con):`` — the statements inside commit together or not at all (``BEGIN IMMEDIATE``)."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.con.execute("COMMIT" if kind is None else "ROLLBACK")


def _copy_from_duckdb_once(con: sqlite3.Connection, folder: Path) -> None:
    """Copy users, tokens, sessions and audit rows that a workspace from before kept in ``cvm.duckdb``."""
    if con.execute("SELECT 1 FROM meta WHERE key = 'copied_from_duckdb'").fetchone():
        return
    rows: dict[str, list[tuple]] = {}
    if (folder / "cvm.duckdb").exists():  # a team workspace never had them there (it has no cvm.duckdb)
        from cvm.data import generations

        try:
            old = generations.connect_reader(folder)
        except Exception:  # held by a cvm from before generations: copy at the next open
            return
        try:
            present = {r[0] for r in old.execute("SELECT table_name FROM information_schema.tables "
                                                 "WHERE table_schema = 'main'").fetchall()}
            for table, columns in _COPIED:
                if table not in present:
                    continue
                have = {r[0] for r in old.execute("SELECT column_name FROM information_schema.columns "
                                                  "WHERE table_name = ?", [table]).fetchall()}
                picked = ", ".join(c if c in have else f"NULL AS {c}" for c in columns.split(", "))
                rows[table] = old.execute(f"SELECT {picked} FROM {table}").fetchall()
        finally:
            old.close()
    with transaction(con):
        if con.execute("SELECT 1 FROM meta WHERE key = 'copied_from_duckdb'").fetchone():
            return  # another process copied them in the meantime
        for table, columns in _COPIED:
            if rows.get(table):
                marks = ", ".join("?" for _ in columns.split(", "))
                con.executemany(f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})", rows[table])
        con.execute("INSERT INTO meta VALUES ('copied_from_duckdb', datetime('now'))")


def team_secret(folder: str | Path) -> str | None:
    """The key that signs session cookies of a team workspace, kept in its catalog (``meta``), or None
    for an embedded workspace (whose key is ``web-secret.key`` in the folder).

    The first server makes it; every dashboard of the team signs with the same key, so a
    session started on one is a session on all of them (it is still checked in ``sessions``).
    """
    if catalog.of(folder) is None:
        return None
    import secrets

    con = connect(folder)
    try:
        con.execute("INSERT OR IGNORE INTO meta VALUES ('web_secret', ?)", [secrets.token_hex(32)])
        return str(con.execute("SELECT value FROM meta WHERE key = 'web_secret'").fetchone()[0])
    finally:
        con.close()
