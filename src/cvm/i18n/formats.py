"""Numbers, money, percentages, dates and lists in the reader's locale: Babel (CLDR) and nothing else.

``en`` is written as ``en_GB`` (1,234.56; 31/12/1997; €1,234.50), ``nl`` as ``nl_NL``
(1.234,56; 31-12-1997; € 1.234,50). A :class:`Formats` holds the parsed Babel locale and
number patterns of one language and currency, so formatting a value is one call of Babel's
``NumberPattern.apply`` (what :func:`babel.numbers.format_currency` and its siblings do
after looking the locale and pattern up, which is most of their cost).

A missing value (None, NaN, NaT) is written ``–``.

Examples
--------
>>> Formats("nl").money(1234.5)
'€\\xa01.234,50'
>>> Formats("en").percent(0.125, 1)
'12.5%'
>>> Formats("nl").number(1234.5, 1)
'1.234,5'
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import Any

#: the Babel locale each language is written in
LOCALES: dict[str, str] = {"en": "en_GB", "nl": "nl_NL"}

#: what a missing value is shown as
MISSING = "–"


def missing(value: Any) -> bool:
    """Whether ``value`` is None, NaN or NaT (pandas' and numpy's missing values included)."""
    if value is None or type(value).__name__ == "NAType":  # pandas.NA
        return True
    try:
        return bool(value != value)  # NaN and NaT are not equal to themselves
    except (TypeError, ValueError):
        return False


@lru_cache(maxsize=None)
def _locale(name: str):
    from babel import Locale

    return Locale.parse(name)


@lru_cache(maxsize=256)
def _pattern(text: str):
    from babel.numbers import parse_pattern

    return parse_pattern(text)


def _digits(count: int, optional: bool = False) -> str:
    return ("." + ("#" if optional else "0") * count) if count > 0 else ""


@lru_cache(maxsize=64)
def _money_pattern(locale: str, currency: str, digits: int | None):
    """The locale's currency pattern with this currency's sign and decimals in it, parsed once.

    What :func:`babel.numbers.format_currency` works out on every call (the sign of ``currency``
    in ``locale``, its number of decimals), read from Babel once: formatting is then Babel's
    pattern alone, several times faster for the long lists a next-best-action table explains.
    """
    from babel.numbers import get_currency_precision, get_currency_symbol

    pattern = _locale(locale).currency_formats["standard"].pattern
    places = get_currency_precision(currency) if digits is None else digits
    sign = "'" + get_currency_symbol(currency, locale).replace("'", "''") + "'"
    return _pattern(pattern.replace(".00", _digits(places)).replace("\u00a4", sign))


class Formats:
    """Babel formatting for one language (``en`` or ``nl``) and currency (ISO code)."""

    def __init__(self, language: str = "en", currency: str = "EUR") -> None:
        self.language = language if language in LOCALES else "en"
        self.locale = LOCALES[self.language]
        self.currency = currency
        self._babel = _locale(self.locale)

    # ---------------------------------------------------------------- numbers
    def number(self, value: Any, digits: int = 0, optional: bool = False) -> str:
        """A number grouped in thousands with ``digits`` decimals (``optional``: trailing zeros left out)."""
        if missing(value):
            return MISSING
        return _pattern("#,##0" + _digits(digits, optional)).apply(float(value), self._babel)

    def money(self, value: Any, digits: int | None = None, currency: str | None = None) -> str:
        """Money in the locale's currency pattern: the currency's own decimals, or exactly ``digits``."""
        if missing(value):
            return MISSING
        return _money_pattern(self.locale, currency or self.currency, digits).apply(float(value), self._babel)

    def money_or_power(self, value: Any) -> str:
        """:meth:`money`, or from a trillion on the currency code and a power of ten (``EUR 1,2E13``)."""
        if missing(value):
            return MISSING
        if abs(float(value)) >= 1e12:
            return f"{self.currency} {_pattern('0.##E0').apply(float(value), self._babel)}"
        return self.money(value)

    def percent(self, share: Any, digits: int = 0, optional: bool = False) -> str:
        """A share (0.125) as a percentage (12.5%) with ``digits`` decimals (``optional``: as needed)."""
        if missing(share):
            return MISSING
        return _pattern("#,##0" + _digits(digits, optional) + "%").apply(float(share), self._babel)

    # ---------------------------------------------------------------- dates
    def date(self, value: Any) -> str:
        """A date in the locale's short form (en 30/06/1998, nl 30-06-1998); ISO text and timestamps too."""
        from babel.dates import format_date

        if missing(value) or value == "":
            return MISSING
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1)[:26])
        if hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime()
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            return str(value)
        return format_date(value, format="short", locale=self._babel)

    def datetime(self, value: Any) -> str:
        """A moment in the locale's short form (en 30/06/1998, 14:05; nl 30-06-1998 14:05)."""
        from babel.dates import format_datetime

        if missing(value):
            return MISSING
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime()
        return format_datetime(value, format="short", locale=self._babel)

    # ---------------------------------------------------------------- words
    def join(self, items: list[str]) -> str:
        """Items as a list in words (en "A, B and C", nl "A, B en C")."""
        from babel.lists import format_list

        return format_list([str(i) for i in items], locale=self._babel) if items else ""

    @property
    def separators(self) -> str:
        """The decimal mark, then the thousands separator (Plotly's ``layout.separators``)."""
        symbols = self._babel.number_symbols["latn"]
        return symbols["decimal"] + symbols["group"]
