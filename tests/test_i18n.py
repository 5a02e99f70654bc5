"""The one catalogue (cvm.i18n): every message id in English and Dutch, with the same placeholders."""

from __future__ import annotations

import pytest

from cvm.i18n import Formats, catalogue, ntext, placeholders, plural_catalogue, text

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
    # counts: gettext plural forms (Plural-Forms "n != 1" in both catalogues), see test_plural_forms_*
    assert (ntext("customers.count", 1, "nl", {"n": "1"}), ntext("customers.count", 2, "nl", {"n": "2"})) == \
        ("1 klant", "2 klanten")
    assert en.money(None) == nl.percent(float("nan")) == "–"
    assert Formats("nl").money_or_power(1.5e13) == "EUR 1,5E13"


def test_plural_entries_have_both_forms_in_both_languages_with_the_same_placeholders():
    en, nl = plural_catalogue("en"), plural_catalogue("nl")
    assert len(en) >= 20 and set(en) == set(nl)
    for message_id in en:
        assert len(en[message_id]) == len(nl[message_id]) == 2, message_id
        names = placeholders(en[message_id][1])
        assert placeholders(nl[message_id][1]) == names, message_id
        # the singular may leave a value out (a sentence about one customer needs no "per customer" label)
        assert placeholders(en[message_id][0]) == placeholders(nl[message_id][0]) <= names, message_id
        assert all(form.strip() for form in (*en[message_id], *nl[message_id])), message_id
        assert message_id not in catalogue("en")  # one entry per id: a count sentence is only a plural entry


@pytest.mark.parametrize("lang, one, many", [
    ("en", "1 customer", "2 customers"), ("nl", "1 klant", "2 klanten")])
def test_plural_forms_choose_one_for_a_count_of_one_and_other_otherwise(lang, one, many):
    assert ntext("customers.count", 1, lang, {"n": "1"}) == one
    assert ntext("customers.count", 2, lang, {"n": "2"}) == many
    zero = ntext("customers.count", 0, lang, {"n": "0"})
    assert zero == many.replace("2", "0")  # English and Dutch say "0 customers", "0 klanten"
    assert ntext("customers.count", 1.5, lang, {"n": "1.5"}).endswith(many.split()[1])  # a fraction is not "one"
    assert ntext("common.days", 1, lang, {"n": "1"}) == {"en": "1 day", "nl": "1 dag"}[lang]
    assert ntext("common.days", 19, lang, {"n": "19"}) == {"en": "19 days", "nl": "19 dagen"}[lang]


def test_a_plural_id_is_refused_by_text_and_a_missing_one_by_ntext():
    with pytest.raises(KeyError, match="plural forms"):
        text("customers.count", "nl", {"n": 1}, default="customers.count")
    with pytest.raises(KeyError):
        ntext("no.such.id", 1, "nl")
    assert ntext("no.such.id", 1, "nl", default="as given") == "as given"


@pytest.mark.parametrize("message_id", sorted(plural_catalogue("en")))
def test_no_count_sentence_says_one_with_a_plural_noun(message_id):
    """Every count sentence filled with a count of 1 reads as singular: no "1 klanten", "1 customers"."""
    import re

    assert ntext(message_id, 1, "en") != ntext(message_id, 3, "en"), message_id  # Dutch "jaar" is both
    for lang in ("en", "nl"):
        one = ntext(message_id, 1, lang)
        filled = one.format_map({name: "1" if name in ("n", "k") else "X" for name in placeholders(one)})
        assert not re.search(r"\b1 (customers|klanten|rows|regels|rijen|days|dagen|points|punten|years)\b", filled), \
            (message_id, lang, filled)
