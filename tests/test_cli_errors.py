"""The command line under a careless user: every mistake gets one clear message, no traceback.

The contract (../shared/DESIGN.md, CLI): exit 1 for a mistake in the input with a message and
a hint on stderr, exit 2 for a usage error, and under ``--json`` one JSON object on stdout for
failures too. Each test runs the real CLI in-process through ``cvm.cli.main`` and checks the
exit code, that no traceback is shown, the key words of the message, and that nothing was
half-written (no new workspace, no output file, the workspace's data unchanged).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cvm.cli import main
from tests.cli_helpers import scored_workspace


def run(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def run_json_error(capsys, *args: str) -> dict:
    """A failing command under --json: exit 1 and exactly one JSON object with error and hint."""
    code, out, err = run(capsys, *args, "--json")
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print one JSON object, got {out!r}"
    payload = json.loads(lines[0])
    assert payload["exit_code"] == code and payload["error"] and "error:" in err
    return payload


@pytest.fixture(scope="module")
def tx_file(tmp_path_factory) -> Path:
    """60 customers with 1-4 purchases each across 2024 (enough for a BG/NBD fit)."""
    path = tmp_path_factory.mktemp("cli-errors") / "transactions.csv"
    lines = ["customer_id,date,amount"]
    for c in range(60):
        for k in range(1 + c % 4):
            month, day = 1 + (c + 3 * k) % 12, 1 + (5 * c + 7 * k) % 28
            lines.append(f"K{c:03d},2024-{month:02d}-{day:02d},{10 + (c * 7 + k * 3) % 50}.50")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tx_file) -> Path:
    return scored_workspace(tmp_path_factory, tx_file, "cli-errors-ws")


def n_transactions(ws: Path) -> int:
    import duckdb

    with duckdb.connect(str(ws / "cvm.duckdb"), read_only=True) as con:
        return con.execute("SELECT count(*) FROM transactions").fetchone()[0]


# ----------------------------------------------------------------------------- the contract itself
def test_json_errors_are_one_json_object(capsys, tmp_path):
    payload = run_json_error(capsys, "customers", "--workspace", str(tmp_path / "nowhere"))
    assert payload["kind"] == "WorkspaceError" and "no workspace" in payload["error"] and payload["hint"]
    payload = run_json_error(capsys, "formula", "--gc", "100", "--m", "10", "--n", "3", "--r", "1.5", "--d", "0.1")
    assert payload["exit_code"] == 1 and "retention" in payload["error"]


def test_usage_errors_exit_2_and_give_json_too(capsys):
    code, out, _ = run(capsys, "fit", "--no-such-option", "--json")
    assert code == 2
    payload = json.loads(out)
    assert payload["kind"] == "UsageError" and "--no-such-option" in payload["error"] and "cvm fit --help" in payload["hint"]
    code, _, _ = run(capsys, "score", "--discount-rate", "10%")
    assert code == 2


def test_a_fault_inside_cvm_is_one_line_not_a_traceback(capsys, monkeypatch, tmp_path):
    import cvm.models.formula as formula

    def broken(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(formula, "classic_clv", broken)
    code, _, err = run(capsys, "formula", "--gc", "100", "--m", "10", "--n", "3", "--r", "0.8", "--d", "0.1")
    assert code == 1 and "failed unexpectedly" in err and "RecursionError" in err and "CVM_DEBUG" in err


# ----------------------------------------------------------------------------- workspaces
def test_a_file_given_as_workspace(capsys, tmp_path, tx_file):
    not_a_folder = tmp_path / "ws.txt"
    not_a_folder.write_text("hello")
    for args in (["customers"], ["settings"], ["ingest", str(tx_file)]):
        code, _, err = run(capsys, *args, "--workspace", str(not_a_folder))
        assert code == 1 and "is a file, not a workspace folder" in err, args
    assert not_a_folder.read_text() == "hello"


def test_showing_settings_creates_no_workspace(capsys, tmp_path):
    ws = tmp_path / "not-yet"
    code, out, _ = run(capsys, "settings", "--workspace", str(ws))
    assert code == 0 and "margin = 0.3" in out
    assert not ws.exists()


# ----------------------------------------------------------------------------- ingest
@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--delimiter", ";;", "delimiter must be one character"),
        ("--decimal", "x", "decimal mark must be '.' or ','"),
        ("--date-format", "%Q", "date format '%Q' is not valid"),
        ("--date-format", "nonsense", "holds no % codes"),
    ],
)
def test_impossible_read_options_are_refused_before_reading(capsys, tmp_path, tx_file, option, value, words):
    ws = tmp_path / "ws"
    code, _, err = run(capsys, "ingest", str(tx_file), option, value, "--workspace", str(ws))
    assert code == 1 and words in err and "hint:" in err
    assert not ws.exists()  # the failed command left no half-made workspace


def test_header_only_file_is_an_error_and_changes_nothing(capsys, tmp_path, workspace):
    header = tmp_path / "header.csv"
    header.write_text("customer_id,date,amount\n")
    before = n_transactions(workspace)
    payload = run_json_error(capsys, "ingest", str(header), "--workspace", str(workspace))
    assert "no rows of data" in payload["error"] and "nothing was ingested" in payload["error"]
    assert n_transactions(workspace) == before
    code, _, err = run(capsys, "ingest", str(header), "--workspace", str(tmp_path / "new"))
    assert code == 1 and not (tmp_path / "new").exists()


def test_binary_file_into_new_workspace_leaves_nothing(capsys, tmp_path):
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50)
    ws = tmp_path / "ws"
    payload = run_json_error(capsys, "ingest", str(binary), "--workspace", str(ws))
    assert "not a table" in payload["error"]
    assert not ws.exists()


def test_dry_run_writes_nothing_not_even_a_workspace(capsys, tmp_path, tx_file):
    ws = tmp_path / "ws"
    code, out, _ = run(capsys, "ingest", str(tx_file), "--dry-run", "--workspace", str(ws))
    assert code == 0 and "dry run" in out
    assert not ws.exists()


def test_empty_map_parts_are_refused(capsys, tmp_path, tx_file):
    for item in ("=amount", "amount="):
        code, _, err = run(capsys, "ingest", str(tx_file), "--map", item, "--workspace", str(tmp_path / "ws"))
        assert code == 1 and "--map takes target=SourceColumn" in err


# ----------------------------------------------------------------------------- run
def test_run_with_no_usable_rows_says_why_and_keeps_the_rejected_rows(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\nA,31-02-2024,10\nB,2024-13-01,20\nA,yesterday,15\nC,2024-01-01,abc\n")
    ws, out = tmp_path / "ws", tmp_path / "clv.csv"
    code, _, err = run(capsys, "run", str(bad), "--out", str(out), "--workspace", str(ws))
    assert code == 1 and "no usable transactions" in err and "4 rows read" in err and "unparseable date" in err
    assert "cvm quarantine" in err and not out.exists()
    code, stdout, _ = run(capsys, "quarantine", "--workspace", str(ws), "--json")
    rows = json.loads(stdout)["rows"]
    assert [r["line"] for r in rows] == [2, 3, 4, 5] and all(r["reason"] for r in rows)


def test_run_refuses_a_bad_out_before_ingesting(capsys, tmp_path, tx_file):
    ws = tmp_path / "ws"
    payload = run_json_error(capsys, "run", str(tx_file), "--out", str(tmp_path / "clv.txt"), "--workspace", str(ws))
    assert "unknown file type '.txt'" in payload["error"] and ".parquet" in payload["hint"]
    assert not ws.exists()


# ----------------------------------------------------------------------------- fit --summary
def test_fit_summary_without_the_summary_columns(capsys, tmp_path, tx_file):
    code, _, err = run(capsys, "fit", "--summary", str(tx_file))
    assert code == 1 and "no column(s) frequency, recency, T" in err and "it has customer_id, date, amount" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = run(capsys, "fit", "--summary", str(empty))
    assert code == 1 and "cannot read empty.csv" in err
    code, _, err = run(capsys, "fit", "--summary", str(tmp_path))
    assert code == 1 and "is a folder" in err


def test_fit_as_of_the_first_day_says_there_is_no_history(capsys, workspace):
    # every customer's first purchase is on or after 2024-01-01 (the fixture), so as of that day T = 0 for all
    code, _, err = run(capsys, "fit", "--model", "bgnbd", "--as-of", "2024-01-01", "--workspace", str(workspace))
    assert code == 1 and "every customer bought for the first time on 2024-01-01" in err and "later --as-of" in err


# ----------------------------------------------------------------------------- score
def test_score_refuses_an_out_it_cannot_write_before_scoring(capsys, tmp_path, workspace):
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    for out, words in ((tmp_path / "x.xls", "unknown file type '.xls'"), (tmp_path, "is a folder"),
                       (a_file / "x.csv", "is a file, not a folder")):
        code, _, err = run(capsys, "score", "--model", "bgnbd", "--out", str(out), "--workspace", str(workspace))
        assert code == 1 and words in err, out
    assert a_file.read_text() == "x" and not (tmp_path / "x.xls").exists()


def test_discount_rate_above_one_is_a_percentage_mistake(capsys, workspace, tmp_path):
    code, _, err = run(capsys, "score", "--model", "bgnbd", "--discount-rate", "1.5", "--workspace", str(workspace))
    assert code == 1 and "discount rate 1.5 is out of range" in err and "0.015" in err
    ws = tmp_path / "ws"
    code, _, err = run(capsys, "settings", "--set", "discount_rate=1.5", "--workspace", str(ws))
    assert code == 1 and "discount_rate" in err and not ws.exists()


def test_as_of_far_after_the_data_is_refused(capsys, workspace):
    # the data end in December 2024; 2090 would value every customer after 65 silent years
    payload = run_json_error(capsys, "score", "--model", "bgnbd", "--as-of", "2090-01-01", "--workspace", str(workspace))
    assert "more than a year after the last transaction" in payload["error"] and "--as-of" in payload["hint"]
    code, _, err = run(capsys, "migration", "--from", "2024-06-01", "--to", "2090-01-01", "--workspace", str(workspace))
    assert code == 1 and "more than a year after" in err


def test_as_of_before_the_data_names_the_first_day(capsys, workspace):
    code, _, err = run(capsys, "score", "--model", "bgnbd", "--as-of", "2020-01-01", "--workspace", str(workspace))
    assert code == 1 and "no customer has purchased by 2020-01-01" in err and "(2024-01-" in err


# ----------------------------------------------------------------------------- questions and settings
def test_customers_unknown_tier_and_negative_limit(capsys, workspace):
    code, _, err = run(capsys, "customers", "--tier", "diamond", "--workspace", str(workspace))
    assert code == 1 and "unknown value tier 'diamond'" in err and "platinum" in err
    code, _, _ = run(capsys, "customers", "--limit", "-5", "--workspace", str(workspace))
    assert code == 2
    code, _, _ = run(capsys, "actions", "--limit", "-1", "--workspace", str(workspace))
    assert code == 2


def test_invest_budget_must_be_a_number(capsys, workspace):
    code, _, err = run(capsys, "invest", "--budget", "nan", "--workspace", str(workspace))
    assert code == 1 and "budget must be a number of at least 0" in err


def test_tier_cutoff_that_would_reorder_the_tiers(capsys, tmp_path):
    ws = str(tmp_path / "ws")
    assert main(["settings", "--set", "margin=0.25", "--workspace", ws]) == 0
    payload = run_json_error(capsys, "settings", "--set", "tier_cutoffs.gold=0.99", "--workspace", ws)
    assert "would move gold past platinum" in payload["error"] and "between 0.5 and 0.95" in payload["hint"]
    # all or nothing: a valid --set next to a wrong one is not saved either
    code, _, _ = run(capsys, "settings", "--set", "margin=0.4", "--set", "nonsense=1", "--workspace", ws)
    assert code == 1
    code, out, _ = run(capsys, "settings", "--workspace", ws, "--json")
    saved = json.loads(out)
    assert saved["margin"] == 0.25 and list(saved["tier_cutoffs"])[:2] == ["platinum", "gold"]
    # within its neighbours it is fine
    assert main(["settings", "--set", "tier_cutoffs.gold=0.9", "--workspace", ws]) == 0


def test_report_out_must_be_an_html_file(capsys, tmp_path, workspace):
    payload = run_json_error(capsys, "report", "--out", str(tmp_path / "report.pdf"), "--workspace", str(workspace))
    assert "unknown file type '.pdf'" in payload["error"] and ".html" in payload["hint"]
    code, _, err = run(capsys, "report", "--out", str(tmp_path), "--workspace", str(workspace))
    assert code == 1 and "is a folder" in err


# --- errors in the reader's language -----------------------------------------------------------
# The expected Dutch sentences are written out by hand here (not read from the catalogue), so a
# wrong or missing translation, or a command that ignores the workspace's language, fails.

def _cvm(*args: str, env: dict | None = None):
    """``cvm`` as a whole process, as a user runs it."""
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def dutch_workspace(tmp_path_factory, tx_file) -> Path:
    ws = tmp_path_factory.mktemp("cli-errors-nl") / "ws"
    assert main(["ingest", str(tx_file), "--workspace", str(ws), "--json"]) == 0
    assert main(["settings", "--set", "language=nl", "--workspace", str(ws)]) == 0
    return ws


def test_errors_are_in_the_workspace_language(dutch_workspace, tmp_path):
    missing = tmp_path / "bestellingen.csv"
    done = _cvm("ingest", str(missing), "--workspace", str(dutch_workspace))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"error: Bestand niet gevonden: {missing}" in done.stderr

    done = _cvm("fit", "--model", "bgnbdd", "--workspace", str(dutch_workspace))
    assert done.returncode == 1
    assert "Onbekend model 'bgnbdd'." in done.stderr and "Kies een van: bgnbd, mbgnbd" in done.stderr

    done = _cvm("settings", "--set", "marge=0.3", "--workspace", str(dutch_workspace))
    assert done.returncode == 1 and "Onbekende instelling 'marge'." in done.stderr

    # the workspace named by $CVM_WORKSPACE counts as one named by --workspace
    done = _cvm("fit", "--model", "nope", env={"CVM_WORKSPACE": str(dutch_workspace)})
    assert done.returncode == 1 and "Onbekend model 'nope'." in done.stderr


def test_json_error_carries_the_shown_words_and_a_language_free_code(dutch_workspace, tmp_path):
    done = _cvm("fit", "--model", "nope", "--workspace", str(dutch_workspace), "--json")
    payload = json.loads(done.stdout.strip().splitlines()[-1])
    assert payload == {"error": "Onbekend model 'nope'.", "hint": "Kies een van: bgnbd, mbgnbd, pnbd, bgbb, sbg, gg",
                       "kind": "SchemaError", "exit_code": 1, "code": "unknown_model"}


def test_errors_stay_english_without_a_dutch_workspace(tmp_path):
    done = _cvm("ingest", str(tmp_path / "orders.csv"), "--workspace", str(tmp_path / "new"))
    assert done.returncode == 1 and f"error: file not found: {tmp_path / 'orders.csv'}" in done.stderr
    assert not (tmp_path / "new").exists()
    # an unreadable settings file: the command reports it in English, no traceback
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "settings.toml").write_text("language = [unclosed\n")
    done = _cvm("fit", "--model", "nope", "--workspace", str(broken))
    assert done.returncode == 1 and "Traceback" not in done.stderr and "error:" in done.stderr


def test_engine_warnings_reach_a_dutch_reader_in_dutch(capsys, dutch_workspace, tmp_path):
    """A coded engine warning (the catalogue's fit_not_converged) through the CLI's warning printer."""
    from cvm.cli.error_output import warning_printer
    from cvm.models.base import BoundaryWarning

    warning = BoundaryWarning.coded("fit_not_converged", model="BGNBD")
    capsys.readouterr()
    warning_printer(["fit", "--workspace", str(dutch_workspace)])(warning, BoundaryWarning, "x.py", 1)
    said = " ".join(capsys.readouterr().err.split())
    assert said == ("warning: BGNBD: de optimalisatie stopte voordat de gradiënt nul was; de schattingen kunnen "
                    "onnauwkeurig zijn. Probeer een hogere max_iter of een kleine penalizer.")
    # an English reader gets the warning's own words; a warning without a code is shown as it is
    warning_printer(["fit", "--workspace", str(tmp_path / "none")])(warning, BoundaryWarning, "x.py", 1)
    assert " ".join(capsys.readouterr().err.split()) == f"warning: {warning}"
    warning_printer(["fit", "--workspace", str(dutch_workspace)])(UserWarning("plain words"), UserWarning, "x.py", 1)
    assert capsys.readouterr().err.strip() == "warning: plain words"
