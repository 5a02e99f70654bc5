"""The Acties page through the real server on 127.0.0.1: its rows equal ``cvm actions --json``, its exports,
its control group and campaign measurement, and (in real Chromium) a manager filtering and exporting in Dutch.

The workspace is made by ``cvm`` processes (tests/campaign_workspace.py); a copy of it, made
before the server opens the original, answers ``cvm actions --json`` as its own process (a
served workspace cannot be opened by a second process).
"""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
from pathlib import Path

import httpx
import pandas as pd
import pytest

from cvm.web.i18n import Formatter
from tests.campaign_workspace import FORMULA_NAME, build, cvm_json
from tests.value.campaign_simulation import simulate_response
from tests.web.conftest import PASSWORD, LiveServer, csrf_of, login

pytestmark = pytest.mark.slow

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
NL = Formatter("nl")

#: English words that must not appear on the Dutch page (the manager audit's and those of this page's English)
ENGLISH = (r"\b(the|and|with|Customers?|Search|Show|Nothing|unknown|Value|Date|Previous|Next|should|Input|"
           r"customer|probability|still|retain|win back|nurture|collect|Spend|spend|List|list|Download|campaign|"
           r"Campaign|held out|contacted|worth|Sort|Order|Apply|Measure|Reason|Why|Name|Suggested|action)\b")
#: raw column names and codes that must not show
RAW = (r"\b(customer_id|max_spend|probability_alive|value_tier|lifecycle_stage|reason_code|reason_values|clv_total|"
       r"win_back|referral_thanks|campaign_id|held_out|worklist)\b")
MISSING = r"\b(nan|NaN|NaT|None|null|undefined|inf)\b"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from cvm.web.app import create_app
    from cvm.web.auth import add_user

    folder = tmp_path_factory.mktemp("actions-page")
    ws = build(folder, formula_names=True)
    shutil.copytree(ws, folder / "cli-copy")
    for role in ("viewer", "analyst"):
        add_user(ws, role, PASSWORD, role)
    app = create_app(ws)
    server = LiveServer(app).start()
    server.cli_workspace = folder / "cli-copy"
    server.app = app
    yield server
    server.stop()


@pytest.fixture(scope="module")
def analyst(served):
    with httpx.Client(base_url=served.url, timeout=60) as client:
        assert login(client, "analyst").status_code == 303
        yield client


def page_rows(text: str) -> list[dict[str, str]]:
    """The worklist table of the page: per row the visible text of each cell, by column."""
    rows = []
    for cid, body in re.findall(r'<tr data-customer-id="([^"]*)">(.*?)</tr>', text, re.S):
        cells = {c: html.unescape(re.sub(r"<[^>]+>", "", v)).strip()
                 for c, v in re.findall(r'<td class="[^"]*" data-column="(\w+)">(.*?)</td>', body, re.S)}
        rows.append({"id": html.unescape(cid), **cells})
    return rows


def visible_text(page: str) -> str:
    """What a person reads, without scripts, tags and the customers' own data (names, segments, ids)."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    page = re.sub(r'<(a|span) [^>]*class="data"[^>]*>.*?</\1>', " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def cli_rows(served, *args: str) -> dict:
    return cvm_json("actions", *args, "--language", "nl", "--limit", "50", "--workspace", str(served.cli_workspace))


def expected_cells(row: dict) -> dict[str, str]:
    """A JSON row as the Dutch page writes it (the web's own formatter, as the page uses)."""
    return {"customer_id": row["customer_id"], "clv": NL.cell("clv", row["clv"]),
            "probability_alive": NL.cell("probability_alive", row["probability_alive"]),
            "max_spend": NL.cell("max_spend", row["max_spend"]), "value_tier": NL.term(row["value_tier"]),
            "action": NL.term(row["action"]), "reason": row["reason"], "name": row["name"] or ""}


CASES = [
    ({"list": "win_back"}, ["--list", "win_back"]),
    ({"list": "win_back", "tier": "silver", "min_value": "0,5"}, ["--list", "win_back", "--tier", "silver",
                                                                  "--min-value", "0.5"]),
    ({"list": "retention", "segment": "zakelijk"}, ["--list", "retention", "--segment", "zakelijk"]),
    ({"list": "nurture", "sort": "clv", "order": "asc"}, ["--list", "nurture", "--sort", "clv", "--ascending"]),
    ({"list": "win_back", "page": "2"}, ["--list", "win_back", "--offset", "50"]),
]


@pytest.mark.parametrize("query,args", CASES, ids=[" ".join(a) for _, a in CASES])
def test_page_rows_equal_cvm_actions_json(served, analyst, query, args):
    response = analyst.get("/actions", params={**query, "lang": "nl"})
    assert response.status_code == 200
    shown = page_rows(response.text)
    expected = cli_rows(served, *args)
    assert expected["rows"], "a case without rows proves nothing"
    assert [r["id"] for r in shown] == [r["customer_id"] for r in expected["rows"]]
    for got, want in zip(shown, expected["rows"]):
        cells = expected_cells(want)
        assert {k: got[k] for k in cells} == cells
    total = re.search(r'<table id="worklist" data-total="(\d+)"', response.text).group(1)
    assert int(total) == expected["total"]
    assert NL.number(expected["total"]) in visible_text(response.text)  # the answer sentence counts them all


@pytest.mark.parametrize("worklist", ["retention", "win_back", "nurture", "collect", "referral_thanks"])
def test_dutch_page_has_no_english_no_raw_names_and_no_missing_values(analyst, worklist):
    response = analyst.get("/actions", params={"list": worklist, "lang": "nl"})
    assert response.status_code == 200
    text = visible_text(response.text)
    assert not re.findall(ENGLISH, text), re.findall(ENGLISH, text)
    assert not re.findall(RAW, text), re.findall(RAW, text)
    assert not re.findall(MISSING, text), re.findall(MISSING, text)
    assert "Acties" in text and "Besteed hooguit" in text


def test_export_holds_every_row_safe_cells_the_date_and_the_model(served, analyst):
    from openpyxl import load_workbook

    query = {"list": "win_back", "tier": "silver", "lang": "nl"}
    expected = cvm_json("actions", "--list", "win_back", "--tier", "silver", "--language", "nl", "--limit", "100000",
                        "--workspace", str(served.cli_workspace))
    xlsx = analyst.get("/actions/export.xlsx", params=query)
    assert xlsx.status_code == 200 and 'filename="cvm-win-back-' in xlsx.headers["content-disposition"]
    book = load_workbook(io.BytesIO(xlsx.content))
    rows = list(book.active.iter_rows())
    header = [c.value for c in rows[0]]
    assert header[:3] == ["run_id", "as_of", "worklist"] and header[-1] == "model"
    body = [{h: c for h, c in zip(header, r)} for r in rows[1:]]
    assert [r["customer_id"].value for r in body] == [r["customer_id"] for r in expected["rows"]]
    assert [r["reason"].value for r in body] == [r["reason"] for r in expected["rows"]]
    assert {r["model"].value for r in body} == {expected["model"]}
    assert {str(r["as_of"].value)[:10] for r in body} == {expected["as_of"]}
    formulas = [r["name"] for r in body if r["name"].value == FORMULA_NAME]
    assert formulas and all(c.data_type == "s" for c in formulas)  # a text cell, never a formula
    text = analyst.get("/actions/export.csv", params=query).content.decode("utf-8")
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [r["customer_id"] for r in lines] == [r["customer_id"] for r in expected["rows"]]
    assert any(r["name"] == "'" + FORMULA_NAME for r in lines)  # OWASP: a quote in front
    assert not any(r["name"] == FORMULA_NAME for r in lines)


def test_control_group_campaign_and_its_measurement_in_dutch(served, analyst):
    page = analyst.get("/actions", params={"list": "win_back", "lang": "nl"})
    token = csrf_of(page.text)
    bad = analyst.post("/actions/campaign", data={"list": "win_back", "share": "veel", "csrf_token": token})
    assert bad.status_code == 303
    assert "moet een getal tussen 0 en 1 zijn" in visible_text(analyst.get(bad.headers["location"] + "&lang=nl").text)
    made = analyst.post("/actions/campaign", data={"list": "win_back", "share": "0,5", "seed": "3", "csrf_token": token})
    assert made.status_code == 303 and "campaign=" in made.headers["location"]
    shown = analyst.get(made.headers["location"] + "&lang=nl")
    text = visible_text(shown.text)
    whole = cli_rows(served, "--list", "win_back")["total"]
    contacted = int(re.search(r'data-total="(\d+)"', shown.text).group(1))
    assert contacted == whole - round(0.5 * whole)
    assert "klanten om te benaderen" in text and "achtergehouden" in text
    # nothing after the campaign's date yet: the page says so in Dutch
    assert "Er zijn nog geen transacties binnengekomen na de datum van de campagne" in text
    assert not re.findall(ENGLISH, text) and not re.findall(MISSING, text)
    # the campaign's contacted customers download with the campaign's id
    export = analyst.get("/actions/export.csv", params={"list": "win_back",
                                                        "campaign": made.headers["location"].split("campaign=")[1]})
    lines = list(csv.DictReader(io.StringIO(export.content.decode("utf-8"))))
    assert len(lines) == contacted and len({r["campaign_id"] for r in lines}) == 1
    # purchases arrive (lift 0.5 for the contacted): the page measures the campaign in words
    from cvm.data.campaigns import load_campaign

    state = served.app.state.web
    stored = load_campaign(state.ws)
    start = str((pd.Timestamp(stored["as_of"]) + pd.Timedelta(days=1)).date())
    frame = simulate_response(stored["contacted"], stored["held_out"], start, 90, 0.5, seed=9)
    with state.writing() as ws:  # the server reads a published generation; a change goes through writing()
        ws.ingest(frame.rename(columns={"date": "ts"}), name="after-campaign")
    state.data_changed()
    measured = visible_text(analyst.get("/actions", params={"lang": "nl"}).text)
    assert "klanten benaderd en" in measured and "meer aankopen (interval" in measured
    assert re.search(r"De campagne heeft zich (niet )?terugbetaald|Nog niet te zeggen", measured)
    assert not re.findall(ENGLISH, measured) and not re.findall(MISSING, measured)


def test_a_viewer_cannot_start_a_campaign(served):
    with httpx.Client(base_url=served.url, timeout=60) as viewer:
        assert login(viewer, "viewer").status_code == 303
        page = viewer.get("/actions", params={"lang": "nl"})
        assert page.status_code == 200 and 'id="holdout-form"' not in page.text
        refused = viewer.post("/actions/campaign", data={"list": "win_back", "share": "0,1",
                                                         "csrf_token": csrf_of(page.text)})
        assert refused.status_code == 403


@pytest.mark.browser
def test_manager_filters_and_exports_a_worklist_in_dutch_in_chromium(served, browser, tmp_path):
    from openpyxl import load_workbook

    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=served.url, locale="nl-NL", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/login?lang=nl")
    page.fill("#username", "analyst")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("nav")
    page.goto("/actions?lang=nl")
    page.click("#list-win_back")
    page.wait_for_selector("#worklist")
    page.select_option("#filter-tier", "silver")
    page.fill("#filter-min-value", "0,5")
    page.click("#filter-submit")
    page.wait_for_url(re.compile(r"tier=silver"))
    expected = cli_rows(served, "--list", "win_back", "--tier", "silver", "--min-value", "0.5")
    ids = page.locator("#worklist tbody tr").evaluate_all("rows => rows.map(r => r.dataset.customerId)")
    assert ids == [r["customer_id"] for r in expected["rows"]]
    reasons = page.locator("#worklist td[data-column='reason']").all_inner_texts()
    assert reasons == [r["reason"] for r in expected["rows"]]
    page.screenshot(path=str(SHOTS / "actions_nl.png"), full_page=True)
    text = page.locator("main").inner_text()
    people = set(page.locator(".data").all_inner_texts())
    words = " ".join(w for w in re.split(r"\s+", text) if w not in " ".join(people).split())
    assert not re.findall(ENGLISH, words) and not re.findall(RAW, words) and not re.findall(MISSING, words)
    with page.expect_download() as download:
        page.click("#export-xlsx")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".xlsx"
    sheet = list(load_workbook(saved).active.values)
    assert len(sheet) - 1 == expected["total"]
    first_page = [r[sheet[0].index("customer_id")] for r in sheet[1:]][: len(expected["rows"])]
    assert first_page == [r["customer_id"] for r in expected["rows"]]  # the page's 50, then the rest of the list
    assert errors == []
    context.close()


def test_the_page_in_english(analyst):
    response = analyst.get("/actions", params={"list": "collect", "lang": "en"})
    assert response.status_code == 200
    text = visible_text(response.text)
    assert "Actions: worklists for your teams" in text and "Collect overdue" in text
    assert "Nobody is on this list with these filters." in text  # no invoices in this workspace
    assert not re.findall(MISSING, text)
