"""The one catalogue (cvm.i18n): every message id in English and Dutch, with the same placeholders."""

from __future__ import annotations

import pytest

from cvm.i18n import Formats, catalogue, placeholders, text

#: Dutch texts that leave out a value the English cites, and why
LEFT_OUT_IN_DUTCH = {
    # the detail is the English text of an exception: a Dutch sentence does not quote it
    "reason.bic_fallback": {"detail"},
}


def test_every_id_has_english_and_dutch():
    en, nl = catalogue("en"), catalogue("nl")
    assert len(en) > 800  # the files were read
    assert set(en) == set(nl)
    assert not [k for k in en if not en[k].strip() or not nl[k].strip()]


@pytest.mark.parametrize("message_id", sorted(catalogue("en")))
def test_every_dutch_text_has_the_placeholders_of_the_english(message_id):
    english, dutch = placeholders(text(message_id, "en")), placeholders(text(message_id, "nl"))
    if message_id.endswith(".hint") and message_id.removesuffix(".hint") in catalogue("en"):  # a hint is filled with its message's values: the Dutch may repeat one
        message = message_id.removesuffix(".hint")
        english |= placeholders(text(message, "en"))
        dutch |= placeholders(text(message, "nl"))
    assert dutch == english - LEFT_OUT_IN_DUTCH.get(message_id, set()), message_id


def test_lookup_falls_back_and_fills_values():
    assert text("errors.file_not_found", "nl", {"path": "a.csv"}) == "Bestand niet gevonden: a.csv"
    assert text("errors.file_not_found", "fr", {"path": "a.csv"}) == "file not found: a.csv"
    assert text("no.such.id", "nl", default="as given") == "as given"
    with pytest.raises(KeyError):
        text("no.such.id", "en")


def test_formats_are_babels():
    # by hand from the CLDR patterns: en_GB "¤#,##0.00", nl_NL "¤ #,##0.00;¤ -#,##0.00", percent "#,##0%"
    en, nl = Formats("en"), Formats("nl")
    assert (en.money(1234.5), nl.money(-1234.5)) == ("€1,234.50", "€\xa0-1.234,50")
    assert (en.money(1234.6, 0), en.money(5, currency="JPY")) == ("€1,235", "JP¥5")
    assert (en.percent(0.125, 1), nl.percent(0.5, 1, optional=True)) == ("12.5%", "50%")
    assert (en.number(1234567.891, 2), nl.number(1234567.891, 2)) == ("1,234,567.89", "1.234.567,89")
    assert (en.date("1997-09-30"), nl.date("1997-09-30")) == ("30/09/1997", "30-09-1997")
    assert (en.join(["A", "B", "C"]), nl.join(["A", "B", "C"])) == ("A, B and C", "A, B en C")
    assert (nl.plural(1), nl.plural(2)) == ("one", "other")
    assert en.money(None) == nl.percent(float("nan")) == "–"
    assert Formats("nl").money_or_power(1.5e13) == "EUR 1,5E13"
