"""What each kind of table must hold, how columns are recognised, and the checks on every row.

Five kinds of input can be ingested. Each has a fixed target table; columns are
recognised by their (Dutch or English) names, or mapped explicitly with
``mapping={"customer_id": "Klantnummer"}`` (``--map customer_id=Klantnummer``).

========== ================================================================================
kind       target columns (required in **bold**) and recognised source names (examples)
========== ================================================================================
transactions **customer_id** (Klantnummer, Klant, Klant-ID, customer), **ts** (Orderdatum, Datum,
           order_date, date), **amount** (Bedrag, Omzet, Totaal, revenue, amount), order_id
           (Ordernummer, Factuurnummer, order_id), channel (Kanaal, channel), margin (Marge)
customers  **customer_id**; name (Naam), segment, acquired (Klant sinds, Startdatum), channel,
           city (Plaats, Woonplaats); any other column is kept in ``attributes`` (JSON)
referrals  **referrer_id** (Aanbrenger, Verwijzer, referrer), **referred_id** (Nieuwe klant,
           Aangebracht, referred), ts (Datum)
costs      **ts** (Datum), **amount** (Bedrag, Kosten, cost); customer_id, segment, channel,
           campaign (Campagne), kind (Soort, Type: acquisition, retention, service …)
invoices   **invoice_id** (Factuurnummer), **customer_id**, **issued** (Factuurdatum),
           **amount** (Bedrag); due (Vervaldatum), paid (Betaaldatum; empty = unpaid)
========== ================================================================================

Every table also gets ``source`` (file name) and ``line`` (1-based line in that file).
A row that fails a check goes to ``quarantine(source, line, raw, reason)`` instead.
How amounts, dates and ids are read from text (decided per column on the evidence of all
its values, then value by value) is in :mod:`cvm.data.values`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from cvm.errors import SchemaError

#: words that mark a totals line at the bottom of an export ("Totaal", "Total", …)
TOTAL_WORDS = ("totaal", "total", "totals", "subtotaal", "subtotal", "eindtotaal", "grand total", "som", "sum")


@dataclass(frozen=True)
class Field:
    """One target column: its SQL type, whether a row needs it, and the names it is known by."""

    name: str
    type: str  # "id", "text", "timestamp", "number"
    required: bool
    names: tuple[str, ...]

    @property
    def sql_type(self) -> str:
        return {"id": "VARCHAR", "text": "VARCHAR", "timestamp": "TIMESTAMP", "number": "DOUBLE"}[self.type]


def _f(name: str, type_: str, required: bool, *names: str) -> Field:
    return Field(name, type_, required, (name, *names))


_CUSTOMER = ("customer_id", "customerid", "customer", "customer_number", "customer_no", "cust_id", "client_id",
             "client", "klantnummer", "klantnr", "klant_nr", "klant", "klant_id", "klantid", "klantcode",
             "debiteurnummer", "debiteur", "relatienummer", "relatie", "user_id", "account_id", "id")

SCHEMAS: dict[str, tuple[Field, ...]] = {
    "transactions": (
        _f("customer_id", "id", True, *_CUSTOMER),
        _f("ts", "timestamp", True, "order_date", "orderdatum", "datum", "date", "besteldatum", "factuurdatum",
           "transactiedatum", "aankoopdatum", "datetime", "timestamp", "purchase_date", "invoice_date",
           "transaction_date", "datum_tijd", "tijdstip"),
        _f("amount", "number", True, "amount", "revenue", "bedrag", "omzet", "totaal", "totaalbedrag", "total",
           "order_total", "order_value", "orderwaarde", "value", "sales", "bedrag_incl_btw", "bedrag_excl_btw",
           "dollar_value", "spend", "price", "prijs"),
        _f("order_id", "id", False, "ordernummer", "ordernr", "order_nr", "order", "orderid", "factuurnummer",
           "factuurnr", "invoice", "invoice_id", "invoice_number", "invoice_no", "bestelnummer", "transaction_id",
           "transactie_id", "bonnummer", "receipt"),
        _f("channel", "text", False, "kanaal", "verkoopkanaal", "sales_channel", "bron"),
        _f("margin", "number", False, "marge", "brutomarge", "gross_margin", "contribution", "profit", "winst"),
    ),
    "customers": (
        _f("customer_id", "id", True, *_CUSTOMER),
        _f("name", "text", False, "naam", "klantnaam", "customer_name", "bedrijfsnaam", "company"),
        _f("segment", "text", False, "segment", "klantsegment", "doelgroep", "groep", "group"),
        _f("acquired", "timestamp", False, "klant_sinds", "klantsinds", "startdatum", "start_date", "acquisition_date",
           "signup_date", "registratiedatum", "created", "since", "lid_sinds"),
        _f("channel", "text", False, "kanaal", "acquisitiekanaal", "acquisition_channel"),
        _f("city", "text", False, "plaats", "woonplaats", "stad", "town"),
    ),
    "referrals": (
        _f("referrer_id", "id", True, "referrer", "aanbrenger", "aanbrenger_id", "verwijzer", "referred_by",
           "aangebracht_door", "ambassador", "ambassadeur"),
        _f("referred_id", "id", True, "referred", "nieuwe_klant", "nieuwe_klant_id", "aangebracht",
           "aangebrachte_klant", "new_customer", "new_customer_id"),
        _f("ts", "timestamp", False, "datum", "date", "referral_date", "verwijsdatum"),
    ),
    "costs": (
        _f("ts", "timestamp", True, "datum", "date", "periode", "period", "maand", "month"),
        _f("amount", "number", True, "bedrag", "kosten", "cost", "costs", "amount", "spend", "uitgaven"),
        _f("customer_id", "id", False, *_CUSTOMER),
        _f("segment", "text", False, "klantsegment", "doelgroep"),
        _f("channel", "text", False, "kanaal"),
        _f("campaign", "text", False, "campagne", "actie", "campaign_name"),
        _f("kind", "text", False, "soort", "type", "kostensoort", "cost_type", "categorie", "category"),
    ),
    "invoices": (
        _f("invoice_id", "id", True, "factuurnummer", "factuurnr", "factuur", "invoice", "invoice_number", "invoice_no"),
        _f("customer_id", "id", True, *_CUSTOMER),
        _f("issued", "timestamp", True, "factuurdatum", "datum", "date", "invoice_date", "issue_date", "issued_on"),
        _f("amount", "number", True, "bedrag", "totaal", "total", "amount", "factuurbedrag", "openstaand"),
        _f("due", "timestamp", False, "vervaldatum", "due_date", "uiterste_betaaldatum", "vervaldag"),
        _f("paid", "timestamp", False, "betaaldatum", "betaald_op", "paid_on", "payment_date", "paid_date", "betaald"),
    ),
}

#: how rows of each kind are told apart when the same data are ingested twice
#: ("order" = by order id where there is one, else by the whole row; see warehouse)
IDENTITY: dict[str, tuple[str, ...]] = {
    "transactions": ("customer_id", "order_id"),
    "customers": ("customer_id",),
    "referrals": ("referrer_id", "referred_id"),
    "costs": (),
    "invoices": ("invoice_id",),
}


def normalise_name(name: str) -> str:
    """Column name in comparable form: lower case, accents kept, separators as ``_``.

    >>> normalise_name(" Klant-ID ")
    'klant_id'
    """
    text = str(name).strip().lower().replace("\ufeff", "")
    text = re.sub(r"[\s\-./()#:]+", "_", text)
    return text.strip("_")


def schema_for(kind: str) -> tuple[Field, ...]:
    if kind not in SCHEMAS:
        raise SchemaError.coded("unknown_kind", kind=kind, kinds=list(SCHEMAS))
    return SCHEMAS[kind]


def recognise_columns(columns: Sequence[str], kind: str, mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each target column of ``kind`` to a source column.

    Explicit ``mapping`` (target → source) wins; the other targets are matched by
    name, ignoring case, spaces and dashes (``Klant-ID`` matches ``klant_id``).
    The first listed name of a field wins when a file has several candidates.

    Returns
    -------
    dict
        target name → source column name (only for the columns found).

    Raises
    ------
    SchemaError
        A required column is missing, or ``mapping`` names a column the file lacks;
        the message lists the columns found and how to map them.
    """
    fields = schema_for(kind)
    targets = {f.name for f in fields}
    mapping = dict(mapping or {})
    found: dict[str, str] = {}
    for target, source in mapping.items():
        if target not in targets:
            raise SchemaError.coded("map_unknown_target", target=target, kind=kind, fields=[f.name for f in fields])
        if source not in columns:
            match = [c for c in columns if normalise_name(c) == normalise_name(source)]
            if not match:
                raise SchemaError.coded("map_missing_column", target=target, source=source,
                                        columns=[str(c) for c in columns])
            source = match[0]
        found[target] = source
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise_name(col), col)
    used = set(found.values())
    for field in fields:
        if field.name in found:
            continue
        for name in field.names:
            col = by_norm.get(normalise_name(name))
            if col is not None and col not in used:
                found[field.name] = col
                used.add(col)
                break
    missing = [f.name for f in fields if f.required and f.name not in found]
    if missing:
        raise SchemaError.coded("missing_columns", kind=kind, missing=missing, columns=[str(c) for c in columns])
    return found


# ----------------------------------------------------------------------------- storage
#: the first DuckDB storage format (DuckDB 1.2) in which a column may be declared ZSTD-compressed
ZSTD_STORAGE = (1, 2, 0)


def id_storage(con) -> str:
    """The storage clause of an id column (customer, order, invoice ids) in a table made on ``con``.

    ``" USING COMPRESSION zstd"`` where the database file's storage format allows it, else ``""``
    (DuckDB's own choice). Ids are short strings that hardly repeat within a row group; DuckDB's
    default for them, a dictionary with FSST, spends most of a bulk insert's CPU time building a
    dictionary of nearly unique strings. Measured on 2.77 M rows (DuckDB 2.0.1, one column,
    insert + checkpoint): customer ids 'C378164' 0.55 CPU-s and 18 MB by default, 0.32 s and 24 MB
    with ZSTD; order ids 'O1048577' 0.47 s / 12 MB against 0.24 s / 18 MB; 8-digit numbers and
    e-mail addresses alike; ids sorted by customer, 277 rows each, 0.19 s either way (6 against
    12 MB). The summary that groups the transactions by customer took the same time (1 M
    customers: 1.21 against 1.23 CPU-s; 10 M: 24.0 against 24.3), a lookup of one id among
    2.77 M 0.04 against 0.06 s. A workspace made by an older DuckDB (storage format before 1.2)
    keeps DuckDB's choice: there the clause would be refused.
    """
    row = con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                      "WHERE database_name = current_database()").fetchone()
    found = re.match(r"v(\d+)\.(\d+)\.(\d+)", str(row[0]) if row and row[0] else "")
    if found and tuple(int(g) for g in found.groups()) >= ZSTD_STORAGE:
        return " USING COMPRESSION zstd"
    return ""


def column_ddl(kind: str, con) -> list[str]:
    """The column definitions of the fields of ``kind`` in a table made on ``con`` (ids as :func:`id_storage`)."""
    ids = id_storage(con)
    return [f"{f.name} {f.sql_type}{ids if f.type == 'id' else ''}" for f in schema_for(kind)]


# ----------------------------------------------------------------------------- SQL building blocks
def quote_ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def text_sql(expr: str) -> str:
    """SQL giving the text of a cell without surrounding spaces, NULL when nothing is left.

    The same as ``nullif(trim(x), '')``, but ``trim`` (which copies the string) runs only
    on the rare cells that start or end with a space. ``expr`` should be a column
    reference: it is repeated.
    """
    return (f"CASE WHEN {expr} = '' THEN NULL WHEN prefix({expr}, ' ') OR suffix({expr}, ' ') "
            f"THEN nullif(trim({expr}), '') ELSE {expr} END")


def number_sql(expr: str, decimal: str, thousands: str | None) -> str:
    """SQL turning text such as ``€ 1.234,56`` or ``-$1,234.56`` into a DOUBLE (NULL if it is not a number).

    A plain number (only the separators to swap) is cast directly; the regular
    expressions that strip currency signs and read ``(12.50)`` as negative run only on
    the cells that cast fails on. Both give the same value wherever the direct cast works.
    """
    plain = expr
    if thousands:
        plain = f"replace({plain}, {quote_literal(thousands)}, '')"
    if decimal != ".":
        plain = f"replace({plain}, {quote_literal(decimal)}, '.')"
    cleaned = f"regexp_replace(trim({expr}), '[€$£¥\\s\u00a0]|EUR|USD|GBP', '', 'g')"
    if thousands:
        cleaned = f"replace({cleaned}, {quote_literal(thousands)}, '')"
    if decimal != ".":
        cleaned = f"replace({cleaned}, {quote_literal(decimal)}, '.')"
    cleaned = f"replace({cleaned}, '−', '-')"
    # (12.50) is a negative amount in accounting exports
    cleaned = f"regexp_replace({cleaned}, '^\\((.*)\\)$', '-\\1')"
    return f"coalesce(TRY_CAST({plain} AS DOUBLE), TRY_CAST({cleaned} AS DOUBLE))"


#: sniffed formats whose values DuckDB's own (fast) ISO timestamp cast reads
ISO_FORMATS = ("%Y-%m-%d",)


def timestamp_sql(expr: str, date_format: str | None) -> str:
    """SQL turning text into a TIMESTAMP with the detected format (NULL if it does not parse).

    ``excel`` means Excel serial day numbers (days since 1899-12-30, fraction = time of day).
    Without a format, DuckDB's own ISO cast is tried. For ISO dates that cast is tried
    first too (it is many times faster than ``strptime``); the format list catches the rest.
    """
    text = f"trim({expr})"
    if date_format == "excel":
        return (f"(TIMESTAMP '1899-12-30' + to_microseconds(TRY_CAST(round(TRY_CAST({text} AS DOUBLE) * 86400e6) AS BIGINT)))")
    if not date_format:
        return f"TRY_CAST({text} AS TIMESTAMP)"
    formats = [date_format]
    if "%H" not in date_format:
        for sep in (" ", "T"):
            formats += [f"{date_format}{sep}%H:%M", f"{date_format}{sep}%H:%M:%S", f"{date_format}{sep}%H:%M:%S.%f"]
    listed = ", ".join(quote_literal(f) for f in formats)
    parsed = f"try_strptime({text}, [{listed}])"
    if date_format in ISO_FORMATS:
        # DuckDB's cast also reads (and drops) time-zone offsets and words such as 'epoch',
        # which the format list rejects: it is used only where neither can occur
        plain = (f"{expr} >= '0' AND {expr} < ':' AND NOT contains({expr}, '+') AND NOT suffix({expr}, 'Z') "
                 f"AND (strlen({expr}) <= 19 OR (strlen({expr}) <= 26 AND {expr}[20] = '.'))")
        return f"coalesce(CASE WHEN {plain} THEN TRY_CAST({expr} AS TIMESTAMP) END, {parsed})"
    return parsed


def totals_sql(expr: str) -> str:
    """SQL that is true when a text cell reads like a totals line (``Totaal``, ``Total:`` …)."""
    words = "|".join(re.escape(w) for w in TOTAL_WORDS)
    letters = sorted({w[0] for w in TOTAL_WORDS})
    # Byte-wise range tests (comparisons, no string copies) pass only cells starting with a
    # space or control character or with one of the words' first letters in either case;
    # the regular expression runs on those alone.
    def starts_with_one(case) -> str:
        low, high = case(letters[0]), case(letters[-1])
        inner = " OR ".join(f"({expr} >= {quote_literal(case(c))} AND {expr} < {quote_literal(chr(ord(case(c)) + 1))})"
                            for c in letters)
        return f"({expr} >= {quote_literal(low)} AND {expr} < {quote_literal(chr(ord(high) + 1))} AND ({inner}))"

    ranges = f"{starts_with_one(str.upper)} OR {starts_with_one(str.lower)}"
    # (a constant IN-list would be planned as a join over every row, outside the CASE)
    return (f"CASE WHEN {expr} < '!' OR {ranges} THEN "
            f"regexp_matches(lower(trim({expr})), '^({words})\\b') ELSE false END")
