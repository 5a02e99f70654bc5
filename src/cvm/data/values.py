"""Reading values one by one: amounts, dates and ids, each decided on the evidence of its whole column.

A file's way of writing numbers and dates is not guessed once from its first lines. The
ingest looks at every value of a column (one SQL aggregate), decides how the column is
written, and then reads each value on its own: a value that the chosen reading cannot
parse, or that could mean two different things, goes to quarantine with a reason that
says so. Nothing is read as a different number or date than the one written.

Amounts
-------
Each text value is sorted into a *kind* (one SQL expression, :func:`amount_kind_sql`):

``n``  no decimal or thousands mark (``12``, ``-3``, ``1 234``): the same under any reading;
``c``  proves a decimal comma: only the comma-decimal reading parses it (``12,50``,
       ``1.234,56``, ``0,125``, ``1.234.567``, ``12,-``);
``d``  proves a decimal point (``12.5``, ``1,234.56``, ``1,234,567``);
``a.`` ``a,`` ambiguous: one mark followed by exactly three digits, after one to three
       digits (``1.234``, ``1,234``): a thousands group or three decimals;
``x``  not a number in either reading.

A thousands group always has exactly three digits, so ``12.5`` can never be a thousands
reading of 125. Spaces, no-break spaces (``1 234,56``, French) and apostrophes (``1'234.56``)
are thousands separators only. Currency signs (``€ $ £ ¥ EUR USD GBP``) before or after,
signs in front (``-``, ``+``, ``−``) or behind (``12,50-``) and accounting brackets
(``(12,50)``) are read around the number.

The column's decimal mark (:func:`decide_number_marks`), strongest evidence first:

1. the user's ``decimal`` option;
2. the values: only ``c`` values -> comma, only ``d`` values -> point. A column holding
   both is *mixed*: the larger group wins (a tie goes to the locale, then to ``;`` files'
   comma), the other group is quarantined ("has a decimal point where the column uses
   decimal commas"), and so are all ambiguous values;
3. without any proving value: the ``--locale`` (nl, de, fr: comma; en, us: point); else,
   in a ``;``-separated file (what Excel writes where the comma is the decimal mark), a
   decimal comma with the dot as thousands mark (``1.500`` is 1500); else a point.

An ambiguous value is read only when the decimal mark is certain: proven by the column
(without contradiction), given as ``decimal`` or ``--locale``, or — for ``1.500`` only — a
``;`` file. Otherwise it is quarantined as "ambiguous amount". Amounts are money: an
English file writes 1234 as ``1,234``, never ``1.234``, and a Dutch one never ``1,234``;
so ``1.500`` in a ``;`` file is 1500, while ``1,500`` in a ``;`` file stays ambiguous.

Dates
-----
The format family (ISO ``2024-01-31``, ``31-01-2024`` with ``-``, ``/`` or ``.``, the same with
two-digit years, ``20240131``, Excel serial numbers) is the one most values of a stratified
sample over the whole column follow (every k-th line, not the head). For day-month
families, whether the day or the month comes first is decided on *every* value:
a first number above 12 proves day-first, a second number above 12 month-first.

* only one proof occurs -> that order; no proof -> the ``--locale`` (us: month-first, the
  others day-first), else day-first in a ``;`` file; else each value whose day and month
  differ and are both 12 or less is quarantined as ambiguous;
* both proofs occur (a column mixing US and European dates) -> the larger group decides,
  values proving the other order and all ambiguous values are quarantined.

Two-digit years: ``yy`` is the latest year ending in those digits that is not after the
ingest year (ingesting in 2026: ``25`` is 2025, ``26`` is 2026, ``27`` is 1927, which is
then implausible). A year written with fewer than four digits in a four-digit column is
read the same way, never as year 0025.

Time zones: ISO times with an offset (``2024-01-31T23:30:00+01:00``, ``…Z``) and zone-aware
Parquet or frame columns are converted to the workspace's time zone (setting
``time_zone``, default Europe/Amsterdam), whatever the machine's zone. A text column
whose values mostly carry an offset is read as zoned; a value without one there (or with
one in a column of local times) is quarantined, since its moment is not known.

Plausible dates: a date before :data:`EARLIEST_DATE` (1950-01-01) is quarantined as
"implausible date": no export that feeds a customer-value model holds real purchases that
old, and such dates are placeholders (1899-12-30 is Excel's day 0, 1900-01-01 a common
"no date"), mistyped years or two-digit years in the wrong century. A date after the
ingest day (in the workspace's zone) is quarantined as "date in the future" — except
an invoice's due date, which may lie ahead.

Ids
---
Leading and trailing white space of any kind (no-break and other Unicode spaces, tabs,
zero-width characters, NUL padding) is trimmed, zero-width characters inside are removed
and Unicode spaces inside become a plain space: ``123\\xa0`` and ``123`` are one customer.
A control character *inside* an id (NUL, a tab or line break between two characters)
sends the row to quarantine ("control character in customer_id"): that is a damaged
export, and dropping the character could merge two customers. So no control character
is ever stored in an id.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping

from cvm.data.reasons import Reason
from cvm.data.validate import quote_literal, timestamp_sql
from cvm.errors import SchemaError

# ----------------------------------------------------------------------------- locales


@dataclass(frozen=True)
class Locale:
    """How a country writes amounts and dates."""

    decimal: str
    thousands: str
    day_first: bool


#: ``--locale`` values: en is British/international English (day-first), us is month-first
LOCALES: dict[str, Locale] = {
    "nl": Locale(",", ".", True),
    "de": Locale(",", ".", True),
    "fr": Locale(",", " ", True),
    "en": Locale(".", ",", True),
    "us": Locale(".", ",", False),
}


def check_locale(locale: str | None) -> Locale | None:
    """The :class:`Locale` of a ``--locale`` code (None for None); a clear error for an unknown one."""
    if locale is None:
        return None
    key = str(locale).strip().lower()
    if key not in LOCALES:
        raise SchemaError.coded("bad_locale", locale=locale, locales=", ".join(LOCALES))
    return LOCALES[key]


# ----------------------------------------------------------------------------- amounts

_WS = r"[\s\x{00A0}\x{202F}\x{2009}]*"
_GAP = r"[ \x{00A0}\x{202F}\x{2009}'\x{2019}]"  # thousands separators that are never a decimal mark
_GAP_CHARS = (" ", "\u00a0", "\u202f", "\u2009", "'", "\u2019")
_CURRENCY = r"(?:[€$£¥]|EUR|USD|GBP)"
#: a number with what may surround it; groups: 1 ``(``, 2-3 signs in front, 4 the number, 5 sign behind, 6 ``)``
_DECORATED = (rf"^{_WS}([(]?){_WS}([-+−]?){_WS}{_CURRENCY}?{_WS}([-+−]?){_WS}"
              rf"([0-9](?:[0-9.,]|{_GAP})*[0-9](?:,-)?|[0-9](?:,-)?|[.,][0-9]+)"
              rf"{_WS}{_CURRENCY}?{_WS}([-−]?){_WS}([)]?){_WS}$")
#: the number part read with a decimal comma (``.`` or a space groups thousands) and with a decimal point
_COMMA_READING = (rf"(?:[0-9]+|[1-9][0-9]{{0,2}}(?:\.[0-9]{{3}})+|[1-9][0-9]{{0,2}}(?:{_GAP}[0-9]{{3}})+)"
                  rf"(?:,[0-9]*|,-)?|,[0-9]+")
_POINT_READING = (rf"(?:[0-9]+|[1-9][0-9]{{0,2}}(?:,[0-9]{{3}})+|[1-9][0-9]{{0,2}}(?:{_GAP}[0-9]{{3}})+)"
                  rf"(?:\.[0-9]*)?|\.[0-9]+")
_SIGNS = ("", "+", "-", "−", "()")
_NEGATIVE = ("-", "−", "()")
KINDS = ("n", "c", "d", "a.", "a,", "x")


def _any_of(expr: str, options: Iterable[str]) -> str:
    # (an IN-list of constants can be planned as a join outside the CASE: plain ORs stay inside)
    return "(" + " OR ".join(f"{expr} = {quote_literal(o)}" for o in options) + ")"


def amount_text_sql(expr: str) -> str:
    """SQL giving the text of an amount ready for :func:`amount_kind_sql` (NULL when it is no number).

    A plain number (what a cast reads once the comma is taken for a point: ``12.50``,
    ``-3``, ``1,5``) stays as it is: two cheap tests and a cast, no regular expression.
    Anything else (currency, brackets, both marks, spaces) is matched once against the
    full pattern and rewritten to ``<signs>|<number>``, e.g. ``€ -1.234,56`` -> ``-|1.234,56``.
    """
    pattern = quote_literal(_DECORATED)
    return (f"CASE WHEN (NOT contains({expr}, ',') AND TRY_CAST({expr} AS DOUBLE) IS NOT NULL) "
            f"OR (NOT contains({expr}, '.') AND TRY_CAST(replace({expr}, ',', '.') AS DOUBLE) IS NOT NULL) "
            f"THEN {expr} "
            f"WHEN regexp_full_match({expr}, {pattern}) THEN regexp_replace({expr}, {pattern}, '\\1\\2\\3\\5\\6|\\4') END")


def amount_kind_sql(text: str) -> str:
    """SQL giving the kind of an amount (see the module notes) from :func:`amount_text_sql`'s output ``text``.

    Plain numbers are sorted by string tests; the regular expression that tells
    ``1.234`` from ``12.345`` runs only on values with exactly three digits after their mark.
    """
    signs, number = f"split_part({text}, '|', 1)", f"split_part({text}, '|', 2)"
    comma_ok = f"regexp_full_match({number}, {quote_literal(_COMMA_READING)})"
    point_ok = f"regexp_full_match({number}, {quote_literal(_POINT_READING)})"
    plain = (f"CASE WHEN NOT contains({text}, ',') AND NOT contains({text}, '.') THEN 'n' "
             f"WHEN NOT contains({text}, ',') THEN CASE WHEN strlen({text}) - strpos({text}, '.') = 3 "
             f"AND regexp_full_match({text}, '[-+]?[1-9][0-9]{{0,2}}[.][0-9]{{3}}') THEN 'a.' ELSE 'd' END "
             f"ELSE CASE WHEN strlen({text}) - strpos({text}, ',') = 3 "
             f"AND regexp_full_match({text}, '[-+]?[1-9][0-9]{{0,2}},[0-9]{{3}}') THEN 'a,' ELSE 'c' END END")
    return (f"CASE WHEN {text} IS NULL THEN 'x' WHEN NOT contains({text}, '|') THEN {plain} "
            f"WHEN NOT {_any_of(signs, _SIGNS)} THEN 'x' "
            f"WHEN {comma_ok} THEN CASE WHEN NOT {point_ok} THEN 'c' WHEN contains({number}, '.') THEN 'a.' "
            f"WHEN contains({number}, ',') THEN 'a,' ELSE 'n' END "
            f"WHEN {point_ok} THEN 'd' ELSE 'x' END")


@dataclass(frozen=True)
class NumberMarks:
    """How a column writes its amounts, and why (see the module notes)."""

    decimal: str
    thousands: str | None
    #: ``1.234`` may be read (as 1234 with a decimal comma, as 1.234 with a decimal point)
    dot_groups_certain: bool
    #: ``1,234`` may be read
    comma_groups_certain: bool
    #: the column holds values proving both marks
    mixed: bool = False
    evidence: str = ""

    @property
    def accepted_kinds(self) -> tuple[str, ...]:
        kinds = ["n", "c" if self.decimal == "," else "d"]
        if self.dot_groups_certain:
            kinds.append("a.")
        if self.comma_groups_certain:
            kinds.append("a,")
        return tuple(kinds)


def decide_number_marks(kinds: Mapping[str, int], *, locale: str | None = None, delimiter: str | None = None,
                        decimal: str | None = None, thousands: str | None = None) -> NumberMarks:
    """The column's decimal and thousands marks from the counts of each kind of value.

    Parameters
    ----------
    kinds
        Number of values of each kind (``c``, ``d``, ``a.``, ``a,`` …) in the column.
    locale
        The user's ``--locale``: decides when no value proves a mark.
    delimiter
        The file's delimiter: in a ``;`` file an unproven column reads ``1.500`` as 1500.
    decimal, thousands
        The user's explicit marks: they win over everything.

    Examples
    --------
    >>> decide_number_marks({"c": 2, "d": 1}).decimal     # 12,50 and 1.234,56 outvote 12.5
    ','
    >>> decide_number_marks({"a,": 5}).comma_groups_certain   # 1,234 alone stays ambiguous
    False
    """
    if decimal is not None:
        mark = ("." if decimal == "," else ",") if thousands is None else (thousands or None)
        return NumberMarks(decimal, mark, "." in (decimal, mark), "," in (decimal, mark), evidence="given")
    known = check_locale(locale)
    comma, point = int(kinds.get("c", 0)), int(kinds.get("d", 0))
    if comma and point:
        if comma != point:
            mark = "," if comma > point else "."
        elif known is not None:
            mark = known.decimal
        else:
            mark = "," if delimiter == ";" else "."
        return NumberMarks(mark, "." if mark == "," else ",", False, False, mixed=True,
                           evidence=f"mixed: {comma} value(s) with a decimal comma, {point} with a decimal point")
    if comma:
        return NumberMarks(",", ".", True, True, evidence="values")
    if point:
        return NumberMarks(".", ",", True, True, evidence="values")
    if known is not None:
        return NumberMarks(known.decimal, "." if known.decimal == "," else ",", True, True, evidence="locale")
    if delimiter == ";":
        return NumberMarks(",", ".", True, False, evidence="delimiter")
    return NumberMarks(".", None, False, False, evidence="none")


def amount_value_sql(text: str, kind: str, marks: NumberMarks) -> str:
    """SQL giving the DOUBLE of an amount (NULL unless its kind fits ``marks``).

    ``text`` and ``kind`` are column references holding :func:`amount_text_sql` and
    :func:`amount_kind_sql`. The reading removes the thousands mark and turns the decimal
    mark into a point; the decorated form carries its sign apart.
    """
    from cvm.data.validate import number_sql

    fits = _any_of(kind, marks.accepted_kinds)
    signs = f"split_part({text}, '|', 1)"
    number = f"split_part({text}, '|', 2)"
    for gap in _GAP_CHARS:
        number = f"replace({number}, {quote_literal(gap)}, '')"
    number = f"replace({number}, ',-', '')"
    sign = f"CASE WHEN {_any_of(signs, _NEGATIVE)} THEN -1 ELSE 1 END"
    # a plain text holds at most one kind of mark (see amount_text_sql): only that one is swapped or removed
    other = "." if marks.decimal == "," else ","
    plain = (f"TRY_CAST(CASE WHEN contains({text}, {quote_literal(other)}) THEN replace({text}, {quote_literal(other)}, '') "
             + (f"WHEN contains({text}, ',') THEN replace({text}, ',', '.') " if marks.decimal == "," else "")
             + f"ELSE {text} END AS DOUBLE)")
    return (f"CASE WHEN {fits} THEN CASE WHEN contains({text}, '|') THEN {sign} * "
            f"{number_sql(number, marks.decimal, marks.thousands)} ELSE {plain} END END")


def amount_checks(kind: str, marks: NumberMarks, field: str, column: str, cell: str) -> list[tuple[str, Reason]]:
    """(condition, reason) pairs for the amounts ``marks`` cannot read; to go before the "non-numeric" check."""
    label = quote_literal(column)
    shown = f"CAST({cell} AS VARCHAR)"
    checks = []
    ambiguous = [k for k in ("a.", "a,") if k not in marks.accepted_kinds]
    if ambiguous:
        checks.append((_any_of(kind, ambiguous),
                       Reason("ambiguous_number", field=quote_literal(field), column=label, value=shown)))
    if marks.decimal == ",":
        checks.append((f"{kind} = 'd'", Reason("decimal_point", field=quote_literal(field), column=label, value=shown)))
    else:
        checks.append((f"{kind} = 'c'", Reason("decimal_comma", field=quote_literal(field), column=label, value=shown)))
    return checks


# ----------------------------------------------------------------------------- dates

#: dates before this are implausible in an export (placeholders, mistyped years; see the module notes)
EARLIEST_DATE = dt.date(1950, 1, 1)

#: recognised shapes, tried in order: (pattern, strftime format or ``excel``)
DATE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^\d{4}-\d{1,2}-\d{1,2}"), "%Y-%m-%d"),
    (re.compile(r"^\d{4}/\d{1,2}/\d{1,2}"), "%Y/%m/%d"),
    (re.compile(r"^\d{1,2}-\d{1,2}-\d{4}"), "%d-%m-%Y"),
    (re.compile(r"^\d{1,2}/\d{1,2}/\d{4}"), "%d/%m/%Y"),
    (re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}"), "%d.%m.%Y"),
    (re.compile(r"^\d{1,2}-\d{1,2}-\d{2}(?!\d)"), "%d-%m-%y"),
    (re.compile(r"^\d{1,2}/\d{1,2}/\d{2}(?!\d)"), "%d/%m/%y"),
    (re.compile(r"^\d{1,2}\.\d{1,2}\.\d{2}(?!\d)"), "%d.%m.%y"),
    (re.compile(r"^(19|20)\d{6}$"), "%Y%m%d"),
    (re.compile(r"^\d{5}(\.\d+)?$"), "excel"),
]
_OFFSET = re.compile(r"(Z|UTC|[+-]\d{2}(:?\d{2})?)$")


def date_shape(text: str) -> str | None:
    """The format of one date text (``%d-%m-%Y`` …, ``excel``), or None when it has no known shape."""
    text = str(text).strip()
    for pattern, fmt in DATE_PATTERNS:
        if pattern.match(text):
            return fmt
    return None


def _family(fmt: str) -> str:
    """Formats that differ only in the year's width or the day-month order are one family."""
    fmt = fmt.replace("%y", "%Y")
    if fmt.startswith("%m"):
        fmt = fmt.replace("%m", "%X").replace("%d", "%m").replace("%X", "%d")
    return fmt


def has_offset(text: str) -> bool:
    """True when an ISO time carries its offset from UTC (``Z``, ``+01:00``, ``-05``)."""
    text = str(text).strip()
    return len(text) > 16 and bool(_OFFSET.search(text))


@dataclass(frozen=True)
class DateEvidence:
    """What a column's values say about their format: shapes of a sample, order proofs of all values."""

    shapes: Mapping[str, int]
    offsets: int = 0
    day_first: int = 0  # values whose first number is above 12 (and the second a month)
    month_first: int = 0  # values whose second number is above 12 (and the first a month)


@dataclass(frozen=True)
class DateReading:
    """How a column writes its dates (see the module notes)."""

    format: str | None
    #: ``dm`` day-first, ``md`` month-first, None when the format has no day-month question
    order: str | None = None
    #: day and month both 12 or less (and different) cannot be read: no order is certain
    ambiguous: bool = False
    #: values proving day-first and month-first both occur
    mixed: bool = False
    #: the column's times carry offsets from UTC
    zoned: bool = False
    given: bool = False
    evidence: str = ""

    @property
    def separator(self) -> str | None:
        if self.format and self.format.startswith(("%d", "%m")):
            return self.format[2]
        return None


def date_evidence(values: Iterable[str]) -> DateEvidence:
    """The evidence of a list of date texts (all of it computed in Python; for samples and tests)."""
    shapes: Counter[str] = Counter()
    offsets = day_first = month_first = 0
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        fmt = date_shape(text)
        if fmt is None:
            continue
        shapes[fmt] += 1
        if fmt == "%Y-%m-%d" and has_offset(text):
            offsets += 1
        if fmt.startswith("%d"):
            first, second = (int(p) for p in re.split(r"[-/.]", text[:10])[:2])
            day_first += first > 12 and 1 <= second <= 12
            month_first += second > 12 and 1 <= first <= 12
    return DateEvidence(shapes, offsets, day_first, month_first)


def decide_date_reading(evidence: DateEvidence, *, locale: str | None = None, delimiter: str | None = None,
                        date_format: str | None = None) -> DateReading:
    """The column's date format from its evidence (see the module notes for the order of the rules).

    Examples
    --------
    >>> decide_date_reading(DateEvidence({"%d/%m/%Y": 30}, month_first=4)).format
    '%m/%d/%Y'
    >>> decide_date_reading(DateEvidence({"%d/%m/%Y": 30})).ambiguous      # nothing proves the order
    True
    """
    if date_format:
        return DateReading(date_format, given=True, evidence="given")
    if not evidence.shapes:
        return DateReading(None, evidence="none")
    families: Counter[str] = Counter()
    for fmt, n in evidence.shapes.items():
        families[_family(fmt)] += n
    family = families.most_common(1)[0][0]
    widths = Counter({fmt: n for fmt, n in evidence.shapes.items() if _family(fmt) == family})
    fmt = widths.most_common(1)[0][0]
    if family == "%Y-%m-%d":
        zoned = evidence.offsets * 2 > evidence.shapes.get("%Y-%m-%d", 0)
        return DateReading(fmt, zoned=zoned, evidence="values")
    if not family.startswith("%d"):
        return DateReading(fmt, evidence="values")
    known = check_locale(locale)
    day, month = evidence.day_first, evidence.month_first
    ambiguous = mixed = False
    if day and month:
        mixed = ambiguous = True
        if day != month:
            order = "dm" if day > month else "md"
        else:
            order = "md" if known is not None and not known.day_first else "dm"
        why = f"mixed: {day} date(s) prove day-first, {month} month-first"
    elif day or month:
        order, why = ("dm" if day else "md"), "values"
    elif known is not None:
        order, why = ("dm" if known.day_first else "md"), "locale"
    elif delimiter == ";":
        order, why = "dm", "delimiter"
    else:
        order, why, ambiguous = "dm", "none", True
    if order == "md":
        fmt = fmt.replace("%d", "%X").replace("%m", "%d").replace("%X", "%m")
    return DateReading(fmt, order=order, ambiguous=ambiguous, mixed=mixed, evidence=why)


def offset_sql(expr: str) -> str:
    """SQL that is true when an ISO time text carries an offset (cheap tests on its last characters)."""
    tail = f"right({expr}, 6)"
    return (f"(strlen({expr}) > 16 AND (suffix({expr}, 'Z') OR suffix({expr}, 'UTC') OR contains({tail}, '+') "
            f"OR contains({tail}, '-')))")


def order_numbers_sql(expr: str, separator: str) -> tuple[str, str]:
    """SQL for the first and second number of a day-month date (NULL when not a number)."""
    sep = quote_literal(separator)
    return (f"TRY_CAST(split_part({expr}, {sep}, 1) AS INTEGER)", f"TRY_CAST(split_part({expr}, {sep}, 2) AS INTEGER)")


def two_digit_year_sql(ts: str, ingest_year: int) -> str:
    """Move a timestamp read from a two-digit year into the century window ending at ``ingest_year``."""
    return (f"CASE WHEN year({ts}) > {int(ingest_year)} THEN {ts} - INTERVAL 100 YEAR "
            f"WHEN year({ts}) <= {int(ingest_year) - 100} THEN {ts} + INTERVAL 100 YEAR ELSE {ts} END")


def date_value_sql(expr: str, reading: DateReading, time_zone: str, ingest_year: int) -> str:
    """SQL turning a date text into a TIMESTAMP in the workspace's time zone (NULL if the reading cannot parse it)."""
    fmt = reading.format
    if fmt is None or fmt == "excel":
        return timestamp_sql(expr, fmt)
    if fmt.startswith("%Y-%m-%d") and not reading.given:
        if reading.zoned:
            return (f"CASE WHEN {offset_sql(expr)} THEN "
                    f"timezone({quote_literal(time_zone)}, TRY_CAST(trim({expr}) AS TIMESTAMPTZ)) END")
        return timestamp_sql(expr, fmt)
    sep = reading.separator
    if sep is None or reading.given:
        value = timestamp_sql(expr, fmt)
        if "%y" in fmt:
            value = f"({two_digit_year_sql(value, ingest_year)})"
        return value
    long_year, short_year = fmt.replace("%y", "%Y"), fmt.replace("%Y", "%y")
    year = f"split_part(split_part(split_part(trim({expr}), ' ', 1), 'T', 1), {quote_literal(sep)}, 3)"
    return (f"CASE WHEN strlen({year}) = 2 THEN {two_digit_year_sql(timestamp_sql(expr, short_year), ingest_year)} "
            f"ELSE {timestamp_sql(expr, long_year)} END")


def date_checks(expr: str, value: str, reading: DateReading, column: str) -> list[tuple[str, Reason]]:
    """(condition, reason) pairs for dates ``reading`` must not read; to go before the "unparseable" check.

    ``expr`` is the cell, ``value`` refers to its parsed timestamp (:func:`date_value_sql`).
    """
    label = quote_literal(column)
    shown = f"CAST({expr} AS VARCHAR)"
    checks: list[tuple[str, Reason]] = []
    if reading.given or reading.format is None:
        return checks
    if reading.format.startswith("%Y-%m-%d"):
        if reading.zoned:
            checks.append((f"{expr} IS NOT NULL AND NOT {offset_sql(expr)}",
                           Reason("no_zone", column=label, value=shown)))
        else:
            # (the local reading leaves them NULL; CASE, unlike AND, keeps the test off every other row)
            checks.append((f"CASE WHEN {value} IS NULL THEN {offset_sql(expr)} ELSE false END",
                           Reason("zone_in_local_times", column=label, value=shown)))
    sep = reading.separator
    if sep and reading.order:
        first, second = order_numbers_sql(f"trim({expr})", sep)
        if reading.mixed:
            proof = f"{second} BETWEEN 13 AND 31 AND {first} BETWEEN 1 AND 12" if reading.order == "dm" else \
                f"{first} BETWEEN 13 AND 31 AND {second} BETWEEN 1 AND 12"
            code = "month_first_date" if reading.order == "dm" else "day_first_date"
            checks.append((proof, Reason(code, column=label, value=shown)))
        if reading.ambiguous:
            checks.append((f"{first} BETWEEN 1 AND 12 AND {second} BETWEEN 1 AND 12 AND {first} <> {second}",
                           Reason("ambiguous_date", column=label, value=shown)))
    return checks


def plausibility_checks(value: str, expr: str, column: str, today: dt.date, future_allowed: bool = False
                        ) -> list[tuple[str, Reason]]:
    """(condition, reason) pairs for parsed dates before :data:`EARLIEST_DATE` or after ``today``."""
    label = quote_literal(column)
    shown = f"CAST({expr} AS VARCHAR)"
    checks = [(f"{value} < TIMESTAMP '{EARLIEST_DATE.isoformat()}'",
               Reason("implausible_date", column=label, year=str(EARLIEST_DATE.year), value=shown))]
    if not future_allowed:
        tomorrow = today + dt.timedelta(days=1)
        checks.append((f"{value} >= TIMESTAMP '{tomorrow.isoformat()}'",
                       Reason("future_date", column=label, value=shown)))
    return checks


# ----------------------------------------------------------------------------- ids

#: white space and invisible characters trimmed from both ends of an id (with control characters)
_ID_EDGE = r"[\s\x00-\x1f\x7f-\x9f\x{00A0}\x{1680}\x{2000}-\x{200D}\x{2028}\x{2029}\x{202F}\x{205F}\x{2060}\x{3000}\x{FEFF}]"
_ID_INVISIBLE = r"[\x{200B}-\x{200D}\x{2060}\x{FEFF}]"
_ID_SPACE = r"[\x{00A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]"
_ID_CONTROL = r"[\x00-\x1f\x7f-\x9f]"


def id_guard_sql(expr: str) -> str:
    """SQL that is true when an id holds anything but printable ASCII (a character outside ``' '``-``'~'``).

    A ``GLOB`` character class is DuckDB's cheapest test of this (no regular expression, no
    new string per row): about a third less time on 2.8 M rows than ``url_encode`` as a
    guard of a regular expression.
    """
    return f"({expr} GLOB '*[! -~]*')"


def id_sql(expr: str, guard: str) -> str:
    """SQL giving an id without surrounding white space or invisible characters (NULL when nothing is left).

    ``guard`` refers to :func:`id_guard_sql` of the same cell: plain printable ASCII
    (nearly every id) passes as it is; only the others are rewritten. Control
    characters inside remain, for :func:`id_checks`.
    """
    edge = quote_literal(f"^{_ID_EDGE}+|{_ID_EDGE}+$")
    cleaned = f"regexp_replace({expr}, {edge}, '', 'g')"
    cleaned = f"regexp_replace({cleaned}, {quote_literal(_ID_INVISIBLE)}, '', 'g')"
    cleaned = f"regexp_replace({cleaned}, {quote_literal(_ID_SPACE)}, ' ', 'g')"
    return f"CASE WHEN {guard} THEN nullif({cleaned}, '') ELSE {expr} END"


def id_checks(value: str, guard: str, field: str, column: str) -> list[tuple[str, Reason]]:
    """(condition, reason) for an id that still holds a control character (shown as U+FFFD in the reason)."""
    control = quote_literal(_ID_CONTROL)
    shown = f"regexp_replace({value}, {control}, '\ufffd', 'g')"
    return [(f"CASE WHEN {guard} THEN regexp_matches({value}, {control}) ELSE false END",
             Reason("control_character", field=quote_literal(field), column=quote_literal(column), value=shown))]


# ----------------------------------------------------------------------------- a file's columns

#: date fields that may lie after the ingest day
FUTURE_ALLOWED = frozenset({"due"})
#: values of a date column sampled (stratified over the whole column) to find its format
DATE_SAMPLE = 20_000


def sample_values(con, src, table: str, column: str, limit: int) -> list[str]:
    """Up to about ``limit`` non-empty values of a column of the staged ``table``, stratified over the whole source.

    Every k-th line (k = rows / ``limit``), so a file sorted by date or by customer shows
    its end as well as its head. ``src`` is the :class:`cvm.data.readers.Source` staged as ``table``.
    """
    expr = f"CAST({src.column_sql[column]} AS VARCHAR)"
    total = src.rows_expected
    if total is None:
        total = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    step = max(1, -(-int(total) // max(1, int(limit))))
    # the cheap line test first: the blank test and the cell are evaluated on the chosen lines only
    rows = con.execute(
        f"SELECT {expr} FROM (SELECT * FROM {table} WHERE ({src.line_sql}) % {step} = 0) "
        f"WHERE NOT {src.blank_sql} AND {expr} IS NOT NULL ORDER BY {src.line_sql} LIMIT {int(limit)}").fetchall()
    return [r[0] for r in rows]


def read_columns(con, src, table: str, fields, found: Mapping[str, str], *, decimal: str | None = None,
                 thousands: str | None = None, date_format: str | None = None, locale: str | None = None
                 ) -> tuple[dict[str, NumberMarks], dict[str, DateReading]]:
    """Decide how each text number and date column of a staged source (``src``, staged as ``table``) is written.

    One stratified sample per date column finds its format family; then one aggregate
    over every row counts, per number column, the values of each kind and, per day-month
    date column, the values proving day-first and month-first.

    Returns
    -------
    (numbers, dates)
        target field -> :class:`NumberMarks`, and target field -> :class:`DateReading`.
    """
    if decimal is None and thousands in (".", ","):
        decimal = "," if thousands == "." else "."
    if decimal is not None and thousands is not None and thousands == decimal:
        raise SchemaError.coded("same_separators")
    delimiter = src.detected.get("delimiter")
    text = [f for f in fields if f.name in found and src.column_types[found[f.name]].upper() == "VARCHAR"]
    number_fields = [f.name for f in text if f.type == "number"]
    date_fields = [f.name for f in text if f.type == "timestamp"]
    first: dict[str, DateReading] = {}
    for name in date_fields:
        if date_format:
            first[name] = decide_date_reading(DateEvidence({}), date_format=date_format)
        else:
            sample = sample_values(con, src, table, found[name], DATE_SAMPLE)
            first[name] = decide_date_reading(date_evidence(sample), locale=locale, delimiter=delimiter)
    ordered = [n for n in date_fields if first[n].separator and not first[n].given]
    aggregates: list[str] = []
    inner: list[str] = []
    outer: list[str] = []
    for i, name in enumerate(number_fields):
        inner.append(f"{amount_text_sql(src.column_sql[found[name]])} AS _t{i}")
        outer.append(f"{amount_kind_sql(f'_t{i}')} AS _k{i}")
        aggregates += [f"count(*) FILTER (WHERE _k{i} = {quote_literal(k)})" for k in KINDS]
    for j, name in enumerate(ordered):
        a, b = order_numbers_sql(f"trim({src.column_sql[found[name]]})", first[name].separator)
        inner.append(f"{a} AS _a{j}, {b} AS _b{j}")
        outer.append(f"_a{j}, _b{j}")
        aggregates += [f"count(*) FILTER (WHERE _a{j} BETWEEN 13 AND 31 AND _b{j} BETWEEN 1 AND 12)",
                       f"count(*) FILTER (WHERE _b{j} BETWEEN 13 AND 31 AND _a{j} BETWEEN 1 AND 12)"]
    counts: list[int] = []
    if aggregates:
        # Blank rows hold only empty cells, which prove nothing; where blank is a stored flag (title and
        # header lines of the line-exact path are flagged blank) it is used, the fast path's test over
        # every field is not worth its cost here.
        where = f"WHERE NOT {src.blank_sql}" if src.blank_sql == "_blank" else ""
        counts = list(con.execute(
            f"SELECT {', '.join(aggregates)} FROM (SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} "
            f"FROM {table} {where}))").fetchall()[0])
    per_column = {name: dict(zip(KINDS, counts[i * len(KINDS):(i + 1) * len(KINDS)]))
                  for i, name in enumerate(number_fields)}
    whole_file: Counter[str] = Counter()
    for found_kinds in per_column.values():
        whole_file.update(found_kinds)
    numbers = {}
    for name, found_kinds in per_column.items():
        proven = found_kinds["c"] or found_kinds["d"]
        numbers[name] = decide_number_marks(found_kinds if proven else whole_file, locale=locale,
                                            delimiter=delimiter, decimal=decimal, thousands=thousands)
    offset = len(number_fields) * len(KINDS)
    dates = dict(first)
    for j, name in enumerate(ordered):
        sample = first[name]
        day, month = counts[offset + 2 * j], counts[offset + 2 * j + 1]
        family = sample.format.replace("%m", "%X").replace("%d", "%m").replace("%X", "%d") \
            if sample.order == "md" else sample.format
        dates[name] = decide_date_reading(DateEvidence({family: 1}, day_first=day, month_first=month),
                                          locale=locale, delimiter=delimiter)
    return numbers, dates
