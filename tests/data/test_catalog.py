"""A team workspace: generations whose catalog is a real PostgreSQL server (started by the tests).

What is checked, with real ``cvm`` processes and real writers in other processes:

* ``cvm init --catalog … --data-path …`` makes the workspace (its first generation in the
  catalog, no ``cvm.duckdb``), and refuses a catalog that is not PostgreSQL or cannot be
  reached, in words, leaving no half-made workspace;
* two "machines" (two workspace folders with the same catalog and data path) exclude each
  other's writers through the advisory lock: the second waits and says for whom (pid and
  host), is refused in words after its timeout, and gets through once the first is done;
* a reader opened during a write keeps the old generation after the publication, a new
  reader sees the new one; the old file stays while a reader has it pinned, and the next
  publication after the last reader closed removes it;
* a killed writer publishes nothing and holds nothing: the catalog's current generation is
  the one before, the lock is free at once;
* the SQL of the access store in PostgreSQL's words (hand-written expectations).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cvm.data import Workspace, catalog
from cvm.web.access_store import postgres_sql
from tests.conftest import make_team_workspace
from tests.writers import hold, orders


def cvm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def _count(reader: Workspace, prefix: str) -> int:
    return int(reader.frame("SELECT count(*) AS n FROM transactions WHERE starts_with(customer_id, ?)",
                            [prefix])["n"][0])


def _count_in(ws: Path, prefix: str) -> int:
    with Workspace.open(ws, read_only=True) as reader:
        return _count(reader, prefix)


@pytest.fixture
def team(postgres, tmp_path):
    """A team workspace with 50 customers ``BASE…``, made by ``cvm init`` and ``cvm ingest`` as processes."""
    url = postgres.new_database()
    ws = tmp_path / "machine-a" / "ws"
    made = cvm("init", "--catalog", url, "--data-path", str(tmp_path / "shared"), "--workspace", str(ws))
    assert made.returncode == 0, made.stderr
    assert "its catalog is postgresql://" in made.stdout
    loaded = cvm("ingest", str(orders(tmp_path / "base.csv", "BASE", 50)), "--workspace", str(ws))
    assert loaded.returncode == 0, loaded.stderr
    return ws


def test_init_makes_a_team_workspace_whose_generations_are_in_the_catalog(team, tmp_path):
    cat = catalog.of(team)
    assert cat is not None and cat.data_path == (tmp_path / "shared").resolve()
    assert not (team / "cvm.duckdb").exists()  # the data are the catalog's generations, in the shared path
    history = catalog.history(cat)
    # init publishes the empty tables (1); Workspace.open's first publication and its close (2); the ingest (3)
    assert [h["id"] for h in history] == [3, 2, 1]
    assert history[0]["command"] == "cvm ingest" and history[0]["pid"] > 0 and history[0]["removed"] is None
    assert sorted(p.name for p in cat.data_path.iterdir()) == ["gen-000003.duckdb"]  # unused ones are removed
    assert all(h["removed"] is not None for h in history[1:])
    assert _count_in(team, "BASE") == 50
    assert cvm("init", "--catalog", cat.url, "--data-path", str(cat.data_path),
               "--workspace", str(team)).stderr.count("is already a workspace") == 1


def test_init_refuses_a_catalog_that_is_not_postgresql_or_not_reachable(tmp_path, postgres):
    wrong = cvm("init", "--catalog", "mysql://me@db/cvm", "--data-path", str(tmp_path / "d"),
                "--workspace", str(tmp_path / "ws1"))
    assert wrong.returncode != 0 and "is not a PostgreSQL URL" in wrong.stderr and "Traceback" not in wrong.stderr
    with __import__("socket").socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    away = cvm("init", "--catalog", f"postgresql://cvm:secret@127.0.0.1:{port}/cvm", "--data-path", str(tmp_path / "d"),
               "--workspace", str(tmp_path / "ws2"))
    assert away.returncode != 0 and "cannot be reached" in away.stderr, away.stderr
    assert "secret" not in away.stderr and "Traceback" not in away.stderr  # the password is never shown
    assert not (tmp_path / "ws2" / catalog.CATALOG_FILE).exists()


def _second_machine(team: Path, tmp_path: Path) -> Path:
    """Another machine's workspace folder on the same team workspace: the same catalog and data path."""
    other = tmp_path / "machine-b" / "ws"
    other.mkdir(parents=True)
    shutil.copyfile(team / catalog.CATALOG_FILE, other / catalog.CATALOG_FILE)
    return other


def test_writers_on_two_machines_exclude_each_other_through_the_catalog(team, tmp_path):
    other = _second_machine(team, tmp_path)
    release = tmp_path / "release"
    holder = hold(team, orders(tmp_path / "a.csv", "AAA", 40), release)
    refused = cvm("ingest", str(orders(tmp_path / "b.csv", "BBB", 30)), "--workspace", str(other),
                  env={"CVM_WRITE_TIMEOUT": "1"})
    assert refused.returncode != 0
    assert "is being changed by python" in refused.stderr and f"(pid {holder.pid} on " in refused.stderr, refused.stderr
    assert "CVM_WRITE_TIMEOUT" in refused.stderr and "Traceback" not in refused.stderr
    waiting = subprocess.Popen([sys.executable, "-m", "cvm.cli", "ingest", str(tmp_path / "b.csv"),
                                "--workspace", str(other)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = waiting.stderr.readline()
    assert "waiting for" in said and f"pid {holder.pid} on " in said, said
    assert waiting.poll() is None  # it waits while the other machine writes
    release.touch()
    assert holder.wait(timeout=60) == 0
    _, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    for folder in (team, other):  # both machines see both changes, nothing lost
        assert (_count_in(folder, "BASE"), _count_in(folder, "AAA"), _count_in(folder, "BBB")) == (50, 40, 30)


def test_a_reader_keeps_its_generation_during_a_write_and_the_next_reader_sees_the_new_one(team, tmp_path):
    cat = catalog.of(team)
    before = catalog.current(cat)
    early = Workspace.open(team, read_only=True)
    release = tmp_path / "release"
    holder = hold(team, orders(tmp_path / "a.csv", "AAA", 40), release)
    during = Workspace.open(team, read_only=True)  # a reader never waits for the writer
    assert (_count(early, "AAA"), _count(during, "AAA")) == (0, 0)
    release.touch()
    assert holder.wait(timeout=60) == 0
    after = catalog.current(cat)
    assert after[0] == before[0] + 1
    assert _count(early, "AAA") == 0 and _count(during, "AAA") == 0  # still their generation, whole
    assert _count_in(team, "AAA") == 40  # a reader opened now sees the new one
    assert before[1].exists()  # pinned by two readers: not removed
    early.close()
    assert cvm("ingest", str(orders(tmp_path / "b.csv", "BBB", 5)), "--workspace", str(team)).returncode == 0
    assert before[1].exists()  # still pinned by the other reader
    during.close()
    assert cvm("ingest", str(orders(tmp_path / "c.csv", "CCC", 5)), "--workspace", str(team)).returncode == 0
    assert not before[1].exists() and not after[1].exists()  # no reader holds them: removed
    assert sorted(p.name for p in cat.data_path.iterdir()) == [catalog.current(cat)[1].name]


def test_a_killed_writer_publishes_nothing_and_leaves_the_lock_free(team, tmp_path):
    cat = catalog.of(team)
    before = catalog.current(cat)
    holder = hold(team, orders(tmp_path / "a.csv", "AAA", 40), tmp_path / "never")
    holder.kill()
    holder.wait(timeout=30)
    assert catalog.current(cat) == before and _count_in(team, "AAA") == 0
    assert list(cat.data_path.glob(".cvm-*.writing*"))  # its copy is left behind, unpublished
    start = time.monotonic()
    with Workspace.open(team, wait=0) as ws:  # the lock ended with the killed writer's connection: no wait
        assert time.monotonic() - start < 5
        ws.ingest(orders(tmp_path / "b.csv", "BBB", 3))
    assert not list(cat.data_path.glob(".cvm-*.writing*"))  # the next writer removed the abandoned copy
    assert catalog.current(cat)[0] == before[0] + 1
    assert (_count_in(team, "BASE"), _count_in(team, "AAA"), _count_in(team, "BBB")) == (50, 0, 3)


def test_the_access_store_sql_in_postgresql_words():
    # written by hand from the PostgreSQL manual: parameters are %s, a literal % is %%, INSERT OR IGNORE is
    # INSERT … ON CONFLICT DO NOTHING
    assert postgres_sql("SELECT role FROM users WHERE name = ?") == "SELECT role FROM users WHERE name = %s"
    assert postgres_sql("SELECT 1 WHERE x LIKE 'a%' AND y = ?") == "SELECT 1 WHERE x LIKE 'a%%' AND y = %s"
    assert postgres_sql("INSERT OR IGNORE INTO users (name) VALUES (?)") == \
        "INSERT INTO users (name) VALUES (%s) ON CONFLICT DO NOTHING"
