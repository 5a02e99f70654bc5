"""Workspace generations: readers never wait for writers, writers never fail for readers.

DuckDB lets one process write a database file, and refuses a read-only open while
another process writes it. A workspace that a dashboard reads all week while a
scheduler refreshes it every night therefore keeps its data in **generations**:

* ``cvm.duckdb`` is always the latest *published* generation. Readers (the web
  server, ``cvm customers``, a notebook's ``Workspace.open(path, read_only=True)``)
  open it read-only; any number of processes may do so at once.
* A writer (``cvm ingest``, ``cvm score``, ``cvm fit``, a web upload or scoring job,
  a notebook's ``Workspace.open(path)``) first takes the workspace's write lock
  (``flock`` on ``.cvm-write.lock``), then copies ``cvm.duckdb`` to
  ``.cvm-<pid>-<n>.writing`` and works on that copy. When it closes, the copy is
  checkpointed, flushed to disk and moved over ``cvm.duckdb`` with ``os.replace`` (an
  atomic rename, POSIX ``rename(2)``): a reader sees either the old or the new
  generation, never a mix. Readers holding the old file keep reading it (the
  inode lives on until they close it); their next open finds the new one.
* A second writer waits for the lock (saying who holds it: ``waiting for cvm score
  (pid 1234) …``) up to a timeout, then is refused with that reason. A writer that
  crashes or is killed publishes nothing: ``cvm.duckdb`` stays the previous
  generation, and the next writer removes the abandoned copy.

Inside one process, writers of the same workspace share one copy (as they shared one
DuckDB instance before): it is published when the last of them closes, or when the
process ends normally.

The timeout is ``CVM_WRITE_TIMEOUT`` seconds (default 600), or the ``wait`` given to
:meth:`cvm.data.Workspace.open`.

A *team workspace* (a folder with ``catalog.toml``, made by ``cvm init --catalog``) has
the same generations with PostgreSQL as their catalog: the write lock is an advisory
lock, the current generation a row of the catalog, and the files live in a data path
the team shares (:mod:`cvm.data.catalog`). Each function below takes that road when the
folder has a catalog; the embedded road is unchanged.
"""

from __future__ import annotations

import errno
import fcntl
import getpass
import itertools
import json
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cvm.data import catalog
from cvm.errors import WorkspaceError

DB_FILE = "cvm.duckdb"
LOCK_FILE = ".cvm-write.lock"
WRITING_SUFFIX = ".writing"
DEFAULT_WAIT_SECONDS = 600.0

_counter = itertools.count(1)
_registry: dict[str, "Writer"] = {}
_registry_lock = threading.Lock()


def wait_seconds(wait: float | None = None) -> float:
    """How long a writer waits for the write lock: ``wait``, else ``CVM_WRITE_TIMEOUT``, else 600 s."""
    if wait is not None:
        return max(0.0, float(wait))
    text = os.environ.get("CVM_WRITE_TIMEOUT", "").strip()
    try:
        return max(0.0, float(text)) if text else DEFAULT_WAIT_SECONDS
    except ValueError:
        return DEFAULT_WAIT_SECONDS


def exists(folder: Path) -> bool:
    """True when ``folder`` holds a published workspace (``cvm.duckdb``, or a generation in its catalog)."""
    if (Path(folder) / DB_FILE).exists():
        return True
    cat = catalog.of(folder)
    return cat is not None and catalog.current(cat) is not None


def generation(folder: Path) -> tuple[int, int, int] | None:
    """What identifies the published generation of ``folder`` (device, inode, change time), None when absent.

    ``os.replace`` gives ``cvm.duckdb`` a new inode at every publication, so a reader
    knows with one ``stat`` whether its open generation is still the latest. In a team
    workspace it is the current generation's id in the catalog (one query).
    """
    cat = catalog.of(folder)
    if cat is not None:
        found = catalog.current(cat)
        return None if found is None else (0, 0, found[0])
    try:
        st = os.stat(folder / DB_FILE)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns


def connect_reader(folder: Path):
    """A read-only DuckDB connection to the published generation of ``folder``.

    DuckDB keeps one database instance per file name in a process, so after a new
    generation was moved over ``cvm.duckdb`` a second ``connect`` by the same name would
    hand back the old instance while it is still open. The file is therefore opened
    through a hard link with a name of its own, removed at once (the open file stays).
    """
    import duckdb

    cat = catalog.of(folder)
    if cat is not None:
        return _connect_pinned(cat)
    db = folder / DB_FILE
    if db.with_name(DB_FILE + ".wal").exists():  # left by a cvm from before generations: read it with its log
        return duckdb.connect(str(db), read_only=True)
    link = folder / f".cvm-read-{os.getpid()}-{next(_counter)}.duckdb"
    try:
        os.link(db, link)
    except OSError:  # a folder we may not write to (a read-only share): open by name
        return duckdb.connect(str(db), read_only=True)
    try:
        return duckdb.connect(str(link), read_only=True)
    finally:
        try:
            os.unlink(link)
        except OSError:
            pass


_pins: dict[int, Any] = {}


def _connect_pinned(cat: Any):
    """A read-only connection to a team workspace's current generation, pinned until :func:`close_reader`."""
    import duckdb

    found = catalog.open_pinned(cat)
    if found is None:
        raise WorkspaceError.coded("workspace_cannot_open", path=cat.shown, detail="no generation published yet")
    file, pin = found
    try:
        con = duckdb.connect(str(file), read_only=True)
    except BaseException:
        catalog.unpin(pin)
        raise
    _pins[id(con)] = pin
    return con


def close_reader(con: Any) -> None:
    """Close a reader's connection and let go of the generation it had pinned (team workspaces)."""
    _close_quietly(con)
    pin = _pins.pop(id(con), None)
    if pin is not None:
        catalog.unpin(pin)


@dataclass
class Writer:
    """The write lock of one workspace held by this process, and the copy its writers work on."""

    folder: Path
    lock_fd: int
    copy: Path
    users: int = 0
    #: a team workspace: its catalog, and the PostgreSQL connection that holds the write lock
    catalog: Any = None
    lock_pg: Any = None

    def path(self) -> str:
        return str(self.copy)


def _key(folder: Path) -> str:
    return str(folder.resolve())


def _holder(folder: Path) -> dict[str, Any]:
    """Who holds the write lock (as the holder wrote it down), or ``{}``."""
    try:
        return json.loads((folder / LOCK_FILE).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _command() -> str:
    """This process in a few words: ``cvm score`` for the command line, else the program's name."""
    argv = [a for a in sys.argv if a]
    program = Path(argv[0]).name if argv else ""
    if program == "cvm" or (program == "__main__.py" and "cvm" in argv[0]):
        words = [a for a in argv[1:] if not a.startswith("-")][:1]
        return " ".join(["cvm", *words])
    return f"python ({program})" if program and program != "-c" else "python"


def _describe_self() -> dict[str, Any]:
    command = _command()
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (a container without a passwd entry)
        user = "?"
    return {"pid": os.getpid(), "command": command[:120], "user": user,
            "since": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())}


def acquire(folder: Path, wait: float | None = None, on_wait: Callable[[dict[str, Any]], None] | None = None) -> Writer:
    """Take (or share, within this process) the write lock of ``folder`` and prepare the copy to write.

    Raises
    ------
    WorkspaceError
        ``workspace_busy``: another process held the lock for longer than the wait.
    """
    key = _key(folder)
    limit = wait_seconds(wait)
    start = time.monotonic()
    told = False
    while True:
        with _registry_lock:
            shared = _registry.get(key)
            if shared is not None:
                shared.users += 1
                return shared
        cat = catalog.of(folder)
        if cat is not None:
            return _acquire_catalog(folder, key, cat, limit, on_wait)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = _holder(folder)
            waited = time.monotonic() - start
            if waited >= limit:
                raise WorkspaceError.coded(
                    "workspace_busy", path=str(folder), command=holder.get("command", "?"),
                    pid=holder.get("pid", "?"), since=holder.get("since", "?"), waited=f"{waited:.0f}") from None
            if not told and on_wait is not None:
                on_wait({"command": holder.get("command", "?"), "pid": holder.get("pid", "?"),
                         "since": holder.get("since", "?"), "timeout": f"{limit:.0f}"})
                told = True
            time.sleep(min(0.1, max(0.0, limit - waited)))
            continue
        with _registry_lock:
            if key in _registry:  # another thread of this process took it in between: share that one
                os.close(fd)
                continue
            try:
                writer = _prepare(folder, fd)
            except BaseException:
                os.close(fd)
                raise
            writer.users = 1
            _registry[key] = writer
            return writer


def _acquire_catalog(folder: Path, key: str, cat: Any, limit: float,
                     on_wait: Callable[[dict[str, Any]], None] | None) -> Writer:
    """:func:`acquire` of a team workspace: the advisory lock in its catalog, a copy in its data path."""
    pg = catalog.lock(cat, limit, _describe_self(), on_wait)
    try:
        catalog.clear_abandoned(cat)
        copy = catalog.copy_name(cat, next(_counter))
        found = catalog.current(cat)
        if found is not None:
            shutil.copyfile(found[1], copy)
        writer = Writer(folder=folder, lock_fd=-1, copy=copy, users=1, catalog=cat, lock_pg=pg)
    except BaseException:
        catalog.release(pg)
        raise
    with _registry_lock:
        _registry[key] = writer
    return writer


def _prepare(folder: Path, fd: int) -> Writer:
    """With the lock held: say who holds it, remove copies of crashed writers, copy the published file."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(_describe_self()).encode("utf-8"), 0)
    for stale in [*folder.glob(f".cvm-*{WRITING_SUFFIX}*"), *folder.glob(".cvm-*.first")]:
        try:
            stale.unlink()
        except OSError:
            pass
    copy = folder / f".cvm-{os.getpid()}-{next(_counter)}{WRITING_SUFFIX}"
    db = folder / DB_FILE
    if db.exists():
        shutil.copyfile(db, copy)
        wal = db.with_name(DB_FILE + ".wal")
        if wal.exists():  # left by a cvm from before generations: DuckDB replays it on the copy
            shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
    return Writer(folder=folder, lock_fd=fd, copy=copy)


def release(writer: Writer, con: Any) -> None:
    """One writer of this process is done; the last one publishes the copy and lets go of the lock.

    ``con`` is the closing writer's DuckDB connection (still open): the last writer
    checkpoints through it, so the copy is complete without its write-ahead log.
    """
    with _registry_lock:
        writer.users -= 1
        last = writer.users <= 0
        if last:
            _registry.pop(_key(writer.folder), None)
    if not last:
        _close_quietly(con)
        return
    try:
        try:
            con.execute("CHECKPOINT")
        except Exception:  # a transaction left open by a failed step: closing checkpoints what was committed
            pass
        _close_quietly(con)
        _publish(writer)
    finally:
        if writer.lock_pg is not None:
            catalog.release(writer.lock_pg)  # closing its connection ends the advisory lock
        else:
            os.close(writer.lock_fd)  # closing the descriptor ends the flock


def publish_first(writer: Writer, con: Any) -> None:
    """Publish a new workspace's first state (its empty tables) at once, while its writer goes on.

    A workspace is there as soon as it is created: readers find ``cvm.duckdb`` with its
    tables instead of nothing until the first writer closes.
    """
    con.execute("CHECKPOINT")
    if writer.catalog is not None:
        part = catalog.copy_name(writer.catalog, next(_counter))
        shutil.copyfile(writer.copy, part)
        catalog.publish(writer.catalog, writer.lock_pg, part, _describe_self())
        return
    part = writer.folder / f".cvm-{os.getpid()}-{next(_counter)}.first"
    shutil.copyfile(writer.copy, part)
    with open(part, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(part, writer.folder / DB_FILE)


def _publish(writer: Writer) -> None:
    import duckdb

    copy = writer.copy
    wal = copy.with_name(copy.name + ".wal")
    if wal.exists():  # another connection of this process was still open at the checkpoint: fold the log in
        con = duckdb.connect(str(copy))
        con.execute("CHECKPOINT")
        con.close()
    if not copy.exists():
        return
    if writer.catalog is not None:
        catalog.publish(writer.catalog, writer.lock_pg, copy, _describe_self())
        return
    with open(copy, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(copy, writer.folder / DB_FILE)
    old_wal = writer.folder / (DB_FILE + ".wal")
    if old_wal.exists():  # the log of a cvm from before generations was replayed into the copy
        old_wal.unlink()
    dir_fd = os.open(writer.folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _close_quietly(con: Any) -> None:
    try:
        con.close()
    except Exception:  # already closed
        pass


def holds_lock(folder: Path) -> bool:
    """True when this process holds the write lock of ``folder`` (for tests and diagnostics)."""
    with _registry_lock:
        return _key(folder) in _registry
