"""Workspace settings: defaults, validation, TOML round trip, dotted keys."""

import pytest

from cvm.errors import SchemaError
from cvm.settings import Settings


def test_roundtrip_and_defaults(tmp_path):
    path = tmp_path / "settings.toml"
    assert Settings.load(path) == Settings()  # a missing file gives defaults
    s = Settings().set("margin", "0.25").set("stage_rules.new_days", "30").set("language", "nl")
    s.save(path)
    back = Settings.load(path)
    assert back.margin == 0.25 and back.stage_rules.new_days == 30 and back.language == "nl"


def test_discount_rate_per_unit_is_compound():
    # 10 % a year is (1.1 ** (7 / 365.25) - 1) a week: 0.1828 %
    s = Settings(discount_rate=0.10, time_unit="week")
    assert s.discount_rate_per_unit() == pytest.approx(1.1 ** (7 / 365.25) - 1)
    assert s.discount_rate_per_unit("year") == pytest.approx(0.10)


@pytest.mark.parametrize(
    "key,value,match",
    [
        ("margin", "1.5", "margin"),
        ("nonsense", "1", "unknown setting"),
        ("stage_rules.lapsed_below", "0.9", "lapsed_below"),
        ("currency", "euro", "three-letter"),
    ],
)
def test_bad_values_are_rejected_with_the_key(key, value, match):
    with pytest.raises(SchemaError, match=match):
        Settings().set(key, value)


def test_broken_file_says_so(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("margin = [")
    with pytest.raises(SchemaError, match="not valid TOML"):
        Settings.load(path)


@pytest.mark.parametrize("key, value, english, dutch", [
    # the limits are those declared on Settings (margin in (0, 1], horizon >= 1); the words written by hand
    ("margin", 7, "invalid value for margin: it must be at most 1.0",
     "Ongeldige waarde voor margin: die mag hoogstens 1.0 zijn."),
    ("margin", -1, "invalid value for margin: it must be above 0.0",
     "Ongeldige waarde voor margin: die moet groter zijn dan 0.0."),
    ("horizon", 0, "invalid value for horizon: it must be at least 1",
     "Ongeldige waarde voor horizon: die moet minstens 1 zijn."),
    ("horizon", "2.5", "invalid value for horizon: it must be a whole number",
     "Ongeldige waarde voor horizon: die moet een geheel getal zijn."),
    ("language", "fr", "invalid value for language: it must be one of 'en', 'nl'",
     "Ongeldige waarde voor language: kies uit 'en', 'nl'."),
])
def test_a_refused_setting_says_why_in_both_languages(key, value, english, dutch):
    from cvm.messages import localize

    with pytest.raises(SchemaError) as caught:
        Settings().set(key, value)
    assert caught.value.message == english
    assert localize(caught.value, "nl")[0] == dutch
