"""A workspace a team shares: ``cvm serve`` keeps answering while the command line reads, administers and refreshes.

Everything here runs as real processes: ``cvm serve`` on 127.0.0.1 (a free port),
``cvm`` commands as subprocesses, writers that hold the workspace in their own
Python process, and a client thread looking customers up over HTTP the whole time.
What is checked (issue 12, item 1):

* while the server runs, ``cvm token create``, ``cvm users add``, ``cvm customers``,
  ``cvm ingest`` and ``cvm score`` all succeed (exit 0), the lookups never fail,
  and the customer the ingest brought is served after the score, without a restart;
* a notebook's ``Workspace.open`` (to read, and to write) works while the server runs;
* two writers at once: the second waits, says for whom, and succeeds; with a short
  timeout it is refused in words; a writer killed half-way loses nothing that was
  published and leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import PASSWORD, bearer, free_port, login, make_workspace
from tests.writers import hold, orders

NEW_CUSTOMER = "NEU-4711"


def cvm(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``cvm ARGS`` as its own process (this checkout's code: PYTHONPATH is inherited)."""
    return subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


class Served:
    """``cvm serve`` as a separate process on a free port of 127.0.0.1."""

    def __init__(self, ws: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = ws.parent / "serve.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cvm.cli", "serve", "--port", str(self.port), "--workspace", str(ws)],
            stdout=subprocess.DEVNULL, stderr=self.log.open("w"), env={**os.environ})
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("cvm serve did not start: " + self.log.read_text())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Lookups(threading.Thread):
    """Looks customers up over HTTP, one after the other, until stopped; keeps every failure."""

    def __init__(self, url: str, token: str, ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.ids = url, token, ids
        self.stop_now = threading.Event()
        self.done = 0
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=bearer(self.token), timeout=30) as client:
            i = 0
            while not self.stop_now.is_set():
                cid = self.ids[i % len(self.ids)]
                i += 1
                try:
                    answer = client.get(f"/api/customers/{cid}")
                    if answer.status_code != 200 or answer.json()["customer"].get("customer_id") != cid:
                        self.failures.append(f"{cid}: {answer.status_code} {answer.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{cid}: {type(exc).__name__} {exc}")
                self.done += 1


@pytest.fixture
def served(workspace_dir):  # each kind of workspace: embedded, and a PostgreSQL catalog (tests/conftest.py)
    ws = workspace_dir
    tokens = make_workspace(ws)["tokens"]
    server = Served(ws)
    yield ws, server, tokens
    server.stop()


def test_cli_reads_administers_and_refreshes_while_the_server_answers_lookups(served, tmp_path):
    ws, server, tokens = served
    pid = server.proc.pid
    lookups = Lookups(server.url, tokens["viewer"], ["K000", "K007", "K013", "K029"])
    lookups.start()
    try:
        time.sleep(0.5)
        # an admin hands out a token and an account
        made = cvm("token", "create", "--role", "viewer", "--name", "during serve", "--workspace", str(ws), "--json")
        assert made.returncode == 0, made.stderr
        new_token = json.loads(made.stdout)["token"]
        added = cvm("users", "add", "nieuw", "--role", "analyst", "--password", PASSWORD, "--workspace", str(ws))
        assert added.returncode == 0, added.stderr
        # a reader
        listed = cvm("customers", "--workspace", str(ws), "--json")
        assert listed.returncode == 0, listed.stderr
        assert "K007" in listed.stdout
        # the nightly refresh: a file with a customer the workspace has not seen, then a new valuation
        orders = tmp_path / "new-orders.csv"
        orders.write_text("customer_id;date;amount;channel\n"
                          f"{NEW_CUSTOMER};05-01-2024;80,00;web\n{NEW_CUSTOMER};20-01-2024;35,50;web\n"
                          "K003;18-01-2024;22,00;winkel\n", encoding="utf-8")
        ingested = cvm("ingest", str(orders), "--workspace", str(ws), "--json")
        assert ingested.returncode == 0, ingested.stderr
        assert json.loads(ingested.stdout)["accepted"] == 3
        scored = cvm("score", "--as-of", "2024-01-31", "--workspace", str(ws), "--json")
        assert scored.returncode == 0, scored.stderr
        # the server serves the new valuation without a restart
        with httpx.Client(base_url=server.url, headers=bearer(new_token), timeout=30) as client:
            deadline = time.time() + 30
            while True:
                answer = client.get(f"/api/customers/{NEW_CUSTOMER}")
                if answer.status_code == 200 or time.time() > deadline:
                    break
                time.sleep(0.2)
            assert answer.status_code == 200, answer.text
            assert answer.json()["customer"]["customer_id"] == NEW_CUSTOMER
            assert str(answer.json()["as_of"]).startswith("2024-01-31")
        with httpx.Client(base_url=server.url) as browser:  # the account made from the command line logs in
            assert login(browser, "nieuw").status_code == 303
            assert browser.get("/api/me").json()["role"] == "analyst"
        time.sleep(0.5)
    finally:
        lookups.stop_now.set()
        lookups.join(timeout=30)
    assert server.proc.poll() is None and server.proc.pid == pid  # the same server, never restarted
    assert lookups.failures == []
    assert lookups.done > 20, lookups.done  # the client kept asking during the whole refresh
    # the audit log holds the command line's changes next to the server's logins
    events = json.loads(cvm("audit", "--workspace", str(ws), "--json").stdout)["events"]
    assert {"token_created", "user_added", "login_ok"} <= {e["event"] for e in events}


def test_a_notebook_reads_and_writes_the_workspace_while_the_server_runs(served, tmp_path):
    from cvm.data import Workspace

    ws, server, tokens = served
    with Workspace.open(ws, read_only=True) as reader:  # a notebook that only looks
        assert reader.frame("SELECT count(DISTINCT customer_id) AS n FROM transactions")["n"][0] == 30
    with Workspace.open(ws) as notebook:  # a notebook that adds data (published when it closes)
        orders = tmp_path / "notebook.csv"
        orders.write_text("customer_id;date;amount;channel\nNB-1;02-01-2024;10,00;web\n", encoding="utf-8")
        assert notebook.ingest(orders).accepted == 1
        served_meanwhile = httpx.get(server.url + "/api/customers/K001", headers=bearer(tokens["viewer"]), timeout=30)
        assert served_meanwhile.status_code == 200  # the server keeps answering while the notebook writes
    done = cvm("customers", "--workspace", str(ws), "--json")  # a reader process sees the published change
    assert done.returncode == 0
    with Workspace.open(ws, read_only=True) as reader:
        assert reader.frame("SELECT count(*) AS n FROM transactions WHERE customer_id = 'NB-1'")["n"][0] == 1


# --------------------------------------------------------------------------- two writers

def _count(ws: Path, prefix: str) -> int:
    from cvm.data import Workspace

    with Workspace.open(ws, read_only=True) as reader:
        return int(reader.frame("SELECT count(*) AS n FROM transactions WHERE starts_with(customer_id, ?)",
                                [prefix])["n"][0])


def _copies(ws: Path) -> Path:
    """Where the writers of ``ws`` keep their copies: the workspace folder, or a team workspace's data path."""
    from cvm.data import catalog

    cat = catalog.of(ws)
    return ws if cat is None else cat.data_path


@pytest.fixture
def small_ws(workspace_dir, tmp_path):  # embedded, and a PostgreSQL catalog (tests/conftest.py)
    ws = workspace_dir
    assert cvm("ingest", str(orders(tmp_path / "base.csv", "BASE", 50)), "--workspace", str(ws)).returncode == 0
    return ws


def test_the_second_writer_waits_says_for_whom_and_both_changes_are_kept(small_ws, tmp_path):
    release = tmp_path / "release"
    holder = hold(small_ws, orders(tmp_path / "a.csv", "AAA", 40), release)
    assert _count(small_ws, "AAA") == 0  # not published yet: readers see the generation before, at once
    listed = cvm("quarantine", "--workspace", str(small_ws), "--json")  # a reading command does not wait
    assert listed.returncode == 0, listed.stderr
    second = subprocess.Popen([sys.executable, "-m", "cvm.cli", "ingest", str(orders(tmp_path / "b.csv", "BBB", 30)),
                               "--workspace", str(small_ws), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})
    said = second.stderr.readline()  # the second writer says whom it waits for, then waits
    assert "waiting for" in said and f"pid {holder.pid}" in said, said
    assert second.poll() is None
    release.touch()
    assert holder.wait(timeout=60) == 0 and holder.stdout.read().strip() == "published"
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert json.loads(out)["accepted"] == 30
    assert (_count(small_ws, "BASE"), _count(small_ws, "AAA"), _count(small_ws, "BBB")) == (50, 40, 30)


def test_a_writer_that_waits_too_long_is_refused_in_words_and_nothing_is_lost(small_ws, tmp_path):
    release = tmp_path / "release"
    holder = hold(small_ws, orders(tmp_path / "a.csv", "AAA", 40), release)
    refused = cvm("ingest", str(orders(tmp_path / "b.csv", "BBB", 30)), "--workspace", str(small_ws),
                  env={"CVM_WRITE_TIMEOUT": "1"})
    release.touch()
    assert refused.returncode != 0
    assert "is being changed by" in refused.stderr and f"pid {holder.pid}" in refused.stderr, refused.stderr
    assert "CVM_WRITE_TIMEOUT" in refused.stderr and "Traceback" not in refused.stderr
    assert holder.wait(timeout=60) == 0
    assert (_count(small_ws, "BASE"), _count(small_ws, "AAA"), _count(small_ws, "BBB")) == (50, 40, 0)
    again = cvm("ingest", str(tmp_path / "b.csv"), "--workspace", str(small_ws))  # later it goes through
    assert again.returncode == 0, again.stderr
    assert _count(small_ws, "BBB") == 30


def test_a_writer_killed_half_way_leaves_the_published_workspace_whole(small_ws, tmp_path):
    holder = hold(small_ws, orders(tmp_path / "a.csv", "AAA", 40), tmp_path / "never")
    holder.kill()
    holder.wait(timeout=30)
    copies = _copies(small_ws)
    assert list(copies.glob(".cvm-*.writing*"))  # its copy is left behind …
    assert _count(small_ws, "BASE") == 50 and _count(small_ws, "AAA") == 0  # … and none of its work was published
    after = cvm("ingest", str(orders(tmp_path / "b.csv", "BBB", 30)), "--workspace", str(small_ws),
                env={"CVM_WRITE_TIMEOUT": "5"})  # the lock died with the process: no wait
    assert after.returncode == 0 and "waiting" not in after.stderr, after.stderr
    assert (_count(small_ws, "BASE"), _count(small_ws, "AAA"), _count(small_ws, "BBB")) == (50, 0, 30)
    assert not list(copies.glob(".cvm-*.writing*"))  # the next writer removed the abandoned copy
