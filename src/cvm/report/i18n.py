"""The report's words in English and Dutch, and numbers, money and dates in the reader's locale.

The words are ids ``report.<key>``, ``report.col.<column>`` and ``report.unit.<unit>`` of the
one catalogue (:mod:`cvm.i18n`); numbers are formatted by :class:`cvm.i18n.Formats` (Babel):
``en`` uses ``en_GB`` (1,234.56; 31/12/1997), ``nl`` uses ``nl_NL`` (1.234,56; 31-12-1997);
money carries the workspace currency. :class:`Formatter` binds one language and currency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from cvm.errors import SchemaError
from cvm.i18n import LANGUAGES, LOCALES, Formats, catalogue, ntext, text
from cvm.i18n.formats import MISSING


def _part(prefix: str) -> dict[str, dict[str, str]]:
    """The catalogue's ids directly under ``prefix``, by language and key (read from :mod:`cvm.i18n`)."""
    return {lang: {k[len(prefix):]: v for k, v in catalogue(lang).items()
                   if k.startswith(prefix) and "." not in k[len(prefix):]} for lang in LANGUAGES}


#: the report's words, column headers and time units: language -> key -> text
STRINGS, COLUMNS, UNITS = _part("report."), _part("report.col."), _part("report.unit.")

def check_language(language: str) -> str:
    """The language code, or a :class:`SchemaError` naming the supported ones."""
    code = (language or "en").strip().lower()
    if code not in LOCALES:
        raise SchemaError(f"the report speaks English or Dutch, not '{language}'", hint="use language='en' or 'nl'")
    return code


class Formatter:
    """Babel formatting for one language and currency.

    Examples
    --------
    >>> Formatter("nl", "EUR").number(1234.5)
    '1.234,50'
    >>> Formatter("en", "EUR").percent(0.125)
    '12.5%'
    """

    def __init__(self, language: str = "en", currency: str = "EUR") -> None:
        self.language = check_language(language)
        self.locale = LOCALES[self.language]
        self.currency = currency
        self.formats = Formats(self.language, currency)

    # words
    def t(self, key: str, **values: Any) -> str:
        return text(f"report.{key}", self.language, values or None, default=key)

    def nt(self, key: str, count: Any, **values: Any) -> str:
        """The plural form of ``report.<key>`` that fits ``count`` (:func:`cvm.i18n.ntext`)."""
        return ntext(f"report.{key}", count, self.language, values)

    def column(self, name: str) -> str:
        """A column header: the report's own word, else the dashboard's (``col.<name>``), else the name in words."""
        return text(f"report.col.{name}", self.language,
                    default=text(f"col.{name}", self.language, default=str(name).replace("_", " ")))

    def unit(self, time_unit: str) -> str:
        return text(f"report.unit.{time_unit}", self.language, default=time_unit)

    def term(self, value: Any) -> str:
        """A tier, stage, action or model code in words (:func:`cvm.value.explain.term`)."""
        from cvm.value.explain import term

        return "–" if self._missing(value) else term(value, self.language)

    def explain(self, reason_code: str, values: Any = None) -> str:
        """A reason code with its figures in this language and currency (:func:`cvm.value.explain.explain`)."""
        from cvm.value.explain import explain

        return explain(reason_code, values or {}, self.language, self.currency)

    # numbers (cvm.i18n.Formats)
    @staticmethod
    def _missing(value: Any) -> bool:
        try:
            return bool(pd.isna(value))
        except (TypeError, ValueError):
            return False

    def number(self, value: Any, digits: int = 2) -> str:
        return MISSING if self._missing(value) else self.formats.number(value, digits)

    def integer(self, value: Any) -> str:
        return self.number(value, 0)

    def money(self, value: Any) -> str:
        return MISSING if self._missing(value) else self.formats.money(value)

    def percent(self, value: Any, digits: int = 1) -> str:
        return MISSING if self._missing(value) else self.formats.percent(value, digits, optional=True)

    def date(self, value: Any) -> str:
        """A date as the web app writes it: nl 30-09-1997, en 30/09/1997."""
        if self._missing(value):
            return MISSING
        return self.formats.date(pd.Timestamp(value) if isinstance(value, str) else value)

    def datetime(self, value: datetime) -> str:
        return self.formats.datetime(value)

    def plotly_separators(self) -> str:
        """Decimal and thousands separators for Plotly's ``layout.separators``."""
        return self.formats.separators
