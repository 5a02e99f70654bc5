"""Every reader case from small fixture files written by the tests themselves."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from cvm.data import readers
from cvm.errors import SchemaError

DUTCH_EXPORT = (
    "Omzetrapport webwinkel 2024\r\n"
    "\r\n"
    "Klantnummer;Naam;Orderdatum;Ordernummer;Bedrag;Kanaal\r\n"
    "1001;José Müller;01-02-2024;A-1;€ 1.234,56;web\r\n"
    "1002;Zoë de Vries;02-02-2024;A-2;12,50;winkel\r\n"
    "\r\n"
    "1001;José Müller;15-03-2024;A-3;-12,50;web\r\n"
    "1003;Renée Brontë;31-13-2024;A-4;5,00;web\r\n"
    "1004;Anne;03-04-2024;A-5;vijf;web\r\n"
    ";Piet;03-04-2024;A-6;1,00;web\r\n"
    "Totaal;;;;1.239,56;\r\n"
)


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def rows(ws, sql):
    return ws.con.execute(sql).fetchall()


def test_dutch_excel_export_semicolon_decimal_comma_cp1252(ws, tmp_path):
    path = write(tmp_path / "omzet.csv", DUTCH_EXPORT, "cp1252")
    report = ws.ingest(path)
    d = report.detected
    assert (d["encoding"], d["delimiter"], d["decimal"], d["thousands"], d["date_format"]) == (
        "cp1252", ";", ",", ".", "%d-%m-%Y")
    assert d["header_line"] == 3
    assert d["mapping"] == {"customer_id": "Klantnummer", "ts": "Orderdatum", "amount": "Bedrag",
                            "order_id": "Ordernummer", "channel": "Kanaal"}
    # 7 data rows (title, header and blank lines are not rows): 3 good, 4 rejected
    assert (report.rows_read, report.accepted, report.quarantined, report.duplicates) == (7, 3, 4, 0)
    assert report.blank_lines == 1
    got = rows(ws, "SELECT customer_id, ts, amount, order_id, channel, line FROM transactions ORDER BY line")
    assert got == [
        ("1001", dt.datetime(2024, 2, 1), 1234.56, "A-1", "web", 4),
        ("1002", dt.datetime(2024, 2, 2), 12.5, "A-2", "winkel", 5),
        ("1001", dt.datetime(2024, 3, 15), -12.5, "A-3", "web", 7),  # the return is kept
    ]
    q = rows(ws, "SELECT line, reason, raw FROM quarantine ORDER BY line")
    assert [r[0] for r in q] == [8, 9, 10, 11]
    assert "unparseable date" in q[0][1] and "31-13-2024" in q[0][1]
    assert "non-numeric amount" in q[1][1]
    assert q[2][1].startswith("missing customer_id")
    assert q[3][1].startswith("totals row") and q[3][2] == "Totaal;;;;1.239,56;"
    assert q[0][2] == "1003;Renée Brontë;31-13-2024;A-4;5,00;web"  # cp1252 decoded, raw kept
    # the totals row is never summed into revenue
    assert rows(ws, "SELECT round(sum(amount), 2) FROM transactions") == [(1234.56,)]


def test_comma_csv_us_numbers_dollar_iso_datetime_utf8_bom(ws, tmp_path):
    text = ('customer,order_date,revenue,order_id\n'
            'c1,2024-01-05 13:45:10,"$1,234.50",o1\n'
            'c2,2024-01-06T08:00:00,"2,000.00",o2\n'
            'c1,2024-02-01,99.95,o3\n')
    path = write(tmp_path / "us.csv", "\ufeff" + text)
    report = ws.ingest(path)
    assert report.detected["bom"] is True and report.detected["encoding"] == "utf-8"
    assert (report.detected["delimiter"], report.detected["decimal"], report.detected["thousands"]) == (",", ".", ",")
    assert report.accepted == 3
    assert rows(ws, "SELECT amount, ts FROM transactions ORDER BY line") == [
        (1234.5, dt.datetime(2024, 1, 5, 13, 45, 10)), (2000.0, dt.datetime(2024, 1, 6, 8)),
        (99.95, dt.datetime(2024, 2, 1))]


@pytest.mark.parametrize("delimiter", ["\t", "|", ",", ";"])
def test_delimiters(ws, tmp_path, delimiter):
    lines = ["klant_id", "datum", "bedrag"], ["k1", "2024-03-01", "10"], ["k2", "2024-03-02", "20.5"]
    path = write(tmp_path / "d.txt", "\n".join(delimiter.join(r) for r in lines) + "\n")
    report = ws.ingest(path)
    assert report.detected["delimiter"] == delimiter
    assert rows(ws, "SELECT customer_id, amount FROM transactions ORDER BY line") == [("k1", 10.0), ("k2", 20.5)]


@pytest.mark.parametrize("dates, fmt, expected", [
    (["05/02/2024", "28/02/2024"], "%d/%m/%Y", [dt.datetime(2024, 2, 5), dt.datetime(2024, 2, 28)]),
    (["5-2-24", "28-2-24 14:30"], "%d-%m-%y", [dt.datetime(2024, 2, 5), dt.datetime(2024, 2, 28, 14, 30)]),
    (["05-02-2024 09:15:00", "28-02-2024"], "%d-%m-%Y", [dt.datetime(2024, 2, 5, 9, 15), dt.datetime(2024, 2, 28)]),
    # Excel serial numbers: 45327 = 2024-02-05 (days since 1899-12-30), .5 = noon
    (["45327", "45350.5"], "excel", [dt.datetime(2024, 2, 5), dt.datetime(2024, 2, 28, 12)]),
    (["20240205", "20240228"], "%Y%m%d", [dt.datetime(2024, 2, 5), dt.datetime(2024, 2, 28)]),
    (["02/05/2024", "02/28/2024"], "%m/%d/%Y", [dt.datetime(2024, 2, 5), dt.datetime(2024, 2, 28)]),
])
def test_date_formats(ws, tmp_path, dates, fmt, expected):
    body = "".join(f"k{i};{d};1\n" for i, d in enumerate(dates))
    path = write(tmp_path / "dates.csv", "Klant;Datum;Omzet\n" + body)
    report = ws.ingest(path)
    assert report.detected["date_format"] == fmt
    assert [r[0] for r in rows(ws, "SELECT ts FROM transactions ORDER BY line")] == expected


def test_explicit_options_override_sniffing(ws, tmp_path):
    # 01/02/2024 is sniffed day-first; the user says month-first. "1.500" sniffs as 1500 (thousands dot).
    path = write(tmp_path / "x.csv", "Klant;Datum;Bedrag\nk1;01/02/2024;1.500\n")
    report = ws.ingest(path, date_format="%m/%d/%Y", decimal=".", dry_run=True)
    assert report.preview[0]["ts"] == dt.datetime(2024, 1, 2) and report.preview[0]["amount"] == 1.5
    report = ws.ingest(path)
    assert report.preview[0]["ts"] == dt.datetime(2024, 2, 1) and report.preview[0]["amount"] == 1500.0


def test_dry_run_reports_and_writes_nothing(ws, tmp_path):
    path = write(tmp_path / "omzet.csv", DUTCH_EXPORT, "cp1252")
    report = ws.ingest(path, dry_run=True)
    out = report.to_dict()
    assert out["dry_run"] and out["rows_read"] == 7 and out["accepted"] == 3
    assert {"delimiter", "decimal", "date_format", "encoding", "mapping"} <= set(out["detected"])
    assert out["preview"][0]["customer_id"] == "1001" and out["preview"][0]["ts"] == "2024-02-01T00:00:00"
    assert rows(ws, "SELECT count(*) FROM transactions") == [(0,)]
    assert rows(ws, "SELECT count(*) FROM quarantine") == [(0,)]


def test_mapping_and_no_header(ws, tmp_path):
    path = write(tmp_path / "raw.csv", "k1;2024-01-01;3,5\nk2;2024-01-02;4\n")
    report = ws.ingest(path, mapping={"customer_id": "column1", "ts": "column2", "amount": "column3"})
    assert report.detected["header_line"] is None
    assert rows(ws, "SELECT customer_id, amount FROM transactions ORDER BY line") == [("k1", 3.5), ("k2", 4.0)]
    assert rows(ws, "SELECT line FROM transactions ORDER BY line") == [(1,), (2,)]


def test_quoted_fields_with_delimiters(ws, tmp_path):
    path = write(tmp_path / "q.csv", 'Klant;Naam;Datum;Bedrag\nk1;"Jansen; B.V.";2024-01-01;"1.000,00"\n'
                                     'k2;"Zeg ""hoi""";2024-01-02;2,00\n')
    report = ws.ingest(path, kind="transactions")
    assert report.accepted == 2
    assert rows(ws, "SELECT amount FROM transactions ORDER BY line") == [(1000.0,), (2.0,)]


def test_xlsx_written_with_openpyxl(ws, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Klant-ID", "Datum", "Omzet", "Factuurnummer"])
    sheet.append(["K1", dt.datetime(2024, 5, 1, 10, 30), 100.25, "F1"])
    sheet.append([2, dt.date(2024, 5, 2), 7, "F2"])
    sheet.append([None, None, None, None])
    sheet.append(["K3", "03-05-2024", "12,50", "F3"])  # text cells in a sheet
    sheet.append(["Totaal", None, 119.75, None])
    path = tmp_path / "omzet.xlsx"
    book.save(path)
    report = ws.ingest(path)
    assert report.detected["format"] == "xlsx"
    assert (report.rows_read, report.accepted, report.quarantined) == (4, 2, 2)
    got = rows(ws, "SELECT customer_id, ts, amount, order_id, line FROM transactions ORDER BY line")
    assert got == [("K1", dt.datetime(2024, 5, 1, 10, 30), 100.25, "F1", 2),
                   ("2", dt.datetime(2024, 5, 2), 7.0, "F2", 3)]
    reasons = [r[0] for r in rows(ws, "SELECT reason FROM quarantine ORDER BY line")]
    assert "unparseable date" in reasons[0] and reasons[1].startswith("totals row")


def _frame_data():
    return {"customer_id": ["a", "b", "a"],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-09"]),
            "amount": [10.0, 20.0, -5.0]}


def test_parquet(ws, tmp_path):
    path = tmp_path / "tx.parquet"
    pd.DataFrame(_frame_data()).to_parquet(path)
    report = ws.ingest(path)
    assert report.detected["format"] == "parquet" and report.accepted == 3
    assert rows(ws, "SELECT line, amount FROM transactions ORDER BY line") == [(1, 10.0), (2, 20.0), (3, -5.0)]


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow"])
def test_frames(ws, kind):
    data = _frame_data()
    if kind == "pandas":
        frame = pd.DataFrame(data)
    elif kind == "polars":
        import polars as pl

        frame = pl.DataFrame(data)
    else:
        import pyarrow as pa

        frame = pa.table(data)
    report = ws.ingest(frame)
    assert report.accepted == 3 and report.detected["format"] == "frame"
    assert rows(ws, "SELECT customer_id, ts, amount FROM transactions ORDER BY line") == [
        ("a", dt.datetime(2024, 1, 1), 10.0), ("b", dt.datetime(2024, 1, 2), 20.0), ("a", dt.datetime(2024, 1, 9), -5.0)]


def test_frame_with_bad_values_goes_to_quarantine(ws):
    frame = pd.DataFrame({"klant": ["a", None, "c"], "datum": ["2024-01-01", "2024-01-02", "gisteren"],
                          "bedrag": ["1,5", "2", "3"]})
    report = ws.ingest(frame)
    assert (report.accepted, report.quarantined) == (1, 2)


def test_unknown_columns_schema_error_lists_columns_and_map_hint(ws, tmp_path):
    path = write(tmp_path / "odd.csv", "who;when;howmuch\nk1;2024-01-01;3\n")
    with pytest.raises(SchemaError) as err:
        ws.ingest(path)
    text = str(err.value)
    assert "who, when, howmuch" in text and "--map customer_id=<column>" in text


def test_mapping_to_missing_column(ws, tmp_path):
    path = write(tmp_path / "odd.csv", "who;when;howmuch\nk1;2024-01-01;3\n")
    with pytest.raises(SchemaError, match="no column 'Klant'"):
        ws.ingest(path, mapping={"customer_id": "Klant", "ts": "when", "amount": "howmuch"})


def test_empty_file(ws, tmp_path):
    with pytest.raises(SchemaError, match="empty"):
        ws.ingest(write(tmp_path / "empty.csv", ""))
    with pytest.raises(SchemaError, match="empty"):
        ws.ingest(write(tmp_path / "blank.csv", "\n\n  \n"))


def test_not_a_table(ws, tmp_path):
    with pytest.raises(SchemaError, match="not a table"):
        ws.ingest(write(tmp_path / "letter.txt", "Beste klant\nHierbij de factuur\nGroet\n"))
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    with pytest.raises(SchemaError, match="not a table"):
        ws.ingest(binary)
    assert rows(ws, "SELECT count(*) FROM transactions") == [(0,)]


def test_sniffers_directly():
    assert readers.sniff_encoding("Zoë".encode("cp1252")) == "cp1252"
    assert readers.sniff_encoding("Zoë".encode("utf-8")) == "utf-8"
    assert readers.sniff_encoding(b"\xef\xbb\xbfa;b") == "utf-8-sig"
    assert readers.sniff_decimal(["1.234,56", "12,5"]) == (",", ".")
    assert readers.sniff_decimal(["1,234.56", "12.5"]) == (".", ",")
    assert readers.sniff_decimal(["€ 12,50", "3"]) == (",", ".")
    assert readers.sniff_decimal(["12", "3"]) == (".", None)
    assert readers.sniff_date_format(["2024-01-31", "2024-02-01 10:00"]) == "%Y-%m-%d"
    assert readers.sniff_date_format(["1-2-24"]) == "%d-%m-%y"
    assert readers.sniff_date_format(["hallo"]) is None


def test_title_lines_padded_with_delimiters_are_not_the_header(ws, tmp_path):
    """A title saved by a spreadsheet program carries the header's field count (``Omzet;;;;;``).

    Found by hand: both engines took ``Omzetrapport webwinkel 2024;;;;;`` for the header and
    refused the file. The same export as DUTCH_EXPORT, its two title lines padded with
    delimiters: the header is line 4 and the rows read are those of the unpadded export.
    """
    padded = DUTCH_EXPORT.replace("Omzetrapport webwinkel 2024\r\n", "Omzetrapport webwinkel 2024;;;;;\r\n"
                                  "Gemaakt op 05-01-2025;;;;;\r\n")
    report = ws.ingest(write(tmp_path / "omzet.csv", padded, "cp1252"))
    assert report.detected["header_line"] == 4
    assert report.detected["mapping"]["customer_id"] == "Klantnummer"
    assert (report.rows_read, report.accepted, report.quarantined) == (7, 3, 4)
    assert rows(ws, "SELECT line FROM transactions ORDER BY line") == [(5,), (6,), (8,)]


def test_a_headerless_file_whose_first_row_has_one_filled_cell_loses_no_row(ws, tmp_path):
    """The padded-title rule must not drop a data row: without a header every line is a row."""
    text = "1001;;\r\n1001;01-02-2024;12,50\r\n1002;02-02-2024;5,00\r\n"
    report = ws.ingest(write(tmp_path / "bare.csv", text), mapping={"customer_id": "column1", "ts": "column2",
                                                                     "amount": "column3"})
    assert report.rows_read == 3 and report.accepted == 2 and report.quarantined == 1
