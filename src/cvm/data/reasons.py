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
