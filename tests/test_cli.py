"""The command line, end to end on real workspaces: contracts of ../shared/DESIGN.md.

Commands run in-process through ``cvm.cli.main`` (the console-script entry), so
exit codes and the one-JSON-object output are checked exactly as a script sees them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cvm.cli import main
from tests.cli_helpers import scored_workspace

DATASETS = Path(__file__).resolve().parents[1] / "src" / "cvm" / "data" / "datasets"


def run_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = [line for line in captured.out.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one JSON object, got {len(lines)} lines"
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def tx_file(tmp_path_factory) -> Path:
    from cvm.data.simulate import write_transactions

    path = tmp_path_factory.mktemp("cli") / "transactions.csv"
    write_transactions(path, n_customers=1500, seed=3)
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tx_file) -> Path:
    return scored_workspace(tmp_path_factory, tx_file, "cli-ws")


def test_formula_matches_hand_computation(capsys):
    # GC=100, M=10, N=3, r=0.8, d=0.1, term by term:
    #   GC part 100 * (0.8/1.1 + 0.64/1.21 + 0.512/1.331)          = 164.0872
    #   M part   10 * (1/1.1**0.5 + 0.8/1.1**1.5 + 0.64/1.1**2.5)   =  21.5120
    #   CLV = 164.0872 - 21.5120                                   = 142.5752
    payload = run_json(capsys, "formula", "--gc", "100", "--m", "10", "--n", "3", "--r", "0.8", "--d", "0.1")
    assert payload["clv"] == pytest.approx(142.5752, abs=1e-3)
    target = run_json(capsys, "formula", "--gc", "100", "--m", "10", "--n", "3", "--r", "0.8", "--d", "0.1", "--target", "142.5752")
    assert target["required_retention"] == pytest.approx(0.8, abs=1e-4)


def test_fit_summary_file_reproduces_the_published_bgnbd_fit(capsys):
    # Fader, Hardie & Lee (2005): r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4
    payload = run_json(capsys, "fit", "--summary", str(DATASETS / "cdnow_customers_summary.csv"), "--model", "bgnbd")
    assert set(payload) >= {"model", "params", "stderr", "log_likelihood", "n_customers", "converged", "time_unit"}
    assert payload["params"]["r"] == pytest.approx(0.243, abs=5e-4)
    assert payload["params"]["alpha"] == pytest.approx(4.414, abs=5e-3)
    assert payload["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert payload["n_customers"] == 2357 and payload["converged"] is True


def test_user_errors_exit_1_with_a_message_and_no_traceback(capsys, tmp_path):
    assert main(["fit", "--summary", str(tmp_path / "missing.csv")]) == 1
    captured = capsys.readouterr()
    assert "file not found" in captured.err and "Traceback" not in captured.err
    assert main(["customers", "--workspace", str(tmp_path / "nowhere")]) == 1
    assert "no workspace" in capsys.readouterr().err
    assert main(["formula", "--gc", "100", "--m", "10", "--n", "3", "--r", "1.5", "--d", "0.1"]) == 1
    assert main(["fit", "--summary", str(DATASETS / "cdnow_customers_summary.csv"), "--model", "nonsense"]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert main(["fit", "--no-such-option"]) == 2
    assert main(["no-such-command"]) == 2


def test_ingest_counts_reconcile_and_reingest_changes_nothing(capsys, tmp_path, tx_file):
    ws = str(tmp_path / "ws")
    first = run_json(capsys, "ingest", str(tx_file), "--workspace", ws)
    assert set(first) >= {"rows_read", "accepted", "quarantined", "duplicates", "table"}
    n_lines = sum(1 for _ in open(tx_file)) - 1
    assert first["rows_read"] == n_lines == first["accepted"] + first["quarantined"] + first["duplicates"]
    again = run_json(capsys, "ingest", str(tx_file), "--workspace", ws)
    assert again["accepted"] == 0 and again["duplicates"] == n_lines


def test_dutch_export_quarantines_the_totals_row(capsys, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(
        "Klantnummer;Orderdatum;Bedrag\n1001;03-01-2024;1.234,56\n1002;05-01-2024;12,50\n"
        "1001;04-02-2024;-20,00\nTotaal;;1.227,06\n".encode("cp1252")
    )
    ws = str(tmp_path / "ws")
    payload = run_json(capsys, "ingest", str(path), "--workspace", ws)
    assert (payload["rows_read"], payload["accepted"], payload["quarantined"]) == (4, 3, 1)
    rows = run_json(capsys, "quarantine", "--workspace", ws)["rows"]
    assert rows[0]["line"] == 5 and "total" in rows[0]["reason"].lower()


def test_fit_on_workspace_keeps_the_fit(capsys, workspace):
    payload = run_json(capsys, "fit", "--model", "pnbd", "--workspace", str(workspace))
    assert payload["model"] == "pnbd" and payload["time_unit"] == "week"
    assert all(v > 0 for v in payload["params"].values())
    assert payload["model_id"] is not None


def test_questions_answer_from_the_scored_workspace(capsys, workspace, tmp_path):
    ws = str(workspace)
    listing = run_json(capsys, "customers", "--workspace", ws, "--limit", "5")
    assert listing["n_customers"] == 1500
    clv = [c["clv"] for c in listing["customers"]]
    assert clv == sorted(clv, reverse=True)
    first = listing["customers"][0]["customer_id"]
    view = run_json(capsys, "customer", first, "--workspace", ws)
    assert view["customer_id"] == first
    conc = run_json(capsys, "concentration", "--workspace", ws)
    assert 0 < conc["customer_share"] < 0.8
    seg = run_json(capsys, "segments", "--by", "value_tier", "--workspace", ws)
    assert sum(r["customers"] for r in seg["rows"]) == 1500
    out = tmp_path / "actions.csv"
    acts = run_json(capsys, "actions", "--out", str(out), "--workspace", ws)
    assert len(pd.read_csv(out)) == acts["n_customers"] == 1500


def test_settings_set_is_validated_and_persisted(capsys, tmp_path):
    ws = str(tmp_path / "ws")
    payload = run_json(capsys, "settings", "--set", "margin=0.25", "--set", "language=nl", "--workspace", ws)
    assert payload["margin"] == 0.25 and payload["language"] == "nl"
    assert run_json(capsys, "settings", "--workspace", ws)["margin"] == 0.25
    assert main(["settings", "--set", "margin=7", "--workspace", ws]) == 1


def test_run_writes_one_row_per_customer_with_the_contract_columns(capsys, tmp_path, tx_file):
    out = tmp_path / "clv.parquet"
    run_json(capsys, "run", str(tx_file), "--out", str(out), "--workspace", str(tmp_path / "ws"))
    frame = pd.read_parquet(out)
    required = {"customer_id", "frequency", "recency", "T", "monetary_value", "probability_alive",
                "expected_purchases", "clv", "clv_low", "clv_high"}
    assert required <= set(frame.columns)
    assert frame["customer_id"].is_unique and len(frame) == 1500
    assert (frame["clv_low"] <= frame["clv"]).all() and (frame["clv"] <= frame["clv_high"]).all()


def test_run_says_how_many_rows_were_quarantined_and_where_to_see_them(capsys, tmp_path, tx_file):
    src = tmp_path / "with-a-bad-row.csv"
    src.write_text(tx_file.read_text() + '"C1",not a date,12.50,"O999999","web"\n')
    capsys.readouterr()
    code = main(["run", str(src), "--out", str(tmp_path / "clv.csv"), "--workspace", str(tmp_path / "ws")])
    out = capsys.readouterr().out
    assert code == 0 and "1,500 customers valued" in out
    assert "1 row quarantined with its reason: cvm quarantine --workspace" in out


@pytest.mark.slow
def test_run_on_spark_keeps_unusable_rows_next_to_the_scores(capsys, tmp_path):
    pytest.importorskip("pyspark")
    src = tmp_path / "tx.csv"
    lines = ["Klant,Datum,Bedrag"] + [f"K{c},2024-0{1 + c % 6}-1{c % 9},{5 + c}" for c in range(40)]
    lines += [f"K{c},2024-0{2 + c % 6}-2{c % 7},{9 + c}" for c in range(0, 40, 2)]
    lines += [",2024-01-02,3", "K1,31-31-2024,4"]  # no customer; a date that does not parse
    src.write_text("\n".join(lines) + "\n")
    out_file = tmp_path / "scores.parquet"
    capsys.readouterr()
    code = main(["run", str(src), "--out", str(out_file), "--engine", "spark",
                 "--map", "customer_id=Klant", "--map", "ts=Datum", "--map", "amount=Bedrag"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "40 customers valued" in captured.out
    assert f"2 unusable row(s) kept with their reason in {tmp_path / 'scores.quarantine.parquet'}" in captured.out
    assert "PySpark does not yet fully support pandas" not in captured.err
    kept = pd.read_parquet(tmp_path / "scores.quarantine.parquet")
    assert sorted(kept["reason"]) == ["missing customer_id: column Klant is empty",
                                      "unparseable date in column Datum: 31-31-2024"]  # the DuckDB ingest's reasons


def test_customer_view_for_people_reads_as_sentences(capsys, workspace):
    best = run_json(capsys, "customers", "--limit", "1", "--workspace", str(workspace))
    rows = best.get("rows") or best.get("customers")
    customer_id = str(rows[0]["customer_id"])
    capsys.readouterr()
    assert main(["customer", customer_id, "--workspace", str(workspace)]) == 0
    text = capsys.readouterr().out
    for words in ("predicted CLV:", "(interval ", "probability still active:", "value tier:", "next best action:"):
        assert words in text, words
    # the machine parts of the reason and the run id are for --json, not for people
    assert "reason_values" not in text and "run_id" not in text
