"""cvm's words and numbers in the reader's language: one catalogue per language, Babel for figures.

Every sentence a user reads — coded errors, data-health lines, explanation reasons,
quarantine reasons, the report's and the web pages' words, table headers — has a
*message id* (``errors.file_empty``, ``health.quarantine``, ``reason.collect_overdue``,
``quarantine.unparseable_date``, ``report.title``, ``nav.overview``…) and one text per
language in a gettext catalogue, ``locales/en.po`` and ``locales/nl.po`` (``msgid`` is the
message id, ``msgstr`` the text). :func:`text` is the one lookup; numbers, money,
percentages and dates go through :class:`~cvm.i18n.formats.Formats` (Babel, CLDR data).

Why gettext ``.po`` files keyed by id: they are the format translators' tools (Poedit,
Weblate, Lokalise) read and write, Babel (already a dependency) parses them, and a
message id instead of the English sentence as ``msgid`` keeps the stored codes stable
when an English text is reworded. Both files are read once per process, on first use
(about 30 ms each).

Texts are :meth:`str.format` templates with named placeholders; the Dutch text of an id
uses the same placeholder names as the English (``tests/test_i18n.py`` checks every id).

**Counts** ("1 klant", "2 klanten") use gettext's plural forms: an entry with ``msgid_plural``
and one ``msgstr[i]`` per form of the language, chosen by the catalogue's ``Plural-Forms``
header (``plural=(n != 1)`` for English and Dutch); :func:`ntext` is their lookup, like
gettext's ``ngettext``. The message id is both ``msgid`` and ``msgid_plural``::

    msgid "customers.count"
    msgid_plural "customers.count"
    msgstr[0] "{n} klant"
    msgstr[1] "{n} klanten"

Examples
--------
>>> ntext("customers.count", 1, "nl", {"n": "1"})
'1 klant'
>>> ntext("customers.count", 2, "nl", {"n": "2"})
'2 klanten'
>>> text("errors.file_empty", "nl")
'Het bestand is leeg.'
>>> text("errors.file_not_found", "en", {"path": "orders.csv"})
'file not found: orders.csv'
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from cvm.i18n.formats import LOCALES, Formats

#: the languages cvm speaks; English is the default and the fallback of a missing text
LANGUAGES: tuple[str, ...] = ("en", "nl")
DEFAULT_LANGUAGE = "en"

__all__ = ["LANGUAGES", "LOCALES", "DEFAULT_LANGUAGE", "Formats", "Section", "catalogue", "language", "ntext",
           "placeholders", "plural_catalogue", "text"]


def language(*candidates: str | None) -> str:
    """The first candidate that names a language cvm speaks (``"nl-NL"`` → ``"nl"``), else English."""
    for value in candidates:
        if value:
            code = str(value).strip().lower()[:2]
            if code in LANGUAGES:
                return code
    return DEFAULT_LANGUAGE


@lru_cache(maxsize=None)
def _parsed(lang: str):
    from babel.messages.pofile import read_po

    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    with resources.files("cvm.i18n").joinpath("locales", f"{lang}.po").open("rb") as handle:
        return read_po(handle, locale=lang)


@lru_cache(maxsize=None)
def catalogue(lang: str) -> Mapping[str, str]:
    """Message id → text of ``lang``, read from ``locales/<lang>.po`` once (the entries without plural forms)."""
    return {message.id: message.string for message in _parsed(lang) if message.id and isinstance(message.id, str)}


@lru_cache(maxsize=None)
def plural_catalogue(lang: str) -> Mapping[str, tuple[str, ...]]:
    """Message id → the texts of its plural forms in ``lang`` (the entries with ``msgid_plural``), in the
    order of the catalogue's ``Plural-Forms`` (for English and Dutch: one, other)."""
    return {message.id[0]: tuple(message.string) for message in _parsed(lang)
            if message.id and not isinstance(message.id, str)}


@lru_cache(maxsize=None)
def _plural_rule(lang: str):
    import gettext

    return gettext.c2py(_parsed(lang).plural_expr)


def ntext(message_id: str, count: float, lang: str = DEFAULT_LANGUAGE, values: Mapping[str, Any] | None = None,
          default: str | None = None) -> str:
    """The plural form of ``message_id`` that fits ``count`` in ``lang``, with ``values`` filled in (``ngettext``).

    The form is chosen by the catalogue's ``Plural-Forms`` expression of the absolute whole
    count (gettext's rule takes an integer; a fraction such as 1.5 counts as more than one). A
    text missing in ``lang`` is taken from English; an id missing in both gives ``default``.

    Raises
    ------
    KeyError
        The id has no plural entry and no ``default`` was given, or a placeholder has no value.
    """
    import math

    use = lang if message_id in plural_catalogue(lang) else DEFAULT_LANGUAGE
    forms = plural_catalogue(use).get(message_id)
    if not forms or not all(forms):
        if default is None:
            raise KeyError(message_id)
        found = default
    else:
        number = abs(float(count)) if count is not None and not (isinstance(count, float) and math.isnan(count)) else 2.0
        whole = int(number) if number == int(number) else 2  # a fraction takes the "other" form
        found = forms[min(_plural_rule(use)(whole), len(forms) - 1)]
    return found if values is None else found.format_map(values)


def text(message_id: str, lang: str = DEFAULT_LANGUAGE, values: Mapping[str, Any] | None = None,
         default: str | None = None) -> str:
    """The text of ``message_id`` in ``lang``, with ``values`` filled into its placeholders.

    A text missing in ``lang`` is taken from English; an id missing in both gives ``default``
    when one is passed. Without ``values`` the template is returned as it is (braces and all).

    Raises
    ------
    KeyError
        The id is in no catalogue and no ``default`` was given, a placeholder has no value, or the
        id has plural forms (:func:`ntext` reads those, whatever the ``default``).
    """
    found = catalogue(lang).get(message_id) or catalogue(DEFAULT_LANGUAGE).get(message_id)
    if found is None and message_id in plural_catalogue(DEFAULT_LANGUAGE):
        raise KeyError(f"{message_id} has plural forms: look it up with ntext(id, count, ...)")
    if found is None:
        if default is None:
            raise KeyError(message_id)
        found = default
    return found if values is None else found.format_map(values)


def placeholders(template: str | None) -> set[str]:
    """The names of the ``{placeholders}`` in ``template`` (``{{`` and ``}}`` are literal braces)."""
    if not template:
        return set()
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Section(Mapping[str, dict[str, str]]):
    """The ids directly under ``prefix`` (``reason`` → ``reason.collect_overdue``…), by their last part,
    each with its text per language: ``Section("reason")["nurture_new"]["nl"]``. An id with plural
    forms is listed too, with the text of its last form (English and Dutch: "other")."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _codes(self) -> list[str]:
        start = self.prefix + "."
        ids = [*catalogue(DEFAULT_LANGUAGE), *plural_catalogue(DEFAULT_LANGUAGE)]
        return sorted(k[len(start):] for k in ids if k.startswith(start) and "." not in k[len(start):])

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str) or "." in code:
            return False
        key = f"{self.prefix}.{code}"
        return key in catalogue(DEFAULT_LANGUAGE) or key in plural_catalogue(DEFAULT_LANGUAGE)

    def __getitem__(self, code: str) -> dict[str, str]:
        if code not in self:
            raise KeyError(code)
        key = f"{self.prefix}.{code}"
        if key in plural_catalogue(DEFAULT_LANGUAGE):
            return {lang: (plural_catalogue(lang).get(key) or plural_catalogue(DEFAULT_LANGUAGE)[key])[-1]
                    for lang in LANGUAGES}
        return {lang: text(key, lang) for lang in LANGUAGES}

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes())

    def __len__(self) -> int:
        return len(self._codes())
