"""The report's data-health section, in English and Dutch, on the report tests' workspace.

That workspace (tests/report/conftest.py) holds the first 400 CDNOW customers (1,251 rows) and one Dutch
export with one good row (customer X1, one purchase) and three rows in quarantine: a date that is not one,
a missing customer, an amount that is not a number. By hand: 1,252 transactions of 401 customers; customers
buying on one day only: 210 of the 400 CDNOW customers (counted with pandas from the bundled file: distinct
purchase days per customer == 1) plus X1 = 211 of 401 = 52.6 %.
"""

from __future__ import annotations

import re


def section(text: str, key: str = "data_health") -> str:
    return text.split(f'<section id="{key}">')[1].split("</section>")[0]


def test_the_section_is_present_in_english(report_files):
    files, errors = report_files
    assert not [e for e in errors["en"] if e.startswith("data_health")]
    body = section(files["en"].read_text(encoding="utf-8"))
    assert "<h2>Data health</h2>" in body
    assert "3 rows are in quarantine and not used." in body
    assert "1 × unparseable date in column ts" in body
    assert "The workspace holds 1,252 transactions of 401 customers, dated 01/01/1997 to 30/06/1998." in body
    assert "52.6% of customers (211 of 401) bought on one day only." in body
    # the run the report shows (its overview's); which date that is depends on the runs stored before
    assert re.search(r"[\d,]+ customers were valued as of \d\d/\d\d/\d{4} with ", body)
    assert "What to do: Correct these rows in the source file" in body


def test_the_section_is_present_in_dutch(report_files):
    files, errors = report_files
    assert not [e for e in errors["nl"] if e.startswith("data_health")]
    body = section(files["nl"].read_text(encoding="utf-8"))
    assert "<h2>Gezondheid van de gegevens</h2>" in body
    assert "3 regels staan in quarantaine en worden niet gebruikt." in body
    assert "1 × onleesbare datum in kolom ts" in body
    assert "De werkruimte bevat 1.252 transacties van 401 klanten, van 01-01-1997 tot en met 30-06-1998." in body
    assert "52,6% van de klanten (211 van 401) kocht op één dag en nooit daarna." in body
    assert re.search(r"[\d.]+ klanten zijn gewaardeerd op \d\d-\d\d-\d{4} met ", body)
    assert "Wat te doen: Verbeter deze regels in het bronbestand" in body
    for word in ("nan", "None", "NaT", "unparseable", "customers"):
        assert not re.search(rf"\b{word}\b", body), word
