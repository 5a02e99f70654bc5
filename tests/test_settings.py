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
