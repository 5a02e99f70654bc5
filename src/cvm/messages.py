"""The words of the errors a user meets, in English and Dutch, under one code each.

An error raised with a code (:meth:`cvm.errors.CvmError.coded`) takes its English
message and hint from the catalogue (:mod:`cvm.i18n`: message ids ``errors.<code>`` and
``errors.<code>.hint``), so the English text and the catalogue cannot drift apart. A face
that knows its reader's language shows :func:`localize` instead of the raw exception: the
Dutch sentence when the code is known, else the exception's own (English) text.

Templates are ``str.format`` strings with named placeholders; both languages of one
code use the same names (a Dutch hint may repeat a value of the message). Values are formatted by the code that raises the error
(dates and numbers exactly as the English message always showed them); a list
becomes its items joined by ``", "``. In Dutch, placeholders listed in :data:`FIELDS`
hold target column names (``customer_id``) and are written in words
(``klantnummer``, ids ``column.<name>``), and those in :data:`KINDS` hold a kind of data
(``transactions``, written ``transacties``, ids ``kind.<name>``).

Examples
--------
>>> english("missing_columns", {"kind": "transactions", "missing": ["customer_id"], "columns": ["datum", "bedrag"]})[0]
'cannot find the transactions column(s) customer_id; columns found: datum, bedrag'
>>> render("missing_columns", {"kind": "transactions", "missing": ["customer_id"], "columns": ["datum", "bedrag"]}, "nl")[0]
'In het bestand met transacties ontbreekt een kolom voor: klantnummer. Gevonden kolommen: datum, bedrag.'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cvm.i18n import LANGUAGES, Section, catalogue, ntext, placeholders, plural_catalogue, text

__all__ = ["LANGUAGES", "CATALOGUE", "Message", "render", "english", "localize", "localize_parts", "describe",
           "placeholders", "field_word", "kind_word"]


def field_word(name: str, language: str) -> str:
    """A target column of the ingest (``customer_id``) in the reader's words (nl ``klantnummer``)."""
    return text(f"column.{name}", language, default=str(name)) if language == "nl" else str(name)


def kind_word(name: str, language: str) -> str:
    """A kind of data (``transactions``) in the reader's words (nl ``transacties``)."""
    return text(f"kind.{name}", language, default=str(name)) if language == "nl" else str(name)


def _map_example(values: Mapping[str, Any], language: str) -> dict[str, Any]:
    missing = list(values.get("missing") or [])
    word = "<kolom>" if language == "nl" else "<column>"
    return {"example": " ".join(f"--map {m}={word}" for m in missing), "first": missing[0] if missing else ""}


#: error codes whose placeholders hold target column names (written in words in Dutch)
FIELDS: dict[str, tuple[str, ...]] = {
    "missing_columns": ("missing",), "drivers_no_attribute": ("available",),
    "drivers_unknown_attribute": ("attribute", "available"), "drivers_one_value": ("attribute",),
    "drivers_too_few": ("attribute",), "drivers_too_many_values": ("attribute",), "drivers_same_information": ("attributes",),
}
#: error codes whose placeholders hold a kind of data (written in words in Dutch)
KINDS: dict[str, tuple[str, ...]] = {"missing_columns": ("kind",), "map_unknown_target": ("kind",)}
#: error codes with values computed from the given ones, per language (for hints that spell out an example)
DERIVE: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "missing_columns": _map_example,
    # the roles in the reader's words (role.<name>: nl beheerder, analist, lezer)
    "role_needed": lambda values, language: {k + "_word": text(f"role.{values.get(k)}", language, default=str(values.get(k)))
                                             for k in ("role", "current")},
}


@dataclass(frozen=True)
class Message:
    """One coded sentence's words as the catalogue holds them: message and optional hint per language,
    and how its values are shown (a view of :mod:`cvm.i18n`'s catalogue, for checks and tools)."""

    en: str
    nl: str
    hint_en: str | None = None
    hint_nl: str | None = None
    fields: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    derive: Callable[[Mapping[str, Any], str], dict[str, Any]] | None = field(default=None, compare=False)


class Entries(Section):
    """The coded sentences under one prefix of the catalogue (``errors``, ``health``), by code, as :class:`Message`."""

    def __getitem__(self, code: str) -> Message:  # type: ignore[override]
        words = super().__getitem__(code)
        hint = f"{self.prefix}.{code}.hint"
        has_hint = hint in catalogue("en")
        errors = self.prefix == "errors"
        return Message(words["en"], words["nl"], text(hint, "en") if has_hint else None,
                       text(hint, "nl") if has_hint else None, FIELDS.get(code, ()) if errors else (),
                       KINDS.get(code, ()) if errors else (), DERIVE.get(code) if errors else None)


#: the coded errors, by code (ids ``errors.<code>`` and ``errors.<code>.hint`` of :mod:`cvm.i18n`)
CATALOGUE = Entries("errors")


def _shown(value: Any) -> Any:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def _in_words(value: Any, word: Callable[[str, str], str], language: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [word(str(v), language) for v in value]
    return word(str(value), language)


def render(code: str, values: Mapping[str, Any] | None, language: str,
           prefix: str = "errors", count: float | None = None) -> tuple[str, str | None]:
    """The message and hint of ``code`` in ``language`` (``en`` or ``nl``) with ``values`` filled in.

    ``prefix`` is the part of the catalogue ``code`` belongs to: the coded errors
    (``errors``) by default; other sentences in two languages (the data-health summary's,
    ``health``, :mod:`cvm.health`) render through here the same way. A sentence with plural
    forms (a count sentence, :func:`cvm.i18n.ntext`) takes the form that fits ``count``.

    Raises
    ------
    KeyError
        ``code`` is not in the catalogue, or a placeholder has no value.
    """
    key = f"{prefix}.{code}"
    plural = key in plural_catalogue("en")
    if key not in catalogue("en") and not plural:
        raise KeyError(code)
    if plural and count is None:
        raise KeyError(f"{key} is a count sentence: pass the count")
    language = "nl" if language == "nl" else "en"
    given = dict(values or {})
    if prefix == "errors":
        if code in DERIVE:
            given.update(DERIVE[code](given, language))
        for name in FIELDS.get(code, ()):
            if name in given:
                given[name] = _in_words(given[name], field_word, language)
        for name in KINDS.get(code, ()):
            if name in given:
                given[name] = _in_words(given[name], kind_word, language)
    shown = {k: _shown(v) for k, v in given.items()}
    hint = f"{key}.hint"
    message = ntext(key, count, language, shown) if plural else text(key, language, shown)
    return message, (text(hint, language, shown) if hint in catalogue("en") else None)


def english(code: str, values: Mapping[str, Any] | None = None) -> tuple[str, str | None]:
    """The English message and hint of ``code``: what :meth:`cvm.errors.CvmError.coded` raises."""
    return render(code, values, "en")


def localize(exc: BaseException, language: str) -> tuple[str, str | None]:
    """What to show a reader of ``language`` for the error ``exc``: (message, hint).

    The Dutch text when ``language`` is ``"nl"`` and the error carries a code of the
    catalogue; otherwise the error's own message and hint (for a
    :class:`~cvm.errors.CvmError`) or its text.
    """
    message = getattr(exc, "message", None)
    own = (message, getattr(exc, "hint", None)) if isinstance(message, str) else (str(exc), None)
    return localize_parts(getattr(exc, "code", None), getattr(exc, "values", None), own, language)


def localize_parts(code: str | None, values: Mapping[str, Any] | None, own: tuple[str, str | None],
                   language: str) -> tuple[str, str | None]:
    """:func:`localize` for an error kept as its parts (code, values, English text), e.g. by a finished job."""
    if language != "nl" or not code or code not in CATALOGUE:
        return own
    try:
        return render(code, values, language)
    except (KeyError, IndexError, ValueError):  # values of another version: the English text is still right
        return own


def describe(exc: BaseException, language: str) -> str:
    """The error in one text (message, then the hint on its own line), as ``str(exc)`` is in English."""
    message, hint = localize(exc, language)
    word = text("common.hint_word", language)
    return message if not hint else f"{message}\n{word}: {hint}"
