"""Property tests of the amount and date readers (cvm.data.values), through the real ingest.

Any amount written the way nl, de, fr, en or us exports write it — with or without
thousands marks, currency signs before or after, a sign in front, behind or as
accounting brackets — is read back as itself or quarantined as ambiguous: never as a
different number. The same for dates in each country's order, with two- or four-digit
years. The expected value is the number or date the text was made from (plain Python
formatting below), not anything cvm computed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cvm.data import Workspace
from cvm.data import values as values_

STYLES = ("nl", "de", "fr", "en", "us")
#: the delimiter each country's Excel writes (a ; file is read the European way when nothing else says)
DELIMITER = {"nl": ";", "de": ";", "fr": ";", "en": ",", "us": ","}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("properties") / "ws")
    yield ws
    ws.close()


def _ingest(ws, folder, header, rows, delimiter, locale):
    """Write ``rows`` as a CSV with ``delimiter`` (quoting where needed) and ingest it into an empty workspace."""
    ws.con.execute("DELETE FROM transactions; DELETE FROM quarantine")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = folder / "x.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    report = ws.ingest(path, locale=locale)
    stored = dict(ws.con.execute("SELECT line, amount FROM transactions").fetchall())
    dates = dict(ws.con.execute("SELECT line, ts FROM transactions").fetchall())
    reasons = dict(ws.con.execute("SELECT line, reason FROM quarantine").fetchall())
    assert report.rows_read == len(rows) == len(stored) + len(reasons)
    return stored, dates, reasons


# ----------------------------------------------------------------------------- amounts

def write_amount(cents: int, style: str, grouped: bool, whole: bool, currency: str, after: bool,
                 negative_as: str) -> str:
    """An amount as a country's export writes it (plain Python, the test's own reference)."""
    units, rest = divmod(abs(cents), 100)
    digits = str(units)
    if grouped:
        mark = {"nl": ".", "de": ".", "fr": "\u202f", "en": ",", "us": ","}[style]
        groups = []
        while len(digits) > 3:
            digits, tail = digits[:-3], digits[-3:]
            groups.insert(0, tail)
        digits = mark.join([digits, *groups])
    decimal = "," if style in ("nl", "de", "fr") else "."
    text = digits if whole else f"{digits}{decimal}{rest:02d}"
    if currency:
        text = f"{text} {currency}" if after else f"{currency} {text}"
    if cents < 0:
        text = {"front": f"-{text}", "behind": f"{text}-", "brackets": f"({text})", "minus": f"\u2212{text}"}[negative_as]
    return text


@st.composite
def amount_column(draw, proof: bool = False):
    """A column of one to five amounts written in one country's style (the first with cents if ``proof``)."""
    style = draw(st.sampled_from(STYLES))
    grouped = draw(st.booleans())
    currency = draw(st.sampled_from(["", "€", "$", "EUR", "USD", "£"]))
    after = draw(st.booleans())
    negative_as = draw(st.sampled_from(["front", "behind", "brackets", "minus"]))
    values = []
    for i in range(draw(st.integers(1, 5))):
        cents = draw(st.integers(-10**11, 10**11))
        whole = draw(st.booleans()) and not (proof and i == 0)
        if whole:
            cents = int(math.copysign(abs(cents) // 100 * 100, cents))
        values.append((cents, write_amount(cents, style, grouped, whole, currency, after, negative_as)))
    return style, values


def _check_amounts(stored, reasons, values, allowed):
    for i, (cents, _text) in enumerate(values):
        line = i + 2
        if line in stored:
            assert math.isclose(stored[line], cents / 100, rel_tol=1e-12, abs_tol=1e-9), (values[i], stored[line])
        else:
            assert reasons[line].startswith(allowed), (values[i], reasons[line])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=amount_column(), with_locale=st.booleans(), native_delimiter=st.booleans())
def test_any_amount_reads_back_as_itself_or_is_ambiguous(workspace, tmp_path, column, with_locale, native_delimiter):
    style, values = column
    # the delimiter of the country's Excel, or the other one when the locale says how to read the file
    delimiter = DELIMITER[style] if native_delimiter or not with_locale else {";": ",", ",": ";"}[DELIMITER[style]]
    rows = [[f"k{i}", "2024-01-01", text] for i, (_c, text) in enumerate(values)]
    stored, _dates, reasons = _ingest(workspace, tmp_path, ["klant", "datum", "bedrag"], rows, delimiter,
                                      style if with_locale else None)
    _check_amounts(stored, reasons, values, ("ambiguous amount",))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=amount_column(proof=True), second=amount_column(proof=True), delimiter=st.sampled_from([";", ","]))
def test_a_column_proving_both_marks_never_gives_a_different_number(workspace, tmp_path, first, second, delimiter):
    # each country's part holds a value with cents, so a comma country next to a point country proves both
    # marks: the column is mixed, and only values that cannot mean anything else are read
    values = first[1] + second[1]
    rows = [[f"k{i}", "2024-01-01", text] for i, (_c, text) in enumerate(values)]
    stored, _dates, reasons = _ingest(workspace, tmp_path, ["klant", "datum", "bedrag"], rows, delimiter, None)
    _check_amounts(stored, reasons, values, ("ambiguous amount", "amount in column bedrag has a decimal"))


# ----------------------------------------------------------------------------- dates

def write_date(day: dt.date, style: str, short_year: bool, padded: bool) -> str:
    year = f"{day.year % 100:02d}" if short_year else f"{day.year:04d}"
    d, m = (f"{day.day:02d}", f"{day.month:02d}") if padded else (str(day.day), str(day.month))
    if style == "iso":
        return day.isoformat()
    sep = {"nl": "-", "de": ".", "fr": "/", "en": "/", "us": "/"}[style]
    return sep.join([m, d, year] if style == "us" else [d, m, year])


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/Amsterdam")).date()


@st.composite
def date_column(draw):
    style = draw(st.sampled_from((*STYLES, "iso")))
    padded = draw(st.booleans())
    days = draw(st.lists(st.dates(values_.EARLIEST_DATE, _today()), min_size=1, max_size=6))
    short = [draw(st.booleans()) for _ in days]
    return style, [(d, write_date(d, style, s, padded)) for d, s in zip(days, short)]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=date_column(), with_locale=st.booleans())
def test_any_date_reads_back_as_itself_or_is_ambiguous(workspace, tmp_path, column, with_locale):
    style, values = column
    assume(not (style == "iso" and with_locale))
    delimiter = DELIMITER.get(style, ",")
    rows = [[f"k{i}", text, "1"] for i, (_d, text) in enumerate(values)]
    _stored, dates, reasons = _ingest(workspace, tmp_path, ["klant", "datum", "bedrag"], rows, delimiter,
                                      style if with_locale and style != "iso" else None)
    for i, (day, text) in enumerate(values):
        line = i + 2
        if line in dates:
            assert dates[line] == dt.datetime(day.year, day.month, day.day), (text, dates[line])
        else:
            assert reasons[line].startswith("ambiguous date"), (text, reasons[line])


# ----------------------------------------------------------------------------- the decisions themselves

def test_marks_decision_rules():
    decide = values_.decide_number_marks
    assert decide({"c": 2, "d": 1}).decimal == "," and decide({"c": 2, "d": 1}).mixed
    assert decide({"c": 1, "d": 1}, delimiter=";").decimal == ","
    assert decide({"c": 1, "d": 1}, locale="us").decimal == "."
    assert decide({"a.": 3}, delimiter=";").accepted_kinds == ("n", "c", "a.")  # 1.500 is 1500 in a ; file
    assert decide({"a,": 3}, delimiter=";").accepted_kinds == ("n", "c", "a.")  # 1,500 stays ambiguous
    assert decide({"a,": 3}).accepted_kinds == ("n", "d")
    assert decide({"a,": 3}, locale="en").accepted_kinds == ("n", "d", "a.", "a,")
    assert decide({"d": 5}, locale="nl").decimal == "."  # the values prove the point; the locale only fills gaps
    assert decide({}, decimal=",", thousands="").accepted_kinds == ("n", "c", "a,")


def test_two_digit_year_pivot():
    year = _today().year
    assert values_.decide_date_reading(values_.date_evidence(["1-2-24"])).format == "%d-%m-%y"
    import duckdb

    with duckdb.connect() as con:
        got = con.execute(f"SELECT {values_.two_digit_year_sql('x', year)} FROM (SELECT unnest(?::TIMESTAMP[]) AS x)",
                          [[dt.datetime(2000 + (year % 100), 1, 1), dt.datetime(2000 + (year % 100) + 1, 1, 1),
                            dt.datetime(1999, 1, 1)]]).fetchall()
    assert [r[0].year for r in got] == [year, year - 99, 1999]
