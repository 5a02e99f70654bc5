"""Write any result frame to CSV, Parquet or Excel, chosen by the file's extension, safe to open.

**Safe to open.** A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is what a spreadsheet reads as a formula (CSV or formula injection: an id
such as ``=HYPERLINK("http://x","y")`` or ``=cmd|' /C calc'!A0`` would run when the file
is opened). In ``.xlsx`` every text is written as a string cell, never a formula; in
``.csv`` such a text is prefixed with a single quote ``'``, as OWASP's guidance on CSV
injection recommends, so the spreadsheet shows it as text. Numbers stay numbers: a
negative amount is a number, not text. Control characters, which an ``.xlsx`` file cannot
hold at all, are written there as U+FFFD (``�``); the CSV keeps them. Parquet is data for
programs, not a spreadsheet: its texts are written unchanged.

**Which valuation.** A frame of a scoring run (``attrs`` holding ``as_of`` and ``model``,
as :func:`cvm.service.score_customers` and :func:`cvm.data.scores.load_scores` give) is written
with the columns ``run_id`` and ``as_of`` first and ``model`` last, so every exported row
says which valuation it comes from. :func:`run_export_sql` gives the same layout for the
streamed CSV of the web API.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from cvm.errors import CvmError, EnvironmentProblem, SchemaError

#: first characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)
UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")
#: what a CSV cell starting with one of those gets in front
CSV_TEXT_PREFIX = "'"


FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".xlsx": "Excel"}

#: characters an .xlsx (XML 1.0) cannot hold; written as U+FFFD there
XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: rows of one Excel sheet, header included
XLSX_MAX_ROWS = 1_048_576


def check_destination(path: str | Path, suffixes: tuple[str, ...] = tuple(FORMATS)) -> Path:
    """Check, before any work is done, that a result can be written to ``path``.

    The name must end in one of ``suffixes``; ``path`` must not be a folder, and no part
    of its folder may be an existing file. A missing folder is fine (it is created). The
    folder that exists is tried for real: a probe file is created and removed there (an
    existing file is opened for appending, not changed), and a disk with no free block
    left is refused.

    Raises
    ------
    SchemaError
        With what is wrong and the file name to use instead.
    EnvironmentProblem
        The place cannot be written (no permission, a read-only disk, a full disk).
    """
    path = Path(path)
    listed = ", ".join(suffixes[:-1]) + (" or " if len(suffixes) > 1 else "") + suffixes[-1]
    if path.is_dir():
        raise SchemaError(f"{path} is a folder, not a file name",
                          hint=f"give a file name ending in {listed}, e.g. {path / ('result' + suffixes[0])}")
    if path.suffix.lower() not in suffixes:
        raise SchemaError.coded("unknown_file_type", name=path.name, suffix=path.suffix or "(none)", listed=listed)
    for folder in path.absolute().parents:
        if folder.exists():
            if not folder.is_dir():
                raise SchemaError(f"cannot write {path}: {folder} is a file, not a folder",
                                  hint="choose another place for the output")
            _try_writing(path, folder)
            break
    return path


def _try_writing(path: Path, folder: Path) -> None:
    """Create and remove a probe file in ``folder`` (or open an existing ``path`` for appending)."""
    try:
        if path.exists():
            with open(path, "ab"):
                pass
        else:
            handle, probe = tempfile.mkstemp(prefix=".cvm-probe-", dir=folder)
            os.close(handle)
            os.unlink(probe)
        if os.statvfs(folder).f_bavail == 0:
            raise OSError(28, os.strerror(28), str(path))  # ENOSPC: not even one block is free
    except OSError as exc:
        raise EnvironmentProblem.from_exception(exc, path) or exc from None


def run_frame(frame: pd.DataFrame, as_dates: bool | None = None) -> pd.DataFrame:
    """``frame`` with the columns ``run_id``, ``as_of`` (first) and ``model`` (last) of the run in its ``attrs``.

    Columns the frame already has stay where they are; an ``as_of`` of timestamps that
    are all midnight becomes dates (``as_dates`` gives that answer when it was found on a
    larger frame this one is a slice of). A frame without a run in ``attrs`` is returned as is.
    """
    attrs = frame.attrs
    out = frame.copy(deep=False)  # copy-on-write: the columns are shared, never written through
    if attrs.get("as_of") is not None and "as_of" not in out.columns:
        out.insert(0, "as_of", dt.date.fromisoformat(str(attrs["as_of"])[:10]))
    if attrs.get("run_id") is not None and "run_id" not in out.columns:
        out.insert(0, "run_id", str(attrs["run_id"]))
    if attrs.get("model") is not None and "model" not in out.columns:
        out["model"] = str(attrs["model"])
    if "as_of" in out.columns and pd.api.types.is_datetime64_any_dtype(out["as_of"]):
        stamps = out["as_of"]
        if as_dates if as_dates is not None else _all_midnight(stamps):
            out["as_of"] = [v.date() for v in stamps]
    return out


def _all_midnight(stamps: pd.Series) -> bool:
    return bool(stamps.notna().all() and (stamps == stamps.dt.normalize()).all())


def csv_text(value: Any) -> Any:
    """A text that a spreadsheet would read as a formula, prefixed with ``'``; anything else unchanged."""
    if isinstance(value, str) and value[:1] in UNSAFE_START:
        return CSV_TEXT_PREFIX + value
    return value


def csv_safe_sql(expression: str) -> str:
    """SQL for :func:`csv_text` of a text ``expression``, the same in DuckDB and Spark SQL.

    Characters are written as ``chr(n)``: the two dialects escape a quote in a literal differently.
    """
    starts = ", ".join("chr(%d)" % ord(c) for c in UNSAFE_START)
    prefix = " || ".join("chr(%d)" % ord(c) for c in CSV_TEXT_PREFIX)
    return f"CASE WHEN left({expression}, 1) IN ({starts}) THEN {prefix} || {expression} ELSE {expression} END"


def safe_for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose texts (column names included) are safe in a CSV (:func:`csv_text`)."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if isinstance(values.dtype, pd.StringDtype):
            unsafe = values.str[:1].isin(UNSAFE_START).fillna(False).astype(bool)
            if unsafe.any():
                out[col] = values.where(~unsafe, CSV_TEXT_PREFIX + values)
        elif values.dtype == object:
            out[col] = values.map(csv_text)
    out.columns = [csv_text(str(c)) for c in out.columns]
    return out


def _xlsx_converter(sheet: Any) -> Callable[[Any], Any]:
    """``value -> what openpyxl should write``: texts always as string cells, never a formula."""
    import decimal

    import numpy as np
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES

    def convert(value: Any) -> Any:
        if isinstance(value, np.datetime64):
            value = pd.Timestamp(value)
        elif isinstance(value, np.generic):
            value = value.item()
        if value is None or value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, decimal.Decimal):
            value = float(value)
        if isinstance(value, float):
            if math.isfinite(value):
                return value
            return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
        if isinstance(value, (bool, int)):
            return value
        if isinstance(value, pd.Timestamp):
            return (value.tz_localize(None) if value.tzinfo is not None else value).to_pydatetime()
        if isinstance(value, pd.Timedelta):
            return value.to_pytimedelta()
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None)
        if isinstance(value, (dt.date, dt.time, dt.timedelta)):
            return value
        text = XLSX_ILLEGAL.sub("\ufffd", value if isinstance(value, str) else str(value))
        if not text.startswith("=") and text not in ERROR_CODES:
            return text  # openpyxl writes any other text as a string cell
        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type = "s"  # openpyxl takes '=…' for a formula and '#N/A' for an error: a text is a text
        return cell

    return convert


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    if len(frame) + 1 > XLSX_MAX_ROWS:
        raise SchemaError(f"{len(frame):,} rows do not fit in one Excel sheet (at most {XLSX_MAX_ROWS - 1:,})",
                          hint="write a .csv or .parquet file instead")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    convert = _xlsx_converter(sheet)
    sheet.append([convert(str(c)) for c in frame.columns])
    columns = [[convert(v) for v in frame[col].astype(object)] for col in frame.columns]
    for row in zip(*columns):
        sheet.append(list(row))
    book.save(path)


def export(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path``: ``.csv`` (UTF-8, comma, CRLF), ``.parquet`` or ``.xlsx``.

    Safe to open in a spreadsheet, with the run's ``as_of`` and ``model`` (see the
    module's docstring). Timezone-aware timestamps are written without their zone in
    Excel (which cannot store zones). The folder is created when missing.

    Raises
    ------
    SchemaError
        For any other extension, a folder given as the file, more rows than an Excel sheet holds.
    EnvironmentProblem
        When the file cannot be written (no permission, a read-only or full disk); no partial file is left.
    """
    return stage_export(frame, path).publish()


class StagedExport:
    """A file written in full beside its target (``.NAME.partial``), not yet in place.

    :meth:`publish` renames it to the target (the file appears whole or not at all);
    :meth:`discard` removes it (e.g. when what it holds could not be stored).
    """

    def __init__(self, partial: Path, path: Path) -> None:
        self.partial, self.path = partial, path

    def publish(self) -> Path:
        """Put the file in place; raises like :func:`export` when that fails (and leaves no partial file)."""
        try:
            os.replace(self.partial, self.path)
        except BaseException as exc:
            self.discard()
            _raise_write_error(exc, self.path)
            raise
        return self.path

    def discard(self) -> None:
        """Remove the written file (nothing happens when it is already gone)."""
        try:
            self.partial.unlink(missing_ok=True)
        except OSError:  # the folder itself went away or became read-only
            pass


def stage_export(frame: pd.DataFrame, path: str | Path) -> StagedExport:
    """Write ``frame`` as :func:`export` does, but beside the target: publish or discard it next.

    Raises like :func:`export`; a failed write leaves no partial file.
    """
    path = check_destination(path)
    suffix = path.suffix.lower()
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError("only tables can be exported")
    # written beside the target and renamed when complete: a failed write leaves no half file
    staged = StagedExport(path.with_name(f".{path.name}.partial"), path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            _write_csv(frame, staged.partial)
        elif suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            writer = None
            try:
                for _, part in _slices(frame):
                    part.columns = [str(c) for c in part.columns]
                    table = pa.Table.from_pandas(part, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(staged.partial, table.schema, use_dictionary=_dictionary_columns(table))
                    writer.write_table(table, row_group_size=EXPORT_ROWS)
            finally:
                if writer is not None:
                    writer.close()
        else:
            out = run_frame(frame)
            out.attrs = {}
            _write_xlsx(out, staged.partial)
    except BaseException as exc:
        staged.discard()
        _raise_write_error(exc, path)
        raise
    return staged


#: rows converted and written at a time (CSV, Parquet; each slice is one Parquet row group): the columns
#: every row of a run shares (``run_id``, ``as_of``, ``model``), the Arrow or CSV form of the rows and the
#: encoded row group exist for one slice at a time, not for the whole run. ``cvm run`` writes ``--out``
#: while it stores the run, where its memory peaks: a quarter of pyarrow's default row group (1,048,576
#: rows) keeps what the writing adds there small
EXPORT_ROWS = 256 * 1024


#: rows of the first slice looked at to tell a column of all-different values (see :func:`_dictionary_columns`)
DICTIONARY_SAMPLE = 4096


def _dictionary_columns(table: Any) -> list[str]:
    """The columns of a Parquet export that get a dictionary: all but those whose values all differ.

    Parquet's dictionary encoding stores each distinct value once and the rows as small codes: a column
    of a few values (frequency, dates, tier, the run's model) shrinks a lot. A column whose values all
    differ (the customer id, the CLV, the rank) gains nothing: the writer builds a dictionary until it
    reaches its size limit, then falls back to plain values, and that try costs time and adds bytes
    (1 M scores: 0.55 CPU-s and 63.8 MB with every column tried, 0.38 CPU-s and 58.2 MB without them).
    A column is taken as all-different when an evenly spread sample of :data:`DICTIONARY_SAMPLE` rows
    of the first slice repeats no value. Only the encoding changes: every reader gets the same values.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    sample = table.take(pa.array(np.arange(0, n, max(n // DICTIONARY_SAMPLE, 1), dtype=np.int64)))

    def all_differ(values: Any) -> bool:
        kind = values.type  # Arrow counts distinct values of plain types only (not null, nested or dictionary)
        if sample.num_rows == 0 or pa.types.is_null(kind) or pa.types.is_nested(kind) or pa.types.is_dictionary(kind):
            return False
        return pc.count_distinct(values, mode="all").as_py() == sample.num_rows

    return [name for name in table.column_names if not all_differ(sample.column(name))]


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` (with its run's columns) as CSV: UTF-8, comma, CRLF, texts safe (:func:`safe_for_csv`).

    The text is pandas' ``to_csv`` text, byte for byte (tests/test_exports_safe.py compares the two
    on every kind of cell). A slice whose every column DuckDB can write that way (numbers, booleans,
    texts, naive timestamps, dates) is written by DuckDB's CSV writer: pandas' writer formats each
    cell in Python, 17 CPU-s for the scores of 1 M customers against DuckDB's ~4. Any other slice
    (e.g. a column of mixed Python objects) goes through pandas. Lines end in CRLF (RFC 4180) so
    that a text holding a lone CR is quoted, not a line break. Written :data:`EXPORT_ROWS` rows at
    a time, as the Parquet file, so memory stays bounded.
    """
    import duckdb

    con = None
    try:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            for start, part in _slices(frame):
                safe = safe_for_csv(part)
                columns = _duckdb_csv_columns(safe)
                if columns is None:
                    safe.to_csv(handle, index=False, header=start == 0, lineterminator="\r\n")
                    continue
                if con is None:
                    # a small engine of its own: it writes beside a run being stored (cvm.data.scores)
                    con = duckdb.connect(config={"threads": 1, "memory_limit": "256MB"})
                    con.execute("SET preserve_insertion_order = true")
                con.register("_cvm_csv", safe)
                with tempfile.TemporaryDirectory(dir=path.parent, prefix=".cvm-csv-") as folder:
                    piece = Path(folder) / "slice.csv"
                    target = str(piece).replace("'", "''")
                    con.execute(f"COPY (SELECT {', '.join(columns)} FROM _cvm_csv) TO '{target}' (FORMAT csv, "
                                f"HEADER {'true' if start == 0 else 'false'}, DELIMITER ',', QUOTE '\"', "
                                "ESCAPE '\"', NEW_LINE '\r\n')")
                    con.unregister("_cvm_csv")
                    with open(piece, encoding="utf-8", newline="") as written:
                        shutil.copyfileobj(written, handle, 1 << 20)
    finally:
        if con is not None:
            con.close()


def _duckdb_csv_columns(frame: pd.DataFrame) -> list[str] | None:
    """SQL for each column of ``frame`` that makes DuckDB write pandas' CSV text, or None when one cannot.

    pandas writes NaN and an empty text as an empty cell (DuckDB: ``nan`` and ``""``), booleans as
    ``True``/``False``, a timestamp column as dates when every value is midnight, with
    milliseconds or microseconds when any value has them.
    """
    import numpy as np

    names = [str(c) for c in frame.columns]
    if not names or len(set(names)) != len(names):
        return None
    out = []
    for name, col in zip(names, frame.columns):
        values, kind = frame[col], frame[col].dtype
        q = '"' + name.replace('"', '""') + '"'
        if kind == np.float64:
            out.append(f"CASE WHEN isnan({q}) THEN NULL ELSE {q} END AS {q}")
        elif kind in (np.int64, np.int32, np.int16, np.int8, np.uint8, np.uint16, np.uint32):
            out.append(q)
        elif kind == np.bool_:
            out.append(f"CASE WHEN {q} THEN 'True' ELSE 'False' END AS {q}")
        elif isinstance(kind, pd.StringDtype):
            out.append(f"nullif({q}, '') AS {q}")
        elif pd.api.types.is_datetime64_dtype(kind):
            stamps = values.dropna()
            if (stamps.dt.nanosecond != 0).any():
                return None
            if (stamps == stamps.dt.normalize()).all():
                form = "%Y-%m-%d"
            elif (stamps.dt.microsecond % 1000 != 0).any():
                form = "%Y-%m-%d %H:%M:%S.%f"
            elif (stamps.dt.microsecond != 0).any():
                form = "%Y-%m-%d %H:%M:%S.%g"  # milliseconds, as pandas writes them when they are all there is
            else:
                form = "%Y-%m-%d %H:%M:%S"
            out.append(f"strftime(CAST({q} AS TIMESTAMP), '{form}') AS {q}")
        elif kind == object and values.notna().any() and all(type(v) is dt.date for v in values.dropna()):
            out.append(f"strftime(CAST({q} AS DATE), '%Y-%m-%d') AS {q}")
        else:
            return None
    return out


def _slices(frame: pd.DataFrame):
    """``frame`` with its run's columns (:func:`run_frame`) in slices of :data:`EXPORT_ROWS` rows (at least one).

    A frame with a column of Python objects goes whole: the type Arrow finds for such a column may
    differ from slice to slice (a slice of only None), and one file has one type per column.
    """
    rows = EXPORT_ROWS if not any(kind == object for kind in frame.dtypes) else max(len(frame), 1)
    as_dates = _all_midnight(frame["as_of"]) if "as_of" in frame.columns and pd.api.types.is_datetime64_any_dtype(
        frame["as_of"]) else None
    for start in range(0, max(len(frame), 1), rows):
        part = frame.iloc[start:start + rows]
        part.attrs = dict(frame.attrs)
        part = run_frame(part, as_dates)
        part.attrs = {}
        yield start, part


def _raise_write_error(exc: BaseException, path: Path) -> None:
    """An :class:`OSError` said in words (:class:`EnvironmentProblem`, else a :class:`CvmError`), and a
    DuckDB error that :meth:`EnvironmentProblem.from_exception` recognises (a full disk under the CSV
    writer); anything else returns."""
    from_duckdb = type(exc).__module__.startswith(("duckdb", "_duckdb"))
    if not isinstance(exc, OSError) and not from_duckdb:
        return
    problem = EnvironmentProblem.from_exception(exc, path)
    if problem is not None:
        raise problem from None
    if from_duckdb:
        return
    raise CvmError(f"cannot write {path}: {exc.strerror or exc}",
                   hint="check that the folder is writable and the file is not open in another program") from None


def run_export_sql(con: Any, run_id: str, model: str | None) -> tuple[str, list[Any]]:
    """``(sql, params)`` selecting the stored run ``run_id`` in the export layout, texts safe for CSV.

    Columns as ``scores`` stores them (``run_id``, ``as_of`` as a date, ``customer_id``, …)
    and ``model`` last; every text column through :func:`csv_safe_sql`. Rows by rank.
    """
    kinds = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_name = 'scores' AND table_schema = 'main' ORDER BY ordinal_position").fetchall()
    parts = []
    for name, kind in kinds:
        quoted = '"' + name.replace('"', '""') + '"'
        if name == "as_of":
            parts.append(f"CAST({quoted} AS DATE) AS {quoted}")
        elif kind.upper() == "VARCHAR":
            parts.append(f"{csv_safe_sql(quoted)} AS {quoted}")
        else:
            parts.append(quoted)
    parts.append("? AS model")
    sql = f"SELECT {', '.join(parts)} FROM scores WHERE run_id = ? ORDER BY rank, customer_id"
    return sql, [csv_text(model), run_id]
