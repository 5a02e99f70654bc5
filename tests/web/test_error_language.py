"""Errors from the library on Dutch pages are Dutch, on English pages English, and the JSON API
keeps the English message (with the error's code next to it). Run against a real server."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import PASSWORD, LiveServer, bearer, csrf_of, login

#: a transactions export without a customer column
NO_CUSTOMER = "Datum;Bedrag\n01-03-2024;12,50\n02-03-2024;7,00\n".encode()

ENGLISH = "cannot find the transactions column(s) customer_id; columns found: Datum, Bedrag"
ENGLISH_HINT = "name the columns with --map customer_id=&lt;column&gt;"  # as the page escapes it
DUTCH = "In het bestand met transacties ontbreekt een kolom voor: klantnummer. Gevonden kolommen: Datum, Bedrag."


def upload_on_the_data_page(server, language: str) -> str:
    """Log in as an analyst with ``language`` chosen, upload the file through the form, return the page after the job."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert login(client, "analyst").status_code == 303
        page = client.get("/data", params={"lang": language})  # choosing the language sets the cookie
        assert page.status_code == 200
        sent = client.post("/data/upload", data={"csrf_token": csrf_of(page.text), "kind": "transactions"},
                           files={"file": ("export.csv", NO_CUSTOMER)})
        assert sent.status_code == 303, sent.text
        job_id = sent.headers["location"].split("job=")[1]
        job = server.app.state.web.jobs.wait(job_id, timeout=30)
        assert job.status == "failed" and job.code == "missing_columns"
        return client.get(sent.headers["location"]).text


def test_upload_without_customer_column_in_dutch(live_server):
    html = upload_on_the_data_page(live_server, "nl")
    assert DUTCH in html
    assert "Geef de kolom in het bestand een kopnaam die cvm herkent (klantnummer)" in html
    assert "cannot find" not in html


def test_upload_without_customer_column_in_english(live_server):
    html = upload_on_the_data_page(live_server, "en")
    assert ENGLISH in html and ENGLISH_HINT in html
    assert DUTCH not in html


def test_the_api_keeps_the_english_message_and_adds_the_code(live_server, tokens):
    h = bearer(tokens["analyst"])
    started = httpx.post(live_server.url + "/api/uploads", files={"file": ("export.csv", NO_CUSTOMER)},
                         data={"kind": "transactions"}, headers={**h, "Accept-Language": "nl"})
    assert started.status_code == 202
    live_server.app.state.web.jobs.wait(started.json()["id"], timeout=30)
    job = httpx.get(live_server.url + f"/api/jobs/{started.json()['id']}", headers=h).json()
    assert job["status"] == "failed" and job["code"] == "missing_columns"
    assert job["error"] == ENGLISH
    assert job["hint"] == "name the columns with --map customer_id=<column> (Python: mapping={'customer_id': '<column>'})"


@pytest.mark.parametrize("name, content, english, dutch", [
    ("export.csv", b"", "the uploaded file is empty", "Het geüploade bestand is leeg."),
    ("setup.exe", b"MZ\x90\x00", "files of type '.exe' cannot be uploaded",
     "Bestanden van het type '.exe' kunnen niet worden geüpload."),
    ("export.xlsx", b"not a zip at all", "the file does not look like a .xlsx file",
     "Het bestand lijkt geen .xlsx-bestand te zijn."),
])
def test_refused_uploads_are_explained_in_the_page_language(live_server, name, content, english, dutch):
    # these checks run on the upload itself (cvm.web.tasks), before any job starts
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        login(client, "analyst")
        for language, expected, other in (("nl", dutch, english), ("en", english, dutch)):
            page = client.get("/data", params={"lang": language})
            answer = client.post("/data/upload", data={"csrf_token": csrf_of(page.text), "kind": "transactions"},
                                 files={"file": (name, content)})
            assert answer.status_code == 400, answer.status_code
            text = answer.text.replace("&#39;", "'")
            assert expected in text and other not in text


def test_the_api_refuses_an_upload_in_english_with_the_code(live_server, tokens):
    answer = httpx.post(live_server.url + "/api/uploads", files={"file": ("setup.exe", b"MZ\x90\x00")},
                        data={"kind": "transactions"}, headers=bearer(tokens["analyst"]))
    assert answer.status_code == 400
    assert answer.json()["code"] == "upload_type_not_allowed"
    assert answer.json()["detail"] == "files of type '.exe' cannot be uploaded"


def test_error_page_of_a_form_check_is_in_the_page_language(live_server):
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        login(client, "analyst")
        for language, expected in (("nl", "Voor een backtest is een einddatum van de kalibratieperiode nodig."),
                                   ("en", "a backtest needs a calibration end date")):
            page = client.get("/models", params={"lang": language})
            answer = client.post("/jobs/backtest", data={"csrf_token": csrf_of(page.text), "calibration_end": ""})
            assert answer.status_code == 400
            assert expected in answer.text


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory):
    """A server on a workspace with nothing in it yet: no transactions, nothing scored."""
    from cvm.data import Workspace
    from cvm.web.app import create_app
    from cvm.web.auth import add_user

    folder = tmp_path_factory.mktemp("empty-web") / "ws"
    Workspace.open(folder).close()
    add_user(folder, "viewer", PASSWORD, "viewer")
    server = LiveServer(create_app(folder)).start()
    yield server
    server.stop()


def test_pages_before_anything_is_scored(empty_server):
    with httpx.Client(base_url=empty_server.url, timeout=30) as client:
        login(client, "viewer")
        dutch = client.get("/segments", params={"lang": "nl"}).text
        assert "Er zijn nog geen klanten gewaardeerd." in dutch and "Tip: Waardeer eerst de klanten" in dutch
        assert "no customers have been scored yet" not in dutch
        english = client.get("/segments", params={"lang": "en"}).text
        assert "no customers have been scored yet" in english
        cohorts = client.get("/cohorts", params={"lang": "nl"}).text
        assert "Er staan nog geen transacties in de werkruimte." in cohorts
