"""The workspace: one folder with an embedded DuckDB file (``cvm.duckdb``) and ``settings.toml``.

An ingest is one DuckDB transaction: the file is staged, every row is parsed and checked
in SQL, rejected rows go to ``quarantine`` with their source line, raw text and reason,
rows already present are counted as duplicates, corrected orders replace what was
stored, and the rest is inserted. Either all of that is committed or none of it: a
crash or a kill part-way leaves the workspace exactly as it was. The counts always
reconcile, every row of the file in exactly one of four counts::

    rows_read = accepted + quarantined + duplicates + changed

(blank lines, and title lines above the header, are not rows; they are reported apart.)
``accepted`` rows are new to the workspace; ``changed`` rows are corrections of an order
and are **not** also counted as accepted (see below); so with one row per order the
ingest adds ``accepted`` rows to ``transactions`` and ``changed`` rows to
``transactions_history``.

Duplicates. Ingesting the same file twice changes nothing. Transactions are identified
by ``(customer_id, order_id)`` where an order id exists (a return, a negative amount, is
a record of its own next to the purchase whose order id it carries), otherwise by the whole row
(customer, timestamp, amount, channel, margin). Identical rows *within* one file are
kept, as separate order lines or purchases: a row is a duplicate only when the
workspace already holds at least as many copies of it as the file has up to that
line. So overlapping exports add only what is new, and repeated lines of one order are
not lost. Customers, invoices and referrals are identified by their ids (first one wins);
costs by the whole row, like transactions without an order id.

Corrections (:mod:`cvm.data.corrections`). An order id seen again with other content
(timestamp, amount, channel or margin) is a change, not a duplicate: the newer row wins.
Between files the later ingest wins: the stored rows of that order move to
``transactions_history`` (with their file and line, when and by which file and line they
were replaced) and the file's rows count as ``changed``. Within one file the last line of
an order wins: earlier lines of it with other content go to history and count as
``changed``, the last line counts as accepted (or changed, or duplicate, against the
workspace). A version that was replaced before is never brought back by re-reading an
old file (those rows are duplicates).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from cvm.data import corrections, generations, readers
from cvm.data.tables import WorkspaceTables
from cvm.data import values as values_
from cvm.data.reasons import Reason
from cvm.data.validate import (
    IDENTITY,
    column_ddl,
    number_sql,
    quote_ident,
    quote_literal,
    recognise_columns,
    schema_for,
    text_sql,
    timestamp_sql,
    totals_sql,
)
from cvm.errors import SchemaError, WorkspaceError
from cvm.jsonsafe import json_safe
from cvm.settings import Settings

DB_FILE = "cvm.duckdb"
SETTINGS_FILE = "settings.toml"
PARSED = "_cvm_parsed"
REJECTS = "_cvm_rejects"

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
    source VARCHAR, line BIGINT, raw VARCHAR, reason VARCHAR, kind VARCHAR, ingested TIMESTAMP,
    reason_code VARCHAR, reason_values VARCHAR
);
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS reason_code VARCHAR;
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS reason_values VARCHAR;
"""


def table_ddl(kind: str, con) -> str:
    """``CREATE TABLE`` statement of the target table of ``kind`` on ``con`` (see :mod:`cvm.data.validate`;
    id columns are stored as :func:`cvm.data.validate.id_storage` says)."""
    cols = column_ddl(kind, con)
    cols += list(_EXTRA_COLUMNS.get(kind, ()))
    cols += ["source VARCHAR", "line BIGINT"]
    return f"CREATE TABLE IF NOT EXISTS {kind} ({', '.join(cols)})"


@dataclass
class IngestReport:
    """What one ingest did; ``rows_read == accepted + quarantined + duplicates + changed`` always.

    ``changed`` counts corrections of an order (same customer and order id, other content;
    see :mod:`cvm.data.corrections`): rows that replaced stored rows, and earlier lines of an
    order that a later line of the same file replaced. A changed row is not also accepted.
    """

    source: str
    table: str
    rows_read: int
    accepted: int
    quarantined: int
    duplicates: int
    changed: int = 0
    blank_lines: int = 0
    dry_run: bool = False
    detected: dict[str, Any] = field(default_factory=dict)
    preview: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["preview"] = json_safe(self.preview)
        out["detected"] = json_safe(self.detected)
        return out


def _default_memory_limit() -> str:
    """DuckDB's memory cap: ``CVM_MEMORY_LIMIT`` if set, else 60 % of RAM, at most 1.5 GB.

    The valuation's arrays live beside DuckDB's buffers, and DuckDB keeps what it cached up to
    its cap: with 3 GB, ``cvm run`` on 10 M customers peaked at 4.22 GiB, with 1.5 GB at 3.66 GiB
    (same output, bit for bit; 1 M customers equally fast). DuckDB spills what does not fit.
    """
    if os.environ.get("CVM_MEMORY_LIMIT"):
        return os.environ["CVM_MEMORY_LIMIT"]
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "1536MB"
    return f"{max(256, min(1536, int(ram * 0.6 / 2**20)))}MB"


class Workspace(WorkspaceTables):
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
        self.read_only = False

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, read_only: bool = False, *, wait: float | None = None,
             on_wait: Callable[[dict[str, Any]], None] | None = None) -> "Workspace":
        """Open (and create if needed) the workspace folder ``path``.

        A reader (``read_only=True``) opens the latest published generation and never
        waits: other readers and a writer may work at the same time. A writer takes the
        workspace's write lock, works on a copy and publishes it when closed (or when the
        process ends); see :mod:`cvm.data.generations`.

        Parameters
        ----------
        read_only
            Read only; a workspace that does not exist yet is created (as by a writer).
        wait
            Seconds a writer waits for another writer (default ``CVM_WRITE_TIMEOUT`` or 600).
        on_wait
            Called once with ``{command, pid, since, timeout}`` of the other writer when this
            one has to wait; default: a line on standard error.

        Raises
        ------
        WorkspaceError
            The folder cannot be created or opened, or another writer held the workspace longer than ``wait``.
        """
        import duckdb

        path = Path(path)
        if path.exists() and not path.is_dir():
            raise WorkspaceError.coded("workspace_is_file", path=str(path))
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError.coded("workspace_cannot_create", path=str(path), reason=exc.strerror) from None
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"{path} is a file, not a workspace folder")
        db = path / DB_FILE
        published = generations.exists(path)
        read_only = read_only and published
        writer = None if read_only else generations.acquire(path, wait, on_wait or _say_waiting)
        try:
            con = generations.connect_reader(path) if read_only else duckdb.connect(writer.path())
        except duckdb.IOException as exc:
            if writer is not None:
                generations.release(writer, _Closed())
            message = str(exc)
            if "lock" in message.lower():
                raise WorkspaceError.coded("workspace_in_use", path=str(path)) from None
            raise WorkspaceError.coded("workspace_cannot_open", path=str(db), detail=message.splitlines()[0]) from None
        tmp = path / ".tmp"
        con.execute(f"SET temp_directory = {quote_literal(str(tmp))}")
        con.execute(f"SET memory_limit = {quote_literal(_default_memory_limit())}")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # no terminal bars in the output of a library
        # memory a finished query freed goes back to the system: the summary of 10 M customers otherwise
        # keeps about 1 GB of its hash tables in the allocator while pandas values the customers
        con.execute("SET allocator_flush_threshold = '8MB'")
        con.execute("SET allocator_background_threads = true")
        settings_path = path / SETTINGS_FILE
        settings = Settings.load(settings_path)
        if not settings_path.exists() and not read_only:
            settings.save(settings_path)
        ws = cls(path, con, settings)
        ws.read_only = read_only
        if writer is None:
            # a reader of a team workspace lets go of its generation at close() (cvm.data.catalog)
            ws._finalizer = weakref.finalize(ws, generations.close_reader, con)
        else:
            # published at close(), or when the workspace is forgotten or the process ends
            ws._finalizer = weakref.finalize(ws, generations.release, writer, con)
            ws._create_tables()
            if not published:  # a new workspace: there, with its empty tables, from now on
                generations.publish_first(writer, con)
        return ws

    def _create_tables(self) -> None:
        self.con.execute(table_ddl("transactions", self.con))
        self.con.execute(corrections.history_ddl(self.con))
        self.con.execute(QUARANTINE_DDL)
        self.con.execute(MODELS_DDL)

    def close(self) -> None:
        """Close the workspace; a writer publishes its work here as the new generation."""
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()
        else:
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
                raise WorkspaceError.coded("no_table", table=text)
            text = f"SELECT * FROM {quote_ident(text)}"
        return self.con.execute(text, params or []).df()

    # ------------------------------------------------------------------ ingest
    def ingest(self, source: Any, kind: str = "transactions", mapping: Mapping[str, str] | None = None,
               dry_run: bool = False, *, name: str | None = None, delimiter: str | None = None,
               decimal: str | None = None, thousands: str | None = None, date_format: str | None = None,
               encoding: str | None = None, has_header: bool | None = None, sheet: str | None = None,
               preview_rows: int = 10, locale: str | None = None) -> IngestReport:
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
        locale
            How the file writes amounts and dates when its values do not prove it: ``nl``,
            ``de``, ``fr`` (decimal comma, day-first), ``en`` (decimal point, day-first) or
            ``us`` (decimal point, month-first); see :mod:`cvm.data.values`.

        Returns
        -------
        IngestReport
            ``rows_read = accepted + quarantined + duplicates + changed``.

        Notes
        -----
        How it runs (see :mod:`cvm.data.readers` for the two ways a CSV is read): every
        typed value is computed once per row, and a cheap flag says whether the row passes
        all checks. The passing rows go straight into the table in one ``INSERT … SELECT``
        (when the table is empty; otherwise they are staged once for the duplicate
        anti-join). Only when fewer rows pass than the source holds does a second query
        collect the failing rows with their reasons for ``quarantine``. A fast CSV read
        whose line numbers cannot be proven is rolled back and read again line by line.
        """
        check_read_options(self.con, delimiter=delimiter, decimal=decimal, thousands=thousands, date_format=date_format)
        locale = None if locale is None else str(locale).strip().lower()
        values_.check_locale(locale)
        options = dict(mapping=mapping, dry_run=dry_run, name=name, delimiter=delimiter, decimal=decimal,
                       thousands=thousands, date_format=date_format, encoding=encoding, has_header=has_header,
                       sheet=sheet, preview_rows=preview_rows, locale=locale)
        try:
            return self._ingest(source, kind, fast=True, **options)
        except _ReadAgain:
            return self._ingest(source, kind, fast=False, **options)

    def _ingest(self, source: Any, kind: str, *, fast: bool, mapping, dry_run, name, delimiter, decimal, thousands,
                date_format, encoding, has_header, sheet, preview_rows, locale=None) -> IngestReport:
        import duckdb

        fields = schema_for(kind)
        con = self.con
        con.execute("BEGIN TRANSACTION")
        src = None
        ordered = False
        try:
            src = readers.stage(con, source, name=name, delimiter=delimiter, encoding=encoding,
                                has_header=has_header, sheet=sheet, fast=fast)
            found = recognise_columns(src.columns, kind, mapping)
            detected = dict(src.detected)
            detected["mapping"] = dict(found)
            plan = self._parse_plan(src, kind, found, decimal, thousands, date_format, locale)
            detected.update(plan.formats)
            con.execute(table_ddl(kind, con))
            con.execute(QUARANTINE_DDL)
            passed, accepted, changed = self._insert_passed(kind, src.name, plan)
            quarantined, blank, why = 0, src.blank_lines, {}
            if passed != src.rows_expected:
                quarantined, blank, why = self._quarantine(kind, src, plan)
            rows_read = passed + quarantined
            if not src.lines_unproven and src.rows_expected is not None and rows_read != src.rows_expected:
                raise WorkspaceError(f"internal check failed: {src.name} holds {src.rows_expected} rows but "
                                     f"{rows_read} were counted; nothing was ingested",
                                     hint="please report this with the file's first lines")
            if rows_read == 0 and isinstance(source, (str, os.PathLike)):
                raise SchemaError.coded("header_only", name=src.name)
            duplicates = passed - accepted - changed
            # the preview's LIMIT must take the first rows of the file; the inserts above need no order
            # (every row carries its line), and without it DuckDB inserts in parallel, not in batches
            con.execute("SET preserve_insertion_order = true")
            ordered = True
            preview = self._preview(plan, fields, preview_rows)
            _after_insert(self)
            if dry_run:
                con.execute("ROLLBACK")
            else:
                for table in (PARSED, REJECTS):
                    con.execute(f"DROP TABLE IF EXISTS {table}")
                readers.drop_staging(con)
                con.execute("COMMIT")
        except BaseException as exc:
            try:
                con.execute("ROLLBACK")
            except Exception:  # the transaction may already be gone (connection closed)
                pass
            if isinstance(exc, (_ReadAgain, duckdb.Error)) and src is not None and src.lines_unproven:
                raise _ReadAgain(str(exc)) from exc
            raise
        finally:
            try:
                if ordered:
                    con.execute("SET preserve_insertion_order = false")
                con.unregister("_cvm_frame")
            except Exception:  # the connection was closed part-way
                pass
        return IngestReport(source=src.name, table=kind, rows_read=int(rows_read), accepted=int(accepted),
                            quarantined=int(quarantined), duplicates=int(duplicates), changed=int(changed),
                            blank_lines=int(blank),
                            dry_run=dry_run, detected=detected, preview=preview, reasons=why)

    def _parse_plan(self, src: readers.Source, kind: str, found: dict[str, str], decimal, thousands,
                    date_format, locale: str | None = None) -> "_ParsePlan":
        """The SQL that parses every row once: typed target columns, a pass flag, and the reason query.

        Three nested projections over the staged input: the cells (``_cvm_c*``), the typed
        values (``_cvm_v_<target>``), then ``_cvm_line`` and ``_cvm_ok``. A streaming
        ``row_number()`` between the values and the flag numbers the rows in file order
        and keeps DuckDB from pushing the ``WHERE _cvm_ok`` filter below the values (which
        would compute every value twice).
        """
        con = self.con
        values: dict[str, str] = {}
        checks: list[tuple[str, str]] = list(src.shape_checks)
        formats: dict[str, Any] = {}
        fields = schema_for(kind)
        extra = [c for c in src.columns if c not in found.values()] if kind == "customers" else []
        used = list(dict.fromkeys([*found.values(), src.columns[0], *extra]))
        cell_alias = {c: f"_cvm_c{i}" for i, c in enumerate(used)}
        text_cells = []
        zone = self.settings.time_zone
        today = dt.datetime.now(ZoneInfo(zone)).date()
        numbers, dates = values_.read_columns(con, src, readers.INPUT_TABLE, fields, found, decimal=decimal,
                                              thousands=thousands, date_format=date_format, locale=locale)
        if locale:
            formats["locale"] = locale
        helpers: dict[str, str] = {}  # computed once per row before the values (cheap guards, rewritten texts)
        kinds: dict[str, str] = {}  # what each value is (see cvm.data.values), from the helpers
        for f in fields:
            if f.name not in found:
                values[f.name] = f"CAST(NULL AS {f.sql_type})"
                continue
            col = found[f.name]
            cell = cell_alias[col]
            ctype = src.column_types[col].upper()
            is_text = ctype == "VARCHAR"
            label = quote_literal(col)
            value_ref = f"_cvm_v_{f.name}"
            if f.type in ("id", "text"):
                if ctype in ("DOUBLE", "FLOAT") or ctype.startswith("DECIMAL"):
                    value = (f"CASE WHEN {cell} = trunc({cell}) THEN CAST(CAST({cell} AS HUGEINT) AS VARCHAR) "
                             f"ELSE CAST({cell} AS VARCHAR) END")
                elif is_text:
                    value = cell if src.cells_clean else text_sql(cell)
                    if f.type == "id":
                        guard = f"_cvm_g_{f.name}"
                        helpers[guard] = values_.id_guard_sql(cell)
                        value = values_.id_sql(value, guard)
                        checks.extend(values_.id_checks(value_ref, guard, f.name, col))
                else:
                    value = f"nullif(trim(CAST({cell} AS VARCHAR)), '')"
                values[f.name] = value
                text_cells.append(cell if value == cell else value_ref)
                if f.required:
                    checks.append((f"{value_ref} IS NULL", Reason("missing", field=quote_literal(f.name), column=label)))
            elif f.type == "number":
                if is_text:
                    marks = numbers[f.name]
                    if "decimal" not in formats:
                        formats["decimal"], formats["thousands"] = marks.decimal, marks.thousands
                        formats["decimal_evidence"] = marks.evidence
                    text_ref, kind_ref = f"_cvm_n_{f.name}", f"_cvm_k_{f.name}"
                    helpers[text_ref] = values_.amount_text_sql(cell)
                    kinds[kind_ref] = values_.amount_kind_sql(text_ref)
                    value = values_.amount_value_sql(text_ref, kind_ref, marks)
                    checks.extend(values_.amount_checks(kind_ref, marks, f.name, col, cell))
                else:
                    value = f"TRY_CAST({cell} AS DOUBLE)"
                values[f.name] = value
                checks.append((f"{cell} IS NOT NULL AND ({value_ref} IS NULL OR NOT isfinite({value_ref}))",
                               Reason("non_numeric", field=quote_literal(f.name), column=label, value=cell)))
                if f.required:
                    checks.append((f"{cell} IS NULL", Reason("missing", field=quote_literal(f.name), column=label)))
            else:  # timestamp
                if is_text:
                    reading = dates[f.name]
                    formats.setdefault("date_format", reading.format)
                    formats.setdefault("date_formats", {})[col] = reading.format
                    if reading.order:
                        formats.setdefault("date_order", {})[col] = f"{reading.order} ({reading.evidence})"
                    value = values_.date_value_sql(cell, reading, zone, today.year)
                    checks.extend(values_.date_checks(cell, value_ref, reading, col))
                elif ctype.startswith("TIMESTAMP WITH TIME ZONE") or ctype == "TIMESTAMPTZ":
                    value = f"timezone({quote_literal(zone)}, {cell})"
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
                values[f.name] = value
                checks.append((f"{cell} IS NOT NULL AND {value_ref} IS NULL",
                               Reason("unparseable_date", column=label, value=cell)))
                checks.extend(values_.plausibility_checks(value_ref, cell, col, today,
                                                          future_allowed=f.name in values_.FUTURE_ALLOWED))
                if f.required:
                    checks.append((f"{cell} IS NULL", Reason("missing", field=quote_literal(f.name), column=label)))
        # a totals line ("Totaal", "Total") in the first column or in an id/text cell is never a purchase
        first = src.columns[0]
        if src.column_types[first].upper() == "VARCHAR":
            text_cells.insert(0, cell_alias[first])
        if text_cells:
            total = " OR ".join(f"coalesce({totals_sql(c)}, false)" for c in dict.fromkeys(text_cells))
            checks.insert(len(src.shape_checks), (f"({total})", Reason("totals_row")))
        if kind == "customers":
            attrs = ("to_json(map_from_entries([" + ", ".join(
                f"({quote_literal(c)}, CAST({cell_alias[c]} AS VARCHAR))" for c in extra) + "]))") if extra else "NULL"
            values["attributes"] = f"CAST({attrs} AS VARCHAR)"
        failed = " OR ".join(f"coalesce({cond}, false)" for cond, _ in checks) or "false"
        reason = ("CASE " + " ".join(f"WHEN {cond} THEN {why}" for cond, why in checks) + " END") if checks else "NULL"
        # the reason's code and values (cvm.data.reasons): the same CASE, taken only on rejected rows
        code = ("CASE " + " ".join(f"WHEN {cond} THEN {why.code_sql}" for cond, why in checks) + " END") \
            if checks else "NULL"
        cited = ("CASE " + " ".join(f"WHEN {cond} THEN {why.values_sql}" for cond, why in checks) + " END") \
            if checks else "NULL"
        cells = ", ".join(f"{src.column_sql[c]} AS {cell_alias[c]}" for c in used)
        typed = ", ".join(f"{v} AS _cvm_v_{k}" for k, v in values.items())
        inner = f"SELECT *, {cells} FROM {readers.INPUT_TABLE}"
        for layer in (helpers, kinds):  # values read in steps (see cvm.data.values)
            if layer:
                inner = f"SELECT *, {', '.join(f'{v} AS {k}' for k, v in layer.items())} FROM ({inner})"
        relation = (f"SELECT *, {src.line_sql} AS _cvm_line, {src.blank_sql} AS _cvm_blank, "
                    f"NOT ({failed}) AND NOT {src.blank_sql} AS _cvm_ok FROM ("
                    f"SELECT *, row_number() OVER () AS _cvm_barrier FROM ("
                    f"SELECT *, {typed} FROM ({inner})))")
        return _ParsePlan(relation=relation, columns=list(values), reason=reason, raw=src.raw_sql, formats=formats,
                          reason_code=code, reason_values=cited)

    def _insert_passed(self, kind: str, source_name: str, plan: "_ParsePlan") -> tuple[int, int, int]:
        """Insert the passing, not-yet-present rows; return (rows that passed, accepted, changed).

        ``accepted`` rows are new to the workspace; ``changed`` rows are corrections of an
        order (see :mod:`cvm.data.corrections`: they replaced the stored lines of an order
        whose content differs); every other passing
        row is a duplicate. For transactions and costs without an order id the multiset
        rule of the module docstring applies.
        """
        con = self.con
        cols = plan.columns
        col_list = ", ".join(quote_ident(c) for c in cols)
        typed = ", ".join(f"_cvm_v_{c} AS {quote_ident(c)}" for c in cols)
        before = con.execute(f"SELECT count(*) FROM {kind}").fetchall()[0][0]
        if kind in ("transactions", "costs") and before == 0:
            # first load: nothing to be a duplicate of, and copies within one file are kept
            n = con.execute(f"INSERT INTO {kind} ({col_list}, source, line) SELECT "
                            f"{', '.join('_cvm_v_' + c for c in cols)}, ?, _cvm_line FROM ({plan.relation}) "
                            f"WHERE _cvm_ok", [source_name]).fetchall()[0][0]
            return int(n), int(n), 0
        con.execute(f"DROP TABLE IF EXISTS {PARSED}")
        con.execute(f"CREATE TEMP TABLE {PARSED} AS SELECT _cvm_line AS line, {typed} FROM ({plan.relation}) "
                    f"WHERE _cvm_ok")
        passed = con.execute(f"SELECT count(*) FROM {PARSED}").fetchall()[0][0]
        fixed = corrections.Corrections()
        if kind == "transactions":
            fixed = corrections.replace_changed_orders(con, PARSED, source_name)
        ident = IDENTITY[kind]
        if kind in ("transactions", "costs"):
            # multiset identity: n-th copy of a key in this file is new only if the table has fewer than n
            if kind == "transactions":
                # a return carries its purchase's order id: it is a record of its own, not a copy of the purchase
                keys = {"k_customer": "customer_id", "k_order": "order_id", "k_return": corrections.IS_RETURN,
                        **{f"k_{c}": f"CASE WHEN order_id IS NULL THEN {c} END" for c in ("ts", "amount", "channel", "margin")}}
            else:
                keys = {f"k_{c}": c for c in cols}
            key_select = ", ".join(f"{v} AS {k}" for k, v in keys.items())
            key_names = ", ".join(keys)
            on = " AND ".join(f"n.{k} IS NOT DISTINCT FROM e.{k}" for k in keys)
            inserted = con.execute(f"""
                INSERT INTO {kind} ({col_list}, source, line)
                WITH new AS (SELECT *, {key_select} FROM {PARSED}),
                existing AS (
                    SELECT {key_names}, count(*) AS m FROM (SELECT {key_select} FROM {kind}
                        WHERE customer_id IN (SELECT DISTINCT customer_id FROM new)) GROUP BY ALL),
                joined AS (SELECT n.*, e.m FROM new n LEFT JOIN existing e ON {on}),
                fresh AS (SELECT * FROM joined WHERE m IS NULL),
                seen AS (SELECT *, row_number() OVER (PARTITION BY {key_names} ORDER BY line) AS k
                         FROM joined WHERE m IS NOT NULL)
                SELECT {col_list}, ?, line FROM fresh
                UNION ALL SELECT {col_list}, ?, line FROM seen WHERE k > m
            """, [source_name, source_name]).fetchall()[0][0]
        else:
            key_names = ", ".join(ident)
            on = " AND ".join(f"t.{k} IS NOT DISTINCT FROM n.{k}" for k in ident)
            inserted = con.execute(f"""
                INSERT INTO {kind} ({col_list}, source, line)
                SELECT {col_list}, ?, line FROM (
                    SELECT *, row_number() OVER (PARTITION BY {key_names} ORDER BY line) AS k
                    FROM {PARSED} n WHERE NOT EXISTS (SELECT 1 FROM {kind} t WHERE {on}))
                WHERE k = 1
            """, [source_name]).fetchall()[0][0]
        return int(passed), int(inserted) - fixed.replacing, fixed.changed

    def _quarantine(self, kind: str, src: readers.Source, plan: "_ParsePlan") -> tuple[int, int, dict[str, int]]:
        """Collect the rows that failed a check into ``quarantine``; return (rejected, blank lines, reasons)."""
        con = self.con
        last = None
        if src.lines_unproven:
            last = int(src.detected.get("header_line") or 0) + int(src.rows_expected)
        keep_last = f" OR _cvm_line >= {last}" if last is not None else ""
        con.execute(f"DROP TABLE IF EXISTS {REJECTS}")
        con.execute(
            f"CREATE TEMP TABLE {REJECTS} AS SELECT _cvm_line AS line, _cvm_ok AS ok, _cvm_blank AS blank, "
            f"CASE WHEN NOT _cvm_ok AND NOT _cvm_blank THEN CAST({plan.raw} AS VARCHAR) END AS raw, "
            f"CASE WHEN NOT _cvm_ok AND NOT _cvm_blank THEN {plan.reason} END AS reason, "
            f"CASE WHEN NOT _cvm_ok AND NOT _cvm_blank THEN {plan.reason_code} END AS reason_code, "
            f"CASE WHEN NOT _cvm_ok AND NOT _cvm_blank THEN {plan.reason_values} END AS reason_values "
            f"FROM ({plan.relation}) WHERE NOT _cvm_ok{keep_last}")
        rejected, blank_rows, top = con.execute(
            f"SELECT count(*) FILTER (WHERE NOT ok AND NOT blank), count(*) FILTER (WHERE blank), max(line) "
            f"FROM {REJECTS}").fetchall()[0]
        blank = src.blank_lines
        if last is not None:
            if top != last:
                raise _ReadAgain(f"line numbers not proven: last row at line {top}, expected {last}")
            blank += int(blank_rows)
        if src.raw_lines is not None and rejected:
            path, encoding = src.raw_lines
            con.register("_cvm_lines", readers.line_reader(path, src.name, encoding))
            try:
                con.execute(f"UPDATE {REJECTS} SET raw = l._raw FROM _cvm_lines l "
                            f"WHERE l._line = {REJECTS}.line AND NOT {REJECTS}.ok AND NOT {REJECTS}.blank")
            finally:
                con.unregister("_cvm_lines")
        con.execute(
            f"INSERT INTO quarantine (source, line, raw, reason, kind, ingested, reason_code, reason_values) "
            f"SELECT ?, p.line, p.raw, p.reason, ?, now(), p.reason_code, p.reason_values FROM {REJECTS} p "
            f"WHERE NOT p.ok AND NOT p.blank AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.source = ? "
            f"AND q.line = p.line AND q.raw IS NOT DISTINCT FROM p.raw)", [src.name, kind, src.name])
        why = dict(con.execute(
            f"SELECT regexp_replace(reason, ':.*$', ''), count(*) FROM {REJECTS} WHERE reason IS NOT NULL "
            f"GROUP BY 1 ORDER BY 2 DESC").fetchall())
        return int(rejected), int(blank), why

    def _preview(self, plan: "_ParsePlan", fields, n: int) -> list[dict[str, Any]]:
        """The first ``n`` rows as parsed (with the reason where one fails); file order is preserved."""
        cols = ", ".join(["_cvm_line AS line"] + [f"_cvm_v_{f.name} AS {quote_ident(f.name)}" for f in fields]
                         + [f"CASE WHEN NOT _cvm_ok THEN {plan.reason} END AS reason",
                            f"CASE WHEN NOT _cvm_ok THEN {plan.reason_code} END AS reason_code",
                            f"CASE WHEN NOT _cvm_ok THEN CAST({plan.reason_values} AS VARCHAR) END AS reason_values"])
        cur = self.con.execute(f"SELECT {cols} FROM ({plan.relation}) WHERE NOT _cvm_blank LIMIT {int(n)}")
        names = [d[0] for d in cur.description]
        return sorted((dict(zip(names, row)) for row in cur.fetchall()), key=lambda r: r["line"])

    # ------------------------------------------------------------------ summaries
    def summary(self, as_of: Any = None, time_unit: str | None = None, calibration_end: Any = None,
                holdout_end: Any = None, channel: str | None = None, period: str = "day"):
        """Per-customer ``frequency, recency, T, monetary_value`` (see :func:`cvm.data.summary.workspace_summary`)."""
        from cvm.data.summary import workspace_summary

        return workspace_summary(self.con, as_of=as_of, time_unit=time_unit or self.settings.time_unit,
                                 calibration_end=calibration_end, holdout_end=holdout_end, channel=channel,
                                 period=period)

    def summary_with_margins(self, default_margin: float, as_of: Any = None, time_unit: str | None = None):
        """The summary and each customer's revenue and margin from one scan (see
        :func:`cvm.data.summary.summary_with_margins`): ``(frame, margins)``, ``margins`` in the
        summary's order."""
        from cvm.data.summary import summary_with_margins

        return summary_with_margins(self.con, default_margin, as_of=as_of,
                                    time_unit=time_unit or self.settings.time_unit)

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
        from cvm.models.base import LikelihoodModel
        from cvm.models.registry import MODELS

        if isinstance(which, int):
            row = self.con.execute("SELECT params_json FROM models WHERE model_id = ?", [which]).fetchall()
        elif which is None:
            row = self.con.execute("SELECT params_json FROM models ORDER BY model_id DESC LIMIT 1").fetchall()
        else:  # stored under its command-line name (bgnbd) or class name (BGNBD): either finds it
            entry = MODELS.get(which.lower()) or next((m for m in MODELS.values() if m.class_name == which), None)
            names = [which, which.lower()] + ([entry.name, entry.class_name] if entry else [])
            row = self.con.execute(
                "SELECT params_json FROM models WHERE model IN (SELECT unnest(?)) OR json_extract_string(params_json, '$.model') "
                "IN (SELECT unnest(?)) ORDER BY model_id DESC LIMIT 1", [names, names]).fetchall()
        if not row:
            raise WorkspaceError(f"no stored model {'' if which is None else repr(which)}".strip(),
                                 hint="fit one first: cvm fit --model bgnbd")
        payload = json.loads(row[0][0])
        return LikelihoodModel.from_dict(payload)


def check_read_options(con, delimiter: str | None = None, decimal: str | None = None, thousands: str | None = None,
                       date_format: str | None = None) -> None:
    """Refuse reading options that cannot be right, before anything is read.

    Raises
    ------
    SchemaError
        A delimiter of more than one character, a decimal mark other than ``.`` or ``,``,
        a thousands separator of more than one character, or a date format that is not
        ``excel`` and not a valid strptime pattern (it must hold ``%`` codes DuckDB knows).
    """
    if delimiter is not None and delimiter not in ("\\t", "\t") and len(delimiter) != 1:
        raise SchemaError.coded("bad_delimiter", delimiter=delimiter)
    if decimal is not None and decimal not in (".", ","):
        raise SchemaError.coded("bad_decimal", decimal=decimal)
    if thousands is not None and len(thousands) > 1:
        raise SchemaError.coded("bad_thousands", thousands=thousands)
    if date_format is not None and date_format != "excel":
        if "%" not in date_format:
            raise SchemaError.coded("date_format_no_codes", date_format=date_format)
        import duckdb

        try:
            con.execute("SELECT try_strptime('2024-01-01', ?)", [date_format]).fetchall()
        except duckdb.Error as exc:
            detail = str(exc).split("Error: ", 1)[-1].splitlines()[0]
            raise SchemaError.coded("date_format_invalid", date_format=date_format, detail=detail) from None


class _Closed:
    """Stands for a connection that never opened (release() closes nothing)."""

    def execute(self, *_: Any) -> None:
        raise RuntimeError("not open")

    def close(self) -> None:
        pass


def _say_waiting(holder: Mapping[str, Any]) -> None:
    """Default of ``Workspace.open(on_wait=...)``: one line on standard error."""
    from cvm.i18n import text

    print(text("workspace.waiting", "en", holder), file=sys.stderr, flush=True)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


@dataclass
class _ParsePlan:
    """SQL of one ingest: ``relation`` yields ``_cvm_line``, ``_cvm_v_<column>``, ``_cvm_ok``, ``_cvm_blank``."""

    relation: str
    columns: list[str]
    reason: str
    raw: str
    formats: dict[str, Any]
    #: SQL of the rejected row's reason code and its values as JSON (cvm.data.reasons)
    reason_code: str = "NULL"
    reason_values: str = "NULL"


_ReadAgain = readers.ReadAgain  # the fast CSV read could not prove its line numbers (or was refused)


def _after_insert(ws: Workspace) -> None:
    """Point between the inserts and the commit; tests replace it to simulate a crash there."""
