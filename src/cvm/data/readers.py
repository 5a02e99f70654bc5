"""Read what people actually export into a DuckDB staging table, without losing a line.

Supported inputs: delimited text (CSV/TXT with ``,`` ``;`` tab or ``|``; UTF-8, UTF-8 with
BOM, UTF-16 with BOM or cp1252), Excel ``.xlsx`` (openpyxl), Parquet, and pandas, polars
or Arrow frames.

How a delimited file is read
----------------------------
Python looks only at a sample (the first 256 kB) to *sniff* the encoding, the delimiter
and the header line, and counts the file's line breaks (a byte scan, no decoding).

*Fast path* (UTF-8 files whose sample is regular): DuckDB's own parallel ``read_csv``
splits the fields, every column as text; numbers and dates are parsed later in SQL.
``read_csv`` skips empty lines and cannot report a row's source line, so the line is the
row's position after the header (``row_number()`` in file order), and that is trusted
only when it is proven: the file has no empty line between the header and its last
row and no bare carriage return, and the highest row number equals the number of
physical lines after the header. Each row takes at least one line, so equal counts
mean each row is exactly one line. A file that fails any of this (or that ``read_csv``
refuses: wrong field counts, broken quotes, invalid UTF-8) is read again on the slow path.

*Line-exact path* (everything else: cp1252, UTF-16, blank or ragged lines): Arrow's C++
CSV reader streams the file as one string per physical line (blank lines kept, so line
numbers are the file's own), in batches, straight into DuckDB; DuckDB splits the fields
(quote-aware). No row passes through pandas on either path.

Every reader produces a :class:`Source`: a temporary DuckDB table or view ``_cvm_input``
with the 1-based source line (``line_sql``), the row's raw text (``raw_sql``), a
``_blank`` flag and one expression per source column.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from cvm.errors import SchemaError
from cvm.data.validate import normalise_name, quote_ident, quote_literal

DELIMITERS = (";", ",", "\t", "|")
SAMPLE_BYTES = 256 * 1024
SAMPLE_VALUES = 2000
INPUT_TABLE = "_cvm_input"
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
_LINE_SEPARATOR = "\x1f"  # Arrow's "delimiter" for whole lines: the ASCII unit separator


@dataclass
class Source:
    """A staged input: where it came from, its columns and what was detected."""

    name: str
    format: str
    columns: list[str]
    #: source column → SQL expression over ``_cvm_input`` giving its value
    column_sql: dict[str, str]
    #: source column → DuckDB type name (``VARCHAR`` for text files)
    column_types: dict[str, str]
    raw_sql: str
    #: extra condition a row must meet (e.g. the right number of fields), with its reason
    shape_checks: list[tuple[str, str]] = field(default_factory=list)
    detected: dict[str, Any] = field(default_factory=dict)
    #: SQL for the 1-based source line; ``_cvm_rn`` is the row's position in file order
    line_sql: str = "_line"
    #: SQL that is true for a blank line (title and header lines count as blank too)
    blank_sql: str = "_blank"
    #: ``column_sql`` already gives trimmed text, NULL for an empty cell
    cells_clean: bool = False
    #: rows the source holds (blank ones excluded, except on the fast CSV path, where it is
    #: the number of physical lines after the header: a row per line, blank or not)
    rows_expected: int | None = None
    #: blank lines known at staging time (after the header)
    blank_lines: int = 0
    #: fast CSV path: the line numbers hold only if the last row is line ``header_line + rows_expected``
    lines_unproven: bool = False
    #: fast CSV path: (path, Arrow encoding) to fetch the raw text of rejected lines
    raw_lines: tuple[Path, str] | None = None
    #: sampled values per column (text sources read from a Python sample)
    samples: dict[str, list[str]] | None = None


# ----------------------------------------------------------------------------- sniffing
def sniff_encoding(sample: bytes, truncated: bool = False) -> str:
    """Guess the encoding from a byte sample: a BOM, else UTF-8 if it decodes, else cp1252.

    (cp1252 is what Excel on Dutch Windows writes when it saves "CSV (puntkomma gescheiden)".)
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut off by the sample's end is not evidence against UTF-8
        if truncated and exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
        return "cp1252"


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter, quotechar='"'), [])


def _is_blank(line: str, delimiter: str | None) -> bool:
    stripped = line.strip().replace('"', "")
    if delimiter:
        stripped = stripped.replace(delimiter, "").strip()
    return stripped == ""


def sniff_delimiter(lines: list[str]) -> str:
    """The candidate delimiter that splits the sample lines most consistently into >1 fields.

    Score: share of non-blank lines whose field count equals the most common count,
    then the first line (the header) having that count, then the count itself.
    """
    best: tuple[float, int, int] | None = None
    choice = None
    for delim in DELIMITERS:
        rows = [_split(line, delim) for line in lines if not _is_blank(line, delim)]
        if not rows:
            continue
        counts = Counter(len(r) for r in rows)
        modal, n = counts.most_common(1)[0]
        if modal < 2:
            continue
        score = (n / len(rows), int(len(rows[0]) == modal), modal)
        if best is None or score > best:
            best, choice = score, delim
    if choice is None:
        raise SchemaError.coded("no_delimiter")
    return choice


_NUMBER_LIKE = re.compile(r"^[-+−(]?\s*[€$£]?\s*\d[\d.,\s]*\)?$")


def _looks_like_data(fields: list[str]) -> bool:
    return any(_NUMBER_LIKE.match(f.strip()) or sniff_date_format([f]) for f in fields if f.strip())


def sniff_header(lines: list[str], delimiter: str) -> tuple[int | None, int]:
    """Index of the header line in ``lines`` (None if the file has no header) and the field count.

    Title lines above the header (``Omzetrapport 2024``) are skipped: the header is the
    first line with the most common field count. It is taken to be data, not a header,
    when any of its cells looks like a number or a date.
    """
    rows = [(i, _split(line, delimiter)) for i, line in enumerate(lines) if not _is_blank(line, delimiter)]
    if not rows:
        raise SchemaError.coded("file_empty")
    modal = Counter(len(r) for _, r in rows).most_common(1)[0][0]
    first = next(i for i, r in rows if len(r) == modal)
    fields = _split(lines[first], delimiter)
    if _looks_like_data(fields):
        return None, modal
    return first, modal


def sniff_date_format(values: Iterable[str]) -> str | None:
    """The date format the given values follow (``strftime`` codes), or ``excel`` for serial numbers.

    The rules of :func:`cvm.data.values.decide_date_reading` on these values alone:
    day-first unless a value proves month-first (its second number above 12 while no
    first number is). The ingest decides on a sample over the whole column and on the
    order proofs of every value instead.
    """
    from cvm.data.values import date_evidence, decide_date_reading

    return decide_date_reading(date_evidence(values)).format


def sniff_decimal(values: Iterable[str], delimiter: str | None = None) -> tuple[str, str | None]:
    """Decimal mark and thousands separator of number texts (``1.234,56`` -> ``(",", ".")``).

    The ingest's own reading (:mod:`cvm.data.values`) applied to these values: each value
    is sorted by what it proves (a decimal comma, a decimal point, or nothing) and
    :func:`cvm.data.values.decide_number_marks` decides.
    """
    import duckdb

    from cvm.data.values import amount_kind_sql, amount_text_sql, decide_number_marks

    texts = [str(v) for v in values if str(v).strip()]
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT k, count(*) FROM (SELECT {amount_kind_sql('t')} AS k FROM "
                           f"(SELECT {amount_text_sql('trim(v)')} AS t FROM (SELECT unnest(?::VARCHAR[]) AS v))) "
                           f"GROUP BY k", [texts]).fetchall()
    marks = decide_number_marks(dict(rows), delimiter=delimiter)
    return marks.decimal, marks.thousands


# ----------------------------------------------------------------------------- readers
def stage(con, source: Any, *, name: str | None = None, delimiter: str | None = None,
          encoding: str | None = None, has_header: bool | None = None, sheet: str | None = None,
          fast: bool = True) -> Source:
    """Stage ``source`` (a path or a frame) as the temporary table or view ``_cvm_input`` of ``con``.

    Explicit options (``delimiter``, ``encoding``, ``has_header``, ``sheet``) override sniffing.
    ``fast=False`` forces the line-exact path for delimited text.
    """
    drop_staging(con)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise SchemaError.coded("file_not_found", path=str(path))
        if path.is_dir():
            raise SchemaError.coded("path_is_folder", path=str(path))
        if path.stat().st_size == 0:
            raise SchemaError.coded("named_file_empty", name=path.name)
        suffix = path.suffix.lower()
        with open(path, "rb") as fh:
            head = fh.read(4)
        if suffix in PARQUET_SUFFIXES or head == b"PAR1":
            return _stage_parquet(con, path, name or path.name)
        if suffix in EXCEL_SUFFIXES or head == b"PK\x03\x04":
            return _stage_excel(con, path, name or path.name, sheet, has_header)
        if suffix == ".xls":
            raise SchemaError.coded("xls_not_supported")
        return _stage_text(con, path, name or path.name, delimiter, encoding, has_header, fast)
    return _stage_frame(con, source, name or f"<{type(source).__module__.split('.')[0]} frame>")


def _stage_text(con, path: Path, name: str, delimiter, encoding, has_header, fast: bool = True) -> Source:
    with open(path, "rb") as fh:
        sample_bytes = fh.read(SAMPLE_BYTES)
    if b"\x00" in sample_bytes and not sample_bytes.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SchemaError.coded("binary_file", name=name)
    encoding = encoding or sniff_encoding(sample_bytes, truncated=len(sample_bytes) == SAMPLE_BYTES)
    try:
        text = sample_bytes.decode(encoding, errors="replace")
    except LookupError:
        raise SchemaError.coded("unknown_encoding", encoding=encoding) from None
    lines = text.lstrip("\ufeff").splitlines()
    if len(sample_bytes) == SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last sampled line may be cut off
    if not any(line.strip() for line in lines):
        raise SchemaError.coded("named_file_empty", name=name)
    delimiter = delimiter or sniff_delimiter(lines[:500])
    if delimiter == "\\t":
        delimiter = "\t"
    header_index, n_fields = sniff_header(lines[:500], delimiter)
    if has_header is False:
        header_index = None
    elif has_header and header_index is None:
        header_index = next(i for i, line in enumerate(lines) if not _is_blank(line, delimiter))
    if header_index is not None:
        columns = [c.strip() for c in _split(lines[header_index], delimiter)]
        columns = _unique_names([c or f"column{i + 1}" for i, c in enumerate(columns)])
        header_line = header_index + 1
    else:
        columns = [f"column{i + 1}" for i in range(n_fields)]
        header_line = 0
    detected = {
        "format": "csv", "encoding": "utf-8" if encoding == "utf-8-sig" else encoding,
        "bom": encoding in ("utf-8-sig", "utf-16"), "delimiter": delimiter,
        "header_line": header_line or None, "columns": columns,
    }
    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig", "utf8") else encoding
    if fast and arrow_encoding == "utf8":
        sampled = lines[header_line:]
        if len(sample_bytes) < SAMPLE_BYTES:  # the whole file: empty lines at its end are counted apart
            while sampled and not sampled[-1].strip():
                sampled.pop()
        body = [_split(line, delimiter) for line in sampled]
        # every line must split into the header's fields; a line of delimiters only is a blank row
        # that read_csv keeps (and the checks count as blank), an empty line read_csv would skip
        regular = all(len(fields) == len(columns) for fields in body)
        layout = _line_layout(path) if regular else None
        if layout is not None and not layout.bare_cr:
            samples = {c: [f[i].strip(" ") for f in body if f[i].strip(" ")][:SAMPLE_VALUES]
                       for i, c in enumerate(columns)}
            return _stage_csv_fast(con, path, name, delimiter, header_line, columns, detected, layout, samples)
    return _stage_text_lines(con, path, name, delimiter, arrow_encoding, header_line, columns, detected)


@dataclass
class _LineLayout:
    """What a byte scan of a text file tells about its lines."""

    lines: int  # physical lines (a last line without a line break counts)
    trailing_empty: int  # empty lines after the last non-empty one
    bare_cr: bool  # a carriage return not followed by a line feed


def _line_layout(path: Path, chunk_size: int = 1 << 24) -> _LineLayout | None:
    """Count the line breaks of a file without decoding it (``bytes.count`` runs in C).

    Returns None when the file ends in more than 64 kB of line breaks (left to the slow path).
    """
    newlines = crs = crlfs = 0
    previous = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            if not chunk:
                break
            newlines += chunk.count(b"\n")
            n_cr = chunk.count(b"\r")
            if n_cr:
                crs += n_cr
                crlfs += chunk.count(b"\r\n")
            if previous.endswith(b"\r") and chunk.startswith(b"\n"):
                crlfs += 1
            previous = chunk[-1:]
        size = fh.tell()
        tail_size = min(size, 1 << 16)
        fh.seek(size - tail_size)
        tail = fh.read(tail_size)
    body = tail.rstrip(b"\r\n")
    if not body and tail_size < size:
        return None
    end_breaks = tail[len(body):].count(b"\n")
    lines = newlines + (0 if tail.endswith(b"\n") else 1)
    return _LineLayout(lines=lines, trailing_empty=max(0, end_breaks - 1), bare_cr=crs != crlfs)


def _stage_csv_fast(con, path: Path, name: str, delimiter: str, header_line: int, columns: list[str],
                    detected: dict, layout: _LineLayout, samples: dict[str, list[str]]) -> Source:
    """The fast path: a view over DuckDB's parallel ``read_csv`` (all columns as text)."""
    fields = [f"_cvm_f{i + 1}" for i in range(len(columns))]
    types = ", ".join(f"{quote_literal(f)}: 'VARCHAR'" for f in fields)
    d = quote_literal(delimiter)
    reader = (f"read_csv({quote_literal(str(path))}, delim={d}, quote='\"', escape='\"', header=false, "
              f"skip={int(header_line)}, auto_detect=false, strict_mode=true, null_padding=false, "
              f"encoding='utf-8', columns={{{types}}})")
    # blank like on the slow path: nothing but white space, quotes and delimiters (cheap
    # comparisons first: the regular expression sees only cells that start with one of those)
    blank_pattern = quote_literal('[\\s"' + re.escape(delimiter) + ']*')
    blank = " AND ".join(f"({f} IS NULL OR (({f} < '#' OR prefix({f}, {d})) AND regexp_full_match({f}, {blank_pattern})))"
                         for f in fields)
    # Materialised with the row's position: row_number() OVER () needs the scan in file order,
    # which runs on one thread; everything after it (parsing, checks, the insert) then
    # scans this table in parallel.
    con.execute(f"CREATE TEMP TABLE {INPUT_TABLE} AS SELECT row_number() OVER () AS _cvm_rn, * FROM {reader}")
    from cvm.data.validate import text_sql

    detected = {**detected, "reader": "duckdb read_csv"}
    return Source(name=name, format="csv", columns=columns,
                  column_sql={c: text_sql(f) for c, f in zip(columns, fields)},
                  column_types={c: "VARCHAR" for c in columns}, raw_sql="CAST(NULL AS VARCHAR)",
                  detected=detected, line_sql=f"{int(header_line)} + _cvm_rn", blank_sql=f"({blank})",
                  cells_clean=True,
                  rows_expected=layout.lines - header_line - layout.trailing_empty,
                  blank_lines=layout.trailing_empty, lines_unproven=True, raw_lines=(path, "utf8"),
                  samples=samples)


def line_reader(path: Path, name: str, arrow_encoding: str):
    """The file as an Arrow stream of ``(_line, _raw)``: one string per physical line, numbered from 1."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=["_raw"], encoding=arrow_encoding, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(delimiter=_LINE_SEPARATOR, quote_char=False, escape_char=False,
                                             ignore_empty_lines=False, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types={"_raw": pa.string()}, strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, LookupError) as exc:
        raise SchemaError.coded("unreadable_text", name=name, detail=str(exc)) from None

    def numbered() -> Iterable[pa.RecordBatch]:
        start = 1
        try:
            for batch in reader:
                n = batch.num_rows
                yield pa.RecordBatch.from_arrays(
                    [pa.array(range(start, start + n), pa.int64()), batch.column(0)], names=["_line", "_raw"])
                start += n
        except pa.ArrowInvalid as exc:
            raise SchemaError.coded("unreadable_text", name=name, detail=str(exc)) from None

    schema = pa.schema([("_line", pa.int64()), ("_raw", pa.string())])
    return pa.RecordBatchReader.from_batches(schema, numbered())


def _stage_text_lines(con, path: Path, name: str, delimiter: str, arrow_encoding: str, header_line: int,
                      columns: list[str], detected: dict) -> Source:
    """The line-exact path: every physical line staged with its number, fields split in DuckDB."""
    lines_reader = line_reader(path, name, arrow_encoding)
    d = quote_literal(delimiter)
    esc = re.escape(delimiter)
    field_pattern = quote_literal(esc + '("(?:[^"]|"")*"|[^' + esc + '"]*)')
    unquote = "lambda x: CASE WHEN x LIKE '\"%\"' THEN replace(x[2:-2], '\"\"', '\"') ELSE x END"
    split = (f"CASE WHEN contains(_raw, '\"') THEN list_transform(regexp_extract_all({d} || _raw, {field_pattern}, 1), "
             f"{unquote}) ELSE string_split(_raw, {d}) END")
    blank_pattern = quote_literal('[\\s"' + esc + ']')
    blank = f"regexp_replace(_raw, {blank_pattern}, '', 'g') = ''"
    con.register("_cvm_lines", lines_reader)
    try:
        con.execute(
            f"CREATE TEMP TABLE {INPUT_TABLE} AS SELECT _line, _raw, {split} AS _f, ({blank}) OR _line <= {header_line} AS _blank "
            f"FROM _cvm_lines"
        )
    finally:
        con.unregister("_cvm_lines")
    column_sql = {c: f"nullif(trim(_f[{i + 1}]), '')" for i, c in enumerate(columns)}
    n = len(columns)
    rows, blank_lines = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT _blank), count(*) FILTER (WHERE _blank AND _line > ?) FROM {INPUT_TABLE}",
        [header_line]).fetchall()[0]
    return Source(name=name, format="csv", columns=columns, column_sql=column_sql, cells_clean=True,
                  column_types={c: "VARCHAR" for c in columns}, raw_sql="_raw",
                  shape_checks=[(f"len(_f) <> {n}", f"'expected {n} fields, found ' || len(_f)")],
                  detected=detected, rows_expected=int(rows), blank_lines=int(blank_lines))


def _unique_names(names: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for n in names:
        seen[n] += 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


def _cell_text(value: Any) -> str | None:
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text


def _stage_excel(con, path: Path, name: str, sheet: str | None, has_header) -> Source:
    """Read the first (or the named) sheet of an .xlsx workbook; cells become text for uniform checks."""
    import pyarrow as pa
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or foreign file
        raise SchemaError.coded("unreadable_excel", name=name, error=type(exc).__name__) from None
    try:
        ws = book[sheet] if sheet else book.worksheets[0]
    except KeyError:
        raise SchemaError.coded("no_sheet", sheet=sheet, name=name, sheets=list(book.sheetnames)) from None
    rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    book.close()
    width = max((max((i + 1 for i, v in enumerate(r) if v not in (None, "")), default=0) for r in rows), default=0)
    if width == 0:
        raise SchemaError.coded("sheet_empty", name=name)
    rows = [(r + [None] * width)[:width] for r in rows]
    nonblank = [i for i, r in enumerate(rows) if any(v not in (None, "") for v in r)]
    counts = Counter(sum(v not in (None, "") for v in rows[i]) for i in nonblank)
    modal = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    header_index = next(i for i in nonblank if sum(v not in (None, "") for v in rows[i]) >= min(modal, 2))
    if has_header is False or (has_header is None and _looks_like_data([v or "" for v in rows[header_index]])):
        columns = [f"column{i + 1}" for i in range(width)]
        header_line = 0
    else:
        columns = _unique_names([str(v).strip() if v not in (None, "") else f"column{i + 1}"
                                 for i, v in enumerate(rows[header_index])])
        header_line = header_index + 1
    table = pa.table({
        "_line": pa.array(range(1, len(rows) + 1), pa.int64()),
        "_blank": pa.array([i + 1 <= header_line or all(v in (None, "") for v in r) for i, r in enumerate(rows)]),
        **{f"c{j}": pa.array([r[j] for r in rows], pa.string()) for j in range(width)},
    })
    con.register("_cvm_sheet", table)
    try:
        con.execute(f"CREATE TEMP TABLE {INPUT_TABLE} AS SELECT * FROM _cvm_sheet")
    finally:
        con.unregister("_cvm_sheet")
    column_sql = {c: f"nullif(trim(c{j}), '')" for j, c in enumerate(columns)}
    raw = "array_to_string([" + ", ".join(f"coalesce(c{j}, '')" for j in range(width)) + "], ';')"
    detected = {"format": "xlsx", "sheet": ws.title, "header_line": header_line or None, "columns": columns}
    blank = table.column("_blank").to_pylist()
    return Source(name=name, format="xlsx", columns=columns, column_sql=column_sql, cells_clean=True,
                  column_types={c: "VARCHAR" for c in columns}, raw_sql=raw, detected=detected,
                  rows_expected=blank.count(False), blank_lines=sum(blank[header_line:]))


def _typed_source(con, name: str, fmt: str, relation_sql: str, line_sql: str, detected: dict,
                  rows: int) -> Source:
    """A source whose columns already carry types (Parquet, frames)."""
    described = con.execute(f"DESCRIBE SELECT * FROM {relation_sql}").fetchall()
    columns = [str(row[0]) for row in described if row[0] not in ("file_row_number", "_line")]
    types = {str(row[0]): str(row[1]) for row in described}
    if not columns:
        raise SchemaError.coded("no_columns", name=name)
    select = ", ".join(f"{quote_ident(c)}" for c in columns)
    con.execute(f"CREATE TEMP VIEW {INPUT_TABLE} AS SELECT {line_sql} AS _line, false AS _blank, {select} FROM {relation_sql}")
    column_sql = {c: quote_ident(c) for c in columns}
    raw = "array_to_string([" + ", ".join(f"coalesce(CAST({quote_ident(c)} AS VARCHAR), '')" for c in columns) + "], ';')"
    detected = {**detected, "columns": columns}
    return Source(name=name, format=fmt, columns=columns, column_sql=column_sql,
                  column_types={c: types[c] for c in columns}, raw_sql=raw, detected=detected, rows_expected=rows)


def _stage_parquet(con, path: Path, name: str) -> Source:
    try:
        where = quote_literal(str(path))
        rows = con.execute(f"SELECT count(*) FROM read_parquet({where})").fetchall()[0][0]  # from the footer
        return _typed_source(con, name, "parquet", f"read_parquet({where}, file_row_number=true)",
                             "file_row_number + 1", {"format": "parquet"}, int(rows))
    except SchemaError:
        raise
    except Exception as exc:  # duckdb.IOException / InvalidInputException for a damaged file
        raise SchemaError.coded("unreadable_parquet", name=name, detail=str(exc).splitlines()[0]) from None


def _to_arrow(frame: Any):
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    module = type(frame).__module__.split(".")[0]
    if module == "polars":
        return frame.to_arrow()
    if module == "pandas":
        try:
            return pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # mixed object columns (numbers and text in one column): keep them as text
            fixed = frame.copy()
            for col in fixed.columns:
                if fixed[col].dtype == object:
                    fixed[col] = fixed[col].map(lambda v: None if v is None else str(v))
            return pa.Table.from_pandas(fixed, preserve_index=False)
    if hasattr(frame, "__arrow_c_stream__"):
        return pa.table(frame)
    raise SchemaError(f"cannot read a {type(frame).__name__}",
                      hint="pass a file path, or a pandas, polars or Arrow table")


def _stage_frame(con, frame: Any, name: str) -> Source:
    table = _to_arrow(frame)
    import pyarrow as pa

    table = table.rename_columns([str(c) for c in table.column_names])
    if "_line" in table.column_names:
        raise SchemaError("a column may not be named _line", hint="rename it")
    table = table.append_column("_line", pa.array(range(1, table.num_rows + 1), pa.int64()))
    # stays registered while the ingest runs; the caller unregisters it (see drop_staging)
    con.register("_cvm_frame", table)
    return _typed_source(con, name, "frame", "_cvm_frame", "_line", {"format": "frame"}, table.num_rows)


def drop_staging(con) -> None:
    """Remove the staging objects of a previous or finished ingest."""
    # (a failing DROP would abort the surrounding transaction, so look the object up first)
    if con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND temporary", [INPUT_TABLE]).fetchall()[0][0]:
        con.execute(f"DROP VIEW {INPUT_TABLE}")
    con.execute(f"DROP TABLE IF EXISTS {INPUT_TABLE}")
    if con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = '_cvm_frame'").fetchall()[0][0]:
        con.unregister("_cvm_frame")


def sample_values(con, source: Source, column: str, limit: int = SAMPLE_VALUES) -> list[str]:
    """Up to about ``limit`` non-empty values of a column, stratified over the whole source.

    Every k-th line (k = rows / ``limit``), so a file sorted by date or by customer shows
    its end as well as its head.
    """
    expr = f"CAST({source.column_sql[column]} AS VARCHAR)"
    total = source.rows_expected
    if total is None:
        total = con.execute(f"SELECT count(*) FROM {INPUT_TABLE}").fetchall()[0][0]
    step = max(1, -(-int(total) // max(1, int(limit))))
    # the cheap line test first: the blank test and the cell are evaluated on the chosen lines only
    rows = con.execute(
        f"SELECT {expr} FROM (SELECT * FROM {INPUT_TABLE} WHERE ({source.line_sql}) % {step} = 0) "
        f"WHERE NOT {source.blank_sql} AND {expr} IS NOT NULL ORDER BY {source.line_sql} LIMIT {int(limit)}").fetchall()
    return [r[0] for r in rows]


def describe_columns(columns: list[str]) -> str:
    return ", ".join(f"{c} ({normalise_name(c)})" for c in columns)
