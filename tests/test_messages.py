"""The error catalogue (cvm.messages): complete in both languages, used by the source, and the
English that coded errors raise is word for word what these errors said before they had codes.

The expected English strings below are the messages as the raise sites wrote them before
the catalogue existed (their f-strings evaluated by hand for these inputs); existing tests
of the CLI and the ingest assert on several of them too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cvm.data import Workspace
from cvm.data.validate import recognise_columns, schema_for
from cvm.data.warehouse import check_read_options
from cvm.errors import CvmError, SchemaError, WorkspaceError
from cvm.messages import CATALOGUE, describe, english, localize, placeholders, render

SRC = Path(__file__).resolve().parents[1] / "src" / "cvm"

#: how the source names a code: ``X.coded("code", ...)``, or a job's ``job.code, ... = "code", ...``
CODE_USE = re.compile(r"""\.coded\(\s*["'](\w+)["']|\.code\b[\w., ]*=\s*["'](\w+)["']""")


def codes_used_in_source() -> set[str]:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        for match in CODE_USE.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(1) or match.group(2))
    return found


# --------------------------------------------------------------------------- the catalogue itself


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_has_both_languages_with_the_same_placeholders(code):
    entry = CATALOGUE[code]
    assert entry.en.strip() and entry.nl.strip()
    assert entry.nl != entry.en
    assert (entry.hint_en is None) == (entry.hint_nl is None), "a hint in one language only"
    assert placeholders(entry.en) == placeholders(entry.nl)
    # the same values fill both languages: a Dutch hint may repeat a value of the message
    assert placeholders(entry.en) | placeholders(entry.hint_en) == placeholders(entry.nl) | placeholders(entry.hint_nl)
    assert set(entry.fields) | set(entry.kinds) <= placeholders(entry.en) | placeholders(entry.hint_en)


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_renders_in_both_languages(code):
    entry = CATALOGUE[code]
    names = placeholders(entry.en) | placeholders(entry.hint_en)
    derived = set(entry.derive({"missing": ["x"]}, "en")) if entry.derive else set()
    values = {n: ["customer_id", "ts"] if n == "missing" else f"<{n}>" for n in names - derived}
    if entry.derive:
        values.setdefault("missing", ["customer_id", "ts"])
    for language in ("en", "nl"):
        message, hint = render(code, values, language)
        assert "{" not in message.replace("{'", "") and (hint is None) == (entry.hint_en is None)


def test_every_code_the_source_uses_is_in_the_catalogue_and_every_entry_is_used():
    used = codes_used_in_source()
    assert len(used) >= 30, sorted(used)  # the scan itself works
    assert used - set(CATALOGUE) == set()
    assert set(CATALOGUE) - used == set()


def test_a_wrong_code_or_a_missing_value_fails_loudly():
    with pytest.raises(KeyError):
        SchemaError.coded("no_such_code")
    with pytest.raises(KeyError):
        SchemaError.coded("named_file_empty")  # needs name=


# --------------------------------------------------------------------------- CvmError stays what it was


def test_cvm_error_without_a_code_is_unchanged():
    err = SchemaError("bad input", "try again")
    assert (str(err), err.message, err.hint, err.code, err.values) == (
        "bad input\nHint: try again", "bad input", "try again", None, {})
    assert str(CvmError("plain")) == "plain" and CvmError("plain").hint is None
    assert localize(err, "nl") == ("bad input", "try again")
    assert describe(err, "nl") == "bad input\nTip: try again"
    assert localize(ValueError("x"), "nl") == ("x", None)


def test_coded_error_keeps_its_class_code_and_values():
    err = WorkspaceError.coded("no_purchase_by", date="2020-01-01", first="2021-03-04")
    assert isinstance(err, WorkspaceError) and err.code == "no_purchase_by"
    assert err.values == {"date": "2020-01-01", "first": "2021-03-04"}
    assert str(err) == ("no customer has purchased by 2020-01-01\n"
                        "Hint: pick a date on or after the first transaction (2021-03-04)")
    assert localize(err, "nl") == ("Op 2020-01-01 had nog geen enkele klant iets gekocht.",
                                   "Kies een datum op of na de eerste transactie (2021-03-04).")
    assert localize(err, "en") == (err.message, err.hint)
    assert describe(err, "en") == str(err)


def test_values_from_another_version_fall_back_to_the_english_text():
    err = SchemaError("the file x is empty", "check", code="named_file_empty", values={"other": 1})
    assert localize(err, "nl") == ("the file x is empty", "check")
    assert localize(SchemaError("m", code="not_a_code_here"), "nl") == ("m", None)


def test_dutch_names_columns_and_kinds_in_words():
    err = SchemaError.coded("missing_columns", kind="invoices", missing=["invoice_id", "issued"], columns=["a"])
    message, hint = localize(err, "nl")
    assert message == "In het bestand met facturen ontbreekt een kolom voor: factuurnummer, factuurdatum. Gevonden kolommen: a."
    assert "--map invoice_id=<kolom> --map issued=<kolom>" in hint and "'invoice_id': '<kolom>'" in hint
    assert "(factuurnummer, factuurdatum)" in hint


@pytest.mark.parametrize("kind", ["transactions", "customers", "referrals", "costs", "invoices"])
def test_the_dutch_word_of_each_column_is_a_name_the_ingest_recognises(kind):
    """The Dutch hint advises naming a missing column by its Dutch word: that advice must work."""
    from cvm.messages import field_word

    words = {field.name: field_word(field.name, "nl") for field in schema_for(kind)}
    assert recognise_columns(list(words.values()), kind) == words


# --------------------------------------------------------------------------- the raise sites, triggered


@pytest.fixture
def ws(tmp_path):
    workspace = Workspace.open(tmp_path / "ws")
    yield workspace
    workspace.close()


def caught(call, *args, **kwargs) -> CvmError:
    with pytest.raises(CvmError) as info:
        call(*args, **kwargs)
    return info.value


def test_missing_customer_column_on_ingest(ws, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("datum;bedrag\n01-03-2024;12,50\n", encoding="utf-8")
    err = caught(ws.ingest, path)
    assert isinstance(err, SchemaError) and err.code == "missing_columns"
    assert str(err) == ("cannot find the transactions column(s) customer_id; columns found: datum, bedrag\n"
                        "Hint: name the columns with --map customer_id=<column> (Python: mapping={'customer_id': '<column>'})")
    message, hint = localize(err, "nl")
    assert message == "In het bestand met transacties ontbreekt een kolom voor: klantnummer. Gevonden kolommen: datum, bedrag."
    assert hint.startswith("Geef de kolom in het bestand een kopnaam die cvm herkent (klantnummer), of wijs hem aan")


def test_column_recognition_errors():
    err = caught(recognise_columns, ["foo"], "transactions")
    assert str(err) == ("cannot find the transactions column(s) customer_id, ts, amount; columns found: foo\n"
                        "Hint: name the columns with --map customer_id=<column> --map ts=<column> --map amount=<column> "
                        "(Python: mapping={'customer_id': '<column>'})")
    err = caught(recognise_columns, ["a", "b"], "transactions", {"customer_id": "Klant"})
    assert (err.code, str(err)) == ("map_missing_column",
                                    "--map customer_id=Klant: the file has no column 'Klant'\nHint: columns found: a, b")
    err = caught(recognise_columns, ["a"], "transactions", {"klant": "a"})
    assert (err.code, str(err)) == ("map_unknown_target", "'klant' is not a column of transactions\n"
                                    "Hint: transactions columns are: customer_id, ts, amount, order_id, channel, margin")
    assert localize(err, "nl")[1] == "De kolommen van transacties zijn: customer_id, ts, amount, order_id, channel, margin"
    err = caught(schema_for, "orders")
    assert str(err) == "unknown kind 'orders'\nHint: choose one of transactions, customers, referrals, costs, invoices"


@pytest.mark.parametrize("name, content, code, expected", [
    ("empty.csv", b"", "named_file_empty",
     "the file empty.csv is empty\nHint: check that you exported the right file"),
    ("blank.csv", b"\n  \n", "named_file_empty",
     "the file blank.csv is empty\nHint: check that you exported the right file"),
    ("old.xls", b"\xd0\xcf\x11\xe0 not a new workbook", "xls_not_supported",
     "old Excel files (.xls) are not supported\nHint: save the sheet as .xlsx or CSV"),
    ("photo.csv", b"\x89PNG\x00\x00\x00\rIHDR", "binary_file",
     "photo.csv is not a table: it is a binary file\nHint: export the data as CSV, Excel or Parquet"),
    ("names.csv", "Naam\nJan\nPiet\n".encode(), "no_delimiter",
     "this file is not a table: no delimiter (; , tab |) splits its lines into columns\n"
     "Hint: export the data as CSV or Excel, or pass --delimiter"),
    ("bad.xlsx", b"PK\x03\x04 not a workbook", "unreadable_excel",
     "bad.xlsx is not a readable Excel workbook (BadZipFile)\nHint: save it again as .xlsx, or export CSV"),
    ("header.csv", b"klant;datum;bedrag\n", "header_only",
     "header.csv has column names but no rows of data; nothing was ingested\n"
     "Hint: check that you exported the rows and not only the header"),
])
def test_unreadable_files(ws, tmp_path, name, content, code, expected):
    path = tmp_path / name
    path.write_bytes(content)
    err = caught(ws.ingest, path)
    assert (err.code, str(err)) == (code, expected)
    assert localize(err, "nl")[0] != err.message


def test_missing_file_folder_and_encoding(ws, tmp_path):
    err = caught(ws.ingest, tmp_path / "nowhere.csv")
    assert str(err) == f"file not found: {tmp_path / 'nowhere.csv'}"
    err = caught(ws.ingest, tmp_path)
    assert str(err) == f"{tmp_path} is a folder, not a file\nHint: pass one CSV, Excel or Parquet file"
    path = tmp_path / "orders.csv"
    path.write_text("klant;datum;bedrag\nK1;01-03-2024;12,50\n", encoding="utf-8")
    err = caught(ws.ingest, path, encoding="klingon")
    assert (err.code, str(err)) == ("unknown_encoding", "unknown encoding 'klingon'\nHint: use utf-8 or cp1252")
    assert localize(err, "nl") == ("Onbekende tekencodering 'klingon'.", "Gebruik utf-8 of cp1252.")
    path.write_text("klant;datum;bedrag\nK1;01-03-2024;1.250\n", encoding="utf-8")
    err = caught(ws.ingest, path, decimal=".", thousands=".")
    assert (err.code, str(err)) == ("same_separators", "the decimal mark and thousands separator cannot be the same")


def test_reading_options(ws):
    date_hint = "use strftime codes, e.g. %d-%m-%Y for 31-12-2024 or %Y-%m-%d for 2024-12-31"
    err = caught(check_read_options, ws.con, delimiter=";;")
    assert str(err) == ("the delimiter must be one character, got ';;'\n"
                        "Hint: e.g. ';' or ',' or '|', or '\\t' for a tab; leave it out to have it detected")
    err = caught(check_read_options, ws.con, decimal=";")
    assert str(err) == "the decimal mark must be '.' or ',', got ';'\nHint: leave it out to have it detected"
    err = caught(check_read_options, ws.con, thousands="..")
    assert str(err) == "the thousands separator must be one character or empty, got '..'"
    err = caught(check_read_options, ws.con, date_format="dd-mm-yyyy")
    assert str(err) == f"the date format 'dd-mm-yyyy' holds no % codes\nHint: {date_hint}"
    assert localize(err, "nl")[0] == "De datumnotatie 'dd-mm-yyyy' bevat geen %-codes."
    err = caught(check_read_options, ws.con, date_format="%Q")
    assert err.code == "date_format_invalid" and err.message.startswith("the date format '%Q' is not valid: ")
    assert err.hint == date_hint


def test_workspace_errors(ws, tmp_path):
    from cvm.service import resolve_as_of
    from cvm.data.scores import load_scores

    err = caught(ws.frame, "costs")
    assert str(err) == "the workspace has no table 'costs'\nHint: ingest data first (cvm ingest FILE)"
    err = caught(load_scores, ws)
    assert isinstance(err, WorkspaceError)
    assert str(err) == "no customers have been scored yet\nHint: run 'cvm score' (or cvm.service.score_customers(ws)) first"
    assert localize(err, "nl")[0] == "Er zijn nog geen klanten gewaardeerd."
    err = caught(resolve_as_of, ws, None)
    assert str(err) == "the workspace has no transactions\nHint: ingest a transaction file first (cvm ingest FILE)"
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    err = caught(Workspace.open, a_file)
    assert str(err) == (f"{a_file} is a file, not a workspace folder\n"
                        "Hint: give the folder that holds cvm.duckdb, or a new folder name")
