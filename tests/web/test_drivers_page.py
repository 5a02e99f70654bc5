"""The drivers page (/drivers) on a real server: a workspace of simulated customers with known group effects
(tests/value/drivers_data.py), read over HTTP and in real headless Chromium, in Dutch.

The figures the page must show are the library's (cvm.service.drivers on the same workspace), written
by hand in the Dutch format (decimal comma, two decimals) here; the words must be Dutch, with no English
word, no stored column name and no missing-value marker.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.value.drivers_data import build_workspace
from tests.web.conftest import PASSWORD, LiveServer, login
from tests.web.test_manager_audit import ENGLISH, _text

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
#: a stored column name: lower-case words joined by underscores (clv_share, customer_id)
RAW_NAME = r"\b[a-z]+(?:_[a-z0-9]+)+\b"
MISSING = r"\b(nan|NaN|NaT|None|null|undefined|inf)\b"


@pytest.fixture(scope="module")
def drivers_server(tmp_path_factory):
    """A live server on a workspace of 3,000 simulated customers (channels web, partner, winkel; regions)."""
    from cvm.service.drivers import drivers
    from cvm.web.app import create_app
    from cvm.web.auth import add_user

    path = tmp_path_factory.mktemp("drivers-web") / "ws"
    ws = build_workspace(path, n_customers=3000, seed=11)
    expected = drivers(ws, ["channel", "regio"])  # the library's answer, which the page must show
    ws.close()
    add_user(path, "admin", PASSWORD, "admin")
    server = LiveServer(create_app(path)).start()
    yield server, expected
    server.stop()


def _dutch(factor: float) -> str:
    return f"{factor:.2f}".replace(".", ",")


def _partner_cell(expected) -> str:
    """The partner row's purchase cell as the page must write it: factor (lower–upper×), Dutch decimals."""
    channel = expected.attributes[0]
    e = channel.groups[1].purchase
    assert channel.groups[1].value == "partner"
    return f"{_dutch(e.factor)}× ({_dutch(e.lower)}–{_dutch(e.upper)}×)"


def test_the_dutch_page_shows_effects_with_intervals_and_in_words(drivers_server):
    server, expected = drivers_server
    with httpx.Client(base_url=server.url, timeout=120) as client:
        assert login(client, "admin").status_code == 303
        page = client.get("/drivers", params={"by": ["channel", "regio"], "lang": "nl"})
    assert page.status_code == 200
    text = _text(page.text)
    assert _partner_cell(expected) in text
    assert "Per kanaal, vergeleken met web: partner koopt " in text
    assert "Per regio: geen duidelijk verschil in hoe vaak klanten kopen" in text
    assert "Klanten met kanaal partner zijn niet winstgevend na hun kosten" in text
    assert not re.findall(ENGLISH, text), re.findall(ENGLISH, text)
    assert not re.findall(RAW_NAME, text) and not re.findall(MISSING, text)


def test_a_workspace_without_comparable_groups_says_so_in_dutch(live_server):
    # the session's small workspace: 30 customers, no attribute with two groups of 50
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        assert login(client, "admin").status_code == 303
        page = client.get("/drivers", params={"lang": "nl"})
        asked = client.get("/drivers", params={"lang": "nl", "by": "regio"})
    assert page.status_code == 200 and asked.status_code == 200
    assert "Geen kenmerk van de klanten heeft minstens twee groepen van 50 of meer klanten" in _text(page.text)
    for response in (page, asked):
        text = _text(response.text)
        assert not re.findall(ENGLISH, text) and not re.findall(MISSING, text), text


@pytest.mark.browser
@pytest.mark.slow
def test_the_drivers_page_in_chromium_in_dutch(browser, drivers_server):
    server, expected = drivers_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=server.url, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server.url) else route.abort())
    try:
        page.goto("/login?lang=nl")
        page.fill("#username", "admin")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_selector("nav")
        page.goto("/drivers?lang=nl")
        assert page.locator("nav a.active").inner_text() == "Factoren"
        # the first visit compares the channel; add the region and ask again
        assert page.locator("input[name=by][value=channel]").is_checked()
        page.check("input[name=by][value=regio]")
        page.click("#drivers-submit")
        page.wait_for_selector("#drivers-1-table")
        page.wait_for_selector("#drivers-0-chart[data-drawn='1'] .main-svg")
        answer = page.locator("#drivers-answer").inner_text()
        assert answer.startswith("Per kanaal, vergeleken met web: partner koopt ")
        cells = page.locator("#drivers-0-table tbody tr").nth(1).locator("td").all_inner_texts()
        assert cells[0] == "partner" and cells[2] == _partner_cell(expected)
        assert cells[-1] == "nee, verliesgevend"
        page.screenshot(path=str(SHOTS / "drivers_nl.png"), full_page=True)
        text = page.evaluate("() => { document.querySelectorAll('main .data').forEach(e => e.style.display = 'none');"
                             " return document.querySelector('main').innerText; }")
        assert not re.findall(ENGLISH, text), re.findall(ENGLISH, text)
        assert not re.findall(RAW_NAME, text), re.findall(RAW_NAME, text)
        assert not re.findall(MISSING, text), re.findall(MISSING, text)
    finally:
        context.close()
    assert problems == []
