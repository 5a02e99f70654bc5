"""One customer list for every face: ``cvm customers``, ``GET /api/customers`` and the Klanten page.

The same question (gold customers, least likely to be active first) is asked of a real ``cvm``
process and of a real server on the same workspace: the JSON rows are the same, and the page
shows the columns the command line's table shows, under the same headings. The expected order
is computed here from the stored scores with plain Python.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html import unescape

import duckdb
import httpx
import pytest

from tests.web.conftest import LiveServer, bearer, login, make_workspace

CVM = [sys.executable, "-m", "cvm.cli"]


def cvm(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
    done = subprocess.run(CVM + list(args), capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """The command line's answers (asked first: the server then holds the workspace), and a live server."""
    from cvm.web.app import create_app

    folder = tmp_path_factory.mktemp("list") / "ws"
    made = make_workspace(folder)
    with duckdb.connect(str(folder / "cvm.duckdb")) as con:
        # the stored runs of the web fixtures leave expected purchases out: filled, so every listed column has values
        con.execute("UPDATE scores SET expected_purchases = frequency / 2")
        latest = con.execute("SELECT run_id FROM score_runs ORDER BY as_of DESC LIMIT 1").fetchone()[0]
        stored = con.execute("SELECT customer_id, value_tier, probability_alive FROM scores WHERE run_id = ?",
                             [latest]).fetchall()
    listing = json.loads(cvm("customers", "--tier", "gold", "--sort", "probability_alive", "--ascending",
                             "--limit", "100", "--json", "--workspace", str(folder)))
    table = cvm("customers", "--wide", "--limit", "3", "--workspace", str(folder))
    live = LiveServer(create_app(folder)).start()
    yield {"stored": stored, "cli_json": listing, "cli_table": table, "live": live, "tokens": made["tokens"]}
    live.stop()


def test_the_api_and_the_command_give_the_same_rows_in_the_same_order(faces):
    api = httpx.get(faces["live"].url + "/api/customers", headers=bearer(faces["tokens"]["viewer"]),
                    params={"value_tier": "gold", "sort": "probability_alive", "order": "asc", "page_size": 100}).json()
    cli = faces["cli_json"]
    # by hand: the gold customers of the latest run, least likely active first, ties by id
    gold = sorted((p, c) for c, tier, p in faces["stored"] if tier == "gold")
    assert [row["customer_id"] for row in cli["customers"]] == [c for _, c in gold]
    assert cli["n_customers"] == api["total"] == len(gold) > 0
    assert api["customers"] == cli["customers"]  # every column, the same values
    assert cli["run_id"] == api["run"]["run_id"]


def _page_headers(html: str) -> list[str]:
    head = html.split('id="customers-table"', 1)[1].split("</thead>", 1)[0]
    return [unescape(h) for h in re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", head)]


def _cli_headers(text: str) -> list[str]:
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    return [cell.strip() for cell in header.strip("┃").split("┃")]


def test_the_page_shows_the_columns_of_the_command_line_table(faces):
    with httpx.Client(base_url=faces["live"].url) as client:
        login(client, "viewer")
        page = client.get("/customers", params={"lang": "en"})
    assert page.status_code == 200
    expected = ["Customer", "Value tier", "Journey stage", "Repeat purchases", "Chance still a customer", "Expected purchases",
                "Historic value", "CLV", "CLV low", "CLV high"]
    assert _cli_headers(faces["cli_table"]) == expected
    assert _page_headers(page.text) == expected
