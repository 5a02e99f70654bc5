"""A workspace whose generations have a PostgreSQL catalog: one workspace for a team on several machines.

The embedded workspace (:mod:`cvm.data.generations`) publishes a generation by moving
a file over ``cvm.duckdb`` and excludes a second writer with ``flock``; both work for
the processes of one machine. A *team workspace* keeps the same generations, but:

* the generations are DuckDB files ``gen-<id>.duckdb`` in a **data path** that every
  machine of the team reaches under the same name (a network share);
* the **catalog** is a PostgreSQL database (``postgresql://user@host:port/database``,
  a password from ``~/.pgpass`` or ``PGPASSWORD``, never from the workspace): the table
  ``cvm_generations`` says which generation is current (the row with the largest
  ``id``: its file, when and by whom and which command it was published). A
  generation is published by one ``INSERT`` (one PostgreSQL transaction) after its file
  is complete on disk: a reader sees the old generation or the new one, never a mix;
* the **write lock** is a PostgreSQL advisory lock (``pg_try_advisory_lock``, held by
  the writer's own connection; PostgreSQL, "Advisory Locks",
  https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS), so
  writers on two machines exclude each other. It ends with the writer's connection,
  also when the writer is killed: a killed writer publishes nothing and holds nothing;
* a **reader** asks the catalog for the current generation and opens its file read-only.
  While open, it holds a *shared* advisory lock on that generation's id (its "pin").
  A writer removes a superseded generation file only when it can take that lock
  exclusively, i.e. no reader anywhere has the file open; the current generation is
  never removed. So old files go as soon as their last reader closes (at the next
  publication after that), and no reader loses its file.

The workspace folder keeps ``catalog.toml`` (the catalog URL and the data path),
``settings.toml`` and the temporary files of DuckDB; users, sessions, tokens and the
audit log live in the catalog database too (:mod:`cvm.web.access_store`), so every
dashboard of the team shares them. PostgreSQL is reached through ``psycopg`` 3 (the
``team`` extra); the embedded default never imports it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cvm.errors import WorkspaceError

CATALOG_FILE = "catalog.toml"
#: advisory lock keys (``pg_advisory_lock(class, object)``): "cvm" in ASCII, then the kind of lock
WRITE_CLASS = 0x63766D01  # the write lock of the workspace (object 0)
GENERATION_CLASS = 0x63766D02  # a reader's pin on a generation (object: the generation's id)
STORE_CLASS = 0x63766D03  # a transaction of the access store, and creating the tables
_PREFIXES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_SECONDS = 10

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS cvm_generations(id BIGINT PRIMARY KEY, file TEXT NOT NULL, "
    "published TIMESTAMPTZ NOT NULL DEFAULT now(), host TEXT, pid INTEGER, user_name TEXT, command TEXT, "
    "removed TIMESTAMPTZ)",
    "CREATE TABLE IF NOT EXISTS cvm_writer(one INTEGER PRIMARY KEY CHECK (one = 1), host TEXT, pid INTEGER, "
    "user_name TEXT, command TEXT, since TEXT)",
)


@dataclass(frozen=True)
class Catalog:
    """Where a team workspace keeps its generations: the PostgreSQL catalog and the shared data path."""

    url: str
    data_path: Path

    def to_toml(self) -> str:
        return f"catalog = {_toml_string(self.url)}\ndata_path = {_toml_string(str(self.data_path))}\n"

    @property
    def shown(self) -> str:
        """The URL without a password, for messages."""
        return redact(self.url)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def redact(url: str) -> str:
    """``postgresql://user:secret@host/db`` → ``postgresql://user:***@host/db``."""
    head, sep, rest = url.partition("://")
    if sep and "@" in rest:
        who, at, where = rest.partition("@")
        if ":" in who:
            who = who.split(":", 1)[0] + ":***"
        return f"{head}{sep}{who}{at}{where}"
    return url


def check_url(url: str) -> str:
    """The catalog URL, stripped; refuses what is not a PostgreSQL URL."""
    text = str(url).strip()
    if not text.startswith(_PREFIXES) or len(text) <= len("postgres://"):
        raise WorkspaceError.coded("catalog_invalid", catalog=redact(text))
    return text


_known: dict[str, tuple[int, Catalog | None]] = {}


def of(folder: str | Path) -> Catalog | None:
    """The catalog of the workspace ``folder`` (its ``catalog.toml``), or None for an embedded workspace."""
    path = Path(folder) / CATALOG_FILE
    try:
        stamp = path.stat().st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return None
    key = str(path)
    hit = _known.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        found = Catalog(url=check_url(data["catalog"]), data_path=Path(str(data["data_path"])))
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise WorkspaceError.coded("catalog_file_invalid", path=str(path), detail=str(exc)) from None
    _known[key] = (stamp, found)
    return found


def connect(cat: Catalog):
    """A new autocommit connection to the catalog database.

    Raises
    ------
    WorkspaceError
        ``catalog_needs_psycopg`` (the ``team`` extra is not installed) or ``catalog_cannot_connect``.
    """
    try:
        import psycopg
    except ImportError:
        raise WorkspaceError.coded("catalog_needs_psycopg") from None
    try:
        return psycopg.connect(cat.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                               application_name="cvm")
    except psycopg.Error as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WorkspaceError.coded("catalog_cannot_connect", catalog=cat.shown, detail=detail) from None


def ensure_schema(pg: Any) -> None:
    """Create the catalog's tables when missing; two processes doing it at once wait for each other."""
    with pg.transaction():
        pg.execute("SELECT pg_advisory_xact_lock(%s, 0)", (STORE_CLASS,))
        for sql in _SCHEMA:
            pg.execute(sql)


def create(folder: str | Path, url: str, data_path: str | Path) -> Catalog:
    """Make ``folder`` a team workspace on the catalog ``url`` with its generations under ``data_path``.

    The catalog is reached (and its tables made) before ``catalog.toml`` is written, so a
    wrong URL leaves no half-made workspace.

    Raises
    ------
    WorkspaceError
        The folder is already a workspace, the URL is not PostgreSQL, the server cannot be reached.
    """
    folder = Path(folder)
    if (folder / "cvm.duckdb").exists() or (folder / CATALOG_FILE).exists():
        raise WorkspaceError.coded("workspace_exists", path=str(folder))
    data = Path(data_path).expanduser().resolve()
    cat = Catalog(url=check_url(url), data_path=data)
    for place in (data, folder):
        try:
            place.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError.coded("workspace_cannot_create", path=str(place), reason=exc.strerror) from None
    pg = connect(cat)
    try:
        ensure_schema(pg)
    finally:
        pg.close()
    part = folder / (CATALOG_FILE + ".part")
    part.write_text(cat.to_toml(), encoding="utf-8")
    os.chmod(part, 0o600)
    part.replace(folder / CATALOG_FILE)
    return cat


# --------------------------------------------------------------------------- which generation is current

_shared: dict[tuple[int, str], Any] = {}
_shared_lock = threading.Lock()


def _query(cat: Catalog, sql: str, params: tuple = ()) -> list[tuple]:
    """One statement on this process's shared catalog connection (made again after a fork or a lost link)."""
    key = (os.getpid(), cat.url)
    with _shared_lock:
        for attempt in (1, 2):
            pg = _shared.get(key)
            if pg is None or pg.closed:
                pg = _shared[key] = connect(cat)
                ensure_schema(pg)
            try:
                return pg.execute(sql, params).fetchall()
            except Exception:
                _shared.pop(key, None)
                try:
                    pg.close()
                except Exception:  # the link is gone already
                    pass
                if attempt == 2:
                    raise
    return []


def current(cat: Catalog) -> tuple[int, Path] | None:
    """The current generation's id and file, or None before the first publication."""
    rows = _query(cat, "SELECT id, file FROM cvm_generations ORDER BY id DESC LIMIT 1")
    return (int(rows[0][0]), cat.data_path / rows[0][1]) if rows else None


def history(cat: Catalog) -> list[dict[str, Any]]:
    """Every generation published, newest first (``removed`` says when its file was deleted)."""
    rows = _query(cat, "SELECT id, file, published, host, pid, user_name, command, removed FROM cvm_generations "
                       "ORDER BY id DESC")
    names = ("id", "file", "published", "host", "pid", "user", "command", "removed")
    return [dict(zip(names, row)) for row in rows]


# --------------------------------------------------------------------------- readers


def open_pinned(cat: Catalog) -> tuple[Path, Any] | None:
    """The current generation's file, pinned for reading: ``(file, pin)``, or None when there is none yet.

    The pin is a connection holding a shared advisory lock on the generation; close it
    (:func:`unpin`) when the file is closed. A generation removed between the question
    and the pin is not used: the question is asked again.
    """
    pg = connect(cat)
    try:
        while True:
            row = pg.execute("SELECT id, file FROM cvm_generations ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                pg.close()
                return None
            pg.execute("SELECT pg_advisory_lock_shared(%s, %s)", (GENERATION_CLASS, int(row[0])))
            gone = pg.execute("SELECT removed IS NOT NULL FROM cvm_generations WHERE id = %s", (row[0],)).fetchone()
            if gone is not None and not gone[0]:
                return cat.data_path / row[1], pg
            pg.execute("SELECT pg_advisory_unlock_shared(%s, %s)", (GENERATION_CLASS, int(row[0])))
    except BaseException:
        pg.close()
        raise


def unpin(pin: Any) -> None:
    """Let go of a generation (closing the connection ends its shared lock)."""
    try:
        pin.close()
    except Exception:  # closed already
        pass


# --------------------------------------------------------------------------- the write lock and publishing


def lock(cat: Catalog, limit: float, describe: dict[str, Any],
         on_wait: Callable[[dict[str, Any]], None] | None) -> Any:
    """Take the workspace's write lock, waiting up to ``limit`` seconds; the connection that holds it.

    Raises
    ------
    WorkspaceError
        ``workspace_busy``: another writer (on any machine) held the lock for longer than the wait.
    """
    pg = connect(cat)
    try:
        ensure_schema(pg)
        start = time.monotonic()
        told = False
        while True:
            if pg.execute("SELECT pg_try_advisory_lock(%s, 0)", (WRITE_CLASS,)).fetchone()[0]:
                pg.execute("INSERT INTO cvm_writer VALUES (1, %s, %s, %s, %s, %s) ON CONFLICT (one) DO UPDATE SET "
                           "host = excluded.host, pid = excluded.pid, user_name = excluded.user_name, "
                           "command = excluded.command, since = excluded.since",
                           (host(), describe["pid"], describe["user"], describe["command"], describe["since"]))
                return pg
            holder = _holder(pg)
            waited = time.monotonic() - start
            if waited >= limit:
                raise WorkspaceError.coded("workspace_busy", path=cat.shown, command=holder["command"],
                                           pid=holder["pid"], since=holder["since"], waited=f"{waited:.0f}")
            if not told and on_wait is not None:
                on_wait({**holder, "timeout": f"{limit:.0f}"})
                told = True
            time.sleep(min(0.2, max(0.0, limit - waited)))
    except BaseException:
        pg.close()
        raise


def host() -> str:
    return socket.gethostname()


def _holder(pg: Any) -> dict[str, Any]:
    """Who holds the write lock, as the holder wrote it down (``pid`` says on which machine)."""
    row = pg.execute("SELECT host, pid, command, since FROM cvm_writer WHERE one = 1").fetchone()
    if row is None:
        return {"command": "?", "pid": "?", "since": "?"}
    return {"command": row[2] or "?", "pid": f"{row[1]} on {row[0]}", "since": row[3] or "?"}


def clear_abandoned(cat: Catalog) -> None:
    """With the write lock held: remove the copies of writers that crashed or were killed."""
    for stale in cat.data_path.glob(".cvm-*.writing*"):
        try:
            stale.unlink()
        except OSError:
            pass


def copy_name(cat: Catalog, number: int) -> Path:
    """The file a writer of this process works on, in the shared data path."""
    return cat.data_path / f".cvm-{host()}-{os.getpid()}-{number}.writing"


def publish(cat: Catalog, pg: Any, complete_file: Path, describe: dict[str, Any]) -> int:
    """Publish ``complete_file`` (checkpointed, closed) as the next generation; remove unused old ones.

    With the write lock held by ``pg``: the file is flushed to disk and moved to
    ``gen-<id>.duckdb``, then one ``INSERT`` makes it current. A crash before the
    ``INSERT`` leaves the previous generation current (the moved file is overwritten by
    the next writer, which takes the same id).
    """
    with open(complete_file, "rb+") as fh:
        os.fsync(fh.fileno())
    number = int(pg.execute("SELECT coalesce(max(id), 0) + 1 FROM cvm_generations").fetchone()[0])
    name = f"gen-{number:06d}.duckdb"
    os.replace(complete_file, cat.data_path / name)
    _fsync_folder(cat.data_path)
    pg.execute("INSERT INTO cvm_generations(id, file, host, pid, user_name, command) VALUES (%s, %s, %s, %s, %s, %s)",
               (number, name, host(), describe["pid"], describe["user"], describe["command"]))
    remove_unused(cat, pg, number)
    return number


def remove_unused(cat: Catalog, pg: Any, newest: int) -> list[int]:
    """Remove the files of superseded generations that no reader has pinned; their ids.

    A generation is marked ``removed`` in the same transaction that holds its lock
    exclusively, so a reader pinning it afterwards sees the mark and takes the current one.
    """
    gone = []
    for (number, name) in pg.execute("SELECT id, file FROM cvm_generations WHERE removed IS NULL AND id < %s "
                                     "ORDER BY id", (newest,)).fetchall():
        with pg.transaction():
            if not pg.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (GENERATION_CLASS, int(number))).fetchone()[0]:
                continue  # a reader has it open
            pg.execute("UPDATE cvm_generations SET removed = now() WHERE id = %s", (number,))
        try:
            (cat.data_path / name).unlink()
        except FileNotFoundError:
            pass
        gone.append(int(number))
    return gone


def release(pg: Any) -> None:
    """Let go of the write lock (closing its connection ends it)."""
    try:
        pg.close()
    except Exception:  # the link is gone already: so is the lock
        pass


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
