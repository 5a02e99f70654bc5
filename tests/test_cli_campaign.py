"""``cvm actions --list`` and ``cvm campaign evaluate`` as whole processes, on a simulated campaign with a known lift.

The workspace is made by ``cvm`` processes (tests/campaign_workspace.py). A campaign holds out
half of the win-back list; then purchases after the campaign's date are simulated
(tests/value/campaign_simulation.py) with a purchase-rate lift of 1.5 for contacted customers
and none for held-out ones, ingested with ``cvm ingest``, and measured with
``cvm campaign evaluate``. The true values: purchase ratio 1 + lift, spend difference per
customer lift * days * mean_rate * mean_amount = 0.5 * 90 * 0.02 * 40 = 36.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from cvm.cli import main
from tests.campaign_workspace import build, cvm, cvm_json
from tests.value.campaign_simulation import simulate_response, write_response

pytestmark = pytest.mark.slow

DAYS, RATE, AMOUNT = 90, 0.02, 40.0


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    return build(tmp_path_factory.mktemp("campaign"))


def in_process(capsys, *args: str) -> tuple[int, dict | None, str]:
    """``cvm`` in this process (cvm.cli.main), for the variations of a command tested as a process elsewhere."""
    import json

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 and "--json" in args else None), captured.err


def test_worklist_rows_name_value_reason_and_spend_in_dutch(scored, capsys):
    got = cvm_json("actions", "--list", "win_back", "--language", "nl", "--limit", "5", "--workspace", str(scored))
    assert got["worklist"] == "win_back" and got["total"] >= 5 and len(got["rows"]) == 5
    row = got["rows"][0]
    assert set(row) >= {"customer_id", "name", "value_tier", "segment", "clv", "probability_alive", "max_spend",
                        "action", "reason", "reason_code", "reason_values"}
    assert row["name"] and row["segment"] in ("zakelijk", "particulier")
    assert row["reason"].startswith("Leverde tot nu toe") and row["action"] == "win back"
    # the list's own order: the highest margin so far first
    margins = [r["reason_values"]["historic_value"] for r in got["rows"]]
    assert margins == sorted(margins, reverse=True)
    # filters: a tier and a minimum value keep only those rows; the total counts all pages
    _, gold, _ = in_process(capsys, "actions", "--list", "win_back", "--tier", "silver", "--min-value", "0.5",
                            "--limit", "1000", "--workspace", str(scored), "--json")
    assert gold["total"] == len(gold["rows"]) and all(r["value_tier"] == "silver" and r["clv"] >= 0.5
                                                      for r in gold["rows"])
    # paging: --offset continues where the first page stopped
    first = in_process(capsys, "actions", "--list", "win_back", "--limit", "3", "-w", str(scored), "--json")[1]["rows"]
    second = in_process(capsys, "actions", "--list", "win_back", "--limit", "3", "--offset", "3", "-w", str(scored),
                        "--json")[1]["rows"]
    whole = in_process(capsys, "actions", "--list", "win_back", "--limit", "6", "-w", str(scored), "--json")[1]["rows"]
    assert [r["customer_id"] for r in first + second] == [r["customer_id"] for r in whole]


def test_a_simulated_campaign_lift_is_recovered_within_its_interval(scored, tmp_path):
    started = cvm_json("actions", "--list", "win_back", "--holdout", "0.5", "--seed", "4", "--limit", "3",
                       "--workspace", str(scored))
    campaign = started["campaign"]
    n = started["total"] + campaign["held_out"]  # the rows are the contacted customers
    assert campaign["held_out"] == round(0.5 * n) and campaign["contacted"] == started["total"]
    assert campaign["seed"] == 4 and campaign["as_of"] == started["as_of"]
    # nothing came in after the campaign's date yet: refused in words, exit code 1, no traceback
    early = cvm("campaign", "evaluate", "--workspace", str(scored), check=False)
    assert early.returncode == 1 and "no transactions have arrived after the campaign's date" in early.stderr
    assert "Traceback" not in early.stderr
    no_lift = tmp_path / "no-lift"
    shutil.copytree(scored, no_lift / "ws")  # the same campaign, to be answered without a lift

    from cvm.data import Workspace
    from cvm.data.campaigns import load_campaign

    with Workspace.open(scored) as ws:
        stored = load_campaign(ws, campaign["campaign_id"])
    start = str((pd.Timestamp(campaign["as_of"]) + pd.Timedelta(days=1)).date())
    for folder, lift in ((scored, 0.5), (no_lift / "ws", 0.0)):
        frame = simulate_response(stored["contacted"], stored["held_out"], start, DAYS, lift, seed=9,
                                  mean_rate=RATE, mean_amount=AMOUNT)
        cvm("ingest", str(write_response(frame, tmp_path / f"after-{lift}.csv")), "--workspace", str(folder), "--json")
        got = cvm_json("campaign", "evaluate", campaign["campaign_id"], "--workspace", str(folder))
        print(lift, got["purchase_ratio"], got["value"], got["verdict"])
        assert got["n_contacted"] == campaign["contacted"] and got["n_held_out"] == campaign["held_out"]
        assert got["start"] == start and got["method"] == "welch"
        ratio, value = got["purchase_ratio"], got["value"]
        assert ratio["low"] <= 1 + lift <= ratio["high"]
        assert value["low"] <= lift * DAYS * RATE * AMOUNT <= value["high"]
        if lift:
            assert ratio["low"] > 1  # recovered: the interval excludes "no effect"
        else:
            assert got["purchases"]["low"] <= 0 <= got["purchases"]["high"] and value["low"] <= 0 <= value["high"]
    dutch = cvm("campaign", "evaluate", "--language", "nl", "--workspace", str(scored)).stdout
    assert "klanten benaderd" in dutch and "95%-interval" in dutch and "Welch" in dutch


def test_too_small_groups_are_refused_in_words(scored, tmp_path, capsys):
    small = tmp_path / "small"
    shutil.copytree(scored, small)
    _, made, _ = in_process(capsys, "actions", "--list", "retention", "--holdout", "0.1", "--seed", "1",
                            "--workspace", str(small), "--json")
    assert made["campaign"]["held_out"] < 20
    refused = cvm("campaign", "evaluate", "--workspace", str(small), check=False)
    assert refused.returncode == 1 and "too few customers to measure a difference" in refused.stderr
    listed = in_process(capsys, "campaign", "list", "--workspace", str(small), "--json")[1]["campaigns"]
    assert [c["campaign_id"] for c in listed][0] == made["campaign"]["campaign_id"]
    code, _, said = in_process(capsys, "actions", "--list", "retention", "--holdout", "2", "-w", str(small))
    assert code == 1 and "between 0 and 1" in said
    code, _, said = in_process(capsys, "actions", "--list", "everyone", "-w", str(small))
    assert code == 1 and "unknown worklist 'everyone'" in said
    code, _, said = in_process(capsys, "actions", "--holdout", "0.1", "-w", str(small))
    assert code == 1 and "choose one with --list" in said


def test_worklist_export_has_safe_cells_the_date_and_the_model(scored, tmp_path):
    out = tmp_path / "retention.xlsx"
    got = cvm_json("actions", "--list", "retention", "--language", "nl", "--out", str(out), "--workspace", str(scored))
    from openpyxl import load_workbook

    sheet = load_workbook(out).active
    rows = list(sheet.values)
    header = list(rows[0])
    assert header[:2] == ["run_id", "as_of"] and header[-1] == "model"
    assert len(rows) - 1 == got["total"]
    body = [dict(zip(header, r)) for r in rows[1:]]
    assert {r["model"] for r in body} == {"bgnbd"} and {str(r["as_of"])[:10] for r in body} == {got["as_of"]}
    assert [r["customer_id"] for r in body][: len(got["rows"])] == [r["customer_id"] for r in got["rows"]]
    assert all(r["reason"].startswith("Klant in klasse") for r in body)


def test_worklist_table_fits_80_columns_without_cutting_a_figure(scored):
    from cvm.web.i18n import Formatter

    shown = cvm("actions", "--list", "win_back", "--language", "nl", "--limit", "5", "--workspace", str(scored),
                columns=80).stdout
    rows = cvm_json("actions", "--list", "win_back", "--language", "nl", "--limit", "5", "--workspace", str(scored))
    assert max(len(line) for line in shown.splitlines()) <= 80
    nl = Formatter("nl")
    for row in rows["rows"]:
        assert row["customer_id"] in shown
        assert nl.cell("max_spend", row["max_spend"]) in shown  # whole, never cut to "€ 19…"
    import re

    assert not re.search(r"\d…|…\d", shown)  # no figure cut short (a long name may be)
    assert "Terugwinnen" in shown and "Besteed" in shown


def test_the_maximum_spend_follows_the_success_chance_setting_in_json_table_and_file(scored, tmp_path):
    # the bounded rule of cvm.value.actions: max spend = s x min(clv (1 - p) / p, historic value);
    # recomputed here by hand from each row's own figures, at the default s = 0.2 and at s = 0.5
    work = tmp_path / "ws"
    shutil.copytree(scored, work)
    before = cvm_json("actions", "--list", "win_back", "--limit", "20", "--workspace", str(work))
    assert before["contact_success"] == 0.2
    for row in before["rows"]:
        p, clv, hist = row["probability_alive"], row["clv"], row["reason_values"]["historic_value"]
        expected = 0.2 * min(clv * (1 - p) / p, hist) if p > 0 else 0.0
        assert row["max_spend"] == pytest.approx(expected, rel=1e-6, abs=1e-9)
        assert row["max_spend"] <= clv / p and row["max_spend"] <= hist  # never more than either bound
    cvm("settings", "--set", "contact_success=0.5", "--workspace", str(work))
    after = cvm_json("actions", "--list", "win_back", "--limit", "20", "--workspace", str(work))
    assert after["contact_success"] == 0.5
    assert [r["max_spend"] for r in after["rows"]] == pytest.approx([2.5 * r["max_spend"] for r in before["rows"]])
    out = tmp_path / "win_back.csv"
    cvm("actions", "--list", "win_back", "--out", str(out), "--workspace", str(work), "--json")
    written = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")["max_spend"]
    for row in after["rows"]:
        assert written[row["customer_id"]] == pytest.approx(row["max_spend"], rel=1e-9)
    dutch = cvm("actions", "--list", "win_back", "--language", "nl", "--workspace", str(work)).stdout
    assert "de kans dat een contact slaagt, 50%" in " ".join(dutch.split())
