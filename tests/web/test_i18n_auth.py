"""Catalogs, locale formatting, password hashing, tokens and signed sessions (no server needed)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from cvm.errors import SchemaError
from cvm.web import auth
from cvm.web.i18n import Formatter, catalog, pick_language

WEB = Path(__file__).resolve().parents[2] / "src" / "cvm" / "web"


def test_both_catalogs_hold_the_same_keys_and_no_empty_text():
    en, nl = catalog("en"), catalog("nl")
    assert set(en) == set(nl)
    assert all(v.strip() for v in en.values()) and all(v.strip() for v in nl.values())
    # placeholders agree, so a Dutch string never misses a value
    for key in en:
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", nl[key])), key


def test_every_message_key_used_by_the_app_exists():
    used: set[str] = set()
    prefixes: set[str] = set()
    for path in list((WEB / "templates").glob("*.html")) + list(WEB.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for key in re.findall(r'(?:\b_|fmt)\("([a-z_]+\.[a-z_.]+)"', text):
            (prefixes if key.endswith(".") else used).add(key)
        used.update(re.findall(r'"((?:nav|login)\.[a-z_]+)"', text))
    en = catalog("en")
    assert not sorted(k for k in used if k not in en and not k.endswith(".html"))
    # dynamic keys: every value the templates can put after a prefix
    dynamic = {
        "role.": ["viewer", "analyst", "admin"],
        "job.kind.": ["score", "fit", "backtest", "upload"],
        "job.status.": ["queued", "running", "done", "failed"],
        "segments.by.": ["rfm", "value_tier", "lifecycle_stage", "matrix", "channel"],
        "cohorts.period.": ["month", "quarter", "year"],
        "data.kind.": ["transactions", "customers", "referrals", "costs", "invoices"],
        "data.detected.": ["format", "encoding", "delimiter", "decimal", "date_format", "header_line", "sheet"],
        "cohorts.age.": ["month", "quarter", "year"],
        "language.": ["en", "nl"],
        "settings.help.": [],  # optional help lines: the template shows one only when the catalog has it
        "drivers.col.": ["group", "customers", "purchase", "dropout", "spend", "mean_spend", "profit", "verdict"],
    }
    assert prefixes <= set(dynamic)
    for prefix, values in dynamic.items():
        for value in values:
            assert prefix + value in en, prefix + value


def test_every_setting_has_a_label_in_both_languages():
    from cvm.settings import Settings

    for key in Settings().keys():
        assert "col." + key in catalog("en") and "col." + key in catalog("nl"), key


def test_numbers_money_and_dates_follow_the_locale():
    # CLDR patterns: nl_NL "¤ #,##0.00" with ',' decimal and '.' grouping; en_GB "¤#,##0.00"
    nl, en = Formatter("nl"), Formatter("en")
    assert nl.money(1234.5) == "€\xa01.234,50"
    assert en.money(1234.5) == "€1,234.50"
    assert nl.money(-1234.6, digits=0) == "€\xa0-1.235"  # nl_NL negative pattern "¤ -#,##0.00"
    assert en.money(1234.6, digits=0) == "€1,235"
    assert nl.number(1234567.891, 2) == "1.234.567,89"
    assert en.number(1234567.891, 2) == "1,234,567.89"
    assert nl.percent(0.256) == "25,6%"
    assert en.percent(0.256) == "25.6%"
    # CLDR short date patterns: nl_NL dd-MM-y, en_GB dd/MM/y (the brief's "23-11-2026 style")
    assert nl.date(date(2024, 3, 5)) == "05-03-2024"
    assert en.date(date(2024, 3, 5)) == "05/03/2024"
    assert nl.separators == ",." and en.separators == ".,"
    assert nl.number(float("nan")) == "–"
    assert nl.ntext("customers.count", 3, n="3") == "3 klanten" and nl.ntext("customers.count", 1, n="1") == "1 klant"


def test_language_choice():
    assert pick_language(None, "nl", "en") == "nl"
    assert pick_language("xx", "NL-be") == "nl"
    assert pick_language("de") == "en"


def test_passwords_are_argon2_and_verified():
    hashed = auth.hash_password("a long password")
    assert hashed.startswith("$argon2id$")
    assert auth.verify_password(hashed, "a long password")
    assert not auth.verify_password(hashed, "a long passwore")
    assert not auth.verify_password("not a hash", "x")
    with pytest.raises(SchemaError):
        auth.hash_password("short")


def test_users_tokens_and_roles_in_the_access_store(tmp_path):
    auth.add_user(tmp_path, "eva", "password-1", "analyst")
    token = auth.create_token(tmp_path, "viewer", name="report bot")
    with pytest.raises(SchemaError):
        auth.add_user(tmp_path, "bob", "password-1", "owner")
    from cvm.web.access_store import connect

    con = connect(tmp_path)  # access.sqlite: users and tokens live there, not in cvm.duckdb
    stored = con.execute("SELECT token_hash, role, name FROM api_tokens").fetchall()
    assert stored == [(auth.token_hash(token), "viewer", "report bot")]
    assert token not in json.dumps([list(map(str, r)) for r in stored])  # only the hash is kept
    assert con.execute("SELECT password_hash LIKE '$argon2id$%' FROM users").fetchone()[0]
    assert auth.login(con, "eva", "password-1").role == "analyst"
    with pytest.raises(auth.AuthError):
        auth.login(con, "eva", "password-2")
    with pytest.raises(auth.AuthError):
        auth.login(con, "nobody", "password-1")
    principal = auth.token_principal(con, token)
    assert principal.role == "viewer" and principal.can("viewer") and not principal.can("analyst")
    assert auth.token_principal(con, token + "x") is None
    con.close()


def test_session_cookies_are_signed():
    signer = auth.SessionSigner("k" * 64)
    cookie = signer.dumps(auth.Principal("eva", "admin", "session"), "csrf123")
    assert signer.loads(cookie) == {"u": "eva", "r": "admin", "c": "csrf123"}
    tampered = cookie.replace(cookie[5], "A" if cookie[5] != "A" else "B", 1)
    assert signer.loads(tampered) is None
    assert auth.SessionSigner("other key").loads(cookie) is None
    assert auth.csrf_matches("abc", "abc") and not auth.csrf_matches("abc", "abd") and not auth.csrf_matches(None, "")


def test_every_column_and_code_the_pages_show_has_words_in_both_languages():
    """Column labels for every formatted column; words for every code the value layer can produce."""
    from cvm.value.actions import ACTIONS
    from cvm.value.matrix import QUADRANTS
    from cvm.value.receivables import BUCKETS
    from cvm.value.segments import RFM_RULES, STAGES
    from cvm.web.present import COLUMN_KINDS

    en, nl = catalog("en"), catalog("nl")
    for column in COLUMN_KINDS:
        assert "col." + column in en and "col." + column in nl, column
    codes = set(ACTIONS) | set(STAGES) | {name for name, _, _ in RFM_RULES} | set(QUADRANTS.values())
    codes |= set(BUCKETS) | {"platinum", "gold", "silver", "bronze", "balanced", "over-investment", "under-investment"}
    codes |= {"bgnbd", "mbgnbd", "pnbd", "day", "week", "month", "year"}
    for code in sorted(codes):
        assert "term." + code in en and "term." + code in nl, code


def test_cells_are_formatted_by_column_kind():
    en, nl = Formatter("en"), Formatter("nl")
    assert en.cell("clv", 1234.5) == "€1,234" and nl.cell("clv", 1234.5) == "€\xa01.234"  # whole euros from 1,000 up
    assert en.cell("clv", 12.5) == "€12.50" and nl.cell("clv", 12.5) == "€\xa012,50"
    assert en.cell("customer_share", 0.175424) == "17.5%" and nl.cell("customer_share", 0.175424) == "17,5%"
    assert en.cell("customers", 2417) == "2,417" and nl.cell("customers", 2417) == "2.417"
    assert en.cell("value_tier", "gold") == "gold" and nl.cell("value_tier", "gold") == "goud"
    assert nl.cell("lifecycle_stage", "at risk") == "risico" and nl.cell("lifecycle_stage", "at_risk") == "risico"
    assert nl.cell("avg_days_late", 21.2) == "21 dagen"
    # CLDR short dates (Babel): en_GB dd/MM/y, nl_NL dd-MM-y
    assert en.cell("as_of", "1998-06-30T00:00:00") == "30/06/1998" and nl.cell("as_of", "1998-06-30") == "30-06-1998"
    assert en.cell("clv", float("nan")) == "–" and en.cell("value_tier", None) == "–"
    assert en.term("something new") == "something new"  # an unknown code is shown as it is, never dropped
