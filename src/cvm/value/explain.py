"""Explanations in the reader's language: a stable reason code plus the numbers it cites.

The library never stores a sentence as the only record of *why*: next-best
actions (:mod:`cvm.value.actions`), the backtest's model choice
(:mod:`cvm.evaluation.backtest`) and the valuation's model choice
(:mod:`cvm.value.clv`) each give a ``reason_code`` from :data:`REASONS` and
``reason_values``, a JSON-ready dict of the figures the reason cites. Every
face renders the words with :func:`explain`, in English or Dutch, with money,
percentages and numbers in the reader's locale (Babel: ``en`` is ``en_GB``,
``nl`` is ``nl_NL``). The English text is also kept next to the code (column or
field ``reason``) for scripts that read it.

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

#: languages explanations are written in, and the Babel locale of each
LOCALES: dict[str, str] = {"en": "en_GB", "nl": "nl_NL"}

#: reason code -> language -> template (see the module docstring for the syntax)
REASONS: dict[str, dict[str, str]] = {
    # ------------------------------------------------------- next-best actions
    "collect_overdue": {
        "en": "{amount} overdue; the oldest invoice is {days} past due",
        "nl": "{amount} achterstallig; de oudste factuur is {days} over de vervaldatum",
    },
    "retain_high_value_at_risk": {
        "en": "{tier} customer (CLV {clv}) whose probability of still being active fell to {probability_alive}",
        "nl": "klant in klasse {tier} (CLV {clv}) van wie de kans nog actief te zijn daalde tot {probability_alive}",
    },
    "win_back_lapsed_spender": {
        "en": "brought in {historic_value} of margin so far but has probably left "
              "(probability still active {probability_alive})",
        "nl": "leverde tot nu toe {historic_value} marge op maar is waarschijnlijk vertrokken "
              "(kans nog actief {probability_alive})",
    },
    "lower_cost_to_serve": {
        "en": "cost-to-serve of {cost} exceeds the margin so far plus the predicted value ({value})",
        "nl": "bedieningskosten van {cost} zijn hoger dan de marge tot nu toe plus de voorspelde waarde ({value})",
    },
    "upsell_active_loyal": {
        "en": "{stage} and likely to stay (probability still active {probability_alive}); "
              "room to grow from the {tier} tier",
        "nl": "{stage} en blijft waarschijnlijk (kans nog actief {probability_alive}); "
              "ruimte om te groeien vanuit klasse {tier}",
    },
    "nurture_prospect": {
        "en": "has not bought yet: welcome them and explain the offer",
        "nl": "heeft nog niet gekocht: verwelkom en leg het aanbod uit",
    },
    "nurture_new": {
        "en": "new customer: start the relationship personally",
        "nl": "nieuwe klant: begin de relatie persoonlijk",
    },
    "nurture_keep_in_touch": {
        "en": "{stage}, {tier} tier: keep in touch at low cost",
        "nl": "{stage}, klasse {tier}: houd tegen lage kosten contact",
    },
    # ------------------------------------------------------------ model choice
    "best_tracking_error": {
        "en": "{model} tracks the holdout's cumulative repeat transactions best "
              "(mean absolute error {tracking_error}[; {others}])",
        "nl": "{model} volgt de cumulatieve herhaalaankopen in de controleperiode het best "
              "(gemiddelde absolute fout {tracking_error}[; {others}])",
    },
    "tie_broken_by_bic": {
        "en": "{models} track the holdout within {tolerance} of each other ({errors}); "
              "{model} has the lowest BIC ({bic})",
        "nl": "{models} volgen de controleperiode binnen {tolerance} van elkaar ({errors}); "
              "{model} heeft de laagste BIC ({bic})",
    },
    "lowest_bic_no_holdout": {
        "en": "{model} has the lowest BIC ({bic}); the holdout had no repeat purchases to track",
        "nl": "{model} heeft de laagste BIC ({bic}); de controleperiode had geen herhaalaankopen om te volgen",
    },
    "chosen_by_backtest": {
        "en": "{model} predicted the holdout best in a backtest",
        "nl": "{model} voorspelde de controleperiode het best in een toets",
    },
    "chosen_by_user": {
        "en": "{model} chosen by the user",
        "nl": "{model} gekozen door de gebruiker",
    },
    "bic_fallback": {
        "en": "{model} has the lowest BIC on the calibration data ({bic_by_model}); "
              "model choice by backtest was unavailable[ ({detail})]",
        "nl": "{model} heeft de laagste BIC op de kalibratiegegevens ({bic_by_model}); "
              "modelkeuze met een toets was niet mogelijk",
    },
}

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

#: Dutch words for the built-in tiers, lifecycle stages and next-best actions (tiers a user names stay as named)
TERMS: dict[str, dict[str, str]] = {
    "en": {},
    "nl": {"platinum": "platina", "gold": "goud", "silver": "zilver", "bronze": "brons", "new": "nieuw",
           "active": "actief", "loyal": "trouw", "at risk": "risico", "lapsed": "verloren", "prospect": "prospect",
           "collect payment": "betaling innen", "retain": "behouden", "win back": "terugwinnen",
           "lower cost-to-serve": "bedieningskosten verlagen", "upsell": "meer verkopen", "nurture": "onderhouden"},
}

#: model names as people write them (the same in both languages)
MODEL_NAMES: dict[str, str] = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pnbd": "Pareto/NBD", "bgbb": "BG/BB",
                               "sbg": "sBG", "gg": "Gamma-Gamma", "nbd": "NBD", "poisson": "Poisson"}

_DAYS = {"en": ("day", "days"), "nl": ("dag", "dagen")}
_AND = {"en": "and", "nl": "en"}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


def reason_codes() -> list[str]:
    """Every reason code :func:`explain` knows, sorted."""
    return sorted(REASONS)


def term(value: Any, language: str = "en") -> str:
    """A tier, lifecycle stage, action or model code in words of ``language`` (unknown codes as they are)."""
    text = str(value)
    return MODEL_NAMES.get(text) or TERMS.get(language, {}).get(text, text)


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
    if lang not in LOCALES:
        raise SchemaError(f"explanations are written in English or Dutch, not '{language}'", hint="use 'en' or 'nl'")
    if reason_code not in REASONS:
        raise SchemaError(f"unknown reason code '{reason_code}'", hint="known codes: " + ", ".join(reason_codes()))
    values = dict(values or {})
    shown = {k: _show(k, v, lang, currency, terms) for k, v in values.items()}

    def optional(match: re.Match) -> str:
        names = _PLACEHOLDER.findall(match.group(1))
        return match.group(1) if all(shown.get(n) for n in names) else ""

    template = _OPTIONAL.sub(optional, REASONS[reason_code][lang])
    missing = [n for n in _PLACEHOLDER.findall(template) if n not in shown]
    if missing:
        raise SchemaError(f"reason '{reason_code}' needs the value(s) {', '.join(missing)}",
                          hint="pass the reason_values that came with the reason code")
    text = _PLACEHOLDER.sub(lambda m: shown[m.group(1)], template)
    return text[:1].upper() + text[1:]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _LocaleStyle:
    """Number symbols and patterns of one locale and currency, read from Babel once.

    Formatting many values through :func:`babel.numbers.format_currency` costs
    about 30 microseconds each (it looks the locale up on every call); a list of
    a million next-best actions cannot afford that. The symbols, the currency
    sign and the positive/negative prefixes and suffixes come from the same
    CLDR patterns Babel uses (``en_GB`` ``¤#,##0.00``, ``nl_NL`` ``¤ #,##0.00;¤ -#,##0.00``,
    percent ``#,##0%``), so the text is Babel's (a test compares them).
    """

    def __init__(self, locale: str, currency: str) -> None:
        from babel import Locale
        from babel.numbers import get_currency_symbol, get_decimal_symbol, get_group_symbol

        loc = Locale.parse(locale)
        self.locale = locale
        self.swap = str.maketrans({",": get_group_symbol(locale), ".": get_decimal_symbol(locale)})
        symbol = get_currency_symbol(currency, locale)
        money = loc.currency_formats["standard"]
        self.money_prefix = tuple(x.replace("\u00a4", symbol) for x in money.prefix)
        self.money_suffix = tuple(x.replace("\u00a4", symbol) for x in money.suffix)
        percent = loc.percent_formats[None]
        self.percent_prefix, self.percent_suffix = percent.prefix, percent.suffix
        decimal = loc.decimal_formats[None]
        self.number_prefix, self.number_suffix = decimal.prefix, decimal.suffix

    def _digits(self, value: float, decimals: int) -> tuple[bool, str]:
        value = float(value)
        text = f"{abs(value):,.{decimals}f}"
        negative = bool(value < 0 and text.strip("0.,") != "")
        return negative, text.translate(self.swap)

    def money(self, value: float) -> str:
        neg, text = self._digits(value, 2)
        return self.money_prefix[neg] + text + self.money_suffix[neg]

    def percent(self, share: float, decimals: int) -> str:
        neg, text = self._digits(share * 100.0, decimals)
        return self.percent_prefix[neg] + text + self.percent_suffix[neg]

    def number(self, value: float, decimals: int) -> str:
        neg, text = self._digits(value, decimals)
        return self.number_prefix[neg] + text + self.number_suffix[neg]


@lru_cache(maxsize=32)
def _style(language: str, currency: str) -> _LocaleStyle:
    return _LocaleStyle(LOCALES[language], currency)


def _show(name: str, value: Any, lang: str, currency: str, terms: Callable[[Any], str] | None = None) -> str:
    """One value in words for the sentence (empty text for a missing value)."""
    if _missing(value):
        return ""
    kind = VALUE_KINDS.get(name, "text")
    if kind in ("money", "percent", "percent1", "number1", "days"):
        style = _style(lang, currency)
        if kind == "money":
            return style.money(float(value))
        if kind == "percent":
            return style.percent(float(value), 0)
        if kind == "percent1":
            return style.percent(float(value), 1)
        if kind == "number1":
            return style.number(float(value), 1)
        n = int(round(float(value)))
        return f"{style.number(n, 0)} {_DAYS[lang][0 if n == 1 else 1]}"
    if kind == "term":
        return terms(value) if terms is not None else term(value, lang)
    if kind == "model":
        return MODEL_NAMES.get(str(value), str(value))
    if kind == "models":
        names = [MODEL_NAMES.get(str(v), str(v)) for v in value]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {_AND[lang]} " + names[-1]
    if kind in ("model_percent1", "model_number1"):
        key = "tracking_error" if kind == "model_percent1" else "bic"
        return ", ".join(f"{MODEL_NAMES.get(str(m), str(m))} {_show(key, v, lang, currency)}" for m, v in dict(value).items())
    return str(value)
