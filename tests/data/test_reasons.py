"""Quarantine reasons: Dutch renderings and grouping by kind, for every reason the ingest writes."""

from __future__ import annotations

import pytest

from cvm.data.reasons import quarantine_reason, reason_kind

# (stored reason as the ingest writes it, Dutch by hand, kind in English, kind in Dutch)
CASES = [
    ("non-numeric amount in column Bedrag: tien", "geen getal voor amount in kolom Bedrag: tien",
     "non-numeric amount in column Bedrag", "geen getal voor amount in kolom Bedrag"),
    ("missing customer_id: column Klant is empty", "customer_id ontbreekt: kolom Klant is leeg",
     "missing customer_id: column Klant is empty", "customer_id ontbreekt: kolom Klant is leeg"),
    ("unparseable date in column Datum: 31-02-2024", "onleesbare datum in kolom Datum: 31-02-2024",
     "unparseable date in column Datum", "onleesbare datum in kolom Datum"),
    ("totals row (not a transaction)", "totaalregel (geen transactie)",
     "totals row (not a transaction)", "totaalregel (geen transactie)"),
    ("expected 3 fields, found 2", "3 velden verwacht, 2 gevonden",
     "expected 3 fields, found 2", "3 velden verwacht, 2 gevonden"),
]


@pytest.mark.parametrize("stored,dutch,kind_en,kind_nl", CASES)
def test_each_reason_in_dutch_and_by_kind(stored, dutch, kind_en, kind_nl):
    assert quarantine_reason(stored, "en") == stored
    assert quarantine_reason(stored, "nl") == dutch
    assert reason_kind(stored) == kind_en
    assert reason_kind(stored, "nl") == kind_nl


def test_values_with_colons_stay_whole_and_labels_name_the_field():
    stored = "unparseable date in column Datum: 2024-01-01 25:61:00"
    assert quarantine_reason(stored, "nl") == "onleesbare datum in kolom Datum: 2024-01-01 25:61:00"
    assert reason_kind(stored) == "unparseable date in column Datum"
    words = {"amount": "bedrag"}.get
    assert quarantine_reason("non-numeric amount in column Omzet: n.v.t.", "nl", words) == \
        "geen getal voor bedrag in kolom Omzet: n.v.t."


def test_unknown_reasons_and_nothing_pass_through():
    assert quarantine_reason("a reason from a newer version", "nl") == "a reason from a newer version"
    assert reason_kind("a reason from a newer version", "nl") == "a reason from a newer version"
    assert quarantine_reason(None, "nl") is None and reason_kind("", "en") == ""
