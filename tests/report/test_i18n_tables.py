"""Report words and number formats in English and Dutch; tables escape and format every cell."""

import numpy as np
import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.report.build import column_kind, render_table
from cvm.report.i18n import COLUMNS, STRINGS, Formatter


def test_both_languages_hold_the_same_words():
    assert set(STRINGS["en"]) == set(STRINGS["nl"])
    # every placeholder of a sentence appears in both translations
    import string

    for key in STRINGS["en"]:
        en = {f[1] for f in string.Formatter().parse(STRINGS["en"][key]) if f[1]}
        nl = {f[1] for f in string.Formatter().parse(STRINGS["nl"][key]) if f[1]}
        assert en == nl, key


def test_dutch_and_english_numbers_money_dates():
    nl, en = Formatter("nl", "EUR"), Formatter("en", "EUR")
    # CLDR: nl_NL groups with '.', decimal ','; en_GB the other way round
    assert nl.number(1234.5) == "1.234,50"
    assert en.number(1234.5) == "1,234.50"
    assert nl.integer(4339) == "4.339"
    assert nl.percent(0.125) == "12,5%"
    assert en.percent(0.125) == "12.5%"
    assert nl.money(1234.5).replace("\xa0", " ") == "€ 1.234,50"
    assert en.money(1234.5) == "€1,234.50"
    # CLDR short dates, the style the web app uses too: nl_NL dd-MM-y, en_GB dd/MM/y
    assert nl.date("1997-09-30") == "30-09-1997"
    assert en.date("1997-09-30") == "30/09/1997"
    assert nl.number(float("nan")) == "–"
    assert nl.plotly_separators() == ",."


def test_unknown_language_is_a_schema_error():
    with pytest.raises(SchemaError):
        Formatter("de")


def test_column_kinds():
    assert column_kind("clv", pd.Series([1.0])) == "money"
    assert column_kind("probability_alive", pd.Series([0.5])) == "percent"
    assert column_kind("recency", pd.Series([0.5])) == "number"
    assert column_kind("chi_square_p_value", pd.Series([0.5])) == "number"
    assert column_kind("n_customers", pd.Series([3.0])) == "integer"
    assert column_kind("value_tier", pd.Series(["gold"])) == "text"


def test_render_table_escapes_formats_and_truncates():
    frame = pd.DataFrame({"customer_id": ["<b>x</b>", "y", "z"], "clv": [1234.5, np.nan, 3.0], "customer_share": [0.5, 0.25, 0.25]})
    html = render_table(frame, Formatter("nl", "EUR"), max_rows=2)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "1.234,50" in html and "50%" in html and "–" in html
    assert "klant" in html  # Dutch column header
    assert "De eerste 2 van 3 rijen." in html
    assert "z" not in html.split("<tbody>")[1].split("</tbody>")[0]
    assert "customer_id" in COLUMNS["nl"]
