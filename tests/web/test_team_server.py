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
from tests.web.conftest import PASSWORD, bearer, csrf_of, login, make_workspace
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


def test_shared_throttle_schedule_by_hand(workspace_dir):  # the store of each kind: SQLite, and PostgreSQL
    from cvm.web import access_store
    from cvm.web.shared_throttle import SharedLoginThrottle

    workspace_dir.mkdir(parents=True, exist_ok=True)
    con = access_store.connect(workspace_dir)
    now = [1_000_000.0]
    # two dashboards: two throttles, one store
    one, other = (SharedLoginThrottle(lambda: con, delay_after=3, lockout_after=6, lockout_seconds=60,
                                      clock=lambda: now[0]) for _ in range(2))
    key = "user:eva"
    waits = []
    for k in range(6):
        (one if k % 2 else other).failed(key)
        waits.append(one.wait(key))
    # the same schedule as the in-memory throttle (tests/web/test_access.py), counted across both:
    # failures 1-2: none; 3: 2^0 = 1 s; 4: 2 s; 5: 4 s; 6: locked for 60 s
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 60.0]
    assert other.locked(key) and other.retry_after(key) == 60
    now[0] += 59.5
    assert other.retry_after(key) == 1
    now[0] += 1.0
    assert other.wait(key) == 0.0  # forgotten after the lockout
    one.failed(key)
    assert con.execute("SELECT failures FROM login_failures WHERE key = ?", [key]).fetchone()[0] == 1  # counted anew
    other.succeeded(key)
    assert one.wait(key) == 0.0
    con.close()


def test_a_lockout_on_one_dashboard_holds_on_the_other(postgres, tmp_path):
    from cvm.settings import Settings

    first = make_team_workspace(postgres, tmp_path / "machine-a" / "ws", tmp_path / "shared")
    second = tmp_path / "machine-b" / "ws"
    second.mkdir(parents=True)
    shutil.copyfile(first / catalog.CATALOG_FILE, second / catalog.CATALOG_FILE)
    settings = Settings().set("server.login_delay_after", 1).set("server.login_lockout_after", 3) \
        .set("server.login_lockout_minutes", 1)
    for folder in (first, second):
        settings.save(folder / "settings.toml")
    make_workspace(first)
    servers = [Served(first), Served(second)]
    try:
        a, b = servers
        with httpx.Client(base_url=a.url) as on_a, httpx.Client(base_url=b.url) as on_b:
            assert login(on_a, "admin", "wrong-1").status_code == 401  # 1 failure: the next may come after 1 s
            early = login(on_b, "admin", "wrong-2")  # B knows of A's failure (in memory it would say 401)
            assert early.status_code == 429 and early.headers["retry-after"] == "1"
            time.sleep(1.1)
            assert login(on_b, "admin", "wrong-2").status_code == 401  # 2 failures: 2 s
            time.sleep(2.1)
            assert login(on_a, "admin", "wrong-3").status_code == 401  # the 3rd failure: locked for a minute
            refused = login(on_b, "admin", PASSWORD)  # the right password, on the other dashboard
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 50
    finally:
        for server in servers:
            server.stop()
