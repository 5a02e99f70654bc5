"""Quarantine reasons on the Dutch data page: every reason the ingest writes has a Dutch rendering."""

from __future__ import annotations

import pytest

from cvm.data import Workspace
from cvm.web.i18n import Formatter
from cvm.web.present import quarantine_reason

# one row per kind of rejection the ingest makes, in the format of a Dutch export
EXPORT = (
    "Klant;Datum;Bedrag\r\n"
    "K1;01-03-2024;12,50\r\n"
    "K2;31-02-2024;10,00\r\n"      # a date that does not exist
    "K3;02-03-2024;tien\r\n"       # an amount that is not a number
    ";03-03-2024;5,00\r\n"         # no customer
    "K4;04-03-2024\r\n"            # a field short
    "Totaal;;27,50\r\n"            # the totals line of the export
)


@pytest.fixture(scope="module")
def stored_reasons(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quarantine")
    path = folder / "export.csv"
    path.write_bytes(EXPORT.encode("cp1252"))
    ws = Workspace.open(folder / "ws")
    try:
        report = ws.ingest(path, kind="transactions")
        rows = ws.con.execute("SELECT reason, reason_code, reason_values FROM quarantine ORDER BY line").fetchall()
    finally:
        ws.close()
    assert report.quarantined == len(rows) == 5
    return rows


def test_every_stored_reason_has_a_dutch_rendering(stored_reasons):
    nl = Formatter("nl")
    shown = [quarantine_reason(nl, *r) for r in stored_reasons]
    assert all(s != r[0] for s, r in zip(shown, stored_reasons)), list(zip(stored_reasons, shown))
    assert any(s.startswith("onleesbare datum in kolom Datum: 31-02-2024") for s in shown)
    assert any("tien" in s and s.startswith("geen getal") for s in shown)
    assert "totaalregel (geen transactie)" in shown
    assert any("velden verwacht" in s for s in shown)


def test_english_pages_and_unknown_reasons_show_the_stored_text(stored_reasons):
    en = Formatter("en")
    assert [quarantine_reason(en, *r) for r in stored_reasons] == [r[0] for r in stored_reasons]
    assert quarantine_reason(Formatter("nl"), "a reason from a newer version") == "a reason from a newer version"
    assert quarantine_reason(Formatter("nl"), None) is None
