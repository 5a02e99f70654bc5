"""Quarantine reasons in the reader's language, and grouped by kind.

The ingest stores each rejected row's reason as an English sentence (``quarantine.reason``),
for example ``unparseable date in column Datum: 31-02-2024``. The faces show it in the
reader's language and count rejections per *kind* of reason (the sentence without the
offending value), so a report says "412 rows: unparseable date in column Datum" instead of
412 lines that differ only in the date.

Examples
--------
>>> quarantine_reason("unparseable date in column Datum: 31-02-2024", "nl")
'onleesbare datum in kolom Datum: 31-02-2024'
>>> reason_kind("unparseable date in column Datum: 31-02-2024")
'unparseable date in column Datum'
>>> reason_kind("non-numeric amount in column Bedrag: tien", "nl")
'geen getal voor amount in kolom Bedrag'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class _Reason:
    pattern: re.Pattern
    #: Dutch sentence: {g1}.. the groups as stored, {f1}.. the same through the field labeller
    dutch: str
    #: how many leading groups name the kind (the rest is the offending value)
    kind_groups: int


_REASONS = (
    _Reason(re.compile(r"^non-numeric (\w+) in column (.+?): (.*)$", re.S), "geen getal voor {f1} in kolom {g2}: {g3}", 2),
    _Reason(re.compile(r"^missing (\w+): column (.+) is empty$", re.S), "{f1} ontbreekt: kolom {g2} is leeg", 2),
    _Reason(re.compile(r"^unparseable date in column (.+?): (.*)$", re.S), "onleesbare datum in kolom {g1}: {g2}", 1),
    _Reason(re.compile(r"^ambiguous date in column (.+?) \(day-first or month-first\?\): (.*)$", re.S),
            "dubbelzinnige datum in kolom {g1} (dag of maand eerst?): {g2}", 1),
    _Reason(re.compile(r"^ambiguous (\w+) in column (.+?): (.*)$", re.S), "dubbelzinnig getal voor {f1} in kolom {g2}: {g3}", 2),
    _Reason(re.compile(r"^(\w+) in column (.+?) has a decimal point where the column uses decimal commas: (.*)$", re.S),
            "{f1} in kolom {g2} heeft een decimale punt, de kolom decimale komma's: {g3}", 2),
    _Reason(re.compile(r"^(\w+) in column (.+?) has a decimal comma where the column uses decimal points: (.*)$", re.S),
            "{f1} in kolom {g2} heeft een decimale komma, de kolom decimale punten: {g3}", 2),
    _Reason(re.compile(r"^month-first date in day-first column (.+?): (.*)$", re.S),
            "datum met de maand eerst in kolom {g1}, waarin de dag eerst staat: {g2}", 1),
    _Reason(re.compile(r"^day-first date in month-first column (.+?): (.*)$", re.S),
            "datum met de dag eerst in kolom {g1}, waarin de maand eerst staat: {g2}", 1),
    _Reason(re.compile(r"^implausible date in column (.+?) \(before (\d+)\): (.*)$", re.S),
            "onwaarschijnlijke datum in kolom {g1} (vóór {g2}): {g3}", 2),
    _Reason(re.compile(r"^date in the future in column (.+?): (.*)$", re.S), "datum in de toekomst in kolom {g1}: {g2}", 1),
    _Reason(re.compile(r"^time with a zone offset in column (.+?) of local times: (.*)$", re.S),
            "tijd met een tijdzone in kolom {g1} met lokale tijden: {g2}", 1),
    _Reason(re.compile(r"^time without a zone in column (.+?), whose times carry one: (.*)$", re.S),
            "tijd zonder tijdzone in kolom {g1}, waarin de tijden een tijdzone hebben: {g2}", 1),
    _Reason(re.compile(r"^control character in (\w+) in column (.+?): (.*)$", re.S),
            "stuurteken in {f1} in kolom {g2}: {g3}", 2),
    _Reason(re.compile(r"^totals row \(not a transaction\)$"), "totaalregel (geen transactie)", 0),
    _Reason(re.compile(r"^expected (\d+) fields, found (\d+)$"), "{g1} velden verwacht, {g2} gevonden", 2),
    _Reason(re.compile(r"^invalid UTF-8: (0x[0-9A-F]{2}) at byte (\d+)$"), "ongeldige UTF-8: {g1} op byte {g2}", 0),
    _Reason(re.compile(r'^unclosed quote: the line opens a field with " that is never closed$'),
            'aanhalingsteken niet gesloten: de regel opent een veld met " dat nergens wordt gesloten', 0),
)


def _match(reason: str):
    for known in _REASONS:
        found = known.pattern.match(reason)
        if found:
            return known, found
    return None, None


def _render(known: _Reason, groups: tuple[str, ...], language: str, label: Callable[[str], str] | None) -> str:
    values = {f"g{i + 1}": g for i, g in enumerate(groups)}
    values.update({f"f{i + 1}": (label or str)(g) for i, g in enumerate(groups)})
    return known.dutch.format(**values)


def quarantine_reason(reason: str | None, language: str, label: Callable[[str], str] | None = None) -> str | None:
    """A stored quarantine reason in ``language`` (``en`` as stored, ``nl`` translated).

    ``label`` turns a field name (``amount``, ``customer_id``) into the reader's word for it;
    reasons this version does not know are returned as stored.
    """
    if not reason or language != "nl":
        return reason
    known, found = _match(reason)
    return reason if known is None else _render(known, found.groups(), language, label)


def reason_kind(reason: str | None, language: str = "en", label: Callable[[str], str] | None = None) -> str | None:
    """The reason without the offending value, in ``language``: what a count of rejections is grouped by."""
    if not reason:
        return reason
    known, found = _match(reason)
    if known is None or known.kind_groups == len(found.groups()):
        return quarantine_reason(reason, language, label)
    if language != "nl":
        return reason[:found.start(known.kind_groups + 1)].rstrip(": ").rstrip()
    # the value groups become a marker, and the sentence is cut where the first one begins
    groups = found.groups()[:known.kind_groups] + ("\x00",) * (len(found.groups()) - known.kind_groups)
    return _render(known, groups, language, label).split("\x00")[0].rstrip(": ").rstrip()


def _kind_group_start(source: str, k: int) -> int | None:
    """Index in a pattern's source where its ``k``-th capturing group (1-based) opens, or None."""
    seen, i, in_class = 0, 0, False
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(" and (not source.startswith("(?", i) or source.startswith("(?P<", i)):
            seen += 1
            if seen == k:
                return i
        i += 1
    return None


def reason_kind_sql(column: str = "reason") -> str:
    """SQL for the English :func:`reason_kind` of the stored reason in ``column`` (DuckDB, RE2 patterns).

    Counting rejections per kind in SQL keeps a quarantine of millions of different values out
    of Python. Each known reason's pattern is used as it is; the kind is the text its value groups
    do not cover (``regexp_extract`` of the pattern with the kind part wrapped in one group), and a
    reason no pattern knows is its own kind, as in :func:`reason_kind`.
    """
    from cvm.data.validate import quote_literal

    cases = []
    for known in _REASONS:
        source = known.pattern.pattern
        flags = "(?s)" if known.pattern.flags & re.S else ""
        # the pattern's literal beginning: a cheap test before the regular expression
        literal = re.match(r"\^((?:[^\\()\[\].*+?{}|$^]|\\[()\[\].*+?{}|$^\\ ])*)", source)
        guard = re.sub(r"\\(.)", r"\1", literal.group(1)) if literal else ""
        test = (f"starts_with({column}, {quote_literal(guard)}) AND " if guard else "") + \
            f"regexp_matches({column}, {quote_literal(flags + source)})"
        start = _kind_group_start(source, known.kind_groups + 1)
        if start is None:  # the whole sentence is the kind
            cases.append(f"WHEN {test} THEN {column}")
            continue
        head = source[:start].removeprefix("^")
        wrapped = f"{flags}^({head}){source[start:]}"
        cases.append(f"WHEN {test} THEN rtrim(rtrim(regexp_extract({column}, {quote_literal(wrapped)}, 1), ': '))")
    return f"CASE {' '.join(cases)} ELSE {column} END" if cases else column
