"""The access store (``access.sqlite``): owner-only, written by several processes, and an older workspace's access kept."""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
from datetime import datetime

import duckdb

from cvm.web import access_store, audit, auth


def test_an_older_workspace_keeps_its_users_tokens_and_audit(tmp_path):
    # a workspace of the round before: access tables in cvm.duckdb, a token from before expiry and revocation existed
    hashed = auth.hash_password("an old password")
    token = "cvm_" + "x" * 43
    with duckdb.connect(str(tmp_path / "cvm.duckdb")) as con:
        con.execute("CREATE TABLE users(name VARCHAR PRIMARY KEY, password_hash VARCHAR, role VARCHAR, created TIMESTAMP)")
        con.execute("INSERT INTO users VALUES ('eva', ?, 'admin', TIMESTAMP '2026-01-02 03:04:05')", [hashed])
        con.execute("CREATE TABLE api_tokens(token_hash VARCHAR PRIMARY KEY, role VARCHAR, name VARCHAR, created TIMESTAMP)")
        con.execute("INSERT INTO api_tokens VALUES (?, 'viewer', 'bot', TIMESTAMP '2026-01-03 00:00:00')",
                    [auth.token_hash(token)])
        con.execute("CREATE TABLE audit(ts TIMESTAMP, event VARCHAR, actor VARCHAR, target VARCHAR, address VARCHAR, "
                    "detail VARCHAR)")
        con.execute("INSERT INTO audit VALUES (TIMESTAMP '2026-01-02 03:04:06', 'user_added', 'cli:root', 'eva', "
                    "NULL, 'role admin')")
    for _ in range(2):  # copied once: opening again adds nothing
        con = access_store.connect(tmp_path)
        assert auth.login(con, "eva", "an old password").role == "admin"
        assert auth.token_principal(con, token).role == "viewer"
        users = auth.list_users(con)
        assert [(u["name"], u["created"]) for u in users] == [("eva", datetime(2026, 1, 2, 3, 4, 5))]
        assert [(e["event"], e["target"]) for e in audit.read(con)] == [("user_added", "eva")]
        con.close()
    assert stat.S_IMODE((tmp_path / access_store.ACCESS_FILE).stat().st_mode) == 0o600  # holds password hashes


WRITER = textwrap.dedent("""
    import sys
    from cvm.web import access_store, audit
    con = access_store.connect(sys.argv[1])
    for i in range(200):
        audit.record(con, "login_ok", actor=sys.argv[2] + str(i))
""")


def test_processes_writing_the_access_store_at_once_lose_nothing(workspace_dir):  # SQLite, and PostgreSQL
    tmp_path = workspace_dir
    access_store.connect(tmp_path).close()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name], stderr=subprocess.PIPE, text=True)
               for name in ("a", "b", "c")]
    for proc in writers:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
        assert "could not write" not in proc.stderr.read()
    con = access_store.connect(tmp_path)
    assert len(audit.read(con, limit=10_000)) == 600
