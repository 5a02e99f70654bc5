"""Next-best actions, the retention team and export."""

import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.settings import Settings
from cvm.value.actions import REASON_CODES, action_reason, choose_actions
from cvm.value.explain import REASONS, explain
from cvm.data.export import export


def test_rules_first_match_with_reasons():
    table = pd.DataFrame({
        "customer_id": ["pay", "keep", "back", "cost", "up", "top", "new"],
        "clv": [50.0, 400.0, 5.0, 10.0, 80.0, 900.0, 20.0],
        "historic_value": [10.0, 300.0, 500.0, 5.0, 60.0, 800.0, 1.0],
        "probability_alive": [0.9, 0.3, 0.1, 0.9, 0.8, 0.9, 0.95],
        "percentile": [0.4, 0.9, 0.3, 0.2, 0.6, 1.0, 0.1],
        "value_tier": ["bronze", "gold", "bronze", "bronze", "silver", "platinum", "bronze"],
        "lifecycle_stage": ["active", "at risk", "lapsed", "active", "loyal", "loyal", "new"],
        "overdue": [120.0, 0, 0, 0, 0, 0, 0],
        "max_days_overdue": [45, 0, 0, 0, 0, 0, 0],
        "cost": [0, 0, 0, 100.0, 0, 0, 0],
    })
    out = choose_actions(table, Settings().stage_rules, top_tier="platinum").set_index("customer_id")
    assert out.loc["pay", "action"] == "collect payment" and "45 days" in out.loc["pay", "reason"]
    assert out.loc["pay", "reason_code"] == "collect_overdue"
    assert out.loc["pay", "reason_values"] == {"amount": 120.0, "days": 45}
    assert out.loc["keep", "action"] == "retain" and "30%" in out.loc["keep", "reason"]
    assert out.loc["keep", "reason_code"] == "retain_high_value_at_risk"
    assert out.loc["keep", "reason_values"] == {"tier": "gold", "clv": 400.0, "probability_alive": 0.3}
    # historic 500 > median 60 and lapsed -> win back; the sentence calls historic value what it is: margin
    assert out.loc["back", "action"] == "win back" and out.loc["back", "reason_code"] == "win_back_lapsed_spender"
    assert "€500.00 of margin so far" in out.loc["back", "reason"]
    # cost 100 > historic 5 + clv 10: the reason cites the cost and the value it exceeds (5 + 10)
    assert out.loc["cost", "action"] == "lower cost-to-serve"
    assert out.loc["cost", "reason_values"] == {"cost": 100.0, "value": 15.0}
    assert out.loc["up", "action"] == "upsell" and out.loc["up", "reason_code"] == "upsell_active_loyal"
    # the top tier is not upsold; new customers are nurtured
    assert out.loc["top", "action"] == "nurture" and out.loc["new", "action"] == "nurture"
    assert out.loc["top", "reason_code"] == "nurture_keep_in_touch" and out.loc["new", "reason_code"] == "nurture_new"
    # the English column is exactly what the shared renderer makes of code and values
    for _, row in out.iterrows():
        assert row["reason"] == explain(row["reason_code"], row["reason_values"], "en")
    with pytest.raises(SchemaError):
        choose_actions(table.drop(columns="clv"), Settings().stage_rules, "platinum")
    # one customer's row (the 360-degree view asks for one of a million): the rows of the whole list,
    # the lapsed rule still judged against the whole table's median ("back" wins back only because of it)
    for picked in (["back"], ["pay", "new"]):
        mask = table["customer_id"].isin(picked).to_numpy()
        some = choose_actions(table, Settings().stage_rules, "platinum", only=mask).set_index("customer_id")
        pd.testing.assert_frame_equal(some, out.loc[picked])


def test_every_action_reason_code_is_known_to_the_renderer():
    codes = {c for group in REASON_CODES.values() for c in group}
    assert codes <= set(REASONS)
    row = {"lifecycle_stage": "prospect", "value_tier": "bronze", "probability_alive": float("nan")}
    assert action_reason("nurture", row) == ("nurture_prospect", {})
    with pytest.raises(SchemaError):
        action_reason("send flowers", row)


@pytest.mark.parametrize("name", ["out.csv", "out.parquet", "out.xlsx"])
def test_export_by_extension(tmp_path, name):
    frame = pd.DataFrame({"customer_id": ["a", "b"], "clv": [1.5, 2.5], "as_of": pd.to_datetime(["2024-01-01"] * 2)})
    path = export(frame, tmp_path / "sub" / name)
    back = {"out.csv": pd.read_csv, "out.parquet": pd.read_parquet, "out.xlsx": pd.read_excel}[name](path)
    assert list(back["clv"]) == [1.5, 2.5]


def test_export_rejects_unknown_extension(tmp_path):
    with pytest.raises(SchemaError):
        export(pd.DataFrame({"a": [1]}), tmp_path / "x.json")
