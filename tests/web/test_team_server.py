"""Two dashboards of a team on one team workspace share logins, revocations and new users.

Two ``cvm serve`` processes stand for two machines: two workspace folders with the same
PostgreSQL catalog (a real server, started by the tests) and the same shared data path.
A session started on one is a session on the other (the cookie key and the sessions are
in the catalog); a logout on one ends it on the other; a token revoked from the command
line stops working on both; a user added on one machine logs in on the other. A change
made by another process is seen within the server's re-check interval
(``WebState.RECHECK_SECONDS``, 10 s), so the checks below poll up to 20 s.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from cvm.data import catalog
from tests.conftest import make_team_workspace
from tests.web.conftest import bearer, csrf_of, login, make_workspace
from tests.web.test_concurrency import Served, cvm

PATIENCE_SECONDS = 20.0


def _until(check, seconds: float = PATIENCE_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return False


@pytest.fixture
def two_servers(postgres, tmp_path):
    first = make_team_workspace(postgres, tmp_path / "machine-a" / "ws", tmp_path / "shared")
    tokens = make_workspace(first)["tokens"]
    second = tmp_path / "machine-b" / "ws"
    second.mkdir(parents=True)
    shutil.copyfile(first / catalog.CATALOG_FILE, second / catalog.CATALOG_FILE)
    servers = [Served(first), Served(second)]
    yield servers, tokens, first, second
    for server in servers:
        server.stop()


def test_a_login_and_a_logout_on_one_dashboard_hold_on_the_other(two_servers):
    (a, b), _, _, _ = two_servers
    with httpx.Client(base_url=a.url) as on_a:
        assert login(on_a, "analyst").status_code == 303
        cookie = on_a.cookies["cvm_session"]
        with httpx.Client(base_url=b.url, cookies={"cvm_session": cookie}) as on_b:
            assert on_b.get("/api/me").json() == {"name": "analyst", "role": "analyst", "via": "session"}
            csrf = csrf_of(on_a.get("/settings").text)
            assert on_a.post("/logout", data={"csrf_token": csrf}).status_code == 303
            with httpx.Client(base_url=a.url, cookies={"cvm_session": cookie}) as replay_on_a:
                assert replay_on_a.get("/api/me").status_code == 401  # at once where it was made
            assert _until(lambda: on_b.get("/api/me").status_code == 401)  # and on the other dashboard


def test_a_revoked_token_and_a_new_user_reach_both_dashboards(two_servers):
    (a, b), tokens, first, second = two_servers
    for server in (a, b):
        assert httpx.get(server.url + "/api/me", headers=bearer(tokens["viewer"])).status_code == 200
    revoked = cvm("token", "revoke", "viewer token", "--workspace", str(second))
    assert revoked.returncode == 0, revoked.stderr
    for server in (a, b):
        assert _until(lambda: httpx.get(server.url + "/api/me", headers=bearer(tokens["viewer"])).status_code == 401)
    assert httpx.get(a.url + "/api/me", headers=bearer(tokens["analyst"])).status_code == 200  # only that one
    added = cvm("users", "add", "bea", "--role", "viewer", "--password", "a-long-pass-phrase", "--workspace", str(first))
    assert added.returncode == 0, added.stderr
    with httpx.Client(base_url=b.url) as on_b:
        assert login(on_b, "bea", "a-long-pass-phrase").status_code == 303
        assert on_b.get("/api/me").json()["name"] == "bea"
    audit = cvm("audit", "--workspace", str(second), "--json")
    assert audit.returncode == 0, audit.stderr
    events = [row["event"] for row in __import__("json").loads(audit.stdout)["events"]]
    assert "token_revoked" in events and "user_added" in events and "login_ok" in events


def test_a_refresh_on_one_machine_is_served_by_the_dashboard_on_the_other(two_servers, tmp_path):
    (a, b), tokens, first, second = two_servers
    orders = tmp_path / "new.csv"
    orders.write_text("customer_id;date;amount\nTEAM-1;02-01-2024;10,00\nTEAM-1;20-02-2024;30,00\n", encoding="utf-8")
    assert cvm("ingest", str(orders), "--workspace", str(first)).returncode == 0
    assert cvm("score", "--workspace", str(first)).returncode == 0
    for server in (a, b):
        assert _until(lambda: httpx.get(server.url + "/api/customers/TEAM-1",
                                        headers=bearer(tokens["viewer"])).status_code == 200)
