"""The wrong or confusing figures of issue 16 ("What was seen"), each checked on the Dutch demo workspace.

The demo (``cvm demo``) is set to Dutch, served by a real uvicorn server and read over HTTP as a
manager would; the report is written by a ``cvm report`` process. Expected figures are recomputed
here from the workspace's own rows with plain Python (dates subtracted, purchases counted), never
taken from the code under test.
"""

from __future__ import annotations

import datetime as dt
import html as entities
import http.client
import os
import re
import subprocess
import sys

import httpx
import pytest

from tests.web.conftest import LiveServer, login

pytestmark = pytest.mark.slow


def cvm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "120"}, check=True)


def words(html: str) -> str:
    """What a person reads: scripts and styles dropped, tags made spaces, entities resolved."""
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return entities.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from cvm.web.app import create_app
    from cvm.web.auth import add_user
    from tests.web.conftest import PASSWORD

    folder = tmp_path_factory.mktemp("figures") / "demo"
    printed = cvm("demo", "--workspace", str(folder)).stdout
    cvm("settings", "--set", "language=nl", "--workspace", str(folder))
    report = folder.parent / "rapport.html"
    cvm("report", "--workspace", str(folder), "--out", str(report))
    add_user(folder, "manager", PASSWORD, "admin")
    server = LiveServer(create_app(folder)).start()
    client = httpx.Client(base_url=server.url, timeout=120)
    login(client, "manager")
    yield {"path": folder, "printed": printed, "report": report.read_text(encoding="utf-8"), "client": client}
    client.close()
    server.stop()


def _rows(folder, sql: str):
    import duckdb

    with duckdb.connect(str(folder / "cvm.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_an_invoice_paid_late_shows_its_days_late(demo):
    # an invoice paid after its due date, and the days between them by plain date arithmetic
    customer, invoice, due, paid = _rows(demo["path"], "SELECT customer_id, invoice_id, due, paid FROM invoices "
                                         "WHERE paid > due ORDER BY paid - due DESC, invoice_id LIMIT 1")[0]
    late = (paid - due).days if isinstance(paid, dt.date) else None
    assert late and late > 0
    html = demo["client"].get(f"/customers/{customer}").text
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*" + re.escape(invoice) + r".*?</tr>", html, flags=re.S)
    assert row, invoice
    cells = [c.strip() for c in words(row.group(0)).split("  ") if c.strip()]
    text = " ".join(cells)
    assert f"{late} dagen" in text, text  # the days late of a paid invoice, not "0 dagen"
    tds = [words(td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), flags=re.S)]
    assert "0 dagen" not in tds, tds  # and no "days overdue" of 0 beside it: a paid invoice is not overdue
    assert "NaT" not in words(html) and "None" not in words(html)


def test_the_mean_spend_says_it_leaves_out_the_first_purchase_and_the_rank_reads_one_way(demo):
    # a customer with two purchases: the mean of repeat purchases is the second one only
    customer = _rows(demo["path"], "SELECT customer_id FROM transactions GROUP BY customer_id "
                                   "HAVING count(DISTINCT CAST(ts AS DATE)) = 2 ORDER BY customer_id LIMIT 1")[0][0]
    page = words(demo["client"].get(f"/customers/{customer}").text)
    assert "Gemiddelde besteding" not in page
    assert "Gemiddelde herhaalaankoop (zonder de eerste)" in page
    assert "Percentiel" not in page  # the rank is said one way ("top ..%"), not as a percentile beside it


def test_the_models_page_shows_the_backtest_the_demo_ran(demo):
    page = demo["client"].get("/models").text
    assert "Nog geen backtest" not in words(page)
    assert 'id="backtest-table"' in page


def test_the_calculator_says_paid_mid_year_and_takes_a_dutch_decimal_comma(demo):
    page = words(demo["client"].get("/calculator").text)
    assert "halfjaarlijks" not in page and "halverwege het jaar" in page
    # r = 0,8 typed with a comma: CLV = GC * sum r^i/(1+d)^i - M * sum r^(i-1)/(1+d)^(i-0.5), by hand below
    answer = words(demo["client"].get("/calculator", params={"gc": "100", "m": "0", "n": "1", "r": "0,8",
                                                              "d": "0"}).text)
    assert "€ 80,00" in answer, answer[:2000]  # 100 * 0.8 / 1 = 80


def test_tier_cut_offs_are_percentages_on_the_settings_page(demo):
    html = demo["client"].get("/settings").text
    field = re.search(r'<input id="set-tier_cutoffs"[^>]*value="([^"]*)"', html).group(1)
    assert field == "platina=95%, goud=80%, zilver=50%, brons=0%"  # the demo's settings: 0.95, 0.8, 0.5, 0
    assert "0.95" not in html and "0,95" not in words(html)
    # the chance a contact succeeds (the maximum spend's assumption) has a label in words
    assert "Kans dat een contact slaagt" in words(html)


def test_the_rfm_group_named_loyal_with_a_low_chance_is_pointed_out(demo):
    answer = re.search(r'<div class="answer" id="answer">.*?</div>', demo["client"].get("/segments?by=rfm").text,
                       flags=re.S)
    assert answer and "Trouwe klanten heeft gemiddeld maar" in words(answer.group(0))


def test_the_dutch_report_counts_the_customers_the_demo_printed(demo):
    body = words(demo["report"])
    printed = re.search(r"Customers\s+([\d,]+)", demo["printed"]).group(1).replace(",", "")
    valued = f"{int(printed):,}".replace(",", ".")
    assert f"Gewaardeerde klanten (met prospects) {valued}" in body
    bought = _rows(demo["path"], "SELECT count(DISTINCT customer_id) FROM transactions")[0][0]
    assert f"Klanten met een aankoop {bought:,}".replace(",", ".") in body
    assert "<pandas" not in demo["report"] and "pandas frame" not in body
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", body)  # every date in the Dutch style
    assert "Backtest on the holdout" not in body


def test_the_report_lists_only_open_invoices_under_receivables(demo):
    html = demo["report"]
    paid_only = {r[0] for r in _rows(demo["path"], "SELECT customer_id FROM invoices GROUP BY customer_id "
                                                   "HAVING bool_and(paid IS NOT NULL)")}
    start = html.find('id="receivables"')
    assert start >= 0
    section = html[start:html.find("</section>", start)]
    listed = set(re.findall(r"<td[^>]*>(\d{5})</td>", section))
    assert listed and not listed & paid_only


def test_plain_words_on_the_page_and_the_technical_term_in_its_tooltip(demo):
    html = demo["client"].get("/customers").text
    header = re.search(r'<th class="[^"]*gloss"\s+title="([^"]*)">Kans nog klant</th>', html)
    assert header and "P(alive)" in entities.unescape(header.group(1))  # the term, explained, in the tooltip
    shown = words(re.sub(r'title="[^"]*"', "", html))
    assert "P(actief)" not in shown and "P(alive)" not in shown
    overview = words(re.sub(r'title="[^"]*"', "", demo["client"].get("/").text))
    assert "Gini" not in overview and "Lorenz" not in overview and "P(alive)" not in overview


def test_the_partner_channel_that_overpays_for_its_customers_is_not_in_balance(demo):
    # recomputed from the rows: acquisition cost per partner customer against their mean predicted value
    (cost,) = _rows(demo["path"], "SELECT sum(amount) FROM costs WHERE kind = 'acquisition' AND channel = 'partner'")[0]
    ids = [r[0] for r in _rows(demo["path"], "SELECT customer_id FROM customers WHERE channel = 'partner'")]
    (run,) = _rows(demo["path"], "SELECT run_id FROM score_runs ORDER BY as_of DESC, created DESC LIMIT 1")[0]
    clv = [r[0] for r in _rows(demo["path"], f"SELECT clv FROM scores WHERE run_id = '{run}' AND customer_id IN "
                                             f"({','.join(repr(i) for i in ids)})")]
    assert cost / len(ids) > sum(clv) / len(clv)  # the demo's partner channel overpays (about € 11,55 against € 7,86)
    html = demo["client"].get("/investment").text
    table = re.search(r'id="investment-channels".*?</table>', html, flags=re.S)
    row = re.search(r"<tr>(?:(?!</tr>).)*>partner<.*?</tr>", table.group(0), flags=re.S)
    assert row, table.group(0)[:500]
    cells = words(row.group(0))
    assert "in balans" not in cells and "overinvestering" in cells, cells


def test_refusals_expired_forms_and_too_large_uploads_are_dutch_on_a_dutch_workspace(demo):
    from cvm.web.auth import add_user
    from tests.web.conftest import PASSWORD

    add_user(demo["path"], "lezer", PASSWORD, "viewer")
    with httpx.Client(base_url=demo["client"].base_url, timeout=120) as viewer:
        login(viewer, "lezer")
        refused = viewer.post("/settings", data={"csrf_token": "x", "margin": "0,3"})
        assert refused.status_code == 403 and "Hiervoor is de rol analist nodig (u bent lezer)" in words(refused.text)
    expired = demo["client"].post("/settings", data={"csrf_token": "verlopen", "margin": "0,3"})
    assert expired.status_code in (400, 403) and "Er klopt iets niet" in words(expired.text)
    assert not re.search(r"\b(the|expired|token|invalid)\b", words(expired.text), flags=re.I), words(expired.text)[-300:]
    # an upload that announces 300 MB: the server refuses it on the header alone. Sent with http.client,
    # which (unlike httpx) lets the body fall short of the declared length without failing on the client side
    url = httpx.URL(str(demo["client"].base_url))
    conn = http.client.HTTPConnection(url.host, url.port, timeout=120)
    try:
        conn.putrequest("POST", "/data/upload")
        conn.putheader("Cookie", "; ".join(f"{k}={v}" for k, v in demo["client"].cookies.items()))
        conn.putheader("Content-Type", "multipart/form-data; boundary=b")
        conn.putheader("Content-Length", str(300 * 1024 * 1024))
        try:
            conn.endheaders(b"--b\r\n")
        except OSError:
            pass  # the server may answer and close before the first body bytes arrive
        too_big = conn.getresponse()
        body = too_big.read().decode("utf-8", "replace")
    finally:
        conn.close()
    assert too_big.status == 413 and "Het bestand is groter dan deze server aanneemt" in words(body)


def test_every_ratio_carries_its_unit():
    """"Rendement op kosten 2,22" had no unit: a return on cost is a percentage of the cost, on every face."""
    from cvm.i18n.columns import COLUMN_KINDS
    from cvm.web.i18n import Formatter

    for ratio in ("roi", "clv_share", "cost_share", "customer_share", "retention", "probability_alive"):
        assert COLUMN_KINDS[ratio] == "percent", ratio
    assert Formatter("nl").cell("roi", 2.22) == "222,0%"  # (value - cost) / cost = 2.22: 222% of what was spent
