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
    # reading values one by one (cvm.data.values)
    ("ambiguous amount in column Bedrag: 1,234", "dubbelzinnig getal voor amount in kolom Bedrag: 1,234",
     "ambiguous amount in column Bedrag", "dubbelzinnig getal voor amount in kolom Bedrag"),
    ("amount in column Bedrag has a decimal point where the column uses decimal commas: 12.5",
     "amount in kolom Bedrag heeft een decimale punt, de kolom decimale komma's: 12.5",
     "amount in column Bedrag has a decimal point where the column uses decimal commas",
     "amount in kolom Bedrag heeft een decimale punt, de kolom decimale komma's"),
    ("margin in column Marge has a decimal comma where the column uses decimal points: 0,5",
     "margin in kolom Marge heeft een decimale komma, de kolom decimale punten: 0,5",
     "margin in column Marge has a decimal comma where the column uses decimal points",
     "margin in kolom Marge heeft een decimale komma, de kolom decimale punten"),
    ("ambiguous date in column Datum (day-first or month-first?): 03/04/2024",
     "dubbelzinnige datum in kolom Datum (dag of maand eerst?): 03/04/2024",
     "ambiguous date in column Datum (day-first or month-first?)",
     "dubbelzinnige datum in kolom Datum (dag of maand eerst?)"),
    ("month-first date in day-first column Datum: 01/13/2024",
     "datum met de maand eerst in kolom Datum, waarin de dag eerst staat: 01/13/2024",
     "month-first date in day-first column Datum", "datum met de maand eerst in kolom Datum, waarin de dag eerst staat"),
    ("day-first date in month-first column date: 13/01/2024",
     "datum met de dag eerst in kolom date, waarin de maand eerst staat: 13/01/2024",
     "day-first date in month-first column date", "datum met de dag eerst in kolom date, waarin de maand eerst staat"),
    ("implausible date in column Datum (before 1950): 31-12-1899",
     "onwaarschijnlijke datum in kolom Datum (vóór 1950): 31-12-1899",
     "implausible date in column Datum (before 1950)", "onwaarschijnlijke datum in kolom Datum (vóór 1950)"),
    ("date in the future in column Datum: 01-05-2031", "datum in de toekomst in kolom Datum: 01-05-2031",
     "date in the future in column Datum", "datum in de toekomst in kolom Datum"),
    ("time with a zone offset in column ts of local times: 2024-01-10 10:00:00+02",
     "tijd met een tijdzone in kolom ts met lokale tijden: 2024-01-10 10:00:00+02",
     "time with a zone offset in column ts of local times", "tijd met een tijdzone in kolom ts met lokale tijden"),
    ("time without a zone in column ts, whose times carry one: 2024-03-01 10:00:00",
     "tijd zonder tijdzone in kolom ts, waarin de tijden een tijdzone hebben: 2024-03-01 10:00:00",
     "time without a zone in column ts, whose times carry one",
     "tijd zonder tijdzone in kolom ts, waarin de tijden een tijdzone hebben"),
    ("control character in customer_id in column Klant: 12\ufffd3", "stuurteken in customer_id in kolom Klant: 12\ufffd3",
     "control character in customer_id in column Klant", "stuurteken in customer_id in kolom Klant"),
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
