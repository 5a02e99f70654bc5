"""Quarantine reasons as a code plus the values it cites, worded from the one catalogue.

The ingest stores, for each rejected row, the English sentence (``quarantine.reason``, e.g.
``unparseable date in column Datum: 31-02-2024``, kept for scripts that read it) **and** its code
and values (``reason_code`` ``unparseable_date``, ``reason_values`` ``{"column": "Datum",
"value": "31-02-2024"}``). Both come from one :class:`Reason`: its English sentence is built in
SQL from the catalogue's English text (id ``quarantine.<code>``), so the sentence and the code
cannot drift apart. A face shows the reason in its reader's language from the code and values
(:func:`quarantine_reason`), and counts rejections per *kind* (:func:`reason_kind`: the
sentence without the offending value, id ``quarantine.<code>.kind``), so a report says "412
rows: unparseable date in column Datum" instead of 412 lines that differ only in the date.

A row stored before reasons had codes (no ``reason_code``) is shown as its stored English.

Examples
--------
>>> quarantine_reason("unparseable date in column Datum: 31-02-2024", "nl", code="unparseable_date",
...                   values={"column": "Datum", "value": "31-02-2024"})
'onleesbare datum in kolom Datum: 31-02-2024'
>>> reason_kind("non-numeric amount in column Bedrag: tien", "nl", code="non_numeric",
...             values={"field": "amount", "column": "Bedrag", "value": "tien"})
'geen getal voor amount in kolom Bedrag'
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping
from typing import Any

from cvm.i18n import catalogue, text

#: values that hold the offending text of a row (left out of a reason's kind)
OFFENDING = ("value", "byte", "position")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Reason(str):
    """A quarantine reason of an ingest check, as SQL: the English sentence (the string itself),
    plus :attr:`code` and the SQL of its values (:attr:`values`), for the ``reason_code`` and
    ``reason_values`` columns.

    It is a ``str`` (the SQL expression of the English sentence), so a check's reason is used as
    it always was (``CASE WHEN <check> THEN <reason> END``).
    """

    code: str
    values: dict[str, str]

    def __new__(cls, code: str, **values: str) -> "Reason":
        template = text(f"quarantine.{code}", "en")
        parts = []
        for literal, name, _, _ in string.Formatter().parse(template):
            if literal:
                parts.append(_literal(literal))
            if name:
                parts.append(f"CAST({values[name]} AS VARCHAR)")
        made = super().__new__(cls, " || ".join(parts) or "''")
        made.code, made.values = code, dict(values)
        return made

    @property
    def code_sql(self) -> str:
        return _literal(self.code)

    @property
    def values_sql(self) -> str:
        """SQL of the values as a JSON object (VARCHAR), or NULL for a reason without values."""
        if not self.values:
            return "NULL"
        pairs = ", ".join(f"{_literal(k)}, CAST({v} AS VARCHAR)" for k, v in self.values.items())
        return f"CAST(json_object({pairs}) AS VARCHAR)"


def _values(values: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if isinstance(values, str):
        try:
            values = json.loads(values)
        except ValueError:
            return {}
    return dict(values) if isinstance(values, Mapping) else {}


def _words(code: str, values: Mapping[str, Any] | str | None, language: str, label: Callable[[str], str] | None,
           kind: bool) -> str | None:
    key = f"quarantine.{code}"
    if key not in catalogue("en"):
        return None
    if kind and f"{key}.kind" in catalogue("en"):
        key += ".kind"
    shown = {k: ("" if v is None else str(v)) for k, v in _values(values).items()}
    if label is not None and "field" in shown:
        shown["field"] = label(shown["field"])
    try:
        return text(key, language, shown)
    except (KeyError, IndexError, ValueError):  # values of another version: the stored English is still right
        return None


def quarantine_reason(reason: str | None, language: str, label: Callable[[str], str] | None = None,
                      code: str | None = None, values: Mapping[str, Any] | str | None = None) -> str | None:
    """A stored quarantine reason in ``language``: from its ``code`` and ``values`` (a dict or the
    stored JSON text), or the stored English ``reason`` when it has no code this version knows.

    ``label`` turns a field name (``amount``, ``customer_id``) into the reader's word for it.
    """
    if not code or language != "nl":
        return reason
    return _words(code, values, language, label, kind=False) or reason


def reason_kind(reason: str | None, language: str = "en", label: Callable[[str], str] | None = None,
                code: str | None = None, values: Mapping[str, Any] | str | None = None) -> str | None:
    """The reason without the offending value, in ``language``: what a count of rejections is grouped by
    (a reason without a code is its own kind)."""
    if not code:
        return reason
    return _words(code, values, language, label, kind=True) or reason


def kind_key_sql(code: str = "reason_code", values: str = "reason_values", reason: str = "reason") -> str:
    """SQL of what rows of one kind of reason share: the values without the offending ones, or the
    stored English for a row without a code (group by ``code`` and this)."""
    patch = json.dumps({name: None for name in OFFENDING})
    return f"CASE WHEN {code} IS NULL THEN {reason} ELSE CAST(json_merge_patch({values}, {_literal(patch)}) AS VARCHAR) END"


def code_columns_sql(con: Any) -> str:
    """``reason_code, reason_values`` for a SELECT on ``quarantine``, NULL for a workspace written before
    reasons had codes and opened read-only (a writable open adds the columns)."""
    names = {row[0] for row in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'quarantine'").fetchall()}
    if {"reason_code", "reason_values"} <= names:
        return "reason_code, reason_values"
    return "CAST(NULL AS VARCHAR) AS reason_code, CAST(NULL AS VARCHAR) AS reason_values"
