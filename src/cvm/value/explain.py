"""Explanations in the reader's language: a stable reason code plus the numbers it cites.

The library never stores a sentence as the only record of *why*: next-best
actions (:mod:`cvm.value.actions`), the backtest's model choice
(:mod:`cvm.evaluation.backtest`) and the valuation's model choice
(:mod:`cvm.value.clv`) each give a ``reason_code`` from :data:`REASONS` and
``reason_values``, a JSON-ready dict of the figures the reason cites. Every
face renders the words with :func:`explain`, in English or Dutch: the templates are
the catalogue's ``reason.<code>`` ids (:mod:`cvm.i18n`), money, percentages and numbers
are formatted by :class:`cvm.i18n.Formats` (Babel: ``en`` is ``en_GB``, ``nl`` is
``nl_NL``), model names are the registry's labels. The English text is also kept next
to the code (column or field ``reason``) for scripts that read it.

A template names its values in braces (``{clv}``); how a value is shown
follows from its name (:data:`VALUE_KINDS`). A part in square brackets is left
out when a value it names is missing or empty (``[; {others}]``).

Examples
--------
>>> explain("collect_overdue", {"amount": 1234.5, "days": 45}, "nl")
'€\\xa01.234,50 achterstallig; de oudste factuur is 45 dagen over de vervaldatum'
>>> explain("collect_overdue", {"amount": 1234.5, "days": 1}, "en")
'€1,234.50 overdue; the oldest invoice is 1 day past due'
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, Callable, Mapping

from cvm.errors import SchemaError
from cvm.i18n import LANGUAGES, Formats, Section, ntext, text
from cvm.models.registry import MODELS

#: the reason codes, by code: their words are ids ``reason.<code>`` of the :mod:`cvm.i18n` catalogue
#: (see the module docstring for the syntax)
REASONS = Section("reason")

#: how a value is shown, by its name: money, percent (whole), percent1 (one decimal),
#: number1, days, term (tier or stage), model, models (list), model_percent1 and
#: model_number1 (model name -> figure); other names are shown as text
VALUE_KINDS: dict[str, str] = {
    "amount": "money", "clv": "money", "historic_value": "money", "cost": "money", "value": "money",
    "probability_alive": "percent", "tolerance": "percent",
    "tracking_error": "percent1", "bic": "number1", "days": "days",
    "tier": "term", "stage": "term", "model": "model", "models": "models",
    "others": "model_percent1", "errors": "model_percent1", "bic_by_model": "model_number1",
}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


def reason_codes() -> list[str]:
    """Every reason code :func:`explain` knows, sorted."""
    return sorted(REASONS)


def model_label(name: Any) -> str:
    """A model's name as people write it (``pnbd`` → ``Pareto/NBD``; the registry's label), else as given."""
    spec = MODELS.get(str(name))
    return spec.label if spec is not None else str(name)


def term(value: Any, language: str = "en") -> str:
    """A tier, lifecycle stage, action or model code in words of ``language`` (unknown codes as they are).

    In English a built-in code is its own word; in Dutch it is the catalogue's ``term.<code>``.
    """
    code = str(value)
    if code in MODELS:
        return model_label(code)
    return text(f"term.{code}", language, default=code) if language == "nl" else code


def explain(reason_code: str, values: Mapping[str, Any] | None = None, language: str = "en",
            currency: str = "EUR", terms: Callable[[Any], str] | None = None) -> str:
    """The reason ``reason_code`` in words, citing ``values`` formatted for ``language``.

    Parameters
    ----------
    reason_code
        A key of :data:`REASONS` (e.g. ``retain_high_value_at_risk``).
    values
        The figures the reason cites (``reason_values`` next to the code);
        names follow :data:`VALUE_KINDS`.
    language
        ``en`` (numbers as en_GB: ``€1,234.50``) or ``nl`` (nl_NL: ``€ 1.234,50``).
    currency
        ISO code of money values (the workspace's ``settings.currency``).
    terms
        Words for tiers and stages in a face's own vocabulary (the web app's
        message catalog); default :func:`term`.

    Raises
    ------
    SchemaError
        For an unknown code or language, or when a value the sentence needs is missing.
    """
    lang = (language or "en").strip().lower()
    if lang not in LANGUAGES:
        raise SchemaError(f"explanations are written in English or Dutch, not '{language}'", hint="use 'en' or 'nl'")
    if reason_code not in REASONS:
        raise SchemaError(f"unknown reason code '{reason_code}'", hint="known codes: " + ", ".join(reason_codes()))
    values = dict(values or {})
    shown = {k: _show(k, v, lang, currency, terms) for k, v in values.items()}

    def optional(match: re.Match) -> str:
        names = _PLACEHOLDER.findall(match.group(1))
        return match.group(1) if all(shown.get(n) for n in names) else ""

    template = _OPTIONAL.sub(optional, text(f"reason.{reason_code}", lang))
    missing = [n for n in _PLACEHOLDER.findall(template) if n not in shown]
    if missing:
        raise SchemaError(f"reason '{reason_code}' needs the value(s) {', '.join(missing)}",
                          hint="pass the reason_values that came with the reason code")
    sentence = _PLACEHOLDER.sub(lambda m: shown[m.group(1)], template)
    return sentence[:1].upper() + sentence[1:]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@lru_cache(maxsize=32)
def _formats(language: str, currency: str) -> Formats:
    return Formats(language, currency)


def _show(name: str, value: Any, lang: str, currency: str, terms: Callable[[Any], str] | None = None) -> str:
    """One value in words for the sentence (empty text for a missing value)."""
    if _missing(value):
        return ""
    kind = VALUE_KINDS.get(name, "text")
    if kind in ("money", "percent", "percent1", "number1", "days"):
        formats = _formats(lang, currency)
        if kind == "money":
            return formats.money(float(value))
        if kind == "percent":
            return formats.percent(float(value), 0)
        if kind == "percent1":
            return formats.percent(float(value), 1)
        if kind == "number1":
            return formats.number(float(value), 1)
        n = int(round(float(value)))
        return ntext("common.days", n, lang, {"n": formats.number(n)})
    if kind == "term":
        return terms(value) if terms is not None else term(value, lang)
    if kind == "model":
        return model_label(value)
    if kind == "models":
        return _formats(lang, currency).join([model_label(v) for v in value])
    if kind in ("model_percent1", "model_number1"):
        key = "tracking_error" if kind == "model_percent1" else "bic"
        return ", ".join(f"{model_label(m)} {_show(key, v, lang, currency)}" for m, v in dict(value).items())
    return str(value)
