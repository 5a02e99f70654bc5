"""Read what people actually export into a DuckDB staging table, without losing a line.

Supported inputs: delimited text (CSV/TXT with ``,`` ``;`` tab or ``|``; UTF-8, UTF-8 with
BOM, UTF-16 with BOM or cp1252), Excel ``.xlsx`` (openpyxl), Parquet, and pandas, polars
or Arrow frames.

How a delimited file is read
----------------------------
Python looks only at a sample (the first 256 kB) to *sniff* the encoding, the delimiter
and the header line, and counts the file's line breaks (a byte scan, no decoding). A
sample that is not all UTF-8 is cp1252, unless another of its lines holds a UTF-8
character beyond ASCII: then the file is UTF-8 with odd lines (see below).

*Fast path* (UTF-8 files whose sample is regular): DuckDB's own parallel ``read_csv``
splits the fields (RFC 4180 quotes, strict), every column as text; numbers and dates are
parsed later in SQL. ``read_csv`` skips empty lines and cannot report a row's source
line, so the line is the row's position after the header (``row_number()`` in file
order), and that is trusted only when it is proven: the file has no empty line between
the header and its last row and no bare carriage return, and the highest row number
equals the number of physical lines after the header. Each row takes at least one line,
so equal counts mean each row is exactly one line. Records with quoted line breaks
(RFC 4180) take one line more per break: when the rows plus the breaks inside their
fields add up to the lines after the header, no line was skipped, and a record's line
is the header line plus its position plus the breaks before it (:func:`_fast_multiline`).
A file that fails any of this, or that ``read_csv`` refuses (wrong field counts, broken
quotes, invalid UTF-8 past the sample, a line over its 2 MB limit), is read again on the
slow path.

*Line-exact path* (everything else: cp1252, UTF-16, blank or ragged lines, quoted line
breaks, odd encodings, long lines): Arrow's C++ CSV reader streams the file as one string
per physical line (blank lines kept, so line numbers are the file's own; a line longer
than Arrow's block makes it read again with a bigger block), in batches, straight into
DuckDB. In a UTF-8 file each batch is validated in Arrow; a line that is not UTF-8 is
kept apart with the reason ``invalid UTF-8: 0xEB at byte 3`` and its bytes shown as
cp1252, the other lines read as UTF-8 (a file with no UTF-8 character beyond ASCII at all
is cp1252 and read again as such). Lines are then joined into records where a quoted
field holds a line break (:func:`_records_sql`: a record's line is the line it starts on,
a quote never closed is quarantined on its own line), and DuckDB splits the fields
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
from cvm.data.reasons import Reason
from cvm.data.validate import normalise_name, quote_ident, quote_literal

DELIMITERS = (";", ",", "\t", "|")
SAMPLE_BYTES = 256 * 1024
SAMPLE_VALUES = 2000
INPUT_TABLE = "_cvm_input"
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
_LINE_SEPARATOR = "\x1f"  # Arrow's "delimiter" for whole lines: the ASCII unit separator


class ReadAgain(Exception):
    """The fast CSV read was refused or could not prove its line numbers: stage the file again
    with ``fast=False`` (line by line). The ingest rolls back its transaction first, as a
    failed DuckDB statement ends it."""


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
    shape_checks: list[tuple[str, Reason]] = field(default_factory=list)
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
    A sample with lines that are not UTF-8 is still UTF-8 when another line holds a UTF-8
    character beyond ASCII: one odd line is then quarantined, not the whole file misread.

    Examples
    --------
    >>> sniff_encoding("Zoë;1\\n".encode() + "Zoë;2\\n".encode("cp1252"))
    'utf-8'
    >>> sniff_encoding("Zoë;1\\n".encode("cp1252"))
    'cp1252'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _is_utf8(sample, truncated):
        return "utf-8"
    # Some lines are not UTF-8. If another line holds a UTF-8 character beyond ASCII, the file
    # is UTF-8 with odd lines (they are quarantined, not the whole file misread): cp1252 text
    # practically never forms valid multi-byte UTF-8 sequences (``Ã«`` for ``ë``).
    for line in sample.splitlines():
        if not line.isascii():
            try:
                line.decode("utf-8")
                return "utf-8"
            except UnicodeDecodeError:
                continue
    return "cp1252"


def _is_utf8(sample: bytes, truncated: bool) -> bool:
    """Whether every line of the sample is UTF-8 (a character cut off at a truncated sample's end aside)."""
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return truncated and exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data"


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter, quotechar='"'), [])
    except csv.Error:  # a field over the csv module's 128 kB limit: counting fields is all sniffing needs
        return line.split(delimiter)


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
    first line with the most common field count. A title padded with delimiters to that
    count (``Export klanten webshop;;;``, as spreadsheet programs save it) is a title too:
    lines of that count with at most one filled cell are passed over while a later line of
    that count has more. The header is taken to be data, not a header, when any of its
    cells looks like a number or a date.
    """
    rows = [(i, _split(line, delimiter)) for i, line in enumerate(lines) if not _is_blank(line, delimiter)]
    if not rows:
        raise SchemaError.coded("file_empty")
    modal = Counter(len(r) for _, r in rows).most_common(1)[0][0]
    of_modal = [(i, r) for i, r in rows if len(r) == modal]
    first = next((i for i, r in of_modal if sum(1 for c in r if c.strip()) > 1), of_modal[0][0])
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
    if fast and arrow_encoding == "utf8" and _is_utf8(sample_bytes, len(sample_bytes) == SAMPLE_BYTES):
        sampled = lines[header_line:]
        if len(sample_bytes) < SAMPLE_BYTES:  # the whole file: empty lines at its end are counted apart
            while sampled and not sampled[-1].strip():
                sampled.pop()
        body = _sample_records(sampled, delimiter, cut_off=len(sample_bytes) == SAMPLE_BYTES)
        # every record must split into the header's fields; a line of delimiters only is a blank row
        # that read_csv keeps (and the checks count as blank), an empty line read_csv would skip
        regular = all(len(fields) == len(columns) for fields in body)
        layout = _line_layout(path) if regular else None
        if layout is not None and not layout.bare_cr:
            samples = {c: [f[i].strip(" ") for f in body if f[i].strip(" ")][:SAMPLE_VALUES]
                       for i, c in enumerate(columns)}
            return _stage_csv_fast(con, path, name, delimiter, header_line, columns, detected, layout, samples)
    return _stage_text_lines(con, path, name, delimiter, arrow_encoding, header_line, columns, detected)


def _sample_records(lines: list[str], delimiter: str, cut_off: bool) -> list[list[str]]:
    """The sample's lines as CSV records (a quoted field may hold a line break); when the
    sample is cut off, its last record may be incomplete and is left out."""
    try:
        records = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter, quotechar='"'))
    except csv.Error:  # e.g. a field over the csv module's 128 kB limit
        return [[]]  # taken as not regular: the line-exact path reads it
    if cut_off and len(records) > 1:
        records.pop()
    return records


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


def blank_row_sql(fields: list[str], delimiter: str) -> str:
    """SQL that is true when every one of ``fields`` is NULL or holds nothing but white space,
    quotes and delimiters: a blank row, as on the line-exact path.

    A cell can be blank only when it is NULL, starts below ``'#'`` (white space, ``!`` or a
    quote) or starts with the delimiter; the regular expression runs only on the rows whose
    every cell passes that cheap test. The test is a CASE condition because DuckDB evaluates
    every operand of an AND or OR in a SELECT list on every row, while a CASE condition is
    evaluated like a filter, operand by operand on the rows still undecided: with the plain
    AND the regular expression ran on every cell (0.53 CPU-s on 2.77 M rows of five columns),
    with the CASE 0.12 s.
    """
    d = quote_literal(delimiter)
    pattern = quote_literal('[\\s"' + re.escape(delimiter) + ']*')
    maybe = " AND ".join(f"({f} IS NULL OR {f} < '#' OR prefix({f}, {d}))" for f in fields)
    exact = " AND ".join(f"({f} IS NULL OR regexp_full_match({f}, {pattern}))" for f in fields)
    return f"CASE WHEN {maybe} THEN {exact} ELSE false END"


def _stage_csv_fast(con, path: Path, name: str, delimiter: str, header_line: int, columns: list[str],
                    detected: dict, layout: _LineLayout, samples: dict[str, list[str]]) -> Source:
    """The fast path: a view over DuckDB's parallel ``read_csv`` (all columns as text)."""
    fields = [f"_cvm_f{i + 1}" for i in range(len(columns))]
    types = ", ".join(f"{quote_literal(f)}: 'VARCHAR'" for f in fields)
    d = quote_literal(delimiter)
    reader = (f"read_csv({quote_literal(str(path))}, delim={d}, quote='\"', escape='\"', header=false, "
              f"skip={int(header_line)}, auto_detect=false, strict_mode=true, null_padding=false, "
              f"encoding='utf-8', columns={{{types}}})")
    blank = blank_row_sql(fields, delimiter)
    # Materialised with the row's position: row_number() OVER () needs the scan in file order,
    # which runs on one thread; everything after it (parsing, checks, the insert) then
    # scans this table in parallel.
    import duckdb

    try:
        con.execute(f"CREATE TEMP TABLE {INPUT_TABLE} AS SELECT row_number() OVER () AS _cvm_rn, * FROM {reader}")
    except duckdb.Error as exc:  # invalid UTF-8 past the sample, a line over read_csv's limit, broken quotes
        raise ReadAgain(str(exc).splitlines()[0]) from exc
    from cvm.data.validate import text_sql

    detected = {**detected, "reader": "duckdb read_csv"}
    lines_after_header = layout.lines - header_line - layout.trailing_empty
    rows = con.execute(f"SELECT count(*) FROM {INPUT_TABLE}").fetchall()[0][0]
    if rows < lines_after_header:
        multi = _fast_multiline(con, fields, header_line, lines_after_header, rows, blank)
        if multi is not None:
            non_blank, blank_rows, spanning = multi
            # a line break inside a field is a line feed, as on the line-exact path
            cells = {c: text_sql(f"replace({f}, chr(13) || chr(10), chr(10))") for c, f in zip(columns, fields)}
            return Source(name=name, format="csv", columns=columns, column_sql=cells,
                          column_types={c: "VARCHAR" for c in columns}, raw_sql=_record_text_sql(fields, delimiter),
                          detected={**detected, "multiline_records": spanning}, line_sql="_cvm_start",
                          blank_sql=f"({blank})", cells_clean=True, rows_expected=non_blank,
                          blank_lines=layout.trailing_empty + blank_rows, samples=samples)
    return Source(name=name, format="csv", columns=columns,
                  column_sql={c: text_sql(f) for c, f in zip(columns, fields)},
                  column_types={c: "VARCHAR" for c in columns}, raw_sql="CAST(NULL AS VARCHAR)",
                  detected=detected, line_sql=f"{int(header_line)} + _cvm_rn", blank_sql=f"({blank})",
                  cells_clean=True,
                  rows_expected=layout.lines - header_line - layout.trailing_empty,
                  blank_lines=layout.trailing_empty, lines_unproven=True, raw_lines=(path, "utf8"),
                  samples=samples)


def _lossless_text(raw: bytes) -> str:
    """Bytes that are not UTF-8 as text that keeps every byte: cp1252 where it defines one, else Latin-1."""
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:  # one of the five bytes cp1252 leaves undefined: byte by byte
        return "".join(_byte_text(raw[i:i + 1]) for i in range(len(raw)))


def _byte_text(byte: bytes) -> str:
    try:
        return byte.decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are not cp1252
        return byte.decode("latin-1")


def _invalid_utf8_reason(raw: bytes) -> str:
    """Why a line is not UTF-8, as the values of its quarantine reason: the first bad byte and where
    it is (``0xEB 3``, worded ``invalid UTF-8: 0xEB at byte 3``)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"0x{raw[exc.start]:02X} {exc.start + 1}"
    return "? ?"  # not reached: only called for lines that fail


def _decode_lines(raw: Any):
    """A batch of lines as bytes → (text, reason): UTF-8 text, and for a line that is not UTF-8 its
    bytes as cp1252/Latin-1 text with why it is kept apart (``0xEB 4``: the byte and where it is).

    The common case (the whole batch is UTF-8) is one validating cast in Arrow's C++; only a
    batch holding a bad line is looked at line by line.
    """
    import pyarrow as pa

    try:
        return raw.cast(pa.string()), pa.nulls(len(raw), pa.string())
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass
    texts, reasons = [], []
    for value in raw.to_pylist():
        try:
            texts.append(value.decode("utf-8"))
            reasons.append(None)
        except UnicodeDecodeError:
            texts.append(_lossless_text(value))
            reasons.append(_invalid_utf8_reason(value))
    return pa.array(texts, pa.string()), pa.array(reasons, pa.string())


#: Arrow reads a file in blocks and no line may be longer than one block: start at 8 MB and
#: grow (re-reading the file and skipping the lines already given) when a line is longer
_BLOCK_SIZE = 8 << 20


def _fast_multiline(con, fields: list[str], header_line: int, lines_after_header: int, rows: int,
                    blank: str) -> tuple[int, int, int] | None:
    """Source lines for a fast read whose records span several lines (quoted line breaks).

    A record takes one line plus one per line break inside its fields, and ``read_csv``
    skips no line but an empty one. So when the records' lines add up to the file's lines
    after the header, no line was skipped, and the line a record starts on is the header
    line, plus its position, plus the line breaks in the records before it (a running sum).
    Then ``_cvm_start`` holds that line and (non-blank rows, blank rows, multi-line
    records) is returned; otherwise None (empty lines were skipped: the warehouse's proof
    fails and the file is read line by line).
    """
    breaks = " + ".join(f"coalesce(length({f}) - length(replace({f}, chr(10), '')), 0)" for f in fields)
    total, multi = con.execute(f"SELECT coalesce(sum({breaks}), 0), count(*) FILTER (WHERE {breaks} > 0) "
                               f"FROM {INPUT_TABLE}").fetchall()[0]
    if rows + int(total) != lines_after_header:
        return None
    before = f"coalesce(sum({breaks}) OVER (ORDER BY _cvm_rn ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)"
    con.execute(f"CREATE TEMP TABLE _cvm_input_lines AS SELECT *, {int(header_line)} + _cvm_rn + {before} AS _cvm_start "
                f"FROM {INPUT_TABLE}")
    con.execute(f"DROP TABLE {INPUT_TABLE}")
    con.execute(f"ALTER TABLE _cvm_input_lines RENAME TO {INPUT_TABLE}")
    non_blank, blank_rows = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT ({blank})), count(*) FILTER (WHERE {blank}) FROM {INPUT_TABLE}").fetchall()[0]
    return int(non_blank), int(blank_rows), int(multi)


def _record_text_sql(fields: list[str], delimiter: str) -> str:
    """SQL writing a record back as CSV text (a field quoted when it holds a delimiter, quote or line break):
    the raw text of a rejected record of the fast path, which reads fields, not lines."""
    d = quote_literal(delimiter)
    special = quote_literal(f'[{re.escape(delimiter)}"\r\n]')
    quoted = [f"CASE WHEN regexp_matches(coalesce({f}, ''), {special}) THEN '\"' || replace({f}, '\"', '\"\"') || '\"' "
              f"ELSE coalesce({f}, '') END" for f in fields]
    return f"array_to_string([{', '.join(quoted)}], {d})"


def line_reader(path: Path, name: str, arrow_encoding: str):
    """The file as an Arrow stream of ``(_line, _raw, _bad)``: one string per physical line, numbered from 1.

    ``_bad`` is NULL, or for a line of a UTF-8 file that is not UTF-8 the byte and position why it cannot be
    read (its ``_raw`` then shows its bytes as cp1252). Lines of any length are read: when
    one is longer than Arrow's block, the read starts again with a block big enough.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    as_bytes = arrow_encoding == "utf8"  # validated per line below, so one bad line is not fatal

    def open_at(block_size: int):
        try:
            return pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(column_names=["_raw"], encoding=arrow_encoding, block_size=block_size),
                parse_options=pacsv.ParseOptions(delimiter=_LINE_SEPARATOR, quote_char=False, escape_char=False,
                                                 ignore_empty_lines=False, newlines_in_values=False),
                convert_options=pacsv.ConvertOptions(column_types={"_raw": pa.binary() if as_bytes else pa.string()},
                                                     strings_can_be_null=False),
            )
        except (pa.ArrowInvalid, LookupError, UnicodeDecodeError) as exc:
            raise SchemaError.coded("unreadable_text", name=name, detail=str(exc)) from None

    size = path.stat().st_size
    first = open_at(_BLOCK_SIZE)

    def numbered() -> Iterable[pa.RecordBatch]:
        start, block, reader = 1, _BLOCK_SIZE, first
        while True:
            skip = start - 1  # lines already given, when the file is read again with a bigger block
            try:
                for batch in reader:
                    column = batch.column(0)
                    if skip:
                        drop = min(skip, len(column))
                        column, skip = column.slice(drop), skip - drop
                        if not len(column):
                            continue
                    text, bad = _decode_lines(column) if as_bytes else (column, pa.nulls(len(column), pa.string()))
                    n = len(text)
                    yield pa.RecordBatch.from_arrays([pa.array(range(start, start + n), pa.int64()), text, bad],
                                                     names=["_line", "_raw", "_bad"])
                    start += n
                return
            except pa.ArrowInvalid as exc:
                if "straddl" not in str(exc) or block > size:
                    raise SchemaError.coded("unreadable_text", name=name, detail=str(exc)) from None
            except UnicodeDecodeError as exc:
                raise SchemaError.coded("unreadable_text", name=name, detail=str(exc)) from None
            block = min(block * 4, size + 1)
            reader = open_at(block)

    schema = pa.schema([("_line", pa.int64()), ("_raw", pa.string()), ("_bad", pa.string())])
    return pa.RecordBatchReader.from_batches(schema, numbered())


def _stage_text_lines(con, path: Path, name: str, delimiter: str, arrow_encoding: str, header_line: int,
                      columns: list[str], detected: dict) -> Source:
    """The line-exact path: every physical line staged with its number, lines joined into records
    where a quoted field holds a line break, fields split in DuckDB.

    A line of a UTF-8 file that is not UTF-8 is kept apart (``_bad``, quarantined with its
    reason) unless no line of the whole file is UTF-8 beyond ASCII and it has no byte order
    mark: then the file is cp1252, as the sniffer would have said had it seen that line, and
    is read again as cp1252.
    """
    _stage_physical_lines(con, path, name, arrow_encoding)
    if arrow_encoding == "utf8":
        bad, utf8_seen = con.execute(
            f"SELECT count(*) FILTER (WHERE _bad IS NOT NULL), "
            f"coalesce(bool_or(_bad IS NULL AND strlen(_raw) <> length(_raw)), false) FROM {_PHYSICAL}").fetchall()[0]
        if bad and not utf8_seen and not detected.get("bom"):  # (a UTF-8 byte order mark is proof enough)
            con.execute(f"DROP TABLE {_PHYSICAL}")
            arrow_encoding = "cp1252"
            detected = {**detected, "encoding": "cp1252", "bom": False}
            _stage_physical_lines(con, path, name, arrow_encoding)
        elif bad:
            detected = {**detected, "invalid_utf8_lines": int(bad)}
    records = _records_sql(con, delimiter)
    d = quote_literal(delimiter)
    esc = re.escape(delimiter)
    # a quoted field ("…", with "" for a quote), or an unquoted one; [^"] also matches a line break
    field_pattern = quote_literal(esc + '("(?:[^"]|"")*"|[^' + esc + '"]*)')
    unquote = "lambda x: CASE WHEN x LIKE '\"%\"' THEN replace(x[2:-2], '\"\"', '\"') ELSE x END"
    split = (f"CASE WHEN contains(_raw, '\"') THEN list_transform(regexp_extract_all({d} || _raw, {field_pattern}, 1), "
             f"{unquote}) ELSE string_split(_raw, {d}) END")
    blank_pattern = quote_literal('[\\s"' + esc + ']')
    blank = f"regexp_replace(_raw, {blank_pattern}, '', 'g') = ''"
    con.execute(f"CREATE TEMP TABLE {INPUT_TABLE} AS SELECT _line, _raw, _bad, _unclosed, {split} AS _f, "
                f"({blank}) OR _line <= {header_line} AS _blank FROM ({records})")
    for table in (_PHYSICAL, _STATES):  # (after a failure, the ingest's rollback removes them)
        con.execute(f"DROP TABLE IF EXISTS {table}")
    column_sql = {c: f"nullif(trim(_f[{i + 1}]), '')" for i, c in enumerate(columns)}
    n = len(columns)
    rows, blank_lines, multi = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT _blank), count(*) FILTER (WHERE _blank AND _line > ?), "
        f"count(*) FILTER (WHERE NOT _blank AND contains(_raw, chr(10))) FROM {INPUT_TABLE}",
        [header_line]).fetchall()[0]
    if multi:
        detected = {**detected, "multiline_records": int(multi)}
    shape_checks = [
        ("_bad IS NOT NULL", Reason("invalid_utf8", byte="split_part(_bad, ' ', 1)", position="split_part(_bad, ' ', 2)")),
        ("_unclosed", Reason("unclosed_quote")),
        (f"len(_f) <> {n}", Reason("field_count", expected=str(n), found="len(_f)")),
    ]
    return Source(name=name, format="csv", columns=columns, column_sql=column_sql, cells_clean=True,
                  column_types={c: "VARCHAR" for c in columns}, raw_sql="_raw", shape_checks=shape_checks,
                  detected=detected, rows_expected=int(rows), blank_lines=int(blank_lines))


_PHYSICAL = "_cvm_physical"
_STATES = "_cvm_line_states"


def _stage_physical_lines(con, path: Path, name: str, arrow_encoding: str) -> None:
    """Every physical line as the temporary table ``_cvm_physical(_line, _raw, _bad)``."""
    con.register("_cvm_lines", line_reader(path, name, arrow_encoding))
    try:
        con.execute(f"CREATE TEMP TABLE {_PHYSICAL} AS SELECT _line, _raw, _bad FROM _cvm_lines")
    finally:
        con.unregister("_cvm_lines")


def _quote_patterns(delimiter: str) -> tuple[str, str]:
    """Two RE2 patterns over one physical line: (it opens a quoted field it does not close, when read
    from outside a quoted field; it closes the quoted field it starts in and opens no other).

    As in RFC 4180 a quote opens a field only at the field's start, ``""`` is a quote inside
    a quoted field, and (leniently, as Python's csv reads) a quote inside an unquoted field
    (``24" scherm``) is a character, and text after a closing quote belongs to the field.
    """
    d = re.escape(delimiter)
    quoted = f'"(?:[^"]|"")*"(?:[^"{d}][^{d}]*)?'  # a closed quoted field (and what trails it)
    unquoted = f'[^"{d}][^{d}]*'
    field = f"(?:{quoted}|{unquoted})?"
    still_open = '"(?:[^"]|"")*'
    opens = f"(?:{field}{d})*{still_open}"
    closes = f'(?:[^"]|"")*"(?:[^"{d}][^{d}]*)?(?:{d}{field})*'
    return opens, closes


def _records_sql(con, delimiter: str, max_unclosed: int = 20) -> str:
    """SQL over ``_cvm_physical`` giving one row per CSV record: ``_line`` (the line it starts on),
    ``_raw`` (its lines joined by a line feed), ``_bad`` and ``_unclosed``.

    RFC 4180 lets a quoted field hold line breaks. Whether a line starts inside a quoted
    field depends on the lines above it, which is a scan with two states (outside, inside).
    Each line maps the state at its start to the state at its end, and that map is one of
    four (:func:`_quote_patterns` decides it, for lines that hold a quote): keep the state,
    flip it, or end outside / inside whatever the start. So the state after line *k* is the
    constant of the last constant line up to *k*, flipped once per flipping line since:
    a running count and a running "last value" in SQL, no loop over rows.

    A quote that is never closed would swallow the rest of the file. When the file ends
    inside a quoted field, the last record start is the line that opened it: that line is
    a record of its own, kept apart (``_unclosed``), and the lines after it are read again
    from outside a quote (at most ``max_unclosed`` times; after that each line is a record).
    """
    opens, closes = _quote_patterns(delimiter)
    has_quote = "contains(_raw, '\"')"
    starts_inside = con.execute(
        f"SELECT count(*) FROM {_PHYSICAL} WHERE {has_quote} AND regexp_full_match(_raw, {quote_literal(opens)})"
    ).fetchall()[0][0]
    if not starts_inside:  # no line opens a field it does not close: every line is a record
        return f"SELECT _line, _raw, _bad, false AS _unclosed FROM {_PHYSICAL}"
    window = "OVER (ORDER BY _line ROWS UNBOUNDED PRECEDING)"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_STATES} AS SELECT _line, "
                f"{has_quote} AND regexp_full_match(_raw, {quote_literal(opens)}) AS _opens, "
                f"{has_quote} AND regexp_full_match(_raw, {quote_literal(closes)}) AS _closes, "
                f"CAST(NULL AS BOOLEAN) AS _start, CAST(NULL AS BOOLEAN) AS _inside, false AS _unclosed "
                f"FROM {_PHYSICAL}")
    after = 0  # lines after this one are read from outside a quote
    for _ in range(max_unclosed):
        con.execute(f"""
            UPDATE {_STATES} SET _start = s._start, _inside = s._inside FROM (
                SELECT _line, _inside, NOT coalesce(lag(_inside) OVER (ORDER BY _line), false) AS _start FROM (
                    SELECT _line, _base <> ((_flips - _base_flips) % 2 = 1) AS _inside FROM (
                        SELECT _line, _flips,
                               coalesce(last_value(CASE WHEN _opens <> _closes THEN _opens END IGNORE NULLS) {window},
                                        false) AS _base,
                               coalesce(last_value(CASE WHEN _opens <> _closes THEN _flips END IGNORE NULLS) {window},
                                        0) AS _base_flips
                        FROM (SELECT _line, _opens, _closes,
                                     sum(CASE WHEN _opens AND _closes THEN 1 ELSE 0 END) {window} AS _flips
                              FROM {_STATES} WHERE _line > {after})))) s
            WHERE {_STATES}._line = s._line""")
        last_start, ends_inside = con.execute(
            f"SELECT max(_line) FILTER (WHERE _start), arg_max(_inside, _line) "
            f"FROM {_STATES} WHERE _line > {after}").fetchall()[0]
        if not ends_inside or last_start is None:
            break
        con.execute(f"UPDATE {_STATES} SET _unclosed = true WHERE _line = {int(last_start)}")
        after = int(last_start)
    else:
        con.execute(f"UPDATE {_STATES} SET _start = true WHERE _line > {after}")
    return (f"SELECT min(_line) AS _line, string_agg(_raw, chr(10) ORDER BY _line) AS _raw, "
            f"min(_bad) AS _bad, bool_or(_unclosed) AS _unclosed FROM ("
            f"SELECT p._line, p._raw, p._bad, s._unclosed, sum(CASE WHEN s._start THEN 1 ELSE 0 END) "
            f"OVER (ORDER BY p._line ROWS UNBOUNDED PRECEDING) AS _record "
            f"FROM {_PHYSICAL} p JOIN {_STATES} s USING (_line)) GROUP BY _record")


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
    """Read the first (or the named) sheet of an .xlsx workbook; cells become text for uniform checks.

    The sheet is read over its real data range: the dimension a workbook states (a stray
    formatted cell at ``XFD1048576`` makes it the whole grid) is ignored, only the rows and
    cells the file holds are read, and only the columns that hold a value are staged. So
    memory follows the data, not rows × 16,384 columns. Blank rows are counted, not staged;
    ``_line`` is the row number in the sheet.
    """
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
    title = ws.title
    filled: list[tuple[int, dict[int, str]]] = []  # (row number, {column index: text}) of rows with a value
    last_row = 0
    try:
        ws.reset_dimensions()  # rows as stored, each only as wide as its own last cell
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            last_row = number
            cells = {j: text for j, v in enumerate(row) if v is not None and (text := _cell_text(v)) != ""}
            if cells:
                filled.append((number, cells))
    except Exception as exc:  # a damaged sheet part
        raise SchemaError.coded("unreadable_excel", name=name, error=type(exc).__name__) from None
    finally:
        book.close()
    if not filled:
        raise SchemaError.coded("sheet_empty", name=name)
    counts = Counter(len(cells) for _, cells in filled)
    modal = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    header_at = next(k for k, (_, cells) in enumerate(filled) if len(cells) >= min(modal, 2))
    header_number, header_cells = filled[header_at]
    # the table's columns: every column up to the header's last cell, and beyond it only those holding a value
    used = sorted(set(range(max(header_cells) + 1)).union(*(cells.keys() for _, cells in filled)))
    if has_header is False or (has_header is None and _looks_like_data(list(header_cells.values()))):
        names = {j: f"column{j + 1}" for j in used}
        header_line = 0
    else:
        names = {j: str(header_cells[j]).strip() if j in header_cells else f"column{j + 1}" for j in used}
        header_line = header_number
    columns = _unique_names([names[j] for j in used])
    data = [(number, cells) for number, cells in filled if number > header_line]
    table = pa.table({
        "_line": pa.array([number for number, _ in data], pa.int64()),
        "_blank": pa.array([False] * len(data)),
        **{f"c{j}": pa.array([cells.get(j) for _, cells in data], pa.string()) for j in used},
    })
    con.register("_cvm_sheet", table)
    try:
        con.execute(f"CREATE TEMP TABLE {INPUT_TABLE} AS SELECT * FROM _cvm_sheet")
    finally:
        con.unregister("_cvm_sheet")
    column_sql = {c: f"nullif(trim(c{j}), '')" for j, c in zip(used, columns)}
    raw = "array_to_string([" + ", ".join(f"coalesce(c{j}, '')" for j in used) + "], ';')"
    detected = {"format": "xlsx", "sheet": title, "header_line": header_line or None, "columns": columns}
    return Source(name=name, format="xlsx", columns=columns, column_sql=column_sql, cells_clean=True,
                  column_types={c: "VARCHAR" for c in columns}, raw_sql=raw, detected=detected,
                  rows_expected=len(data), blank_lines=max(0, last_row - header_line) - len(data))


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
    con.execute(f"DROP TABLE IF EXISTS {_PHYSICAL}")
    con.execute(f"DROP TABLE IF EXISTS {_STATES}")
    if con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = '_cvm_frame'").fetchall()[0][0]:
        con.unregister("_cvm_frame")


def describe_columns(columns: list[str]) -> str:
    return ", ".join(f"{c} ({normalise_name(c)})" for c in columns)
