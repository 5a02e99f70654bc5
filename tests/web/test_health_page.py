"""The data-health summary on the dashboard's data page, in Dutch and English, on a real server.

The workspace is the web tests' own (``make_workspace``: 30 customers, customer i buying (i % 4) + 1 times on
distinct days, and two stored scoring runs), plus one Dutch export with a customer who only returned
something and a row whose date cannot be read. Expected figures, by hand:

* transactions: 7 × (1 + 2 + 3 + 4) for customers 0-27, plus 1 + 2 for 28 and 29 = 73, plus the return = 74;
  customers 30 + K900 = 31;
* one-time buyers: customers with i % 4 == 0 (0, 4, ..., 28) = 8 of the 30 buyers = 26.7 %;
* returns: 1 row, from 1 customer, who has only returns; quarantine: 1 row, an unparseable date;
* the dashboard's latest run (as of 2023-12-31) holds the 30 buyers: 22 repeat buyers with a positive mean
  spend (those with i % 4 != 0) teach the spend model, 8 one-time buyers get its average.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import LiveServer, login, make_workspace


@pytest.fixture(scope="module")
def health_server(tmp_path_factory):
    from cvm.data import Workspace
    from cvm.web.app import create_app

    folder = tmp_path_factory.mktemp("health-web")
    made = make_workspace(folder / "ws")
    export = folder / "retour.csv"
    export.write_text("klant;datum;bedrag\nK900;01-03-2023;-4,00\nK901;geen datum;1,00\n", encoding="utf-8")
    with Workspace.open(made["path"]) as ws:
        report = ws.ingest(export)
        assert (report.accepted, report.quarantined) == (1, 1)
    server = LiveServer(create_app(made["path"])).start()
    yield server
    server.stop()


def health_section(server, language: str) -> str:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert login(client, "viewer").status_code == 303
        page = client.get("/data", params={"lang": language})
        assert page.status_code == 200
    html = page.text
    return html[html.index('<ul class="health" id="health">'):].split("</ul>")[0]


def texts_of(section: str) -> list[str]:
    return [re.sub(r"<[^>]+>", " | ", item).split(" | ")[0] for item in re.findall(r"<li[^>]*>(.*?)</li>", section, re.S)]


def test_the_data_page_shows_the_summary_in_dutch(health_server):
    section = health_section(health_server, "nl")
    texts = texts_of(section)
    assert texts[:3] == ["1 regel staat in quarantaine en wordt niet gebruikt.",
                         "1 × onleesbare datum in kolom datum",
                         texts[2]]
    assert re.fullmatch(r"De werkruimte bevat 74 transacties van 31 klanten, van 01-01-2023 tot en met \d\d-\d\d-2023\.",
                        texts[2]), texts[2]
    assert "1 transactie is een retour (een negatief bedrag)." in texts
    assert "1 klant heeft alleen retouren en geen aankoop." in texts
    assert "26,7% van de klanten (8 van 30) kocht op één dag en nooit daarna." in texts
    assert "30 klanten zijn gewaardeerd op 31-12-2023 met BG/NBD. Waarom: test run." in texts
    assert ("Het bestedingsmodel leerde van 22 terugkerende klanten met een positieve besteding; eenmalige kopers (8) "
            "krijgen de gemiddelde besteding per aankoop uit dat model.") in texts
    # a warning says what to do, in Dutch
    assert 'class="health-warning"' in section and "Wat te doen: Verbeter deze regels in het bronbestand" in section
    for word in ("nan", "None", "NaT", "unparseable", "customers"):
        assert not re.search(rf"\b{word}\b", section), word


def test_the_data_page_shows_the_summary_in_english(health_server):
    texts = texts_of(health_section(health_server, "en"))
    assert texts[0] == "1 row is in quarantine and not used." and texts[1] == "1 × unparseable date in column datum"
    assert "26.7% of customers (8 of 30) bought on one day only." in texts
    assert "1 customer has only returns and no purchase." in texts


def test_an_upload_on_the_page_updates_the_summary(health_server):
    """After an upload (a second customer with only a return), the page counts again: 2 customers, 75 rows."""
    from tests.web.conftest import csrf_of

    with httpx.Client(base_url=health_server.url, timeout=60) as client:
        assert login(client, "analyst").status_code == 303
        page = client.get("/data", params={"lang": "nl"})
        sent = client.post("/data/upload", data={"csrf_token": csrf_of(page.text), "kind": "transactions"},
                           files={"file": ("retour2.csv", "klant;datum;bedrag\nK950;02-03-2023;-2,00\n".encode())})
        assert sent.status_code == 303, sent.text
        job = health_server.app.state.web.jobs.wait(sent.headers["location"].split("job=")[1], timeout=60)
        assert job.status == "done"
        html = client.get(sent.headers["location"]).text
    texts = texts_of(html[html.index('<ul class="health" id="health">'):].split("</ul>")[0])
    assert "2 klanten hebben alleen retouren en geen aankoop." in texts
    assert any(t.startswith("De werkruimte bevat 75 transacties van 32 klanten") for t in texts), texts
