"""Dutch and English for the web app: the page's language bound to :mod:`cvm.i18n`.

Every user-visible string of the web app is a message id of the one catalogue
(:mod:`cvm.i18n`, ``locales/en.po`` and ``nl.po``): ``nav.*``, ``col.*``, ``term.*``… (a test
checks both languages hold the same ids and that every id the templates use exists).
Numbers, money, percentages and dates are formatted by :class:`cvm.i18n.Formats` (Babel,
``en_GB`` or ``nl_NL``). :class:`Formatter` binds one language (the templates' ``_``/``fmt``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from cvm.i18n import LOCALES, Formats, catalogue, ntext, text
from cvm.i18n import language as pick_language
from cvm.i18n.formats import MISSING, missing

LANGUAGES: dict[str, str] = LOCALES

#: parts of the catalogue that other modules own (errors, data health, explanations, quarantine, report)
_NOT_THE_PAGES = ("errors.", "health.", "reason.", "quarantine.", "report.", "column.", "kind.")


def catalog(language: str) -> Mapping[str, str]:
    """The web pages' words in ``language`` (``en`` or ``nl``): their ids of the one catalogue."""
    return {k: v for k, v in catalogue(pick_language(language)).items() if not k.startswith(_NOT_THE_PAGES)}


class Formatter:
    """Translations and number/date formatting for one language.

    Examples
    --------
    >>> Formatter("nl").money(1234.5, "EUR")
    '€\\xa01.234,50'
    >>> Formatter("en").money(1234.5, "EUR")
    '€1,234.50'
    """

    def __init__(self, language: str, currency: str = "EUR") -> None:
        self.language = pick_language(language)
        self.locale = LANGUAGES[self.language]
        self.currency = currency
        self.formats = Formats(self.language, currency)

    def __call__(self, key: str, **values: Any) -> str:
        """The message ``key`` in this language, with ``{name}`` placeholders filled in."""
        return text(key, self.language, values or None, default=key)

    def ntext(self, key: str, count: Any, **values: Any) -> str:
        """The plural form of message ``key`` that fits ``count`` (gettext plural forms, :func:`cvm.i18n.ntext`)."""
        return ntext(key, count, self.language, values)

    def label(self, name: str) -> str:
        """A column or setting name in words (``col.<name>`` in the catalog), else the name itself."""
        return text("col." + str(name), self.language, default=str(name))

    def attribute_label(self, name: str) -> str:
        """A column of the user's own customer file: its label when known, else the name in plain words."""
        return text("col." + str(name), self.language, default=str(name).replace("_", " ").strip().capitalize())

    def term(self, value: Any) -> str:
        """A code from the library (tier, stage, segment, action, channel, model) in words (``term.<code>``)."""
        if self._missing(value) or value == "":
            return MISSING
        return text("term." + str(value), self.language, default=str(value))

    def cell(self, column: str, value: Any, kind: str | None = None) -> str:
        """A table cell of ``column`` formatted by its kind (default from :data:`cvm.web.present.COLUMN_KINDS`)."""
        from cvm.web.present import kind_of

        kind = kind or kind_of(column)
        if self._missing(value):
            return MISSING
        try:
            if kind == "money":
                return self.money(value, digits=0 if abs(float(value)) >= 1000 else 2)
            if kind == "percent":
                return self.percent(value)
            if kind == "count":
                return self.number(value)
            if kind == "number":
                return self.number(value, 2)
            if kind == "days":
                return self.ntext("common.days", value, n=self.number(value))
            if kind == "date":
                return self.date(value)
            if kind == "datetime":
                return self.datetime(value)
        except (TypeError, ValueError):
            return str(value)
        if kind == "term":
            return self.term(value)
        return self.value(value)

    @staticmethod
    def align(column: str, kind: str | None = None) -> str:
        """CSS class of a table column: ``num`` (right-aligned) for numbers, else empty."""
        from cvm.web.present import kind_of

        return "num" if (kind or kind_of(column)) in ("money", "percent", "count", "number", "days") else ""

    @property
    def separators(self) -> str:
        """Plotly's ``layout.separators``: decimal mark then thousands separator of this locale."""
        return self.formats.separators

    @property
    def plotly_locale(self) -> dict[str, Any]:
        """The locale of the charts for plotly.js (``Plotly.register``): month and day names, dates and
        separators from Babel (CLDR), so a Dutch page's axes say "mrt" and "30-06-1998", not "Mar".

        For a language other than English only: plotly.js fills what a locale leaves out from
        its built-in English, which must itself stay whole."""
        from babel.dates import get_date_format, get_day_names, get_month_names

        days = get_day_names("wide", locale=self.locale)
        short_days = get_day_names("abbreviated", locale=self.locale)
        order = [6, 0, 1, 2, 3, 4, 5]  # plotly (d3) starts the week on Sunday, Babel on Monday
        pattern = get_date_format("short", locale=self.locale).pattern
        d3_date = pattern.replace("dd", "%d").replace("MM", "%m").replace("yyyy", "%Y").replace("y", "%Y")
        separators = self.separators
        return {
            "moduleType": "locale", "name": self.language,
            "dictionary": {},
            "format": {
                "days": [days[i] for i in order], "shortDays": [short_days[i] for i in order],
                "months": list(get_month_names("wide", locale=self.locale).values()),
                "shortMonths": [m.rstrip(".") for m in get_month_names("abbreviated", locale=self.locale).values()],
                "date": d3_date, "decimal": separators[0], "thousands": separators[1],
            },
        }

    # numbers (cvm.i18n.Formats) ------------------------------------------------
    _missing = staticmethod(missing)

    def number(self, value: Any, digits: int = 0) -> str:
        return self.formats.number(value, digits)

    def money(self, value: Any, currency: str | None = None, digits: int = 2) -> str:
        """Money in the locale's currency pattern; ``digits=0`` rounds to whole units."""
        return self.formats.money(value, digits, currency)

    def percent(self, value: Any, digits: int = 1) -> str:
        return self.formats.percent(value, digits)

    def date(self, value: Any) -> str:
        return self.formats.date(value)

    def datetime(self, value: Any) -> str:
        return self.formats.datetime(value)

    def value(self, value: Any) -> str:
        """Format any cell for a table: numbers in the locale, dates as dates, the rest as text."""
        if self._missing(value):
            return MISSING
        if isinstance(value, bool):
            return self("common.yes") if value else self("common.no")
        if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
            return self.number(value)
        if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"):
            return self.number(value, 2 if abs(float(value)) < 1000 else 0)
        if isinstance(value, (datetime, date)) or hasattr(value, "to_pydatetime"):
            return self.date(value)
        return str(value)


#: the catalog key (``invalid.<key>``) of each kind of input error pydantic reports
INVALID_KINDS: dict[str, str] = {
    "float_parsing": "not_a_number", "float_type": "not_a_number", "int_parsing": "not_a_whole_number",
    "int_type": "not_a_whole_number", "int_from_float": "not_a_whole_number", "finite_number": "not_a_number",
    "decimal_parsing": "not_a_number", "greater_than_equal": "at_least", "greater_than": "more_than",
    "less_than_equal": "at_most", "less_than": "less_than", "literal_error": "choice", "enum": "choice",
    "date_parsing": "date", "date_from_datetime_parsing": "date", "date_from_datetime_inexact": "date",
    "date_type": "date", "missing": "missing", "string_too_long": "too_long", "bool_parsing": "yes_no",
}


def invalid_input(fmt: Formatter, field: str, error: dict[str, Any]) -> str:
    """One input error (a pydantic error dict: ``type``, ``input``, ``ctx``) as a sentence in ``fmt``'s language.

    ``field`` is the label of the input as the page shows it. Limits are written
    as numbers of the locale (``0,5`` in Dutch), choices as a list.

    Examples
    --------
    >>> invalid_input(Formatter("nl"), "Marge", {"type": "less_than_equal", "input": "2", "ctx": {"le": 1}})
    'Marge: mag hoogstens 1 zijn.'
    """
    kind = INVALID_KINDS.get(str(error.get("type", "")), "other")
    ctx = error.get("ctx") or {}
    limit = next((ctx[k] for k in ("ge", "gt", "le", "lt") if k in ctx), None)
    if isinstance(limit, (int, float)) and not isinstance(limit, bool):
        limit = fmt.number(limit, 0 if float(limit).is_integer() else 2)
    shown = error.get("input")
    shown = "" if shown is None or isinstance(shown, (dict, list)) else str(shown)[:40]
    return fmt("invalid." + kind, field=field, limit=limit, choices=ctx.get("expected", ""), input=shown)
