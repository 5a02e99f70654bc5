"""Nothing is lost: counts reconcile, duplicates are recognised, an ingest is all or nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from cvm.data import Workspace, warehouse
from cvm.errors import SchemaError, WorkspaceError

ROOT = Path(__file__).resolve().parents[2]


def count(ws, table):
    return ws.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def write_orders(path, rows, header="Klant;Datum;Bedrag;Ordernummer"):
    path.write_text(header + "\n" + "".join(";".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_counts_reconcile_and_quarantine_holds_every_rejected_line(ws, tmp_path):
    good = [(f"k{i % 7}", f"{1 + i % 28:02d}-01-2024", f"{i},50", f"o{i}") for i in range(50)]
    bad = [("", "01-01-2024", "1", "x1"), ("k1", "99-99-2024", "1", "x2"), ("k1", "01-01-2024", "n/a", "x3")]
    path = write_orders(tmp_path / "a.csv", good[:20] + bad + good[20:] + [("Totaal", "", "999", "")])
    report = ws.ingest(path)
    assert report.rows_read == report.accepted + report.quarantined + report.duplicates + report.changed
    assert (report.rows_read, report.accepted, report.quarantined) == (54, 50, 4)
    q = ws.frame("SELECT line, raw, reason FROM quarantine ORDER BY line")
    # header is line 1, so the bad rows are lines 22-24 and the totals line is 55
    assert q["line"].tolist() == [22, 23, 24, 55]
    assert q["raw"].tolist()[0] == ";01-01-2024;1;x1"
    assert all(q["reason"].str.len() > 5)
    assert ws.con.execute("SELECT min(line), max(line) FROM transactions").fetchall() == [(2, 54)]


def test_second_ingest_of_same_file_changes_nothing(ws, tmp_path):
    path = write_orders(tmp_path / "a.csv", [("k1", "01-01-2024", "10", "o1"), ("k2", "02-01-2024", "x", "o2")])
    first = ws.ingest(path)
    snapshot = (ws.frame("transactions"), ws.frame("SELECT source, line, raw, reason FROM quarantine"))
    second = ws.ingest(path)
    assert (first.accepted, first.quarantined, first.duplicates) == (1, 1, 0)
    assert (second.accepted, second.quarantined, second.duplicates) == (0, 1, 1)
    pd.testing.assert_frame_equal(ws.frame("transactions"), snapshot[0])
    pd.testing.assert_frame_equal(ws.frame("SELECT source, line, raw, reason FROM quarantine"), snapshot[1])


def test_overlapping_files_deduplicated_by_order_id(ws, tmp_path):
    jan = write_orders(tmp_path / "jan.csv", [("k1", "05-01-2024", "10", "o1"), ("k2", "20-01-2024", "20", "o2")])
    # the February export repeats o1 unchanged, o2 with a corrected amount, and adds o3
    feb = write_orders(tmp_path / "feb.csv", [("k1", "05-01-2024", "10", "o1"), ("k2", "20-01-2024", "21", "o2"),
                                              ("k1", "03-02-2024", "30", "o3")])
    ws.ingest(jan)
    report = ws.ingest(feb)
    # a corrected order is a change, not a duplicate (issue 11): the newer amount wins
    assert (report.accepted, report.duplicates, report.changed) == (1, 1, 1)
    assert ws.frame("SELECT order_id FROM transactions ORDER BY order_id")["order_id"].tolist() == ["o1", "o2", "o3"]
    assert ws.frame("SELECT amount FROM transactions WHERE order_id = 'o2'")["amount"].tolist() == [21.0]


def test_order_lines_and_identical_rows_within_a_file_are_kept(ws, tmp_path):
    # two lines of order o1, and two identical purchases without an order id
    rows = [("k1", "05-01-2024", "10", "o1"), ("k1", "05-01-2024", "10", "o1"),
            ("k2", "06-01-2024", "5", ""), ("k2", "06-01-2024", "5", "")]
    path = write_orders(tmp_path / "lines.csv", rows)
    assert ws.ingest(path).accepted == 4
    again = ws.ingest(path)
    assert (again.accepted, again.duplicates) == (0, 4)
    # an overlapping export holding one of the identical rows adds nothing; a third copy is new
    more = write_orders(tmp_path / "more.csv", [("k2", "06-01-2024", "5", "")] * 3)
    report = ws.ingest(more)
    assert (report.accepted, report.duplicates) == (1, 2)
    assert count(ws, "transactions") == 5


def test_overlap_without_order_id_by_whole_row(ws, tmp_path):
    a = write_orders(tmp_path / "a.csv", [("k1", "05-01-2024", "10"), ("k1", "06-01-2024", "10")], "Klant;Datum;Bedrag")
    b = write_orders(tmp_path / "b.csv", [("k1", "06-01-2024", "10"), ("k1", "07-01-2024", "10")], "Klant;Datum;Bedrag")
    ws.ingest(a)
    report = ws.ingest(b)
    assert (report.accepted, report.duplicates) == (1, 1)


def test_failure_after_insert_leaves_workspace_unchanged(ws, tmp_path, monkeypatch):
    ws.ingest(write_orders(tmp_path / "a.csv", [("k1", "05-01-2024", "10", "o1")]))
    before = (ws.frame("transactions"), count(ws, "quarantine"))

    def crash(_ws):
        # the rows are in the table inside the open transaction at this point
        assert count(_ws, "transactions") > 1
        raise RuntimeError("simulated crash after the insert")

    monkeypatch.setattr(warehouse, "_after_insert", crash)
    big = write_orders(tmp_path / "b.csv", [(f"k{i}", "06-01-2024", "1", f"n{i}") for i in range(500)]
                       + [("", "x", "y", "z")])
    with pytest.raises(RuntimeError, match="simulated crash"):
        ws.ingest(big)
    pd.testing.assert_frame_equal(ws.frame("transactions"), before[0])
    assert count(ws, "quarantine") == before[1]
    assert not ws.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()[0][0]


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from cvm.data import Workspace, warehouse
    def pause(ws):
        n = ws.con.execute("SELECT count(*) FROM transactions").fetchall()[0][0]
        print("inserted", n, flush=True)
        time.sleep(120)
    warehouse._after_insert = pause
    ws = Workspace.open(sys.argv[1])
    ws.ingest(sys.argv[2])
""")


def test_ingest_killed_mid_way_leaves_no_partial_rows(tmp_path, workspace_dir):  # embedded, and a PostgreSQL catalog
    wsdir = workspace_dir
    with Workspace.open(wsdir) as ws:
        ws.ingest(write_orders(tmp_path / "a.csv", [("k1", "05-01-2024", "10", "o1")]))
    big = write_orders(tmp_path / "big.csv", [(f"k{i}", "06-01-2024", "1", f"n{i}") for i in range(20_000)])
    script = tmp_path / "kill_me.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(wsdir), str(big)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        assert line.startswith("inserted"), proc.stderr.read()
        assert int(line.split()[1]) == 20_001  # the child had inserted every row before the kill
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Workspace.open(wsdir) as ws:
        assert count(ws, "transactions") == 1
        assert ws.frame("transactions")["order_id"].tolist() == ["o1"]


def test_locked_workspace_gives_workspace_error(tmp_path):
    wsdir = tmp_path / "ws"
    Workspace.open(wsdir).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from cvm.data import Workspace; w = Workspace.open(sys.argv[1]); "
         "print('open', flush=True); time.sleep(60)", str(wsdir)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "open"
        # a second writer waits for the first, then is refused in words: who holds it, its pid (issue 12)
        with pytest.raises(WorkspaceError, match=rf"is being changed by .*pid {holder.pid}"):
            Workspace.open(wsdir, wait=1)
        with Workspace.open(wsdir, read_only=True) as reader:  # while a reader is never kept waiting
            assert count(reader, "transactions") == 0
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_workspace_files_settings_and_helpers(tmp_path):
    ws = Workspace.open(tmp_path / "w")
    assert (tmp_path / "w" / "cvm.duckdb").exists() and (tmp_path / "w" / "settings.toml").exists()
    ws.save_settings(ws.settings.set("margin", 0.4))
    ws.close()
    ws = Workspace.open(tmp_path / "w")
    assert ws.settings.margin == 0.4
    assert ws.has_table("transactions") and not ws.has_table("customers")
    assert list(ws.frame("SELECT ? AS x", [3])["x"]) == [3]
    with pytest.raises(WorkspaceError):
        ws.frame("customers")
    ws.close()


def test_other_kinds(ws, tmp_path):
    customers = tmp_path / "klanten.csv"
    customers.write_text("Klantnummer;Naam;Segment;Klant sinds;Woonplaats;Nieuwsbrief\n"
                         "1;Anne;zakelijk;01-02-2020;Utrecht;ja\n2;Bas;particulier;15-06-2021;Gouda;nee\n"
                         "1;Anne dubbel;zakelijk;01-02-2020;Utrecht;ja\n", encoding="utf-8")
    report = ws.ingest(customers, kind="customers")
    assert (report.accepted, report.duplicates) == (2, 1)
    row = ws.frame("SELECT * FROM customers WHERE customer_id = '1'").iloc[0]
    assert row["name"] == "Anne" and row["city"] == "Utrecht" and '"Nieuwsbrief":"ja"' in row["attributes"]

    referrals = tmp_path / "verwijzingen.csv"
    referrals.write_text("Aanbrenger;Nieuwe klant;Datum\n1;2;2021-06-15\n1;2;2021-06-15\n", encoding="utf-8")
    assert ws.ingest(referrals, kind="referrals").accepted == 1

    costs = tmp_path / "kosten.csv"
    costs.write_text("Datum;Campagne;Soort;Kanaal;Bedrag\n01-01-2024;winter;acquisition;web;1.000,00\n", encoding="utf-8")
    assert ws.ingest(costs, kind="costs").accepted == 1
    assert ws.frame("costs")["amount"].tolist() == [1000.0]

    invoices = tmp_path / "facturen.csv"
    invoices.write_text("Factuurnummer;Klantnummer;Factuurdatum;Vervaldatum;Betaaldatum;Bedrag\n"
                        "F1;1;01-01-2024;31-01-2024;15-01-2024;100,00\nF2;2;01-02-2024;02-03-2024;;50,00\n",
                        encoding="utf-8")
    assert ws.ingest(invoices, kind="invoices").accepted == 2
    assert ws.frame("SELECT paid FROM invoices ORDER BY invoice_id")["paid"].isna().tolist() == [False, True]
    with pytest.raises(SchemaError, match="unknown kind"):
        ws.ingest(invoices, kind="orders")


def test_models_are_kept(ws):
    from cvm.models.sbg import ShiftedBetaGeometric

    model = ShiftedBetaGeometric().fit(survivors=[1000, 631, 468, 382, 326])
    first = ws.save_model(model, {"model": "sbg", "time_unit": "year", "as_of": "2024-12-31"})
    second = ws.save_model(model, {"model": "sbg", "time_unit": "year"})
    assert second == first + 1
    loaded = ws.load_model("sbg")
    assert dict(loaded.params_) == pytest.approx(dict(model.params_))
    assert ws.load_model(first).log_likelihood_ == pytest.approx(model.log_likelihood_)
    assert ws.frame("SELECT as_of FROM models ORDER BY model_id")["as_of"].notna().tolist() == [True, False]
    with pytest.raises(WorkspaceError):
        ws.load_model(999)
