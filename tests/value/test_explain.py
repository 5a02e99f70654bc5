"""Reason codes rendered in English and Dutch, numbers in each locale (Babel is the reference)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from babel.numbers import format_currency, format_decimal, format_percent

from cvm.errors import SchemaError
from cvm.i18n import Formats
from cvm.value.explain import REASONS, explain, reason_codes

#: one example of the values each reason code cites
SAMPLES: dict[str, dict] = {
    "collect_overdue": {"amount": 1234.5, "days": 45},
    "retain_high_value_at_risk": {"tier": "platinum", "clv": 1234.5, "probability_alive": 0.38},
    "win_back_lapsed_spender": {"historic_value": 1234.5, "probability_alive": 0.12},
    "thank_referrer": {"referrals": 3, "value": 1234.5},
    "lower_cost_to_serve": {"cost": 1234.5, "value": 987.25},
    "upsell_active_loyal": {"stage": "loyal", "tier": "silver", "probability_alive": 0.81},
    "nurture_prospect": {},
    "nurture_new": {},
    "nurture_keep_in_touch": {"stage": "active", "tier": "bronze"},
    "best_tracking_error": {"model": "pnbd", "tracking_error": 0.0812, "others": {"bgnbd": 0.0934, "mbgnbd": 0.1211}},
    "tie_broken_by_bic": {"models": ["bgnbd", "pnbd"], "tolerance": 0.01, "errors": {"bgnbd": 0.031, "pnbd": 0.035},
                          "model": "bgnbd", "bic": 12345.67},
    "lowest_bic_no_holdout": {"model": "bgnbd", "bic": 12345.67},
    "chosen_by_backtest": {"model": "pnbd"},
    "chosen_by_user": {"model": "bgnbd"},
    "bic_fallback": {"model": "pnbd", "bic_by_model": {"bgnbd": 12345.67, "pnbd": 12001.2}, "detail": "no holdout"},
}

#: words of the English sentences that must never appear in a Dutch one
ENGLISH_WORDS = re.compile(r"\b(overdue|customer|whose|probability|margin|probably|exceeds|likely|tier|"
                           r"welcome|relationship|tracks|holdout|lowest|chosen|the|of|and|days)\b")


def test_samples_cover_every_code():
    assert set(SAMPLES) == set(reason_codes())


@pytest.mark.parametrize("code", sorted(REASONS))
def test_every_code_renders_in_both_languages(code):
    en = explain(code, SAMPLES[code], "en")
    nl = explain(code, SAMPLES[code], "nl")
    for text in (en, nl):
        assert "{" not in text and "[" not in text and "None" not in text
        assert text[0] == text[0].upper()
    assert en != nl
    assert not ENGLISH_WORDS.search(nl.replace("CLV", "")), nl
    # every money value appears formatted as Babel formats it in the locale (en_GB: €1,234.50; nl_NL: € 1.234,50)
    for name in ("amount", "clv", "historic_value", "cost", "value"):
        if name in SAMPLES[code]:
            v = SAMPLES[code][name]
            assert format_currency(v, "EUR", locale="en_GB") in en
            assert format_currency(v, "EUR", locale="nl_NL") in nl
    if "probability_alive" in SAMPLES[code]:
        p = SAMPLES[code]["probability_alive"]
        assert format_percent(p, locale="en_GB") in en and format_percent(p, locale="nl_NL") in nl


def test_locale_formats_by_hand():
    values = {"amount": 1234.5, "days": 45}
    assert explain("collect_overdue", values, "en") == "€1,234.50 overdue; the oldest invoice is 45 days past due"
    assert explain("collect_overdue", values, "nl") == ("€\xa01.234,50 achterstallig; de oudste factuur is 45 dagen "
                                                        "over de vervaldatum")
    assert "1 day past" in explain("collect_overdue", {"amount": 5, "days": 1}, "en")
    assert "1 dag over" in explain("collect_overdue", {"amount": 5, "days": 1}, "nl")
    # other currencies take their own sign
    assert explain("collect_overdue", values, "en", currency="GBP").startswith("£1,234.50")
    # model names as people write them; tracking errors with one decimal (8.1% / 8,1%)
    en = explain("best_tracking_error", SAMPLES["best_tracking_error"], "en")
    nl = explain("best_tracking_error", SAMPLES["best_tracking_error"], "nl")
    assert en.startswith("Pareto/NBD tracks") and "8.1%; BG/NBD 9.3%, MBG/NBD 12.1%)" in en
    assert "8,1%; BG/NBD 9,3%, MBG/NBD 12,1%)" in nl
    tie = explain("tie_broken_by_bic", SAMPLES["tie_broken_by_bic"], "nl")
    assert tie.startswith("BG/NBD en Pareto/NBD volgen") and "laagste BIC (12.345,7)" in tie
    # Dutch tier and stage words
    assert "klasse platina" in explain("retain_high_value_at_risk", SAMPLES["retain_high_value_at_risk"], "nl")


def test_optional_parts_drop_out_when_their_value_is_missing():
    alone = explain("best_tracking_error", {"model": "bgnbd", "tracking_error": 0.05, "others": {}}, "en")
    assert alone.endswith("(mean absolute error 5.0%)")
    with_detail = explain("bic_fallback", SAMPLES["bic_fallback"], "en")
    assert with_detail.endswith("was unavailable (no holdout)")
    assert explain("bic_fallback", {**SAMPLES["bic_fallback"], "detail": None}, "en").endswith("was unavailable")


def test_fast_number_style_equals_babel():
    # the cached style must give Babel's text; values avoid exact half-way ties, where Babel's decimal
    # rounding of str(value) and Python's binary rounding may differ in the last digit
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.uniform(-1e7, 1e7, 200), rng.uniform(-5, 5, 50), [0.0, 7.0, 1e9 + 0.3]])
    for language, locale in (("en", "en_GB"), ("nl", "nl_NL")):
        for currency in ("EUR", "USD"):
            style = Formats(language, currency)
            for v in values:
                assert style.money(v) == format_currency(v, currency, locale=locale)
        style = Formats(language, "EUR")
        for share in rng.uniform(0, 1, 100):
            assert style.percent(share, 0) == format_percent(share, format="#,##0%", locale=locale)
            assert style.percent(share, 1) == format_percent(share, format="#,##0.0%", locale=locale)
        for v in values:
            assert style.number(v, 1) == format_decimal(v, format="#,##0.0", locale=locale)


def test_bad_input_is_a_clear_error():
    with pytest.raises(SchemaError, match="unknown reason code"):
        explain("because", {}, "en")
    with pytest.raises(SchemaError, match="English or Dutch"):
        explain("nurture_new", {}, "fr")
    with pytest.raises(SchemaError, match="needs the value"):
        explain("collect_overdue", {"amount": 3.0}, "en")
