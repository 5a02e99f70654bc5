"""The workspace: one folder with an embedded DuckDB file (``cvm.duckdb``) and ``settings.toml``.

An ingest is one DuckDB transaction: the file is staged, every row is parsed and checked
in SQL, rejected rows go to ``quarantine`` with their source line, raw text and reason,
rows already present are counted as duplicates, and the rest is inserted. Either all of
that is committed or none of it: a crash or a kill part-way leaves the workspace exactly
as it was. The counts always reconcile::

    rows_read = accepted + quarantined + duplicates

(blank lines, and title lines above the header, are not rows; they are reported apart.)

Duplicates. Ingesting the same file twice changes nothing. Transactions are identified
by ``(customer_id, order_id)`` where an order id exists, otherwise by the whole row
(customer, timestamp, amount, channel, margin). Identical rows *within* one file are
kept, as separate order lines or purchases: a row is a duplicate only when the
workspace already holds at least as many copies of it as the file has up to that
line. So overlapping exports add only what is new, and repeated lines of one order are
not lost. Customers, invoices and referrals are identified by their ids (first one wins);
costs by the whole row, like transactions without an order id.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from cvm.data import readers
from cvm.data.validate import (
    IDENTITY,
    number_sql,
    quote_ident,
    quote_literal,
    recognise_columns,
    schema_for,
    timestamp_sql,
    totals_sql,
)
from cvm.errors import SchemaError, WorkspaceError
from cvm.settings import Settings

DB_FILE = "cvm.duckdb"
SETTINGS_FILE = "settings.toml"
PARSED = "_cvm_parsed"

_EXTRA_COLUMNS = {"customers": ("attributes VARCHAR",)}

MODELS_DDL = """
CREATE SEQUENCE IF NOT EXISTS models_seq START 1;
CREATE TABLE IF NOT EXISTS models (
    model_id BIGINT PRIMARY KEY DEFAULT nextval('models_seq'),
    created TIMESTAMP,
    model VARCHAR,
    time_unit VARCHAR,
    as_of TIMESTAMP,
    calibration_end TIMESTAMP,
    params_json VARCHAR,
    log_likelihood DOUBLE,
    n_customers BIGINT
);
"""

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    source VARCHAR, line BIGINT, raw VARCHAR, reason VARCHAR, kind VARCHAR, ingested TIMESTAMP
);
"""


def table_ddl(kind: str) -> str:
    """``CREATE TABLE`` statement of the target table of ``kind`` (see :mod:`cvm.data.validate`)."""
    cols = [f"{f.name} {f.sql_type}" for f in schema_for(kind)]
    cols += list(_EXTRA_COLUMNS.get(kind, ()))
    cols += ["source VARCHAR", "line BIGINT"]
    return f"CREATE TABLE IF NOT EXISTS {kind} ({', '.join(cols)})"


@dataclass
class IngestReport:
    """What one ingest did; ``rows_read == accepted + quarantined + duplicates`` always."""

    source: str
    table: str
    rows_read: int
    accepted: int
    quarantined: int
    duplicates: int
    blank_lines: int = 0
    dry_run: bool = False
    detected: dict[str, Any] = field(default_factory=dict)
    preview: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["preview"] = [{k: _jsonable(v) for k, v in row.items()} for row in self.preview]
        out["detected"] = {k: _jsonable(v) for k, v in self.detected.items()}
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def _default_memory_limit() -> str:
    """DuckDB's memory cap: ``CVM_MEMORY_LIMIT`` if set, else 60 % of RAM, at most 3 GB."""
    if os.environ.get("CVM_MEMORY_LIMIT"):
        return os.environ["CVM_MEMORY_LIMIT"]
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "3GB"
    return f"{max(256, min(3072, int(ram * 0.6 / 2**20)))}MB"


class Workspace:
    """A cvm workspace folder: ``cvm.duckdb`` (tables) and ``settings.toml``.

    Examples
    --------
    >>> ws = Workspace.open(tmp_path / "ws")                       # doctest: +SKIP
    >>> ws.ingest("orders.csv").to_dict()["accepted"]              # doctest: +SKIP
    >>> ws.summary(time_unit="week").head()                        # doctest: +SKIP
    """

    def __init__(self, path: Path, con, settings: Settings) -> None:
        self.path = path
        self.con = con
        self.settings = settings

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, read_only: bool = False) -> "Workspace":
        """Open (and create if needed) the workspace folder ``path``.

        Raises
        ------
        WorkspaceError
            The DuckDB file is locked by another process, or the folder cannot be created.
        """
        import duckdb

        path = Path(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create the workspace folder {path}: {exc.strerror}") from None
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"{path} is a file, not a workspace folder")
        db = path / DB_FILE
        try:
            con = duckdb.connect(str(db), read_only=read_only and db.exists())
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" in message.lower():
                raise WorkspaceError(
                    f"the workspace {path} is in use by another process",
                    hint="close the other cvm command or notebook using it (or stop `cvm serve`) and try again",
                ) from None
            raise WorkspaceError(f"cannot open {db}: {message.splitlines()[0]}") from None
        tmp = path / ".tmp"
        con.execute(f"SET temp_directory = {quote_literal(str(tmp))}")
        con.execute(f"SET memory_limit = {quote_literal(_default_memory_limit())}")
        con.execute("SET preserve_insertion_order = false")
        settings_path = path / SETTINGS_FILE
        settings = Settings.load(settings_path)
        if not settings_path.exists() and not read_only:
            settings.save(settings_path)
        ws = cls(path, con, settings)
        if not read_only:
            ws._create_tables()
        return ws

    def _create_tables(self) -> None:
        self.con.execute(table_ddl("transactions"))
        self.con.execute(QUARANTINE_DDL)
        self.con.execute(MODELS_DDL)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    # ------------------------------------------------------------------ settings and reading
    def save_settings(self, settings: Settings) -> None:
        settings.save(self.path / SETTINGS_FILE)
        self.settings = settings

    def has_table(self, name: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'", [name]
        ).fetchall()[0]
        return bool(row and row[0])

    def frame(self, sql_or_table: str, params: Any = None):
        """A pandas DataFrame from a table name or a SQL query (with ``?`` parameters)."""
        text = sql_or_table.strip()
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
            if not self.has_table(text):
                raise WorkspaceError(f"the workspace has no table '{text}'", hint="ingest data first (cvm ingest FILE)")
            text = f"SELECT * FROM {quote_ident(text)}"
        return self.con.execute(text, params or []).df()

    # ------------------------------------------------------------------ ingest
    def ingest(self, source: Any, kind: str = "transactions", mapping: Mapping[str, str] | None = None,
               dry_run: bool = False, *, name: str | None = None, delimiter: str | None = None,
               decimal: str | None = None, thousands: str | None = None, date_format: str | None = None,
               encoding: str | None = None, has_header: bool | None = None, sheet: str | None = None,
               preview_rows: int = 10) -> IngestReport:
        """Read ``source`` (path or frame) into the table of ``kind``; one transaction, nothing lost.

        Parameters
        ----------
        source
            CSV/TXT, ``.xlsx`` or Parquet path, or a pandas/polars/Arrow frame.
        kind
            ``transactions``, ``customers``, ``referrals``, ``costs`` or ``invoices``.
        mapping
            Target column → source column, for names that are not recognised.
        dry_run
            Detect, parse and count, then roll back: the workspace is left untouched.
        delimiter, decimal, thousands, date_format, encoding, has_header, sheet
            Override what would be sniffed (``date_format`` in strftime codes, or ``excel``).

        Returns
        -------
        IngestReport
            ``rows_read = accepted + quarantined + duplicates``.
        """
        fields = schema_for(kind)
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            src = readers.stage(con, source, name=name, delimiter=delimiter, encoding=encoding,
                                has_header=has_header, sheet=sheet)
            found = recognise_columns(src.columns, kind, mapping)
            detected = dict(src.detected)
            detected["mapping"] = dict(found)
            select, reasons, formats = self._parse_sql(src, kind, found, decimal, thousands, date_format)
            detected.update(formats)
            con.execute(f"DROP TABLE IF EXISTS {PARSED}")
            con.execute(
                f"CREATE TEMP TABLE {PARSED} AS SELECT _line AS line, {select}, _reason AS reason, "
                f"CASE WHEN _reason IS NOT NULL THEN CAST({src.raw_sql} AS VARCHAR) END AS raw "
                f"FROM (SELECT *, {reasons} AS _reason FROM {readers.INPUT_TABLE} WHERE NOT _blank)")
            rows_read, quarantined = con.execute(
                f"SELECT count(*), count(reason) FROM {PARSED}").fetchall()[0]
            blank = con.execute(
                f"SELECT count(*) FROM {readers.INPUT_TABLE} WHERE _blank AND _line > ?",
                [int(src.detected.get("header_line") or 0)]).fetchall()[0][0]
            con.execute(table_ddl(kind))
            con.execute(QUARANTINE_DDL)
            con.execute(
                f"INSERT INTO quarantine SELECT ?, p.line, p.raw, p.reason, ?, now() FROM {PARSED} p "
                f"WHERE p.reason IS NOT NULL AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.source = ? "
                f"AND q.line = p.line AND q.raw IS NOT DISTINCT FROM p.raw)", [src.name, kind, src.name])
            accepted = self._insert_new(kind, src.name)
            duplicates = rows_read - quarantined - accepted
            why = dict(con.execute(
                f"SELECT regexp_replace(reason, ':.*$', ''), count(*) FROM {PARSED} WHERE reason IS NOT NULL "
                f"GROUP BY 1 ORDER BY 2 DESC").fetchall())
            preview = self._preview(fields, preview_rows)
            _after_insert(self)
            if dry_run:
                con.execute("ROLLBACK")
            else:
                con.execute(f"DROP TABLE IF EXISTS {PARSED}")
                readers.drop_staging(con)
                con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except Exception:  # the transaction may already be gone (connection closed)
                pass
            raise
        finally:
            try:
                con.unregister("_cvm_frame")
            except Exception:  # the connection was closed part-way
                pass
        return IngestReport(source=src.name, table=kind, rows_read=int(rows_read), accepted=int(accepted),
                            quarantined=int(quarantined), duplicates=int(duplicates), blank_lines=int(blank),
                            dry_run=dry_run, detected=detected, preview=preview, reasons=why)

    def _parse_sql(self, src: readers.Source, kind: str, found: dict[str, str], decimal, thousands, date_format):
        """SELECT list (typed target columns + raw) and the CASE giving each bad row's reason."""
        con = self.con
        exprs: dict[str, str] = {}
        checks: list[tuple[str, str]] = list(src.shape_checks)
        formats: dict[str, Any] = {}
        fields = schema_for(kind)
        text_cells = []
        for f in fields:
            if f.name not in found:
                exprs[f.name] = f"CAST(NULL AS {f.sql_type})"
                continue
            col = found[f.name]
            cell = src.column_sql[col]
            ctype = src.column_types[col].upper()
            is_text = ctype == "VARCHAR"
            label = quote_literal(col)
            present = f"({cell}) IS NOT NULL" if not is_text else f"({cell}) IS NOT NULL"
            if f.type in ("id", "text"):
                if ctype in ("DOUBLE", "FLOAT") or ctype.startswith("DECIMAL"):
                    value = (f"CASE WHEN {cell} = trunc({cell}) THEN CAST(CAST({cell} AS HUGEINT) AS VARCHAR) "
                             f"ELSE CAST({cell} AS VARCHAR) END")
                else:
                    value = f"nullif(trim(CAST({cell} AS VARCHAR)), '')"
                exprs[f.name] = value
                text_cells.append(value)
                if f.required:
                    checks.append((f"{value} IS NULL", quote_literal(f"missing {f.name}: column {col} is empty")))
            elif f.type == "number":
                if is_text:
                    if "decimal" not in formats:
                        sniffed = readers.sniff_decimal(readers.sample_values(con, src, col),
                                                     src.detected.get("delimiter"))
                        dec = decimal or sniffed[0]
                        thou = thousands if thousands is not None else (sniffed[1] if not decimal else
                                                                        ("." if dec == "," else ","))
                        if thou == dec:
                            raise SchemaError("the decimal mark and thousands separator cannot be the same")
                        formats["decimal"], formats["thousands"] = dec, thou
                    value = number_sql(cell, formats["decimal"], formats["thousands"])
                else:
                    value = f"TRY_CAST({cell} AS DOUBLE)"
                exprs[f.name] = value
                checks.append((f"{present} AND ({value} IS NULL OR NOT isfinite({value}))",
                               f"'non-numeric {f.name} in column ' || {label} || ': ' || CAST({cell} AS VARCHAR)"))
                if f.required:
                    checks.append((f"({cell}) IS NULL", quote_literal(f"missing {f.name}: column {col} is empty")))
            else:  # timestamp
                if is_text:
                    fmt = date_format or readers.sniff_date_format(readers.sample_values(con, src, col))
                    formats.setdefault("date_format", fmt)
                    formats.setdefault("date_formats", {})[col] = fmt
                    value = timestamp_sql(cell, fmt)
                elif ctype.startswith("TIMESTAMP") or ctype == "DATE":
                    value = f"CAST({cell} AS TIMESTAMP)"
                elif ctype in ("INTEGER", "BIGINT", "UBIGINT", "UINTEGER"):
                    value = (f"CASE WHEN {cell} BETWEEN 19000101 AND 21001231 THEN "
                             f"try_strptime(CAST({cell} AS VARCHAR), '%Y%m%d') ELSE "
                             f"{timestamp_sql(f'CAST({cell} AS VARCHAR)', 'excel')} END")
                elif ctype in ("DOUBLE", "FLOAT") or ctype.startswith("DECIMAL"):
                    value = timestamp_sql(f"CAST({cell} AS VARCHAR)", "excel")
                else:
                    value = f"TRY_CAST({cell} AS TIMESTAMP)"
                exprs[f.name] = value
                checks.append((f"{present} AND {value} IS NULL",
                               f"'unparseable date in column ' || {label} || ': ' || CAST({cell} AS VARCHAR)"))
                if f.required:
                    checks.append((f"({cell}) IS NULL", quote_literal(f"missing {f.name}: column {col} is empty")))
        # a totals line ("Totaal", "Total") in the first column or in an id/text cell is never a purchase
        first_cell = src.column_sql[src.columns[0]]
        if src.column_types[src.columns[0]].upper() == "VARCHAR":
            text_cells.insert(0, first_cell)
        if text_cells:
            total = " OR ".join(f"coalesce({totals_sql(c)}, false)" for c in dict.fromkeys(text_cells))
            checks.insert(len(src.shape_checks), (f"({total})", "'totals row (not a transaction)'"))
        reason = "CASE " + " ".join(f"WHEN {cond} THEN {why}" for cond, why in checks) + " END" if checks else "NULL"
        if kind == "customers":
            extra = [c for c in src.columns if c not in found.values()]
            attrs = ("to_json(map_from_entries([" + ", ".join(
                f"({quote_literal(c)}, CAST({src.column_sql[c]} AS VARCHAR))" for c in extra) + "]))") if extra else "NULL"
            exprs["attributes"] = f"CAST({attrs} AS VARCHAR)"
        select = ", ".join(f"{v} AS {quote_ident(k)}" for k, v in exprs.items())
        return select, reason, formats

    def _insert_new(self, kind: str, source_name: str) -> int:
        """Insert the accepted, not-yet-present rows of the parsed table; return how many."""
        con = self.con
        cols = [f.name for f in schema_for(kind)] + ([c.split()[0] for c in _EXTRA_COLUMNS.get(kind, ())])
        col_list = ", ".join(quote_ident(c) for c in cols)
        before = con.execute(f"SELECT count(*) FROM {kind}").fetchall()[0][0]
        ident = IDENTITY[kind]
        if kind in ("transactions", "costs"):
            # multiset identity: n-th copy of a key in this file is new only if the table has fewer than n
            if kind == "transactions":
                keys = {"k_customer": "customer_id", "k_order": "order_id",
                        **{f"k_{c}": f"CASE WHEN order_id IS NULL THEN {c} END" for c in ("ts", "amount", "channel", "margin")}}
            else:
                keys = {f"k_{c}": c for c in cols}
            key_select = ", ".join(f"{v} AS {k}" for k, v in keys.items())
            key_names = ", ".join(keys)
            if before == 0:
                con.execute(f"INSERT INTO {kind} ({col_list}, source, line) SELECT {col_list}, ?, line FROM {PARSED} "
                            f"WHERE reason IS NULL", [source_name])
            else:
                on = " AND ".join(f"n.{k} IS NOT DISTINCT FROM e.{k}" for k in keys)
                con.execute(f"""
                    INSERT INTO {kind} ({col_list}, source, line)
                    WITH new AS (SELECT *, {key_select} FROM {PARSED} WHERE reason IS NULL),
                    existing AS (
                        SELECT {key_names}, count(*) AS m FROM (SELECT {key_select} FROM {kind}
                            WHERE customer_id IN (SELECT DISTINCT customer_id FROM new)) GROUP BY ALL),
                    joined AS (SELECT n.*, e.m FROM new n LEFT JOIN existing e ON {on}),
                    fresh AS (SELECT * FROM joined WHERE m IS NULL),
                    seen AS (SELECT *, row_number() OVER (PARTITION BY {key_names} ORDER BY line) AS k
                             FROM joined WHERE m IS NOT NULL)
                    SELECT {col_list}, ?, line FROM fresh
                    UNION ALL SELECT {col_list}, ?, line FROM seen WHERE k > m
                """, [source_name, source_name])
        else:
            key_names = ", ".join(ident)
            on = " AND ".join(f"t.{k} IS NOT DISTINCT FROM n.{k}" for k in ident)
            con.execute(f"""
                INSERT INTO {kind} ({col_list}, source, line)
                SELECT {col_list}, ?, line FROM (
                    SELECT *, row_number() OVER (PARTITION BY {key_names} ORDER BY line) AS k
                    FROM {PARSED} n WHERE reason IS NULL
                      AND NOT EXISTS (SELECT 1 FROM {kind} t WHERE {on}))
                WHERE k = 1
            """, [source_name])
        after = con.execute(f"SELECT count(*) FROM {kind}").fetchall()[0][0]
        return int(after - before)

    def _preview(self, fields, n: int) -> list[dict[str, Any]]:
        cols = ", ".join(["line"] + [quote_ident(f.name) for f in fields] + ["reason"])
        cur = self.con.execute(f"SELECT {cols} FROM {PARSED} ORDER BY line LIMIT {int(n)}")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    # ------------------------------------------------------------------ summaries
    def summary(self, as_of: Any = None, time_unit: str | None = None, calibration_end: Any = None,
                holdout_end: Any = None, channel: str | None = None, period: str = "day"):
        """Per-customer ``frequency, recency, T, monetary_value`` (see :func:`cvm.data.summary.workspace_summary`)."""
        from cvm.data.summary import workspace_summary

        return workspace_summary(self.con, as_of=as_of, time_unit=time_unit or self.settings.time_unit,
                                 calibration_end=calibration_end, holdout_end=holdout_end, channel=channel,
                                 period=period)

    # ------------------------------------------------------------------ models
    def save_model(self, model: Any, meta: Mapping[str, Any] | None = None) -> int:
        """Keep a fitted model (its JSON) in ``models``; returns the new ``model_id``.

        ``meta`` may hold ``model`` (short name), ``time_unit``, ``as_of``, ``calibration_end``.
        """
        meta = dict(meta or {})
        payload = model.to_dict()
        name = meta.get("model") or payload.get("model")
        self.con.execute(MODELS_DDL)
        row = self.con.execute(
            "INSERT INTO models (created, model, time_unit, as_of, calibration_end, params_json, log_likelihood, n_customers) "
            "VALUES (now()::TIMESTAMP, ?, ?, TRY_CAST(? AS TIMESTAMP), TRY_CAST(? AS TIMESTAMP), ?, ?, ?) RETURNING model_id",
            [name, meta.get("time_unit"), _as_text(meta.get("as_of")), _as_text(meta.get("calibration_end")),
             json.dumps(payload), payload.get("log_likelihood"),
             None if payload.get("n_customers") is None else int(payload["n_customers"])],
        ).fetchall()[0]
        return int(row[0])

    def load_model(self, which: int | str | None = None):
        """A stored model by ``model_id``, or the latest of a name (``bgnbd`` or ``BGNBD``), or the latest."""
        from cvm.models import MODEL_NAMES, model_class
        from cvm.models.base import LikelihoodModel

        if isinstance(which, int):
            row = self.con.execute("SELECT params_json FROM models WHERE model_id = ?", [which]).fetchall()
        elif which is None:
            row = self.con.execute("SELECT params_json FROM models ORDER BY model_id DESC LIMIT 1").fetchall()
        else:
            names = [which, which.lower(), MODEL_NAMES.get(which.lower(), which)]
            names += [k for k, v in MODEL_NAMES.items() if v == which]
            row = self.con.execute(
                "SELECT params_json FROM models WHERE model IN (SELECT unnest(?)) OR json_extract_string(params_json, '$.model') "
                "IN (SELECT unnest(?)) ORDER BY model_id DESC LIMIT 1", [names, names]).fetchall()
        if not row:
            raise WorkspaceError(f"no stored model {'' if which is None else repr(which)}".strip(),
                                 hint="fit one first: cvm fit --model bgnbd")
        payload = json.loads(row[0][0])
        model_class(payload["model"])  # imports the class so it is registered
        return LikelihoodModel.from_dict(payload)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _after_insert(ws: Workspace) -> None:
    """Point between the inserts and the commit; tests replace it to simulate a crash there."""
