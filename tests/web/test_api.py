"""The JSON API and the security rules, against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.web.conftest import N_CUSTOMERS, PASSWORD, bearer, csrf_of, login

PUBLIC = {("GET", "/health"), ("GET", "/login"), ("POST", "/login"), ("GET", "/favicon.ico")}  # the icon holds no data
ANALYST_ROUTES = [
    ("POST", "/api/jobs/score", {"json": {}}),
    ("POST", "/api/jobs/fit", {"json": {}}),
    ("POST", "/api/uploads", {"files": {"file": ("a.csv", b"customer_id,date,amount\n1,2023-01-01,5\n")}}),
]


def _routes(routes, prefix: str = ""):
    """Every (method, path) of the app, including routers FastAPI keeps as included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                yield method, prefix + route.path_format
        elif hasattr(route, "original_router"):  # FastAPI >= 0.120 keeps included routers lazily
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_every_non_public_route_needs_credentials(live_server):
    checked = 0
    with httpx.Client(base_url=live_server.url) as client:
        for method, path in _routes(live_server.app.routes):
            if (method, path) in PUBLIC:
                continue
            url = _fill(path)
            if path == "/static/{name}":
                url = "/static/plotly.min.js"
            response = client.request(method, url)
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
        # a forged or expired session is no better than none
        client.cookies.set("cvm_session", "forged.cookie.value")
        assert client.get("/api/me").status_code == 401
        assert client.get("/api/me", headers=bearer("cvm_not-a-real-token")).status_code == 401
    assert checked >= 25


def test_public_routes_and_login_assets(live_server):
    with httpx.Client(base_url=live_server.url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        page = client.get("/login")
        assert page.status_code == 200 and 'name="password"' in page.text
        assert client.get("/static/cvm.css").status_code == 200
        assert client.get("/static/favicon.svg").status_code == 200  # the login page's icon: no 404 in the console
        assert client.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")
        assert client.get("/static/plotly.min.js").status_code == 401
        assert page.headers["x-frame-options"] == "DENY"
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_session_cookie_flags_and_wrong_password(live_server):
    with httpx.Client(base_url=live_server.url) as client:
        bad = login(client, "viewer", "wrong-password")
        assert bad.status_code == 401
        assert "cvm_session" not in client.cookies
        ok = login(client, "viewer")
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        assert client.get("/api/me").json() == {"name": "viewer", "role": "viewer", "via": "session"}


@pytest.mark.parametrize("method,path,kwargs", ANALYST_ROUTES)
def test_viewer_is_forbidden_on_analyst_routes(live_server, tokens, method, path, kwargs):
    response = httpx.request(method, live_server.url + path, headers=bearer(tokens["viewer"]), **kwargs)
    assert response.status_code == 403


def test_viewer_cannot_change_settings_or_users(live_server):
    with httpx.Client(base_url=live_server.url) as client:
        login(client, "viewer")
        csrf = csrf_of(client.get("/settings").text)
        assert client.post("/settings", data={"csrf_token": csrf, "margin": "0.5"}).status_code == 403
        assert client.get("/users").status_code == 403
        analyst = httpx.Client(base_url=live_server.url)
        login(analyst, "analyst")
        assert analyst.get("/users").status_code == 403
        analyst.close()


def test_csrf_is_required_for_cookie_sessions(live_server):
    with httpx.Client(base_url=live_server.url) as client:
        login(client, "analyst")
        page = client.get("/settings")
        good = csrf_of(page.text)
        # form without token, with a wrong token, and a JSON call without the header
        assert client.post("/settings", data={"margin": "0.31"}).status_code == 403
        assert client.post("/settings", data={"margin": "0.31", "csrf_token": "x" + good}).status_code == 403
        assert client.post("/api/jobs/fit", json={}).status_code == 403
        assert client.post("/logout", data={}).status_code == 403
        # the login form itself is protected too (login CSRF)
        fresh = httpx.Client(base_url=live_server.url)
        assert fresh.post("/login", data={"username": "viewer", "password": PASSWORD}).status_code == 403
        fresh.close()
        # with the right token the same change goes through
        saved = client.post("/settings", data={"margin": "0.31", "csrf_token": good})
        assert saved.status_code == 303
        assert 'value="0.31"' in client.get("/settings").text
        client.post("/settings", data={"margin": "0.3", "csrf_token": good})


def test_customers_paged_sorted_filtered(live_server, tokens):
    h = bearer(tokens["viewer"])
    first = httpx.get(live_server.url + "/api/customers", params={"page_size": 7, "sort": "clv"}, headers=h).json()
    assert first["total"] == N_CUSTOMERS
    assert len(first["customers"]) == 7
    clvs = [c["clv"] for c in first["customers"]]
    assert clvs == sorted(clvs, reverse=True)
    # pages do not overlap and cover everyone
    seen = []
    for page in range(1, 6):
        body = httpx.get(live_server.url + "/api/customers", params={"page_size": 7, "page": page, "sort": "customer_id",
                                                                     "order": "asc"}, headers=h).json()
        seen += [c["customer_id"] for c in body["customers"]]
    assert seen == sorted(seen) and len(set(seen)) == N_CUSTOMERS
    gold = httpx.get(live_server.url + "/api/customers", params={"value_tier": "gold", "page_size": 500}, headers=h).json()
    assert gold["total"] == len(gold["customers"]) > 0
    assert {c["value_tier"] for c in gold["customers"]} == {"gold"}
    prefix = httpx.get(live_server.url + "/api/customers", params={"q": "k01"}, headers=h).json()
    assert sorted(c["customer_id"] for c in prefix["customers"]) == [f"K01{i}" for i in range(10)]
    bad = httpx.get(live_server.url + "/api/customers", params={"sort": "drop table"}, headers=h)
    assert bad.status_code == 422


def test_one_customer_and_the_latest_run(live_server, tokens, web_workspace):
    h = bearer(tokens["viewer"])
    body = httpx.get(live_server.url + "/api/customers/K005", headers=h).json()
    # K005 buys 5 % 4 + 1 = 2 times (see transactions_csv); the latest run stores clv = historic value
    assert body["customer"]["n_transactions"] == 2
    assert body["customer"]["clv"] == pytest.approx(body["customer"]["historic_value"])
    assert str(body["customer"]["as_of"]).startswith("2023-12-31")
    assert httpx.get(live_server.url + "/api/customers/NOPE", headers=h).status_code == 404
    kpis = httpx.get(live_server.url + "/api/kpis", headers=h).json()["kpis"]
    assert kpis["customers"] == N_CUSTOMERS
    assert kpis["predicted_value"] == pytest.approx(kpis["historic_value"])


def test_scores_csv_export(live_server, tokens):
    response = httpx.get(live_server.url + "/api/scores.csv", headers=bearer(tokens["viewer"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.strip().splitlines()
    assert lines[0].startswith("run_id,as_of,customer_id")
    assert len(lines) == N_CUSTOMERS + 1


def test_formula_endpoint_matches_hand_computation(live_server, tokens):
    # CLV = GC sum_{i=1..N} r^i/(1+d)^i - M sum_{i=1..N} r^(i-1)/(1+d)^(i-0.5)   (seed 001), by hand:
    gc, m, n, r, d = 100.0, 10.0, 3, 0.8, 0.1
    expected = gc * sum(r**i / (1 + d) ** i for i in range(1, n + 1)) - m * sum(
        r ** (i - 1) / (1 + d) ** (i - 0.5) for i in range(1, n + 1))
    body = httpx.get(live_server.url + "/api/formula", params={"gc": gc, "m": m, "n": n, "r": r, "d": d},
                     headers=bearer(tokens["viewer"])).json()
    assert body["clv"] == pytest.approx(expected, rel=1e-12)
    assert round(body["clv"], 2) == 142.58  # the value in cvm.models.formula's docstring


def test_upload_limits(live_server, tokens):
    h = bearer(tokens["analyst"])
    too_big = b"customer_id,date,amount\n" + b"1,2023-01-01,5\n" * 80_000  # > 1 MB, the fixture's limit
    response = httpx.post(live_server.url + "/api/uploads", files={"file": ("big.csv", too_big)}, headers=h)
    assert response.status_code == 413
    wrong = httpx.post(live_server.url + "/api/uploads", files={"file": ("run.exe", b"MZ\x90\x00")}, headers=h)
    assert wrong.status_code == 400 and ".exe" in wrong.json()["detail"]
    fake = httpx.post(live_server.url + "/api/uploads", files={"file": ("a.xlsx", b"not a zip file")}, headers=h)
    assert fake.status_code == 400


def test_upload_runs_as_a_job_and_quarantines_bad_rows(live_server, tokens, tmp_path):
    from tests.web.conftest import transactions_csv

    h = bearer(tokens["analyst"])
    data = transactions_csv(tmp_path / "more.csv").read_bytes()
    started = httpx.post(live_server.url + "/api/uploads", files={"file": ("more.csv", data)},
                         data={"kind": "transactions"}, headers=h)
    assert started.status_code == 202
    job = live_server.app.state.web.jobs.wait(started.json()["id"], timeout=30)
    polled = httpx.get(live_server.url + f"/api/jobs/{job.id}", headers=h).json()
    assert polled["status"] == "done", polled
    result = polled["result"]
    assert result["quarantined"] == 1
    assert result["rows_read"] == result["accepted"] + result["quarantined"] + result["duplicates"]
    rows = httpx.get(live_server.url + "/api/quarantine", headers=h).json()["rows"]
    assert any(r["source"] == "more.csv" and "K999" in (r["raw"] or "") for r in rows)


def test_logs_hold_no_customer_data(live_server, tokens, caplog):
    with caplog.at_level(logging.INFO, logger="cvm.web"):
        httpx.get(live_server.url + "/api/customers/K007?secret=K008", headers=bearer(tokens["viewer"]))
        httpx.get(live_server.url + "/api/customers", params={"q": "K0099"}, headers=bearer(tokens["viewer"]))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/customers/{customer_id}" in text
    assert "K007" not in text and "K008" not in text and "K0099" not in text
