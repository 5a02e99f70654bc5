"""The data-health summary (cvm.health): every line's number on small workspaces built here, computed by hand.

The workspace of the data tests is one Dutch export (ingested for real) plus two rows an older
version accepted (a date in 1899 and one in 2031, written into ``transactions`` directly, as a
workspace made before dates were checked holds them). Every expected number is worked out in the
comments next to the file; the scoring runs are stored with ``save_scores`` from hand-chosen rows,
so each count of what the model could and could not use is known without running a model. The
command line is checked as whole ``cvm`` processes, in English and in Dutch.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm.data import Workspace
from cvm.health import SENTENCES, HealthLine, data_health

SRC = Path(__file__).resolve().parents[2] / "src"
TODAY = dt.date(2026, 12, 3)

# customer: purchase days (non-negative amounts) | returns
#   A: 01-03, 05-03 (10 + 20)                   | -5 on 05-03     -> two purchase days: not a one-time buyer
#   B: 02-03 (30)                               |                 -> one-time
#   C: -                                        | -8              -> only returns
#   F: 04-03 (25 000)                           | -40 000 on 06-03 -> one-time (the return is no purchase)
# and four rows the ingest quarantines: two amounts that are not numbers, a date that is not one, no customer.
EXPORT = (
    "klant;datum;bedrag\n"
    "A;01-03-2024;10,00\n"
    "A;05-03-2024;20,00\n"
    "A;05-03-2024;-5,00\n"
    "B;02-03-2024;30,00\n"
    "C;03-03-2024;-8,00\n"
    "F;04-03-2024;25000,00\n"
    "F;06-03-2024;-40000,00\n"
    "G;geen datum;1,00\n"
    "H;03-03-2024;abc\n"
    ";03-03-2024;5,00\n"
    "I;02-03-2024;onbekend\n"
)
# rows an older version let in: D bought in 1899 (10), E in 2031 (20); both one-time buyers
OLD_ROWS = [("D", "1899-01-01", 10.0), ("E", "2031-03-01", 20.0)]

# the nine transactions' amounts: 10, 20, -5, 30, -8, 25000, -40000, 10, 20
#   |amount| sorted: 5, 8, 10, 10, 20, 20, 30, 25000, 40000 -> median 20 (the fifth of nine)
#   far outside: |amount| > 1000 * 20 = 20000 -> 25000 and -40000: 2 rows, the largest -40000
#   largest purchase 25000; returns larger than it: -40000 -> 1
#   returns: -5 (A), -8 (C), -40000 (F) -> 3 rows from 3 customers
#   customers A B C D E F = 6; only returns: C = 1; buyers 5; one-time: B, D, E, F = 4 of 5 = 80 %
#   first day 1899-01-01, last 2031-03-01; before 1950: 1 (D); after today (2026-12-03): 1 (E)
#   first purchase on the last day of the data (2031-03-01): E = 1


@pytest.fixture
def health_ws(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")
    ws = Workspace.open(tmp_path / "ws")
    report = ws.ingest(path)
    ws.con.executemany("INSERT INTO transactions (customer_id, ts, amount, source, line) VALUES (?, ?, ?, 'old', 1)",
                       [(c, dt.datetime.fromisoformat(d), a) for c, d, a in OLD_ROWS])
    yield ws, report
    ws.close()


def by_code(summary) -> dict[str, HealthLine]:
    return {line.code: line for line in summary.lines}


def test_each_figure_of_the_data(health_ws):
    ws, report = health_ws
    assert (report.rows_read, report.accepted, report.quarantined) == (11, 7, 4)
    summary = data_health(ws, ingest=report, today=TODAY)
    f = summary.figures
    assert f["ingest"]["rows_read"] == 11 and f["ingest"]["accepted"] == 7 and f["ingest"]["quarantined"] == 4
    assert (f["transactions"], f["customers"], f["first"], f["last"]) == (9, 6, "1899-01-01", "2031-03-01")
    assert (f["dates_too_early"], f["dates_in_future"]) == (1, 1)
    assert (f["median_abs_amount"], f["amount_outliers"], f["largest_purchase"], f["large_returns"]) == (20, 2, 25000, 1)
    assert (f["returns"], f["customers_with_returns"], f["only_returns"]) == (3, 3, 1)
    assert (f["buyers"], f["one_time_buyers"], f["one_time_share"], f["first_on_last_day"]) == (5, 4, 0.8, 1)
    assert f["quarantined"] == 4
    assert f["quarantine_by_kind"] == {"non-numeric amount in column bedrag": 2,
                                       "missing customer_id: column klant is empty": 1,
                                       "unparseable date in column datum": 1}
    lines = by_code(summary)
    assert lines["amount_outliers"].values == {"rows": 2, "factor": 1000, "median": 20.0, "largest": -40000.0}
    assert "run" not in lines  # nothing scored yet
    assert [line.level for line in summary.lines if line.code in ("dates_too_early", "dates_in_future",
                                                                   "amount_outliers", "large_returns",
                                                                   "only_returns", "quarantine")] == ["warning"] * 6
    assert lines["one_time_buyers"].level == "info"  # 80 % is not more than 90 %


def test_the_sentences_in_english_and_dutch(health_ws):
    ws, report = health_ws
    summary = data_health(ws, ingest=report, today=TODAY)
    en = [s["text"] for s in summary.sentences("en")]
    nl = [s["text"] for s in summary.sentences("nl")]
    assert en[0].startswith("This ingest read 11 rows: 7 accepted, 4 quarantined, 0 already in the workspace")
    assert en[1:] == [
        "4 rows are in quarantine and not used.",
        "2 × non-numeric amount in column bedrag",
        "1 × missing customer_id: column klant is empty",
        "1 × unparseable date in column datum",
        "The workspace holds 9 transactions of 6 customers, dated 01/01/1899 to 01/03/2031.",
        "1 transaction is dated before 01/01/1950, which cannot be right (01/01/1899).",
        "1 transaction is dated after today (03/12/2026): 01/03/2031.",
        "2 amounts are more than 1,000 times the usual amount (median €20.00); the largest is -€40,000.00.",
        "1 return (a negative amount) is larger than the largest purchase (€25,000.00).",
        "3 transactions are returns (negative amounts), from 3 customers.",
        "1 customer has only returns and no purchase.",
        "80% of customers (4 of 5) bought on one day only.",
        "1 customer bought for the first time on the last day of the data (01/03/2031), the default as-of date: "
        "the models learn nothing from them yet.",
    ]
    assert nl[0].startswith("Deze inleesronde las 11 regels: 7 opgenomen, 4 in quarantaine, 0 stonden al in de werkruimte")
    assert nl[1:] == [
        "4 regels staan in quarantaine en worden niet gebruikt.",
        "2 × geen getal voor bedrag in kolom bedrag",
        "1 × klantnummer ontbreekt: kolom klant is leeg",
        "1 × onleesbare datum in kolom datum",
        "De werkruimte bevat 9 transacties van 6 klanten, van 01-01-1899 tot en met 01-03-2031.",
        "1 transactie heeft een datum vóór 01-01-1950; dat kan niet kloppen (01-01-1899).",
        "1 transactie heeft een datum na vandaag (03-12-2026): 01-03-2031.",
        "2 bedragen zijn meer dan 1.000 keer zo groot als gewoonlijk (mediaan €\xa020,00); "
        "het grootste is €\xa0-40.000,00.",
        "1 retour (een negatief bedrag) is groter dan de grootste aankoop (€\xa025.000,00).",
        "3 transacties zijn retouren (negatieve bedragen), van 3 klanten.",
        "1 klant heeft alleen retouren en geen aankoop.",
        "80% van de klanten (4 van 5) kocht op één dag en nooit daarna.",
        "1 klant kocht voor het eerst op de laatste dag van de gegevens (01-03-2031), de standaard peildatum: "
        "de modellen leren nog niets van deze klant.",
    ]
    # every warning says what to do, in the reader's language
    for language in ("en", "nl"):
        for line in summary.sentences(language):
            assert (line["hint"] is not None) == (line["level"] == "warning"), line
    hints = {s["code"]: s["hint"] for s in summary.sentences("nl")}
    assert hints["dates_in_future"].startswith("Een datum in de toekomst verschuift de peildatum")


def test_an_ingest_that_changed_orders_says_how_many(health_ws):
    """A report that counts changed orders (rows_read = accepted + quarantined + duplicates + changed)."""
    ws, _ = health_ws
    report = {"rows_read": 10, "accepted": 5, "quarantined": 1, "duplicates": 2, "changed": 2}
    line = data_health(ws, ingest=report, today=TODAY).lines[0]
    assert line.text("en")[0] == ("This ingest read 10 rows: 5 accepted, 1 quarantined, 2 already in the workspace, "
                                  "2 changed an order already there (the newer row counts).")
    assert line.text("nl")[0].endswith("2 wijzigden een bestaande order (de nieuwste regel telt).")
    # none changed: the plain sentence
    assert data_health(ws, ingest={**report, "changed": 0}, today=TODAY).lines[0].code == "ingest"


def test_a_clean_workspace_says_so_and_an_empty_one_says_what_to_do(tmp_path):
    with Workspace.open(tmp_path / "empty") as ws:
        summary = data_health(ws, today=TODAY)
        assert [(line.code, line.level) for line in summary.lines] == [("no_quarantine", "ok"), ("empty", "warning")]
        assert summary.sentences("nl")[1]["hint"].startswith("Lees een bestand met transacties in")
        path = tmp_path / "clean.csv"
        # K1 buys on two days, K2 once: 1 of 2 buyers (50 %) one-time; K2 first buys on the last day
        path.write_text("klant;datum;bedrag\nK1;01-03-2024;10,00\nK1;02-03-2024;12,00\nK2;02-03-2024;9,00\n",
                        encoding="utf-8")
        ws.ingest(path)
        summary = data_health(ws, today=TODAY)
        assert [line.code for line in summary.lines] == ["no_quarantine", "holds", "one_time_buyers",
                                                         "first_on_last_day"]
        assert summary.warnings == 0
        assert summary.sentences("en")[2]["text"] == "50% of customers (1 of 2) bought on one day only."


def test_many_one_time_buyers_is_a_warning(tmp_path):
    # 10 customers, 1 buys twice: 9 of 10 = 90 % is not "more than 90 %"; 11 of 12 = 91.7 % is
    rows = ["klant;datum;bedrag", "K0;01-03-2024;5,00", "K0;02-03-2024;5,00"]
    with Workspace.open(tmp_path / "ws") as ws:
        path = tmp_path / "a.csv"
        path.write_text("\n".join(rows + [f"K{i};01-03-2024;5,00" for i in range(1, 10)]) + "\n", encoding="utf-8")
        ws.ingest(path)
        assert by_code(data_health(ws, today=TODAY))["one_time_buyers"].values["share"] == 0.9
        path = tmp_path / "b.csv"
        path.write_text("klant;datum;bedrag\nK10;01-03-2024;5,00\nK11;01-03-2024;5,00\n", encoding="utf-8")
        ws.ingest(path)
        line = by_code(data_health(ws, today=TODAY))["many_one_time_buyers"]
        assert line.level == "warning" and line.text("en")[0].startswith("91.7% of customers (11 of 12) bought")


def test_quarantine_reasons_are_grouped_by_kind_however_many_values(tmp_path):
    """500 different unparseable dates are one kind: one line with 500, in the reader's language."""
    rows = ["klant;datum;bedrag", "K1;01-03-2024;1,00"] + [f"K{i};dag {i};1,00" for i in range(500)]
    path = tmp_path / "dates.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with Workspace.open(tmp_path / "ws") as ws:
        ws.ingest(path)
        summary = data_health(ws, today=TODAY)
        kinds = [line for line in summary.lines if line.code == "quarantine_kind"]
        assert len(kinds) == 1 and kinds[0].values["rows"] == 500
        assert kinds[0].text("nl")[0] == "500 × onleesbare datum in kolom datum"
        # a reason this version does not know is counted under its own text
        ws.con.execute("INSERT INTO quarantine (source, line, raw, reason, kind, ingested) VALUES "
                       "('x.csv', 3, 'raw', 'a reason from a newer version', 'transactions', now())")
        summary = data_health(ws, today=TODAY)
        assert summary.figures["quarantine_by_kind"] == {"unparseable date in column datum": 500,
                                                         "a reason from a newer version": 1}
        assert summary.sentences("nl")[2]["text"] == "1 × a reason from a newer version"


# ----------------------------------------------------------------------------- after a scoring run


def store_run(ws, rows: list[tuple], as_of: str = "2024-12-31", **run) -> str:
    """A scoring run from hand-chosen rows ``(customer_id, n_transactions, frequency, T, monetary_value, clv)``."""
    from cvm.data.scores import new_run_id, save_scores

    frame = pd.DataFrame(rows, columns=["customer_id", "n_transactions", "frequency", "T", "monetary_value", "clv"])
    frame["recency"] = 0.0
    frame["probability_alive"] = np.where(frame["n_transactions"] > 0, 0.5, np.nan)
    record = {"run_id": new_run_id(), "as_of": as_of, "created": pd.Timestamp.now(), "model": "bgnbd",
              "model_reason": "BG/NBD chosen by the user", "model_reason_code": "chosen_by_user",
              "model_reason_values": json.dumps({"model": "bgnbd"}), "horizon": 52, "time_unit": "week",
              "n_customers": len(frame), **run}
    return save_scores(ws, frame, record)


# 20 customers: 2 prospects, 1 first seen on the as-of day (T = 0), 3 other one-time buyers (one of them with a
# value that is not a number), 12 repeat buyers with positive spend, 2 repeat buyers with none (-5 and 0)
RUN = ([("P1", 0, 0, 0, 0, 0.0), ("P2", 0, 0, 0, 0, 0.0), ("N1", 1, 0, 0.0, 0, 4.0),
        ("O1", 1, 0, 10, 0, 1.0), ("O2", 1, 0, 11, 0, 2.0), ("O3", 1, 0, 12, 0, float("nan"))]
       + [(f"R{i:02d}", 3, 2, 20, 10.0 + i, 30.0 + i) for i in range(12)]
       + [("X2", 3, 2, 20, 0.0, 5.0), ("X1", 2, 1, 20, -5.0, 6.0)])


def test_what_the_model_could_and_could_not_use(health_ws):
    ws, _ = health_ws
    run_id = store_run(ws, RUN)
    summary = data_health(ws, run_id=run_id, today=TODAY)
    run = summary.figures["run"]
    assert run["run_id"] == run_id and run["as_of"] == "2024-12-31" and run["model"] == "bgnbd"
    assert (run["customers"], run["prospects"], run["fit_left_out"]) == (20, 2, 1)
    assert (run["spend_fitted_on"], run["spend_left_out"], run["spend_left_out_examples"]) == (12, 2, ["X1", "X2"])
    assert (run["one_time"], run["clv_not_finite"]) == (4, 1)
    texts = {s["code"]: s["text"] for s in summary.sentences("en")}
    assert texts["run"] == "20 customers were valued as of 31/12/2024 with BG/NBD. Why: BG/NBD chosen by the user."
    assert texts["prospects"] == "2 of them are prospects without a purchase yet, valued at zero."
    assert texts["fit_left_out"].startswith("1 customer bought for the first time on the as-of day: the purchase model")
    assert texts["spend_fitted"] == ("The spend model learned from 12 repeat customers with a positive spend; "
                                     "one-time buyers (4) get its average spend per purchase.")
    assert texts["spend_left_out"] == ("2 repeat customers have no positive spend (their returns outweigh their "
                                       "purchases) and were left out of the spend model: X1, X2.")
    assert texts["clv_not_finite"] == "1 customer has no finite predicted value."
    dutch = {s["code"]: s["text"] for s in summary.sentences("nl")}
    assert dutch["run"] == "20 klanten zijn gewaardeerd op 31-12-2024 met BG/NBD. Waarom: BG/NBD gekozen door de gebruiker."
    assert dutch["spend_left_out"].endswith("zijn buiten het bestedingsmodel gehouden: X1, X2.")
    # the run is as of 2024-12-31, not the last day of the data: that line still stands
    assert "first_on_last_day" in texts


def test_the_default_run_is_the_latest_as_of_date(health_ws):
    ws, _ = health_ws
    later = store_run(ws, RUN, as_of="2024-12-31")
    store_run(ws, RUN[:5], as_of="2024-06-30")  # made later, for an earlier date (as a report or migration does)
    assert data_health(ws, today=TODAY).figures["run"]["run_id"] == later
    with pytest.raises(Exception, match="unknown scoring run 'nope'"):
        data_health(ws, run_id="nope")


def test_named_customers_are_at_most_five_and_the_rest_counted(health_ws):
    ws, _ = health_ws
    rows = [(f"X{i}", 2, 1, 20, -1.0, 1.0) for i in range(7)] + [(f"R{i}", 2, 1, 20, 5.0, 2.0 + i) for i in range(3)]
    summary = data_health(ws, run_id=store_run(ws, rows), today=TODAY)
    texts = {s["code"]: s["text"] for s in summary.sentences("nl")}
    assert texts["spend_left_out"].endswith(": X0, X1, X2, X3, X4 en nog 2.")
    # 3 repeat customers with spend: fewer than the 10 the spend model needs
    assert texts["spend_not_fitted"].startswith("Slechts 3 terugkerende klanten hebben een positieve besteding, "
                                                "minder dan de 10")


@pytest.mark.parametrize("values, code, text", [
    ([3.0] * 4, "clv_constant", "All 4 customers who bought got the same predicted value (€3.00): the model found "
                                "no difference between them."),
    ([1e-9, 2e-9, 3e-9, 4e-9], "clv_negligible", "The highest predicted value of any customer is €0.00: the model "
                                                  "predicts practically nothing."),
])
def test_a_valuation_that_says_nothing_is_a_warning(health_ws, values, code, text):
    ws, _ = health_ws
    rows = [(f"K{i}", 2, 1, 20, 5.0, v) for i, v in enumerate(values)]
    line = by_code(data_health(ws, run_id=store_run(ws, rows), today=TODAY))[code]
    assert line.level == "warning" and line.text("en")[0] == text
    assert line.text("nl")[1].startswith("Gebruik deze waarden niet")


def test_notes_a_run_stored_are_shown(health_ws):
    """A run table with a column of notes (a later version stores its fit warnings there) is read as it is."""
    ws, _ = health_ws
    store_run(ws, RUN)
    ws.con.execute("ALTER TABLE score_runs ADD COLUMN notes VARCHAR")
    ws.con.execute("""UPDATE score_runs SET notes = '["the fit reached a boundary: no dropout"]'""")
    texts = [s["text"] for s in data_health(ws, today=TODAY).sentences("nl")]
    assert texts[-1] == "De waardering meldde: the fit reached a boundary: no dropout"


def test_to_dict_is_json_and_carries_codes_values_and_words(health_ws):
    ws, report = health_ws
    store_run(ws, RUN)
    payload = data_health(ws, ingest=report, today=TODAY).to_dict("nl")
    text = json.dumps(payload, allow_nan=False)  # no NaN or infinity anywhere
    # warnings: quarantine, two dates, outliers, large return, only returns (6) + spend left out, not finite (2)
    assert payload["language"] == "nl" and payload["warnings"] == 8
    assert {"code", "level", "values", "text", "hint"} <= set(payload["lines"][0])
    assert not re.search(r"\b(nan|NaN|None|NaT)\b", " ".join(line["text"] for line in payload["lines"]))
    assert "Het bestedingsmodel leerde van 12" in text


# ----------------------------------------------------------------------------- the words themselves


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_every_sentence_has_both_languages_with_the_same_figures(code):
    entry = SENTENCES[code]
    names = lambda t: {f[1] for f in string.Formatter().parse(t or "") if f[1]}  # noqa: E731
    assert entry.en.strip() and entry.nl.strip() and entry.en != entry.nl or code == "quarantine_kind"
    assert names(entry.en) == names(entry.nl)
    assert (entry.hint_en is None) == (entry.hint_nl is None)


def test_every_sentence_is_used_and_every_used_code_exists():
    source = (SRC / "cvm" / "health.py").read_text(encoding="utf-8")
    used = {c for pair in re.findall(r'HealthLine\(\s*"(\w+)"(?: if [^,]*? else "(\w+)")?', source) for c in pair} - {""}
    used |= {c for c, _ in re.findall(r'\(\s*"(\w+)", "(warning|info)"\)', source)}
    assert used <= set(SENTENCES)
    base = {code.removesuffix("_one").removesuffix("_none").removesuffix("_one_customer") for code in SENTENCES}
    assert base - {"title"} <= used, base - used


# ----------------------------------------------------------------------------- the command line, as processes


def cvm(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "cvm.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    from cvm.data.simulate import write_transactions

    folder = tmp_path_factory.mktemp("health-cli")
    write_transactions(folder / "sim.csv", n_customers=300, seed=11)
    return folder


def test_ingest_and_score_print_the_summary_in_english_and_dutch(simulated):
    ws = simulated / "ws"
    done = cvm("ingest", str(simulated / "sim.csv"), "--workspace", str(ws))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    tx = pd.read_csv(simulated / "sim.csv")
    days = tx.assign(d=pd.to_datetime(tx["ts"]).dt.date).groupby("customer_id")["d"].nunique()
    one_time = int((days == 1).sum())
    assert "Data health" in out and "No rows are in quarantine" in out
    assert f"The workspace holds {len(tx):,} transactions of {tx['customer_id'].nunique():,} customers" in out
    assert f"of customers ({one_time:,} of {len(days):,}) bought on one day only" in out
    assert f"This ingest read {len(tx):,} rows: {len(tx):,} accepted, 0 quarantined" in out

    assert cvm("settings", "--set", "language=nl", "--workspace", str(ws)).returncode == 0
    bad = simulated / "bad.csv"
    bad.write_text("customer_id,ts,amount\nZ1,2024-03-01,abc\nZ2,2024-03-02,-3.5\n", encoding="utf-8")
    done = cvm("ingest", str(bad), "--workspace", str(ws))
    assert done.returncode == 0, done.stderr
    assert "Gezondheid van de gegevens" in done.stdout
    assert "Deze inleesronde las 2 regels: 1 opgenomen, 1 in quarantaine" in done.stdout
    assert "1 regel staat in quarantaine en wordt niet gebruikt." in done.stdout
    assert "1 × geen getal voor bedrag in kolom amount" in done.stdout
    assert "1 klant heeft alleen retouren en geen aankoop." in done.stdout
    assert "Tip: " in done.stdout

    done = cvm("score", "--model", "bgnbd", "--workspace", str(ws))
    assert done.returncode == 0, done.stderr
    assert "Gezondheid van de gegevens" in done.stdout
    assert re.search(r"[\d.]+ klanten zijn gewaardeerd op \d\d-\d\d-\d{4} met BG/NBD\. Waarom: BG/NBD gekozen door "
                     r"de gebruiker\.", done.stdout)
    assert "Het bestedingsmodel leerde van" in done.stdout
    for word in ("nan", "None", "NaT"):
        assert not re.search(rf"\b{word}\b", done.stdout.split("Gezondheid van de gegevens")[1])


def test_json_carries_the_summary_under_health(simulated, tmp_path):
    ws = tmp_path / "ws"
    done = cvm("ingest", str(simulated / "sim.csv"), "--workspace", str(ws), "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert {"rows_read", "accepted", "quarantined", "duplicates", "table"} <= set(payload)  # the contract keys stay
    assert payload["health"]["language"] == "en" and payload["health"]["figures"]["quarantined"] == 0
    assert payload["health"]["figures"]["ingest"]["rows_read"] == payload["rows_read"]
    done = cvm("score", "--model", "bgnbd", "--workspace", str(ws), "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    run = payload["health"]["figures"]["run"]
    assert run["run_id"] == payload["run_id"] and run["customers"] == payload["n_customers"]
    done = cvm("health", "--workspace", str(ws), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["health"]["figures"]["run"]["run_id"] == payload["run_id"]
    done = cvm("health", "--workspace", str(ws))
    assert done.returncode == 0 and done.stdout.startswith("Data health")
    done = cvm("health", "--workspace", str(ws), "--run", "nope")
    assert done.returncode == 1 and "unknown scoring run 'nope'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("lang, one, many", [
    ("en", "1 row is in quarantine and not used.", "3 rows are in quarantine and not used."),
    ("nl", "1 regel staat in quarantaine en wordt niet gebruikt.", "3 regels staan in quarantaine en worden niet gebruikt.")])
def test_a_count_sentence_takes_the_plural_form_that_fits(lang, one, many):
    # gettext plural forms (cvm.i18n.ntext): one line per count, no "1 regels"
    assert HealthLine("quarantine", "warning", {"rows": 1}).text(lang)[0] == one
    assert HealthLine("quarantine", "warning", {"rows": 3}).text(lang)[0] == many
    said = HealthLine("only_returns", "warning", {"customers": 1}).text(lang)[0]
    assert said == {"en": "1 customer has only returns and no purchase.",
                    "nl": "1 klant heeft alleen retouren en geen aankoop."}[lang]
    # none is a sentence of its own, and one customer behind several returns keeps its own sentence
    assert HealthLine("returns", "info", {"rows": 4, "customers": 1}).sentence_code == "returns_one_customer"
    assert HealthLine("spend_not_fitted", "warning", {"customers": 0, "minimum": 10}).sentence_code == \
        "spend_not_fitted_none"
