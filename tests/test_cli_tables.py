"""The command line's tables as a person sees them: real ``cvm`` processes on the demo workspace at 80 columns.

Every table command must fit the terminal without cutting a header or a number (Rich's "…"),
print every number so that it parses in the workspace's locale, show the dashboard's headers
in the workspace's language, and say which columns it left out and how to see them.
The expected cells are written out by hand from the ``--json`` values with plain Python
formatting (not the code under test's Babel calls).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from babel.numbers import NumberFormatError, parse_decimal

CVM = [sys.executable, "-m", "cvm.cli"]
LOCALES = {"en": "en_GB", "nl": "nl_NL"}
DATE = re.compile(r"^\d{1,2}[/-]\d{1,2}[/-]\d{4}$|^\d{4}-\d{2}-\d{2}")
NUMBERLIKE = re.compile(r"^[-−+]?€?\s?[-−]?[\d.,\s\u00a0]*\d[\d.,\u00a0]*\s?%?$")


def cvm(*args: str, columns: int = 80, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("LINES", None)
    done = subprocess.run(CVM + list(args), capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory) -> dict[str, Path]:
    """The demo workspace, built once, and a copy of it set to Dutch."""
    base = tmp_path_factory.mktemp("tables")
    en = base / "en"
    cvm("demo", "--workspace", str(en))
    nl = base / "nl"
    shutil.copytree(en, nl)
    cvm("settings", "--set", "language=nl", "--workspace", str(nl), "--json")
    return {"en": en, "nl": nl}


def _dates(ws: Path) -> tuple[str, str]:
    """Two as-of dates of stored valuations, for ``cvm migration``."""
    import duckdb

    with duckdb.connect(str(ws / "cvm.duckdb"), read_only=True) as con:
        days = [str(r[0])[:10] for r in con.execute("select distinct as_of from scores order by as_of").fetchall()]
    return days[-2], days[-1]


def _commands(ws: Path) -> list[list[str]]:
    first, last = _dates(ws)
    customer = json.loads(cvm("customers", "--limit", "1", "--json", "--workspace", str(ws)).stdout)["customers"][0]
    return [
        ["customers"], ["customers", "--sort", "probability_alive", "--limit", "5"], ["customer", customer["customer_id"]],
        ["concentration"], ["segments"], ["segments", "--by", "value_tier"], ["segments", "--by", "channel"],
        ["cohorts"], ["invest"], ["receivables"], ["actions"], ["migration", "--from", first, "--to", last],
        ["quarantine"], ["score", "--model", "bgnbd", "--as-of", last],
    ]


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Each table printed: its headers (the lines of one column joined) and its body cells (one per line)."""
    tables, header, body, part = [], None, [], None
    for line in text.splitlines():
        if line.startswith("┏"):
            header, body, part = [], [], "head"
        elif line.startswith("┡"):
            part = "body"
        elif line.startswith("└") and header is not None:
            tables.append(([" ".join(h).strip() for h in header], body))
            header, part = None, None
        elif part == "head" and line.startswith("┃"):
            cells = [c.strip() for c in line.strip("┃").split("┃")]
            if not header:
                header.extend([] for _ in cells)
            for column, cell in zip(header, cells):
                if cell:
                    column.append(cell)
        elif part == "body" and line.startswith("│"):
            body.append([c.strip() for c in line.strip("│").split("│")])
    return tables


def _parses(cell: str, language: str) -> bool:
    """A number cell as the locale writes it: currency sign and percent dropped, grouping checked strictly."""
    text = cell.replace("€", "").replace("%", "").replace("\u00a0", "").replace(" ", "").replace("−", "-")
    try:
        parse_decimal(text, locale=LOCALES[language], strict=True)
    except NumberFormatError:
        return False
    return True


def _known_headers(language: str) -> set[str]:
    """The dashboard's words: every ``col.*`` and ``term.*`` of the web app's catalog."""
    from cvm.web.i18n import catalog

    return {v for k, v in catalog(language).items() if k.startswith(("col.", "term."))}


#: the value tiers as a migration table's columns name them (the catalogue's terms, by hand)
TIER_WORDS = {"en": {"platinum", "gold", "silver", "bronze"}, "nl": {"platina", "goud", "zilver", "brons"}}


@pytest.mark.parametrize("language", ["en", "nl"])
def test_every_table_fits_80_columns_with_whole_headers_and_numbers(workspaces, language):
    ws = workspaces[language]
    known = _known_headers(language)
    seen_tables = 0
    for command in _commands(ws):
        done = cvm(*command, "--workspace", str(ws))
        text = done.stdout
        assert "…" not in text, (command, text)
        table_lines = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
        assert all(len(line) <= 80 for line in table_lines), (command, text)
        for headers, body in _tables(text):
            seen_tables += 1
            for header in headers:
                # a header is one of the dashboard's labels, whole (wrapped between words, never cut);
                # the migration table's corner names the two dates, its columns the tiers in the reader's words
                tier = header.lower() in TIER_WORDS[language]
                assert header in known or "↓" in header or tier, (command, header, headers)
            for row in body:
                for cell in row:
                    if cell and not DATE.match(cell) and NUMBERLIKE.match(cell):
                        assert _parses(cell, language), (command, cell, row)
    assert seen_tables >= 14


def test_customers_print_counts_as_integers_shares_as_percentages_and_money_with_the_currency(workspaces):
    ws = str(workspaces["en"])
    listing = json.loads(cvm("customers", "--limit", "3", "--json", "--workspace", ws).stdout)["customers"]
    text = cvm("customers", "--limit", "3", "--columns", "customer_id,frequency,probability_alive,clv",
               "--workspace", ws).stdout
    (headers, body), = _tables(text)
    assert headers == ["Customer", "Repeat purchases", "Chance still a customer", "CLV"]
    for row, want in zip(body, listing):
        # by hand: 41.0 -> "41"; 0.98357 -> "98.4%"; 280.8412 -> "€280.84"
        assert row == [want["customer_id"], f"{want['frequency']:.0f}", f"{100 * want['probability_alive']:.1f}%",
                       f"€{want['clv']:,.2f}"]


def test_a_dutch_workspace_prints_dutch_headers_and_decimal_commas(workspaces):
    ws = str(workspaces["nl"])
    listing = json.loads(cvm("customers", "--limit", "3", "--json", "--workspace", ws).stdout)["customers"]
    text = cvm("customers", "--limit", "3", "--columns", "customer_id,value_tier,probability_alive,clv",
               "--workspace", ws).stdout
    (headers, body), = _tables(text)
    assert headers == ["Klant", "Waardeklasse", "Kans nog klant", "CLV"]
    tiers = {"platinum": "platina", "gold": "goud", "silver": "zilver", "bronze": "brons"}
    for row, want in zip(body, listing):
        # by hand, nl_NL: a comma before the decimals, a dot between thousands, "€ " before the amount
        percent = f"{100 * want['probability_alive']:.1f}".replace(".", ",") + "%"
        money = "€\u00a0" + f"{want['clv']:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
        assert row == [want["customer_id"], tiers[want["value_tier"]], percent, money.replace("\u00a0", " ")] or \
            row == [want["customer_id"], tiers[want["value_tier"]], percent, money]
    actions = cvm("actions", "--limit", "3", "--workspace", ws).stdout
    assert "Beste volgende actie" in actions and "Reden" in actions


def test_left_out_columns_are_named_with_the_way_to_see_them(workspaces):
    ws = str(workspaces["en"])
    narrow = cvm("customers", "--limit", "3", "--workspace", ws).stdout
    assert "left out to fit 80 columns:" in narrow and "clv_high" in narrow
    assert "--wide" in narrow and "--columns" in narrow
    (headers, _), = _tables(narrow)
    assert "CLV high" not in headers and {"Customer", "CLV", "Chance still a customer"} <= set(headers)
    wide = cvm("customers", "--limit", "3", "--wide", "--workspace", ws).stdout
    (headers, body), = _tables(wide)
    assert "left out" not in wide and "…" not in wide
    assert headers == ["Customer", "Value tier", "Journey stage", "Repeat purchases", "Chance still a customer", "Expected purchases",
                       "Historic value", "CLV", "CLV low", "CLV high"]
    assert max(len(line) for line in wide.splitlines()) > 80  # runs past the terminal rather than cut


def test_an_unknown_column_is_a_clear_error_naming_the_columns(workspaces):
    done = cvm("customers", "--columns", "customer_id,nope", "--workspace", str(workspaces["en"]), check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "nope" in done.stderr and "probability_alive" in done.stderr


def test_chosen_columns_that_cannot_fit_run_past_the_terminal_rather_than_cut(workspaces):
    ws = str(workspaces["en"])
    chosen = "customer_id,clv,clv_low,clv_high,frequency,probability_alive,historic_value"
    text = cvm("customers", "--limit", "3", "--columns", chosen, "--workspace", ws, columns=40).stdout
    (headers, body), = _tables(text)
    assert "…" not in text and len(headers) == 7 and "left out" not in text
    listing = json.loads(cvm("customers", "--limit", "3", "--json", "--workspace", ws).stdout)["customers"]
    assert [row[1] for row in body] == [f"€{c['clv']:,.2f}" for c in listing]  # whole, on one line


def test_cohorts_and_migration_speak_dutch_with_the_json_figures(workspaces):
    """``cvm cohorts`` opens with the page's answer and ``cvm migration`` counts moves in Dutch words.

    Expected figures are recounted from ``--json``: the pooled share who bought again in the quarter after
    their first (sum of ``active`` over sum of ``customers`` at age 1, all cohorts together), and the
    moved-up/down/stayed counts, written with Dutch grouping by hand.
    """
    ws = workspaces["nl"]
    rows = json.loads(cvm("cohorts", "--period", "quarter", "--json", "--workspace", str(ws)).stdout)["rows"]
    first = [r for r in rows if r["age"] == 1]
    active, customers = sum(r["active"] for r in first), sum(r["customers"] for r in first)
    share = f"{Decimal(100 * active) / Decimal(customers):.1f}".replace(".", ",")
    text = " ".join(cvm("cohorts", "--period", "quarter", "--workspace", str(ws), columns=200).stdout.split())
    assert f"kocht {share}% opnieuw in het kwartaal erna" in text, text
    assert f"({active:,} van {customers:,}".replace(",", ".") in text, text

    a, b = _dates(ws)
    moves = json.loads(cvm("migration", "--from", a, "--to", b, "--json", "--workspace", str(ws)).stdout)
    assert moves["stayed"] is not None and moves["moved_up"] is not None  # value tiers are ordered
    line = cvm("migration", "--from", a, "--to", b, "--workspace", str(ws), columns=200).stdout
    for word, key in (("Klanten die gelijk bleven", "stayed"), ("Klanten die stegen", "moved_up"),
                      ("Klanten die daalden", "moved_down")):
        if moves.get(key) is not None:
            assert f"{word}: {moves[key]:,}".replace(",", ".") in line, line
    assert "moved up" not in line and "customers by" not in line


def test_receivables_say_days_in_words_in_both_languages(workspaces):
    """A figure in days carries its unit, as the dashboard shows it ("53,1 dagen", not a bare 53,1).

    Expected texts are built by hand from ``--json``: the DSO rounded to one decimal with the
    language's decimal sign, and each late payer's longest overdue days as a whole number.
    """
    for language, unit, sign in (("nl", "dagen", ","), ("en", "days", ".")):
        ws = workspaces[language]
        facts = json.loads(cvm("receivables", "--json", "--workspace", str(ws)).stdout)
        dso = f"{Decimal(str(facts['dso'])).quantize(Decimal('0.1'))}".replace(".", sign)
        text = cvm("receivables", "--workspace", str(ws), columns=200).stdout
        assert f": {dso} {unit}\n" in text, text
        longest = {str(int(r["max_days_overdue"])) for r in facts["by_customer"] if r.get("max_days_overdue")}
        shown = set(re.findall(rf"│\s+(\d+) {unit} │", text))
        assert shown and shown <= longest, (shown, text)
