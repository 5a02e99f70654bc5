"""Access that can be withdrawn, deployment options and user text shown as text (issue 12, items 3-5).

Real servers on 127.0.0.1: the app in uvicorn in this process (``LiveServer``) where a
test needs tiny timeouts, and ``cvm serve`` as a whole process where the options of
the command itself are under test or a ``cvm`` command must read the workspace after
the server stopped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from cvm.settings import Settings
from tests.web.conftest import PASSWORD, LiveServer, bearer, csrf_of, free_port, login, make_workspace, store_runs

EVIL = '<a href="https://evil.example/login">Klik hier</a>'
NEW_PASSWORD = "a-different-password-9"


# --------------------------------------------------------------------------- helpers


def users_only_workspace(folder: Path, **server: object) -> Path:
    """A workspace with the three users (named after their roles) and ``server.*`` settings."""
    from cvm.web.auth import add_user

    folder.mkdir(parents=True, exist_ok=True)  # a team workspace folder is made by its fixture
    settings = Settings()
    for key, value in server.items():
        settings = settings.set(f"server.{key}", value)
    settings.save(folder / "settings.toml")
    for role in ("viewer", "analyst", "admin"):
        add_user(folder, role, PASSWORD, role)
    return folder


@pytest.fixture
def serve_app():
    """Start the app in this process on a workspace: ``serve_app(path, **create_app options)``."""
    from cvm.web.app import create_app

    started: list[LiveServer] = []

    def start(path: Path, **options) -> LiveServer:
        server = LiveServer(create_app(path, **options)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def cvm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cvm ARGS`` as its own process (this checkout's code: PYTHONPATH is inherited)."""
    done = subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})
    if check:
        assert done.returncode == 0, done.stderr
    return done


class ServeProcess:
    """``cvm serve`` as a process on a free port of 127.0.0.1; stopped (SIGTERM, by its pid) at the end."""

    def __init__(self, workspace: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workspace.parent / f"serve-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cvm.cli", "serve", "--workspace", str(workspace), "--port", str(self.port), *options],
            stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("cvm serve stopped: " + self.log.read_text())
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("cvm serve did not start: " + self.log.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def form_csrf(client: httpx.Client, path: str = "/account") -> str:
    return csrf_of(client.get(path).text)


def me(url: str, cookie: str) -> int:
    return httpx.get(url + "/api/me", cookies={"cvm_session": cookie}).status_code


# --------------------------------------------------------------------------- sessions


def test_logout_ends_the_session_and_the_old_cookie_opens_nothing(tmp_path, workspace_dir, serve_app):  # embedded, and a PostgreSQL catalog
    ws = users_only_workspace(workspace_dir)
    server = serve_app(ws)
    with httpx.Client(base_url=server.url) as client:
        assert login(client, "analyst").status_code == 303
        cookie = client.cookies["cvm_session"]
        settings_page = client.get("/settings").text
        csrf = csrf_of(settings_page)
        assert 'name="margin"' in settings_page and 'name="server.' not in settings_page  # serving is the admin's
        assert client.get("/api/me").json() == {"name": "analyst", "role": "analyst", "via": "session"}
        # the cookie can save settings while the session lives (so the refusal below is the logout's doing)
        assert client.post("/settings", data={"csrf_token": csrf, "margin": "0.31"}).status_code == 303
        assert Settings.load(ws / "settings.toml").margin == 0.31
        assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    # someone who kept a copy of the signed cookie: still validly signed, but its session is gone
    with httpx.Client(base_url=server.url, cookies={"cvm_session": cookie}) as replay:
        assert replay.get("/api/me").status_code == 401
        refused = replay.post("/settings", data={"csrf_token": csrf, "margin": "0.5"})
        assert refused.status_code == 401
    assert Settings.load(ws / "settings.toml").margin == 0.31


def test_password_change_ends_the_other_sessions(tmp_path, workspace_dir, serve_app):  # embedded, and a PostgreSQL catalog
    ws = users_only_workspace(workspace_dir)
    server = serve_app(ws)
    first, second, admin = (httpx.Client(base_url=server.url) for _ in range(3))
    try:
        for client, name in ((first, "viewer"), (second, "viewer"), (admin, "admin")):
            assert login(client, name).status_code == 303
        changed = first.post("/account/password", data={"csrf_token": form_csrf(first), "current_password": PASSWORD,
                                                        "new_password": NEW_PASSWORD})
        assert changed.status_code == 303 and changed.headers["location"] == "/account?changed=1"
        assert first.get("/api/me").status_code == 200  # the session that changed it stays
        assert second.get("/api/me").status_code == 401  # every other one has ended
        wrong = first.post("/account/password", data={"csrf_token": form_csrf(first), "current_password": "not-it-at-all",
                                                      "new_password": "whatever-else-1"})
        assert wrong.status_code == 400 and "current password is not right" in wrong.text
        with httpx.Client(base_url=server.url) as again:
            assert login(again, "viewer", PASSWORD).status_code == 401
            assert login(again, "viewer", NEW_PASSWORD).status_code == 303
        # an admin setting a password on the users page ends all of that user's sessions
        reset = admin.post("/users/viewer/password", data={"csrf_token": form_csrf(admin, "/users"), "password": PASSWORD})
        assert reset.status_code == 303
        assert first.get("/api/me").status_code == 401
        assert admin.get("/api/me").status_code == 200
    finally:
        for client in (first, second, admin):
            client.close()


@pytest.mark.slow
def test_idle_and_absolute_session_timeouts(tmp_path, workspace_dir, serve_app):  # embedded, and a PostgreSQL catalog
    # idle 3 s (0.05 min), absolute 10 s: a session used every second lives until 10 s, an idle one dies at 3 s
    ws = users_only_workspace(workspace_dir, session_idle_minutes=0.05, session_max_hours=10 / 3600)
    server = serve_app(ws)
    with httpx.Client(base_url=server.url) as busy, httpx.Client(base_url=server.url) as idle:
        # the clock starts before the busy session exists, so that session cannot end before 10 s on it
        started = time.monotonic()
        assert login(busy, "viewer").status_code == 303
        assert login(idle, "analyst").status_code == 303
        idle_since = time.monotonic()
        statuses: list[tuple[float, int]] = []
        idle_checked = False
        while time.monotonic() - started < 16:
            code = busy.get("/api/me").status_code  # timed when the answer is in: the server decided before it
            statuses.append((time.monotonic() - started, code))
            if not idle_checked and time.monotonic() - idle_since > 4.5:
                assert idle.get("/api/me").status_code == 401  # idle for more than 3 s
                idle_checked = True
            if statuses[-1][1] == 401:
                break
            time.sleep(1.0)
    assert idle_checked
    alive = [t for t, code in statuses if code == 200]
    ended = [t for t, code in statuses if code == 401]
    assert ended, statuses
    # requests 1 s apart never let the 3 s idle limit pass: the end is the 10 s absolute limit. Under load the
    # end was seen up to 0.6 s early on this clock (between 8.7 and 9.7 s), never near the 3 s idle limit;
    # the upper bound allows for a slow login and one polling interval
    assert max(alive) > 8.0 and 9.0 <= ended[0] <= 14.5, statuses


# --------------------------------------------------------------------------- login throttling


@pytest.mark.slow
def test_repeated_failures_get_429_with_a_growing_wait_then_a_lockout_then_recovery(tmp_path, workspace_dir, serve_app):  # in memory; in PostgreSQL (shared)
    # no wait for 2 failures, then 1 s, 2 s; locked for 6 s (0.1 min) after 4
    ws = users_only_workspace(workspace_dir, login_delay_after=2, login_lockout_after=4, login_lockout_minutes=0.1)
    server = serve_app(ws)
    with httpx.Client(base_url=server.url) as client:
        assert login(client, "admin", "wrong-password-1").status_code == 401
        assert login(client, "admin", "wrong-password-2").status_code == 401
        early = login(client, "admin", "wrong-password-3")
        assert early.status_code == 429 and early.headers["retry-after"] == "1"
        assert "try again in 1 seconds" in early.text
        time.sleep(1.1)
        assert login(client, "admin", "wrong-password-3").status_code == 401
        waited = login(client, "admin", PASSWORD)  # the right password is not even checked while waiting
        assert waited.status_code == 429 and waited.headers["retry-after"] == "2"
        time.sleep(2.1)
        assert login(client, "admin", "wrong-password-4").status_code == 401  # the 4th: locked
        locked = login(client, "admin", PASSWORD)
        assert locked.status_code == 429 and locked.headers["retry-after"] in ("5", "6")
        assert "cvm_session" not in client.cookies
        dutch = client.post("/login?lang=nl", data={"username": "admin", "password": PASSWORD,
                                                   "csrf_token": csrf_of(client.get("/login?lang=nl").text)})
        assert dutch.status_code == 429 and "Te veel mislukte aanmeldpogingen" in dutch.text
        time.sleep(6.2)
        assert login(client, "admin", PASSWORD).status_code == 303  # recovered
        assert client.get("/api/me").status_code == 200


def test_one_address_trying_many_accounts_is_throttled(tmp_path, workspace_dir, serve_app):  # in memory; in PostgreSQL (shared)
    # an address may fail 3x as often as an account: waits from 3 x 2 = 6 failures on
    ws = users_only_workspace(workspace_dir, login_delay_after=2, login_lockout_after=4)
    server = serve_app(ws)
    with httpx.Client(base_url=server.url) as client:
        for k in range(6):
            assert login(client, f"guess{k}", "wrong-password").status_code == 401
        refused = login(client, "analyst", PASSWORD)  # a new account, but the same address
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_throttle_schedule_by_hand():
    from cvm.web.throttle import LoginThrottle

    now = [100.0]
    throttle = LoginThrottle(delay_after=3, lockout_after=6, lockout_seconds=60, clock=lambda: now[0])
    key = "user:eva"
    waits = []
    for _ in range(6):
        throttle.failed(key)
        waits.append(throttle.wait(key))
    # failures 1-2: none; 3: 2^0 = 1 s; 4: 2 s; 5: 4 s; 6: locked for 60 s
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 60.0]
    now[0] += 59.5
    assert throttle.retry_after(key) == 1
    now[0] += 1.0
    assert throttle.wait(key) == 0.0 and not throttle.locked(key)  # forgotten after the lockout
    throttle.failed(key)
    throttle.succeeded(key)
    assert throttle.wait(key) == 0.0


# --------------------------------------------------------------------------- tokens


def test_tokens_expire_list_and_revoke_by_name_or_id(tmp_path, workspace_dir, serve_app):  # embedded, and a PostgreSQL catalog
    from cvm.web.auth import create_token

    ws = users_only_workspace(workspace_dir)
    made = json.loads(cvm("token", "create", "--role", "viewer", "--name", "nightly", "--expires", "30d",
                          "--workspace", str(ws), "--json").stdout)
    expires = datetime.fromisoformat(made["expires"])
    expected = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=30)
    assert abs((expires - expected).total_seconds()) < 120
    gone = json.loads(cvm("token", "create", "--role", "analyst", "--name", "gone", "--workspace", str(ws),
                          "--json").stdout)
    by_id = json.loads(cvm("token", "create", "--role", "viewer", "--workspace", str(ws), "--json").stdout)
    for _ in range(2):
        cvm("token", "create", "--name", "twin", "--workspace", str(ws))

    past = cvm("token", "create", "--expires", "2001-01-01", "--workspace", str(ws), check=False)
    assert past.returncode == 1 and "is not an expiry" in past.stderr and "Traceback" not in past.stderr
    twin = cvm("token", "revoke", "twin", "--workspace", str(ws), check=False)
    assert twin.returncode == 1 and "2 tokens are named 'twin'" in twin.stderr
    revoked = json.loads(cvm("token", "revoke", "gone", "--workspace", str(ws), "--json").stdout)["token"]
    assert revoked["id"] == gone["id"] and revoked["status"] == "revoked"
    cvm("token", "revoke", by_id["id"], "--workspace", str(ws))
    listed = {t["name"] or t["id"]: t for t in json.loads(cvm("token", "list", "--workspace", str(ws), "--json").stdout)["tokens"]}
    assert listed["nightly"]["status"] == "active" and listed["gone"]["status"] == "revoked"
    assert listed[by_id["id"]]["status"] == "revoked"
    assert all(made["token"] not in json.dumps(t, default=str) for t in listed.values())  # never the token itself
    text = cvm("token", "list", "--workspace", str(ws)).stdout
    assert "nightly" in text and "revoked" in text

    short_until = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=5)
    short = create_token(ws, "viewer", name="short", expires=short_until)
    server = serve_app(ws)
    assert httpx.get(server.url + "/api/me", headers=bearer(made["token"])).status_code == 200
    assert httpx.get(server.url + "/api/me", headers=bearer(gone["token"])).status_code == 401
    assert httpx.get(server.url + "/api/me", headers=bearer(by_id["token"])).status_code == 401
    assert httpx.get(server.url + "/api/me", headers=bearer(short)).status_code == 200
    time.sleep(max(0.0, (short_until - datetime.now(timezone.utc).replace(tzinfo=None)).total_seconds()) + 0.5)
    assert httpx.get(server.url + "/api/me", headers=bearer(short)).status_code == 401  # expired
    # revoked on the admin's page while the server runs: refused at once (not after a cache)
    with httpx.Client(base_url=server.url) as admin:
        assert login(admin, "admin").status_code == 303
        page = admin.get("/users")
        assert made["id"] in page.text and "revoked" in page.text
        assert admin.post(f"/tokens/{made['id']}/revoke", data={"csrf_token": csrf_of(page.text)}).status_code == 303
    assert httpx.get(server.url + "/api/me", headers=bearer(made["token"])).status_code == 401


def test_expiry_texts():
    from cvm.errors import SchemaError
    from cvm.web.auth import parse_expiry

    now = datetime(2026, 12, 3, 22, 0)
    assert parse_expiry("30d", now) == datetime(2027, 1, 2, 22, 0)
    assert parse_expiry("12h", now) == datetime(2026, 12, 4, 10, 0)
    assert parse_expiry("2w", now) == datetime(2026, 12, 17, 22, 0)
    assert parse_expiry("2027-01-31", now) == datetime(2027, 1, 31)
    assert parse_expiry(None, now) is None and parse_expiry("never", now) is None
    for bad in ("0d", "soon", "2020-01-01", "30 days"):
        with pytest.raises(SchemaError):
            parse_expiry(bad, now)


# --------------------------------------------------------------------------- user names


def test_user_names_with_a_slash_or_control_characters_are_refused(tmp_path, workspace_dir, serve_app):  # embedded, and a PostgreSQL catalog
    from cvm.web.access_store import connect as connect_access

    ws = users_only_workspace(workspace_dir)
    for bad in ("sales/admin", "eva\x1b[2J", "tab\there", "   "):
        done = cvm("users", "add", bad, "--password", PASSWORD, "--workspace", str(ws), check=False)
        assert done.returncode == 1 and "cannot be used" in done.stderr and "Traceback" not in done.stderr, bad
    listed = json.loads(cvm("users", "list", "--workspace", str(ws), "--json").stdout)["users"]
    assert sorted(u["name"] for u in listed) == ["admin", "analyst", "viewer"]
    # a user stored before names were checked, with a '/': removable on the page (it used to post to a 404)
    con = connect_access(ws)
    con.execute("INSERT INTO users SELECT 'old/name', password_hash, 'viewer', created FROM users WHERE name = 'viewer'")
    con.close()
    server = serve_app(ws)
    with httpx.Client(base_url=server.url) as admin:
        assert login(admin, "admin").status_code == 303
        csrf = form_csrf(admin, "/users")
        added = admin.post("/users", data={"csrf_token": csrf, "username": "a/b", "password": PASSWORD, "role": "viewer"})
        assert added.status_code == 400 and "cannot be used: it contains a slash" in added.text
        dutch = admin.post("/users?lang=nl", data={"csrf_token": csrf, "username": "x/y", "password": PASSWORD,
                                                   "role": "viewer"})
        assert "kan niet worden gebruikt" in dutch.text
        assert admin.post("/users/old%2Fname/delete", data={"csrf_token": csrf}).status_code == 303
        names = re.findall(r"<tr><td>([^<]+)</td><td>", admin.get("/users").text)
        assert "old/name" not in names and "a/b" not in names and "admin" in names


# --------------------------------------------------------------------------- the audit log, through cvm serve


@pytest.mark.slow
def test_audit_rows_for_every_event_in_cvm_audit_and_on_the_users_page(tmp_path, workspace_dir):  # both kinds
    made = make_workspace(workspace_dir)
    ws, tokens = made["path"], made["tokens"]
    server = ServeProcess(ws, "--max-upload-mb", "0.5")
    try:
        url = server.url
        with httpx.Client(base_url=url) as admin, httpx.Client(base_url=url) as stranger:
            assert login(stranger, "admin", "not-the-password").status_code == 401  # login_failed
            assert login(admin, "admin").status_code == 303  # login_ok
            csrf = form_csrf(admin, "/users")
            assert httpx.post(url + "/api/jobs/score", json={}, headers=bearer(tokens["viewer"])).status_code == 403
            small = b"customer_id;date;amount\nZ1;01-02-2023;5,00\n"
            assert httpx.post(url + "/api/uploads", files={"file": ("small.csv", small)},
                              headers=bearer(tokens["analyst"])).status_code == 202  # upload
            big = b"customer_id,date,amount\n" + b"1,2023-01-01,5\n" * 50_000  # ~0.7 MB > 0.5 MB
            assert httpx.post(url + "/api/uploads", files={"file": ("big.csv", big)},
                              headers=bearer(tokens["analyst"])).status_code == 413
            assert admin.post("/settings", data={"csrf_token": csrf, "margin": "0.27"}).status_code == 303
            assert admin.post("/users", data={"csrf_token": csrf, "username": "tijdelijk", "password": PASSWORD,
                                              "role": "viewer"}).status_code == 303
            assert admin.post("/users/tijdelijk/password", data={"csrf_token": csrf,
                                                                 "password": NEW_PASSWORD}).status_code == 303
            assert admin.post("/users/tijdelijk/delete", data={"csrf_token": csrf}).status_code == 303
            created = admin.post("/tokens", data={"csrf_token": csrf, "role": "viewer", "label": "bi", "expires": "7"})
            token = re.search(r'<code id="new-token">([^<]+)</code>', created.text).group(1)
            assert httpx.get(url + "/api/me", headers=bearer(token)).status_code == 200
            token_id = json.loads(httpx.get(url + "/api/me", headers=bearer(token)).text)["name"] and \
                re.search(r"<code>([0-9a-f]{12})</code></td><td>bi</td>", created.text).group(1)
            assert admin.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 303
            page = admin.get("/users?lang=en").text
            audit_table = page[page.index('id="audit"'):]
            for words in ("login failed", "refused: role too low", "upload too large", "settings changed",
                          "user added", "password changed", "user removed", "token created", "token revoked"):
                assert words in audit_table, words
            assert admin.post("/logout", data={"csrf_token": csrf}).status_code == 303
    finally:
        server.stop()
    # the server has stopped: a cvm process reads the log from the workspace
    events = json.loads(cvm("audit", "--workspace", str(ws), "--json").stdout)["events"]
    kinds = {e["event"] for e in events}
    assert {"login_failed", "login_ok", "role_refused", "upload", "upload_too_large", "settings_changed",
            "user_added", "password_changed", "user_removed", "token_created", "token_revoked", "logout"} <= kinds
    by_kind = {e["event"]: e for e in events}
    assert by_kind["login_failed"]["target"] == "admin" and by_kind["login_failed"]["address"] == "127.0.0.1"
    assert by_kind["role_refused"]["actor"] == "viewer token" and "POST /api/jobs/score" in by_kind["role_refused"]["target"]
    assert by_kind["upload"]["target"] == "small.csv" and by_kind["upload"]["actor"] == "analyst token"
    assert by_kind["settings_changed"]["target"] == "margin" and by_kind["token_revoked"]["target"] == token_id
    text = json.dumps(events)
    assert PASSWORD not in text and NEW_PASSWORD not in text and token not in text  # nothing secret is logged
    # CLI changes are audited too, with the operating-system user as the actor
    cvm("users", "passwd", "viewer", "--password", NEW_PASSWORD, "--workspace", str(ws))
    cvm("users", "remove", "analyst", "--workspace", str(ws))
    missing = cvm("users", "remove", "nobody", "--workspace", str(ws), check=False)
    assert missing.returncode == 1 and "there is no user 'nobody'" in missing.stderr
    latest = json.loads(cvm("audit", "--limit", "2", "--workspace", str(ws), "--json").stdout)["events"]
    assert [e["event"] for e in latest] == ["user_removed", "password_changed"]
    assert all(e["actor"].startswith("cli") for e in latest)
    table = cvm("audit", "--event", "login_failed", "--workspace", str(ws)).stdout
    assert "login_failed" in table and "login_ok" not in table


# --------------------------------------------------------------------------- deployment options of cvm serve


@pytest.mark.slow
def test_secure_cookies_and_proxy_headers(tmp_path):
    ws = users_only_workspace(tmp_path / "ws")

    def session_cookie_header(url: str, headers: dict[str, str] | None = None) -> str:
        # by hand: a client over plain http would rightly not send back a cookie marked Secure
        page = httpx.get(url + "/login", headers=headers)
        response = httpx.post(url + "/login", headers=headers, cookies={"cvm_csrf": page.cookies["cvm_csrf"]},
                              data={"username": "viewer", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
        assert response.status_code == 303
        return response.headers["set-cookie"]

    plain = ServeProcess(ws)
    try:
        assert "strict-transport-security" not in httpx.get(plain.url + "/health").headers
        assert "secure" not in session_cookie_header(plain.url).lower()
        # without --proxy-headers a client cannot claim HTTPS
        spoofed = {"X-Forwarded-Proto": "https"}
        assert "strict-transport-security" not in httpx.get(plain.url + "/health", headers=spoofed).headers
        assert "secure" not in session_cookie_header(plain.url, spoofed).lower()
    finally:
        plain.stop()

    secure = ServeProcess(ws, "--secure-cookies", "--workers", "1")
    try:
        assert httpx.get(secure.url + "/health").headers["strict-transport-security"].startswith("max-age=31536000")
        assert "; secure" in session_cookie_header(secure.url).lower()
    finally:
        secure.stop()

    proxied = ServeProcess(ws, "--proxy-headers")
    try:
        assert "strict-transport-security" not in httpx.get(proxied.url + "/health").headers  # plain http
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        assert "strict-transport-security" in httpx.get(proxied.url + "/health", headers=forwarded).headers
        assert "; secure" in session_cookie_header(proxied.url, forwarded).lower()
    finally:
        proxied.stop()
    logins = json.loads(cvm("audit", "--event", "login_ok", "--workspace", str(ws), "--json").stdout)["events"]
    assert logins[0]["address"] == "203.0.113.7"  # the proxy's client, not the proxy
    assert {e["address"] for e in logins[1:]} == {"127.0.0.1"}


@pytest.mark.slow
def test_max_upload_mb_gives_413_in_the_page_language(tmp_path):
    ws = users_only_workspace(tmp_path / "ws", max_upload_mb=100)
    server = ServeProcess(ws, "--max-upload-mb", "0.5")  # the option wins over the setting
    try:
        big = b"customer_id;datum;bedrag\n" + b"K1;01-02-2023;5,00\n" * 40_000  # ~0.76 MB
        with httpx.Client(base_url=server.url) as client:
            assert login(client, "analyst").status_code == 303
            page = client.get("/data?lang=nl")
            response = client.post("/data/upload", data={"csrf_token": csrf_of(page.text), "kind": "transactions"},
                                   files={"file": ("groot.csv", big)})
            assert response.status_code == 413
            assert response.headers["content-type"].startswith("text/html")
            assert '<html lang="nl">' in response.text
            assert "Het bestand is groter dan deze server aanneemt (0.5 MB)." in response.text
            assert "--max-upload-mb" in response.text
            english = client.post("/data/upload?lang=en", data={"csrf_token": csrf_of(page.text)},
                                  files={"file": ("big.csv", big)})
            assert english.status_code == 413 and "larger than this server accepts (0.5 MB)" in english.text
            api = client.post("/api/uploads", files={"file": ("big.csv", big)},
                              headers={"X-CSRF-Token": csrf_of(page.text)})
            assert api.status_code == 413 and api.json()["code"] == "upload_too_large"
    finally:
        server.stop()


# --------------------------------------------------------------------------- user text is text; ids with '/'


SLASH_ID = "NL/2024/0001"
ODD_ID = "K 1?x#y%z"


def markup_workspace(folder: Path) -> Path:
    """Transactions with a channel written as a link, and customer ids with '/', '?', '#' and '%', scored."""
    from cvm.data import Workspace
    from tests.web.conftest import transactions_csv

    folder.mkdir(parents=True)
    orders = transactions_csv(folder.parent / "orders.csv", bad_row=False)
    evil = EVIL.replace('"', '""')
    extra = [f'K001;{day:02d}-0{month}-2023;19,95;"{evil}"' for day, month in ((5, 1), (7, 4), (9, 5), (11, 6))]  # first: the acquisition channel
    extra += [
             f"{SLASH_ID};02-02-2023;10,00;web", f"{SLASH_ID};09-05-2023;12,50;winkel",
             f"{ODD_ID};03-03-2023;8,00;web"]
    orders.write_text(orders.read_text(encoding="utf-8") + "\n".join(extra) + "\n", encoding="utf-8")
    ws = Workspace.open(folder)
    ws.ingest(orders)
    store_runs(ws)
    ws.close()
    from cvm.web.auth import add_user

    add_user(folder, "viewer", PASSWORD, "viewer")
    return folder


def chart_json(html: str, target: str) -> dict:
    match = re.search(r'<script type="application/json" class="chart-data" data-target="' + target + r'">(.*?)</script>',
                      html, re.S)
    assert match, target
    return json.loads(match.group(1))


def strings_of(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_of(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_of(v)]
    return []


@pytest.fixture(scope="module")
def markup_server(tmp_path_factory):
    from cvm.web.app import create_app

    server = LiveServer(create_app(markup_workspace(tmp_path_factory.mktemp("markup") / "ws"))).start()
    yield server
    server.stop()


def test_a_channel_written_as_a_link_is_text_in_every_chart(markup_server):
    escaped = EVIL.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    with httpx.Client(base_url=markup_server.url) as client:
        assert login(client, "viewer").status_code == 303
        page = client.get("/customers/K001")
        assert page.status_code == 200
        timeline = chart_json(page.text, "timeline")
        names = [trace["name"] for trace in timeline["data"]]
        assert escaped in names  # plotly.js shows &lt;a ...&gt; as the characters <a ...>
        segments = client.get("/segments?by=channel")
        bars = chart_json(segments.text, "segments-chart")
        assert escaped in bars["data"][0]["x"]
        for figure in (timeline, bars):
            assert not [s for s in strings_of(figure) if "<a" in s or "</a" in s]
        # the HTML around the charts escapes it as well (tables, facts)
        assert EVIL not in page.text and EVIL not in segments.text


def test_report_figures_make_labels_plain_text():
    import pandas as pd

    from cvm.report import plots

    frame = pd.DataFrame({"channel": [EVIL, "web & winkel"], "clv": [10.0, 20.0]})
    fig = plots.bar_figure(frame, "channel", "clv", title="CLV per <b>kanaal</b>")
    assert list(fig.data[0].x) == ['&lt;a href="https://evil.example/login"&gt;Klik hier&lt;/a&gt;', "web &amp; winkel"]
    assert fig.layout.title.text == "CLV per &lt;b&gt;kanaal&lt;/b&gt;"
    assert list(fig.data[0].y) == [10.0, 20.0]
    wide = pd.DataFrame({EVIL: [1.0, 2.0]}, index=pd.Index([1, 2], name="period"))
    assert plots.lines_figure(wide, "t").data[0].name.startswith("&lt;a href=")
    # a figure dict (the web's charts): every string, also nested; templates cvm writes keep their markup
    fig_dict = plots.plain_text_figure({"data": [{"name": "<i>x</i>", "hovertemplate": "%{y}<extra></extra>",
                                                  "customdata": [["<b>k</b>"]]}], "layout": {}})
    assert fig_dict["data"][0] == {"name": "&lt;i&gt;x&lt;/i&gt;", "hovertemplate": "%{y}<extra></extra>",
                                   "customdata": [["&lt;b&gt;k&lt;/b&gt;"]]}


@pytest.mark.parametrize("customer_id", [SLASH_ID, ODD_ID])
def test_customer_ids_with_reserved_characters_open(markup_server, customer_id):
    from urllib.parse import quote

    with httpx.Client(base_url=markup_server.url) as client:
        assert login(client, "viewer").status_code == 303
        page = client.get("/customers/" + quote(customer_id, safe=""))
        assert page.status_code == 200, page.text[:500]
        assert f'<span id="customer-id">{customer_id.replace("&", "&amp;")}</span>' in page.text
        api = client.get("/api/customers/" + quote(customer_id, safe=""))
        assert api.status_code == 200 and api.json()["customer"]["customer_id"] == customer_id
        view = client.get("/api/customers/" + quote(customer_id, safe="") + "/view")
        assert view.status_code == 200
        if "/" in customer_id:  # written as it is, the slashes still lead to the customer
            assert client.get("/api/customers/" + customer_id).json()["customer"]["customer_id"] == customer_id
        # the list's search goes straight to a unique match, with the id encoded
        found = client.get("/customers", params={"q": customer_id})
        assert found.status_code == 303 and found.headers["location"] == "/customers/" + quote(customer_id, safe="")
        assert client.get("/api/customers/" + quote(customer_id + "-nobody", safe="")).status_code == 404


@pytest.mark.browser
def test_in_chromium_the_channel_link_is_not_a_link(browser, markup_server):
    context = browser.new_context(base_url=markup_server.url, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(markup_server.url)
               else route.abort())
    try:
        page.goto("/login")
        page.fill("#username", "viewer")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_selector("nav")
        page.goto("/customers/K001")
        page.wait_for_selector("#timeline[data-drawn='1'] .legendtext")
        legends = [t.text_content() for t in page.locator("#timeline .legendtext").all()]
        assert EVIL in legends  # the characters, as uploaded
        assert page.locator('a[href="https://evil.example/login"]').count() == 0
        assert page.locator('[href*="evil.example"], [*|href*="evil.example"]').count() == 0
        page.goto("/segments?by=channel")
        page.wait_for_selector("#segments-chart[data-drawn='1'] .xtick")
        ticks = [t.text_content() for t in page.locator("#segments-chart .xtick").all()]
        assert EVIL in ticks
        assert page.locator('a[href="https://evil.example/login"]').count() == 0
        assert errors == []
    finally:
        context.close()
