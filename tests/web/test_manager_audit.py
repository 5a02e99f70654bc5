"""What a marketing manager sees when things go wrong or when the page is in Dutch (the web audit's defects).

Each test pins one defect found by driving the dashboard: English pydantic text
and parameter names on Dutch error pages, a JSON body for an unknown address,
an English "unknown customer" sentence, dates in the long style, English month
names on Dutch charts, a language switch that forgot the search, and settings
that refused a Dutch decimal comma. All use the session's live server.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import PASSWORD, csrf_of, login

#: English words that must not appear in the text of a Dutch page (none of them is also a Dutch word)
ENGLISH = r"\b(the|and|with|Customers?|Search|Show|Nothing|unknown|Value|Date|Previous|Next|should|Input|internal error|not found)\b"
DUTCH_PAGES = ["/", "/segments", "/segments?by=rfm", "/customers", "/customers/K005", "/investment", "/cohorts",
               "/models", "/data", "/calculator", "/settings", "/users", "/customers/NOPE", "/calculator?gc=abc",
               "/segments?by=nonsense", "/no-such-page"]


def _text(html: str) -> str:
    """The words a person reads: scripts (chart data), tags and the user's own data cells left out."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    html = re.sub(r'<code class="data">.*?</code>', " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def admin(live_server):
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        assert login(client, "admin").status_code == 303
        yield client


@pytest.mark.parametrize("path", DUTCH_PAGES)
def test_dutch_pages_hold_no_english_words_and_no_missing_values(admin, path):
    response = admin.get(path, params={"lang": "nl"})
    assert response.status_code < 500
    assert "text/html" in response.headers["content-type"]
    text = _text(response.text)
    assert not re.findall(ENGLISH, text), (path, re.findall(ENGLISH, text))
    assert not re.findall(r"\b(nan|NaN|None|null|undefined|inf)\b", text), path
    assert "Traceback" not in response.text


def test_bad_calculator_input_is_a_message_in_the_page_language_not_a_500(admin):
    nl = admin.get("/calculator", params={"gc": "abc", "r": "2", "lang": "nl"})
    assert nl.status_code == 422
    text = _text(nl.text)
    # the input by its symbol and meaning (calculator.gc / calculator.r), the rule in Dutch, the limit in the locale
    assert "GC (jaarlijkse bruto winst per klant): “abc” is geen getal." in text
    assert "r (retentiepercentage): mag hoogstens 1 zijn." in text
    en = admin.get("/calculator", params={"d": "-3", "lang": "en"})
    assert en.status_code == 422
    assert "d (yearly discount rate): must be more than -1." in _text(en.text)
    # the JSON API keeps pydantic's machine-readable errors
    api = admin.get("/api/customers", params={"page_size": "lots"}, headers={"accept": "application/json"})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"][-1] == "page_size"


def test_choices_are_named_in_words(admin):
    response = admin.get("/segments", params={"by": "nonsense", "lang": "nl"})
    assert response.status_code == 422
    assert "Groeperen op: kies een van RFM, Waardeklasse, Klantfase, Waardematrix, Kanaal." in _text(response.text)


def test_an_unknown_address_is_a_page_not_json(admin):
    page = admin.get("/no-such-page", params={"lang": "nl"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "Deze pagina bestaat niet." in _text(page.text)
    api = admin.get("/api/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_unknown_customer_in_dutch_with_look_alikes_as_links(admin):
    response = admin.get("/customers/K0O5", params={"lang": "nl"})  # a letter O typed for a zero
    assert response.status_code == 404
    text = _text(response.text)
    assert "Er is geen klant K0O5 in deze werkruimte." in text and "unknown customer" not in text
    links = re.findall(r'<a href="/customers/(K\d+)">', response.text)
    assert "K005" in links and len(links) == 5  # Jaro-Winkler look-alikes among the 30 scored customers


def test_search_with_one_hit_opens_the_customer_and_no_hit_says_so(admin):
    one = admin.get("/customers", params={"q": "K005"})
    assert one.status_code == 303 and one.headers["location"] == "/customers/K005"
    none = admin.get("/customers", params={"q": "ZZZ", "lang": "nl"})
    assert "Geen klantnummer begint met “ZZZ” en geen naam bevat het." in _text(none.text)
    many = admin.get("/customers", params={"q": "K01", "lang": "en"})  # K010..K019: a list
    assert many.status_code == 200 and "10 customers" in _text(many.text)


def test_dates_in_the_short_locale_style(admin):
    # the latest stored run is as of 2023-12-31 (conftest.store_runs)
    assert "Gewaardeerd per 31-12-2023" in _text(admin.get("/", params={"lang": "nl"}).text)
    assert "31/12/2023" in _text(admin.get("/", params={"lang": "en"}).text)


def test_the_language_switch_keeps_the_page_and_its_query(admin):
    html = admin.get("/segments", params={"by": "rfm", "lang": "en"}).text
    assert 'href="?by=rfm&amp;lang=nl" class="lang"' in html


def test_settings_take_a_dutch_decimal_comma_and_refuse_in_dutch(live_server):
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        login(client, "analyst", PASSWORD)
        page = client.get("/settings", params={"lang": "nl"})
        token = csrf_of(page.text)
        old = re.search(r'id="set-margin" name="margin" value="([^"]+)"', page.text).group(1)
        try:
            bad = client.post("/settings", data={"csrf_token": token, "margin": "2"})
            assert bad.status_code == 400
            assert "Marge (deel van de omzet): mag hoogstens 1 zijn." in _text(bad.text)
            word = client.post("/settings", data={"csrf_token": token, "margin": "veel"})
            assert "Marge (deel van de omzet): “veel” is geen getal." in _text(word.text)
            comma = client.post("/settings", data={"csrf_token": token, "margin": "0,25"})
            assert comma.status_code == 303
            # shown back with the page's decimal mark (a Dutch page: 0,25; an English one: 0.25)
            assert 'name="margin" value="0,25"' in client.get("/settings", params={"lang": "nl"}).text
            assert 'name="margin" value="0.25"' in client.get("/settings", params={"lang": "en"}).text
        finally:
            client.post("/settings", data={"csrf_token": token, "margin": old})
        assert f'name="margin" value="{old}"' in client.get("/settings", params={"lang": "nl"}).text


def test_money_axes_and_the_dutch_chart_locale():
    from cvm.web.i18n import Formatter
    from cvm.web.render import money_axis

    nl, en = Formatter("nl"), Formatter("en")
    # the prefix follows the locale's money pattern: "€ 1.234,50" (nl, with a no-break space), "€1,234.50" (en)
    assert money_axis(nl, "Waarde")["tickprefix"] == "€\xa0" and money_axis(en, "Value")["tickprefix"] == "€"
    module = nl.plotly_locale["format"]
    # CLDR nl: abbreviated months jan..dec with "mrt" and "mei"; the week starts on Sunday for d3
    assert module["shortMonths"][2] == "mrt" and module["shortMonths"][4] == "mei"
    assert module["days"][0] == "zondag" and module["date"] == "%d-%m-%Y"
    assert (module["decimal"], module["thousands"]) == (",", ".")


@pytest.mark.browser
@pytest.mark.slow
def test_dutch_charts_name_months_in_dutch(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="nl-NL")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/login")
        page.fill("#username", "viewer")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_selector("nav")
        for lang, months in (("nl", r"\b(jan|feb|mrt|apr|mei|jun|jul|aug|sep|okt|nov|dec)\b"),
                             ("en", r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b")):
            page.goto(f"/customers/K005?lang={lang}")
            page.wait_for_selector("#timeline[data-drawn='1'] .xtick text")
            ticks = page.eval_on_selector_all("#timeline .xtick text", "nodes => nodes.map(n => n.textContent)")
            # K005 bought in June and September 2023 (conftest.transactions_csv): month ticks in between
            assert any(re.search(months, t) for t in ticks), (lang, ticks)
            if lang == "nl":
                assert not any(re.search(r"\b(Mar|May|Oct)\b|^[A-Z][a-z]{2}\b", t) for t in ticks), ticks
            # the scoring dates are the ticks of the P(alive) chart, written as the page writes dates
            page.wait_for_selector("#alive[data-drawn='1'] .xtick text")
            alive = page.eval_on_selector_all("#alive .xtick text", "nodes => nodes.map(n => n.textContent)")
            assert alive == (["30-06-2023", "31-12-2023"] if lang == "nl" else ["30/06/2023", "31/12/2023"])
    finally:
        context.close()
    assert errors == []
