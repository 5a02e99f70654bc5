"""Quarantine reasons: Dutch renderings and grouping by kind, for every reason the ingest writes."""

from __future__ import annotations

import duckdb
import pytest

from cvm.data.reasons import Reason, kind_key_sql, quarantine_reason, reason_kind

# (code and values the ingest stores, stored reason as the ingest writes it (the English sentence the
# ingest wrote before reasons had codes), Dutch by hand, kind in English, kind in Dutch)
CASES = [
    ('non_numeric', {'field': 'amount', 'column': 'Bedrag', 'value': 'tien'},
     "non-numeric amount in column Bedrag: tien", "geen getal voor amount in kolom Bedrag: tien",
     "non-numeric amount in column Bedrag", "geen getal voor amount in kolom Bedrag"),
    ('missing', {'field': 'customer_id', 'column': 'Klant'},
     "missing customer_id: column Klant is empty", "customer_id ontbreekt: kolom Klant is leeg",
     "missing customer_id: column Klant is empty", "customer_id ontbreekt: kolom Klant is leeg"),
    ('unparseable_date', {'column': 'Datum', 'value': '31-02-2024'},
     "unparseable date in column Datum: 31-02-2024", "onleesbare datum in kolom Datum: 31-02-2024",
     "unparseable date in column Datum", "onleesbare datum in kolom Datum"),
    ('totals_row', {},
     "totals row (not a transaction)", "totaalregel (geen transactie)",
     "totals row (not a transaction)", "totaalregel (geen transactie)"),
    ('field_count', {'expected': '3', 'found': '2'},
     "expected 3 fields, found 2", "3 velden verwacht, 2 gevonden",
     "expected 3 fields, found 2", "3 velden verwacht, 2 gevonden"),
    # reading values one by one (cvm.data.values)
    ('ambiguous_number', {'field': 'amount', 'column': 'Bedrag', 'value': '1,234'},
     "ambiguous amount in column Bedrag: 1,234", "dubbelzinnig getal voor amount in kolom Bedrag: 1,234",
     "ambiguous amount in column Bedrag", "dubbelzinnig getal voor amount in kolom Bedrag"),
    ('decimal_point', {'field': 'amount', 'column': 'Bedrag', 'value': '12.5'},
     "amount in column Bedrag has a decimal point where the column uses decimal commas: 12.5",
     "amount in kolom Bedrag heeft een decimale punt, de kolom decimale komma's: 12.5",
     "amount in column Bedrag has a decimal point where the column uses decimal commas",
     "amount in kolom Bedrag heeft een decimale punt, de kolom decimale komma's"),
    ('decimal_comma', {'field': 'margin', 'column': 'Marge', 'value': '0,5'},
     "margin in column Marge has a decimal comma where the column uses decimal points: 0,5",
     "margin in kolom Marge heeft een decimale komma, de kolom decimale punten: 0,5",
     "margin in column Marge has a decimal comma where the column uses decimal points",
     "margin in kolom Marge heeft een decimale komma, de kolom decimale punten"),
    ('ambiguous_date', {'column': 'Datum', 'value': '03/04/2024'},
     "ambiguous date in column Datum (day-first or month-first?): 03/04/2024",
     "dubbelzinnige datum in kolom Datum (dag of maand eerst?): 03/04/2024",
     "ambiguous date in column Datum (day-first or month-first?)",
     "dubbelzinnige datum in kolom Datum (dag of maand eerst?)"),
    ('month_first_date', {'column': 'Datum', 'value': '01/13/2024'},
     "month-first date in day-first column Datum: 01/13/2024",
     "datum met de maand eerst in kolom Datum, waarin de dag eerst staat: 01/13/2024",
     "month-first date in day-first column Datum", "datum met de maand eerst in kolom Datum, waarin de dag eerst staat"),
    ('day_first_date', {'column': 'date', 'value': '13/01/2024'},
     "day-first date in month-first column date: 13/01/2024",
     "datum met de dag eerst in kolom date, waarin de maand eerst staat: 13/01/2024",
     "day-first date in month-first column date", "datum met de dag eerst in kolom date, waarin de maand eerst staat"),
    ('implausible_date', {'column': 'Datum', 'year': '1950', 'value': '31-12-1899'},
     "implausible date in column Datum (before 1950): 31-12-1899",
     "onwaarschijnlijke datum in kolom Datum (vóór 1950): 31-12-1899",
     "implausible date in column Datum (before 1950)", "onwaarschijnlijke datum in kolom Datum (vóór 1950)"),
    ('future_date', {'column': 'Datum', 'value': '01-05-2031'},
     "date in the future in column Datum: 01-05-2031", "datum in de toekomst in kolom Datum: 01-05-2031",
     "date in the future in column Datum", "datum in de toekomst in kolom Datum"),
    ('zone_in_local_times', {'column': 'ts', 'value': '2024-01-10 10:00:00+02'},
     "time with a zone offset in column ts of local times: 2024-01-10 10:00:00+02",
     "tijd met een tijdzone in kolom ts met lokale tijden: 2024-01-10 10:00:00+02",
     "time with a zone offset in column ts of local times", "tijd met een tijdzone in kolom ts met lokale tijden"),
    ('no_zone', {'column': 'ts', 'value': '2024-03-01 10:00:00'},
     "time without a zone in column ts, whose times carry one: 2024-03-01 10:00:00",
     "tijd zonder tijdzone in kolom ts, waarin de tijden een tijdzone hebben: 2024-03-01 10:00:00",
     "time without a zone in column ts, whose times carry one",
     "tijd zonder tijdzone in kolom ts, waarin de tijden een tijdzone hebben"),
    ('control_character', {'field': 'customer_id', 'column': 'Klant', 'value': '12�3'},
     "control character in customer_id in column Klant: 12\ufffd3", "stuurteken in customer_id in kolom Klant: 12\ufffd3",
     "control character in customer_id in column Klant", "stuurteken in customer_id in kolom Klant"),
]


def _english_in_sql(code: str, values: dict) -> str:
    """The English sentence the ingest's SQL writes for ``code`` with these values (as literals)."""
    reason = Reason(code, **{k: "'" + v.replace("'", "''") + "'" for k, v in values.items()})
    return duckdb.connect().execute(f"SELECT {reason}").fetchone()[0]


@pytest.mark.parametrize("code,values,stored,dutch,kind_en,kind_nl", CASES)
def test_each_reason_in_dutch_and_by_kind(code, values, stored, dutch, kind_en, kind_nl):
    assert _english_in_sql(code, values) == stored
    assert quarantine_reason(stored, "en", code=code, values=values) == stored
    assert quarantine_reason(stored, "nl", code=code, values=values) == dutch
    assert reason_kind(stored, code=code, values=values) == kind_en
    assert reason_kind(stored, "nl", code=code, values=values) == kind_nl


def test_values_with_colons_stay_whole_and_labels_name_the_field():
    stored = "unparseable date in column Datum: 2024-01-01 25:61:00"
    values = {"column": "Datum", "value": "2024-01-01 25:61:00"}
    assert _english_in_sql("unparseable_date", values) == stored
    assert quarantine_reason(stored, "nl", code="unparseable_date", values=values) == \
        "onleesbare datum in kolom Datum: 2024-01-01 25:61:00"
    assert reason_kind(stored, code="unparseable_date", values=values) == "unparseable date in column Datum"
    words = {"amount": "bedrag"}.get
    assert quarantine_reason("non-numeric amount in column Omzet: n.v.t.", "nl", words, "non_numeric",
                             '{"field": "amount", "column": "Omzet", "value": "n.v.t."}') == \
        "geen getal voor bedrag in kolom Omzet: n.v.t."


def test_unknown_reasons_and_nothing_pass_through():
    # a row stored before reasons had codes, or with a code of a newer version: the stored English
    assert quarantine_reason("a reason from a newer version", "nl") == "a reason from a newer version"
    assert reason_kind("a reason from a newer version", "nl") == "a reason from a newer version"
    assert quarantine_reason("a reason from a newer version", "nl", code="newer_code", values={}) == \
        "a reason from a newer version"
    assert quarantine_reason(None, "nl") is None and reason_kind("", "en") == ""


def test_the_kinds_grouped_in_sql_are_the_kinds_of_reason_kind():
    """Grouping by code and :func:`kind_key_sql` (DuckDB) puts together exactly the rows whose
    :func:`reason_kind` (Python) is the same."""
    import json

    rows = [(c, json.dumps(v) if v else None, stored) for c, v, stored, *_ in CASES] + [
        ("unparseable_date", json.dumps({"column": "Datum", "value": "2024-01-01 25:61:00"}),
         "unparseable date in column Datum: 2024-01-01 25:61:00"),    # a second value of one kind
        ("unparseable_date", json.dumps({"column": "X", "value": "a line\nbreak"}),
         "unparseable date in column X: a line\nbreak"),              # another column: another kind
        ("non_numeric", json.dumps({"field": "amount", "column": "Omzet (EUR)", "value": "1.2.3"}),
         "non-numeric amount in column Omzet (EUR): 1.2.3"),
        ("invalid_utf8", json.dumps({"byte": "0xEB", "position": "3"}), "invalid UTF-8: 0xEB at byte 3"),
        ("invalid_utf8", json.dumps({"byte": "0x81", "position": "12"}), "invalid UTF-8: 0x81 at byte 12"),
        (None, None, "a reason from a newer version"), ("field_count", json.dumps({"expected": 12, "found": 1}),
                                                        "expected 12 fields, found 1")]
    con = duckdb.connect()
    con.execute("CREATE TABLE q (reason_code VARCHAR, reason_values VARCHAR, reason VARCHAR)")
    con.executemany("INSERT INTO q VALUES (?, ?, ?)", rows)
    groups = con.execute(f"SELECT list(reason ORDER BY reason), min(reason_code), min(reason_values) FROM q "
                         f"GROUP BY reason_code, {kind_key_sql()}").fetchall()
    by_kind: dict[str, set] = {}
    for code, values, stored in rows:
        by_kind.setdefault(reason_kind(stored, code=code, values=values), set()).add(stored)
    assert sorted(sorted(g) for g, _, _ in groups) == sorted(sorted(v) for v in by_kind.values())
    assert {"invalid UTF-8: 0xEB at byte 3", "invalid UTF-8: 0x81 at byte 12"} in by_kind.values()


def test_a_workspace_from_before_reason_codes_shows_its_stored_english_and_gains_the_columns(tmp_path):
    """An older workspace's quarantine (no reason_code, reason_values): read-only it is counted and shown
    with the English as stored; a writable open adds the two columns, and new rejections carry codes."""
    from cvm.data import Workspace
    from cvm.health import data_health
    from cvm.web.lookups import quarantine_rows

    folder = tmp_path / "old"
    with Workspace.open(folder) as ws:  # make the tables, then put the quarantine back as it was
        ws.con.execute("DROP TABLE quarantine")
        ws.con.execute("CREATE TABLE quarantine (source VARCHAR, line BIGINT, raw VARCHAR, reason VARCHAR, "
                       "kind VARCHAR, ingested TIMESTAMP)")
        ws.con.execute("INSERT INTO quarantine VALUES ('a.csv', 3, 'K1;31-02-2024;1', "
                       "'unparseable date in column Datum: 31-02-2024', 'transactions', now())")
    with Workspace.open(folder, read_only=True) as ws:
        total, rows = quarantine_rows(ws.con)
        assert total == 1 and rows[0]["reason_code"] is None and rows[0]["reason_values"] is None
        assert quarantine_reason(rows[0]["reason"], "nl", code=rows[0]["reason_code"]) == \
            "unparseable date in column Datum: 31-02-2024"
        summary = data_health(ws)
        assert summary.figures["quarantine_by_kind"] == {"unparseable date in column Datum: 31-02-2024": 1}
    path = tmp_path / "new.csv"
    path.write_text("klant;datum;bedrag\nK1;01-03-2024;1,00\nK2;dag;2,00\n", encoding="utf-8")
    with Workspace.open(folder) as ws:
        ws.ingest(path)
        stored = ws.con.execute("SELECT reason, reason_code, reason_values FROM quarantine ORDER BY source").fetchall()
    assert stored == [("unparseable date in column Datum: 31-02-2024", None, None),
                      ("unparseable date in column datum: dag", "unparseable_date",
                       '{"column":"datum","value":"dag"}')]
