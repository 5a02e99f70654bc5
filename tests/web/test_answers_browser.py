"""A Dutch marketing manager's week on the demo workspace, in real headless Chromium (issue 16).

The demo workspace (``cvm demo``, the bundled CDNOW sample with costs and invoices) is set to Dutch
and served by a real uvicorn server. The tests check that the pages open with their answer, that the
answer's numbers are the library's (and those of a plain-Python recount), that a budget changes the
allocation shown, and that no Dutch page or the Dutch report shows English words, raw column names or
missing-value markers. Screenshots of the Dutch pages go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORD, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
#: the pages of this slice, in Dutch
PAGES = ["/", "/segments", "/segments?by=rfm", "/customers", "/customers/13425", "/investment?budget=100", "/models",
         "/data", "/calculator", "/cohorts", "/actions", "/actions?list=win_back", "/actions?list=nurture",
         "/actions?list=collect", "/actions?list=referral_thanks", "/drivers"]
#: pages that hold forms, not a question's answer (scanned all the same)
FORMS = ["/settings", "/account"]
#: English words that must not appear on a Dutch page or in the Dutch report (none is also a Dutch word)
ENGLISH = (r"\b(the|and|with|customers?|Customers?|Search|Show|Nothing|unknown|Value|Date|Previous|Next|should|"
           r"Input|internal error|not found|by segment|by channel|acquisition|ageing|scoring|loyal|active|at risk|"
           r"lapsed|platinum|gold|silver|bronze|balanced|paid|estimate)\b")
#: an internal name: lower-case words joined by underscores (clv_share, run_id, probability_alive)
RAW_NAME = r"\b[a-z]+(?:_[a-z0-9]+)+\b"
MISSING = r"\b(NaT|nan|NaN|None|null|undefined)\b|<pandas"


def cvm(*args: str) -> subprocess.CompletedProcess:
    """The ``cvm`` command as a whole process (this checkout's code, as the test run's PYTHONPATH says)."""
    return subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "120"}, check=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo workspace in Dutch, the library's answers computed before the server opens it, and the server."""
    import pandas as pd

    from cvm.data import Workspace
    from cvm.service import latest_scores, value_at_stake
    from cvm.web.app import create_app
    from cvm.web.auth import add_user

    folder = tmp_path_factory.mktemp("answers") / "demo"
    cvm("demo", "--workspace", str(folder))
    cvm("settings", "--set", "language=nl", "--workspace", str(folder))
    report = folder.parent / "rapport.html"
    cvm("report", "--workspace", str(folder), "--out", str(report))
    ws = Workspace.open(folder)
    stake = value_at_stake(ws)
    scores = latest_scores(ws)[["customer_id", "clv", "probability_alive", "clv_low", "clv_high",
                                "historic_value"]].copy()
    settings = ws.settings
    ws.close()
    add_user(folder, "manager", PASSWORD, "analyst")
    server = LiveServer(create_app(folder)).start()
    yield {"path": folder, "stake": stake, "scores": scores, "settings": settings, "report": report, "url": server.url,
           "pd": pd}
    server.stop()


@pytest.fixture(scope="module")
def page(browser, demo):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=demo["url"], locale="nl-NL", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/login")
    page.fill("#username", "manager")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("nav")
    yield page
    context.close()


def dutch_number(value: float, digits: int = 0) -> str:
    """nl_NL by hand: a dot between thousands, a comma before the decimals."""
    return f"{value:,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def test_the_overview_opens_with_who_makes_the_value_and_whom_to_call(page, demo):
    page.goto("/")
    answer = page.locator("#answer").inner_text()
    stake, scores = demo["stake"], demo["scores"]
    # a plain recount of the 80% question: highest values first until 80% of the total is reached
    values = sorted(scores["clv"].clip(lower=0), reverse=True)
    total, running, needed = sum(values), 0.0, 0
    while running < 0.8 * total - 1e-9:
        running += values[needed]
        needed += 1
    assert stake.concentration.customers_needed == needed
    share = needed / len(values)
    assert f"{dutch_number(needed)} klanten ({dutch_number(100 * share, 1)}% van alle klanten) brengen 80% van de " \
           f"voorspelde waarde op" in answer
    # of those top customers, the ones below the at-risk line of the settings (a plain recount, too)
    top = scores.sort_values("clv", ascending=False, kind="stable").head(needed)
    at_risk = int((top["probability_alive"] < demo["settings"].stage_rules.at_risk_below).sum())
    assert stake.at_risk == at_risk > 0
    assert f"Zet het retentieteam op de {dutch_number(at_risk)} van hen" in answer
    page.screenshot(path=str(SHOTS / "nl_overview.png"), full_page=True)


def expected_selection(scores, budget: float, cost: float, uplift: float = 0.2) -> int:
    """How many customers a budget reaches, recounted in plain Python: saving = uplift x min(clv (1 - p) / p,
    historic value) (the value at risk, bounded by what the customer brought so far), worth a contact when the
    saving exceeds its cost, best first until the budget is spent."""
    worth = 0
    for clv, p, brought in zip(scores["clv"], scores["probability_alive"], scores["historic_value"]):
        if p == p and p > 0 and uplift * min(clv * (1 - p) / p, max(brought, 0.0)) > cost:
            worth += 1
    return min(worth, int(budget // cost))


def test_a_budget_changes_the_allocation_shown(page, demo):
    cost = demo["settings"].retention_cost_per_customer
    assert cost > 0
    page.goto("/investment")
    assert page.locator("#budget-plan").count() == 0  # no budget: no plan, the hint instead
    shown = {}
    for typed, budget in (("100", 100.0), ("1.000", 1000.0)):  # the second as a Dutch manager types a thousand
        page.fill("#budget", typed)
        page.click("#budget-submit")
        page.wait_for_selector("#budget-answer")
        selected = expected_selection(demo["scores"], budget, cost)
        answer = page.locator("#budget-answer").inner_text()
        assert f"benadert u {dutch_number(selected)} klanten" in answer, answer
        rows = page.locator("#budget-plan tbody tr").count()
        assert rows == min(selected, 25)
        shown[budget] = (selected, answer)
    assert shown[100.0][0] < shown[1000.0][0]
    assert "te klein" in shown[100.0][1] and "volgende euro" in shown[100.0][1]
    assert "groter dan loont" in shown[1000.0][1]
    page.screenshot(path=str(SHOTS / "nl_investment_budget.png"), full_page=True)


def _page_text(page) -> str:
    """The page's own words: the customers' data (ids, names, segments: class ``data``) left out while
    reading, then shown again, so the screenshots taken afterwards show the page as a user sees it."""
    return page.evaluate("() => { const data = document.querySelectorAll('main .data');"
                         " data.forEach(e => e.style.display = 'none');"
                         " const words = document.querySelector('main').innerText;"
                         " data.forEach(e => e.style.display = ''); return words; }")


def _problems(text: str) -> dict[str, list[str]]:
    found = {}
    for name, pattern in (("english", ENGLISH), ("raw", RAW_NAME), ("missing", MISSING)):
        hits = [text[max(0, m.start() - 60):m.end() + 30] for m in re.finditer(pattern, text)]
        if hits:
            found[name] = hits[:5]
    return found


def test_no_english_raw_names_or_missing_values_on_the_dutch_pages(page, demo, browser):
    for path in PAGES:
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("load")
        if page.locator(".chart").count():
            page.wait_for_selector(".chart[data-drawn='1']")
        assert page.locator("#answer, #customer-headline, #actions-answer, #drivers-answer").count() >= 1, path  # every page opens with its answer
        assert _problems(_page_text(page)) == {}, path
        name = "nl_" + (path.strip("/").replace("/", "_").replace("?", "_").replace("=", "_") or "overview")
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    for path in FORMS:
        response = page.goto(path)
        assert response.status == 200, path
        assert _problems(_page_text(page)) == {}, path
        page.screenshot(path=str(SHOTS / f"nl_{path.strip('/')}.png"), full_page=True)
    # the login page for a Dutch browser, before anyone logs in
    context = browser.new_context(base_url=demo["url"], locale="nl-NL")
    try:
        login = context.new_page()
        login.goto("/login")
        text = login.locator("body").inner_text()
        assert "Inloggen" in text or "Aanmelden" in text, text[:300]
        assert _problems(text) == {}
        login.screenshot(path=str(SHOTS / "nl_login.png"))
    finally:
        context.close()


def test_the_dutch_report_reads_dutch_and_opens_with_the_answer(demo):
    html = demo["report"].read_text(encoding="utf-8")
    assert '<html lang="nl"' in html
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    body = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
    import html as entities

    body = entities.unescape(body)
    needed = demo["stake"].concentration.customers_needed
    assert f"{dutch_number(needed)} klanten (" in body and "brengen 80% van de voorspelde waarde op" in body
    assert _problems(body) == {}
