"""Texts that are safe to open in a spreadsheet, in Python and in SQL (DuckDB and Spark alike).

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is what a
spreadsheet reads as a formula (CSV or formula injection, OWASP). In a CSV such a text gets a
single quote ``'`` in front, so the spreadsheet shows it as text; numbers stay numbers.
:mod:`cvm.value.export` writes frames with these rules; the Spark engine writes its CSV
output with :func:`csv_safe_sql`.
"""

from __future__ import annotations

from typing import Any

#: first characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)
UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")
#: what a CSV cell starting with one of those gets in front
CSV_TEXT_PREFIX = "'"


def csv_text(value: Any) -> Any:
    """A text that a spreadsheet would read as a formula, prefixed with ``'``; anything else unchanged."""
    if isinstance(value, str) and value[:1] in UNSAFE_START:
        return CSV_TEXT_PREFIX + value
    return value


def csv_safe_sql(expression: str) -> str:
    """SQL for :func:`csv_text` of a text ``expression``, the same in DuckDB and Spark SQL.

    Characters are written as ``chr(n)``: the two dialects escape a quote in a literal differently.
    """
    starts = ", ".join("chr(%d)" % ord(c) for c in UNSAFE_START)
    prefix = " || ".join("chr(%d)" % ord(c) for c in CSV_TEXT_PREFIX)
    return f"CASE WHEN left({expression}, 1) IN ({starts}) THEN {prefix} || {expression} ELSE {expression} END"
