"""The ingest rules of the DuckDB workspace, rendered as Spark column expressions.

One set of rules for both engines. What is shared, and not written twice:

* the columns a file must hold and the names they are known by, and ``--map``
  (:func:`cvm.data.validate.recognise_columns`);
* the rule definitions of :mod:`cvm.data.values`, as data: the amount patterns
  (``_DECORATED``, ``_COMMA_READING``, ``_POINT_READING``), the kinds (:data:`KINDS`), the signs,
  the thousands gaps, the id character classes, the date shapes (:data:`DATE_PATTERNS`), the
  earliest plausible date and the totals words (:data:`cvm.data.validate.TOTAL_WORDS`);
* every decision made from a column's evidence, by the same Python functions:
  :func:`cvm.data.values.decide_number_marks` (decimal and thousands marks from the counts of each
  kind), :func:`cvm.data.values.decide_date_reading` (format family, day-month order, zones);
* the reasons a row is set aside: the same codes and values, worded from the same catalogue
  (``quarantine.<code>``), checked in the same order as
  :meth:`cvm.data.warehouse.Workspace._parse_plan`.

What is here is the renderer: the same expressions (a value's kind, its reading, the checks)
written with Spark's functions where the dialects differ (Java regular expressions with ``\\z``
for RE2's full match and ``$1`` for ``\\1``, ``try_to_timestamp`` with Java patterns for
``try_strptime``, ``from_utc_timestamp`` for ``timezone``). ``tests/data/adversarial/test_engines.py``
runs the adversarial files and values through both engines and asserts the same rows, values
and reasons; ``tests/data/test_spark.py`` checks that the cheap guards in front of the regular
expressions (totals words, ids) keep every verdict.

Speed: the rules are laid out so each costly expression runs once per cell and only where a
cheap test cannot decide (as the DuckDB ingest's guards): an id of printable ASCII skips its
rewrites and the control-character test, a cell whose first two letters start no totals word
skips that expression, a typed (number, time) cell is empty only when NULL (no text per row).

What differs by nature: Spark reads a text file with its own CSV reader, which gives no source
line numbers. A file that reader reads otherwise than the DuckDB ingest (a line in another
encoding, a quote never closed, lone carriage returns: :func:`read_signals`, counted in the first
pass) is read again, when local, by the ingest's own reader (:mod:`cvm.data.spark.staged`), whose
verdict per row (:data:`READ_CODE`) comes first among the checks. docs/spark.md says what happens
with such a file at a URI.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass, field
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from cvm.data import values as rules
from cvm.data.validate import TOTAL_WORDS, recognise_columns, schema_for
from cvm.errors import SchemaError
from cvm.i18n import text

#: the column of a CSV read that holds a record whose field count differs from the header's
CORRUPT_RECORD = "_cvm_corrupt_record"

#: the columns of a source staged by the DuckDB ingest's reader (:mod:`cvm.data.spark.staged`) that hold
#: the reader's verdict on a row: the code, the English sentence and the cited values (JSON) of the
#: first of its shape checks the row fails (``invalid_utf8``, ``unclosed_quote``, ``field_count``), else NULL
READ_CODE, READ_REASON, READ_VALUES = "_cvm_read_code", "_cvm_read_reason", "_cvm_read_values"
_NOT_SOURCE_COLUMNS = (CORRUPT_RECORD, READ_CODE, READ_REASON, READ_VALUES)

#: Spark types read like DuckDB's DOUBLE/DECIMAL, integers, zoned and local timestamps
_FRACTIONAL = ("double", "float", "decimal")
_INTEGRAL = ("int", "bigint", "smallint", "tinyint", "long", "integer", "short", "byte")
#: the kinds of :func:`_spark_type` whose text is never empty or blank (so a cell is empty only when NULL)
_NEVER_BLANK_TEXT = ("fractional", "integral", "timestamp", "timestamp_ntz", "date", "boolean")


def _full(pattern: str) -> str:
    """An RE2 pattern for a full match as a Java pattern for ``rlike`` (which finds, not matches)."""
    body = pattern
    if body.startswith("^"):
        body = body[1:]
    if body.endswith("$"):
        body = body[:-1]
    return f"^(?:{body})\\z"


def _lit(value: Any) -> Any:
    from pyspark.sql import functions as F

    return F.lit(value)


def _any_of(column: Any, options: tuple[str, ...] | list[str]) -> Any:
    result = None
    for option in options:
        test = column == _lit(option)
        result = test if result is None else result | test
    return result if result is not None else _lit(False)


def _split(column: Any, part: int) -> Any:
    from pyspark.sql import functions as F

    return F.split_part(column, _lit("|"), _lit(part))


# ----------------------------------------------------------------------------- reasons
@dataclass
class SparkReason:
    """A quarantine reason as Spark columns: the English sentence, the code and the cited values (JSON).

    The same catalogue entry (``quarantine.<code>``) and the same values as
    :class:`cvm.data.reasons.Reason` builds in DuckDB SQL.
    """

    code: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def sentence(self) -> Any:
        from pyspark.sql import functions as F

        parts = []
        for literal, name, _, _ in string.Formatter().parse(text(f"quarantine.{self.code}", "en")):
            if literal:
                parts.append(_lit(literal))
            if name:
                parts.append(F.coalesce(self.values[name].cast("string"), _lit("")))
        return F.concat(*parts) if parts else _lit("")

    @property
    def values_json(self) -> Any:
        from pyspark.sql import functions as F

        if not self.values:
            return _lit(None).cast("string")
        return F.to_json(F.struct(*[v.cast("string").alias(k) for k, v in self.values.items()]))

    @property
    def code_column(self) -> Any:
        return _lit(self.code)


class ReaderVerdict(SparkReason):
    """The reason the DuckDB ingest's reader gave a row it staged (:data:`READ_CODE` and its companions):
    code, sentence and values were made by :class:`cvm.data.reasons.Reason` in DuckDB, so they are
    the ingest's own, word for word."""

    def __init__(self) -> None:
        super().__init__("reader")

    @property
    def sentence(self) -> Any:
        from pyspark.sql import functions as F

        return F.col(READ_REASON)

    @property
    def values_json(self) -> Any:
        from pyspark.sql import functions as F

        return F.col(READ_VALUES)

    @property
    def code_column(self) -> Any:
        from pyspark.sql import functions as F

        return F.col(READ_CODE)


# ----------------------------------------------------------------------------- amounts
#: what DuckDB's cast to DOUBLE reads (and Java's ``12d`` or ``0x1p3`` are not): plain numbers, inf, nan
_PLAIN_NUMBER = r"^[-+]?(?:(?:[0-9]+[.,]?[0-9]*|[.,][0-9]+)(?:[eE][-+]?[0-9]+)?|(?i:inf|infinity|nan))\z"


def amount_text(cell: Any) -> Any:
    """:func:`cvm.data.values.amount_text_sql` in Spark: the text ready for :func:`amount_kind`.

    The cast test is guarded by a plain-number pattern: Java reads ``12d`` and ``0x1p3`` as
    doubles, DuckDB does not.
    """
    from pyspark.sql import functions as F

    plain_shape = cell.rlike(_PLAIN_NUMBER)
    plain = plain_shape & (
        (~cell.contains(",") & cell.try_cast("double").isNotNull())
        | (~cell.contains(".") & F.replace(cell, _lit(","), _lit(".")).try_cast("double").isNotNull()))
    decorated = _full(rules._DECORATED)
    return (F.when(plain, cell)
            .when(cell.rlike(decorated), F.regexp_replace(cell, decorated, "$1$2$3$5$6|$4")))


def amount_kind(txt: Any) -> Any:
    """:func:`cvm.data.values.amount_kind_sql` in Spark: ``n c d a. a, x`` (see that module)."""
    from pyspark.sql import functions as F

    signs, number = _split(txt, 1), _split(txt, 2)
    comma_ok = number.rlike(_full(rules._COMMA_READING))
    point_ok = number.rlike(_full(rules._POINT_READING))
    after = lambda mark: F.length(txt) - F.instr(txt, mark)  # noqa: E731
    plain = (F.when(~txt.contains(",") & ~txt.contains("."), _lit("n"))
             .when(~txt.contains(","), F.when((after(".") == 3) & txt.rlike(r"^[-+]?[1-9][0-9]{0,2}[.][0-9]{3}\z"),
                                               _lit("a.")).otherwise(_lit("d")))
             .otherwise(F.when((after(",") == 3) & txt.rlike(r"^[-+]?[1-9][0-9]{0,2},[0-9]{3}\z"),
                               _lit("a,")).otherwise(_lit("c"))))
    decorated = (F.when(~_any_of(signs, rules._SIGNS), _lit("x"))
                 .when(comma_ok, F.when(~point_ok, _lit("c")).when(number.contains("."), _lit("a."))
                       .when(number.contains(","), _lit("a,")).otherwise(_lit("n")))
                 .when(point_ok, _lit("d")).otherwise(_lit("x")))
    return F.when(txt.isNull(), _lit("x")).when(~txt.contains("|"), plain).otherwise(decorated)


def _number(expr: Any, decimal: str, thousands: str | None) -> Any:
    """:func:`cvm.data.validate.number_sql` in Spark."""
    from pyspark.sql import functions as F

    plain = expr
    if thousands:
        plain = F.replace(plain, _lit(thousands), _lit(""))
    if decimal != ".":
        plain = F.replace(plain, _lit(decimal), _lit("."))
    cleaned = F.regexp_replace(F.trim(expr), "[€$£¥\\s\u00a0]|EUR|USD|GBP", "")
    if thousands:
        cleaned = F.replace(cleaned, _lit(thousands), _lit(""))
    if decimal != ".":
        cleaned = F.replace(cleaned, _lit(decimal), _lit("."))
    cleaned = F.replace(cleaned, _lit("−"), _lit("-"))
    cleaned = F.regexp_replace(cleaned, "^\\((.*)\\)$", "-$1")
    return F.coalesce(plain.try_cast("double"), cleaned.try_cast("double"))


def amount_value(txt: Any, kind: Any, marks: rules.NumberMarks) -> Any:
    """:func:`cvm.data.values.amount_value_sql` in Spark: the DOUBLE, NULL unless the kind fits ``marks``."""
    from pyspark.sql import functions as F

    signs, number = _split(txt, 1), _split(txt, 2)
    for gap in rules._GAP_CHARS:
        number = F.replace(number, _lit(gap), _lit(""))
    number = F.replace(number, _lit(",-"), _lit(""))
    sign = F.when(_any_of(signs, rules._NEGATIVE), _lit(-1.0)).otherwise(_lit(1.0))
    other = "." if marks.decimal == "," else ","
    plain = F.when(txt.contains(other), F.replace(txt, _lit(other), _lit("")))
    if marks.decimal == ",":
        plain = plain.when(txt.contains(","), F.replace(txt, _lit(","), _lit(".")))
    plain = plain.otherwise(txt).try_cast("double")
    return F.when(_any_of(kind, marks.accepted_kinds),
                  F.when(txt.contains("|"), sign * _number(number, marks.decimal, marks.thousands)).otherwise(plain))


def amount_checks(kind: Any, marks: rules.NumberMarks, field_name: str, column: str, cell: Any) -> list[tuple[Any, SparkReason]]:
    """:func:`cvm.data.values.amount_checks` in Spark."""
    cited = {"field": _lit(field_name), "column": _lit(column), "value": cell}
    checks = []
    ambiguous = [k for k in ("a.", "a,") if k not in marks.accepted_kinds]
    if ambiguous:
        checks.append((_any_of(kind, ambiguous), SparkReason("ambiguous_number", dict(cited))))
    if marks.decimal == ",":
        checks.append((kind == _lit("d"), SparkReason("decimal_point", dict(cited))))
    else:
        checks.append((kind == _lit("c"), SparkReason("decimal_comma", dict(cited))))
    return checks


# ----------------------------------------------------------------------------- dates
_JAVA = {"%Y": "yyyy", "%y": "yy", "%m": "M", "%d": "d", "%H": "HH", "%M": "mm", "%S": "ss", "%f": "SSSSSS"}


def java_pattern(fmt: str) -> str:
    """A strftime format (``%d-%m-%Y``) as a Spark datetime pattern (``d-M-yyyy``); other text quoted."""
    out, i = [], 0
    while i < len(fmt):
        code = fmt[i:i + 2]
        if code in _JAVA:
            out.append(_JAVA[code])
            i += 2
        else:
            ch = fmt[i]
            out.append(f"'{ch}'" if ch.isalpha() else ch)
            i += 1
    return "".join(out)


def _formats(date_format: str) -> list[str]:
    """The formats :func:`cvm.data.validate.timestamp_sql` tries, in order."""
    formats = [date_format]
    if "%H" not in date_format:
        for sep in (" ", "T"):
            formats += [f"{date_format}{sep}%H:%M", f"{date_format}{sep}%H:%M:%S", f"{date_format}{sep}%H:%M:%S.%f"]
    return formats


def _strptime(txt: Any, date_format: str) -> Any:
    from pyspark.sql import functions as F

    return F.coalesce(*[F.try_to_timestamp(txt, _lit(java_pattern(f))) for f in _formats(date_format)])


def timestamp_value(expr: Any, date_format: str | None) -> Any:
    """:func:`cvm.data.validate.timestamp_sql` in Spark (the session runs in UTC: a text is read as written)."""
    from pyspark.sql import functions as F

    txt = F.trim(expr)
    if date_format == "excel":
        micros = F.round(txt.try_cast("double") * _lit(86400e6)).try_cast("bigint")
        return F.timestamp_micros(micros + F.unix_micros(F.lit("1899-12-30 00:00:00").cast("timestamp")))
    if not date_format:
        return F.when(txt.rlike(r"^\d{4}-\d{1,2}-\d{1,2}"), txt.try_cast("timestamp"))
    parsed = _strptime(txt, date_format)
    if date_format in ("%Y-%m-%d",):
        plain = ((expr >= _lit("0")) & (expr < _lit(":")) & ~expr.contains("+") & ~expr.endswith("Z")
                 & ((F.length(expr) <= 19) | ((F.length(expr) <= 26) & (F.substring(expr, 20, 1) == _lit("."))))
                 & expr.rlike(r"^\d{4}-\d{1,2}-\d{1,2}"))
        return F.coalesce(F.when(plain, expr.try_cast("timestamp")), parsed)
    return parsed


def has_offset(expr: Any) -> Any:
    """:func:`cvm.data.values.offset_sql` in Spark."""
    from pyspark.sql import functions as F

    tail = F.right(expr, _lit(6))
    return (F.length(expr) > 16) & (expr.endswith("Z") | expr.endswith("UTC") | tail.contains("+") | tail.contains("-"))


def _two_digit_year(ts: Any, ingest_year: int) -> Any:
    """:func:`cvm.data.values.two_digit_year_sql` in Spark: into the century window ending at ``ingest_year``."""
    from pyspark.sql import functions as F

    century = F.make_ym_interval(_lit(100), _lit(0))
    return (F.when(F.year(ts) > ingest_year, ts - century)
            .when(F.year(ts) <= ingest_year - 100, ts + century)
            .otherwise(ts))


def date_value(expr: Any, reading: rules.DateReading, time_zone: str, ingest_year: int) -> Any:
    """:func:`cvm.data.values.date_value_sql` in Spark: a timestamp on the workspace's clock."""
    from pyspark.sql import functions as F

    fmt = reading.format
    if fmt is None or fmt == "excel":
        return timestamp_value(expr, fmt)
    if fmt.startswith("%Y-%m-%d") and not reading.given:
        if reading.zoned:
            return F.when(has_offset(expr), F.from_utc_timestamp(F.trim(expr).try_cast("timestamp"), time_zone))
        return timestamp_value(expr, fmt)
    sep = reading.separator
    if sep is None or reading.given:
        value = timestamp_value(expr, fmt)
        return _two_digit_year(value, ingest_year) if "%y" in fmt else value
    long_year, short_year = fmt.replace("%y", "%Y"), fmt.replace("%Y", "%y")
    first_word = F.split_part(F.split_part(F.trim(expr), _lit(" "), _lit(1)), _lit("T"), _lit(1))
    year = F.split_part(first_word, _lit(sep), _lit(3))
    return F.when(F.length(year) == 2, _two_digit_year(timestamp_value(expr, short_year), ingest_year)) \
        .otherwise(timestamp_value(expr, long_year))


def _order_numbers(expr: Any, separator: str) -> tuple[Any, Any]:
    from pyspark.sql import functions as F

    txt = F.trim(expr)
    return (F.split_part(txt, _lit(separator), _lit(1)).try_cast("int"),
            F.split_part(txt, _lit(separator), _lit(2)).try_cast("int"))


def date_checks(expr: Any, value: Any, reading: rules.DateReading, column: str) -> list[tuple[Any, SparkReason]]:
    """:func:`cvm.data.values.date_checks` in Spark."""
    cited = {"column": _lit(column), "value": expr}
    checks: list[tuple[Any, SparkReason]] = []
    if reading.given or reading.format is None:
        return checks
    if reading.format.startswith("%Y-%m-%d"):
        if reading.zoned:
            checks.append((expr.isNotNull() & ~has_offset(expr), SparkReason("no_zone", dict(cited))))
        else:
            checks.append((value.isNull() & has_offset(expr), SparkReason("zone_in_local_times", dict(cited))))
    sep = reading.separator
    if sep and reading.order:
        first, second = _order_numbers(expr, sep)
        if reading.mixed:
            if reading.order == "dm":
                proof, code = second.between(13, 31) & first.between(1, 12), "month_first_date"
            else:
                proof, code = first.between(13, 31) & second.between(1, 12), "day_first_date"
            checks.append((proof, SparkReason(code, dict(cited))))
        if reading.ambiguous:
            checks.append((first.between(1, 12) & second.between(1, 12) & (first != second),
                           SparkReason("ambiguous_date", dict(cited))))
    return checks


def plausibility_checks(value: Any, expr: Any, column: str, today: dt.date, future_allowed: bool = False
                        ) -> list[tuple[Any, SparkReason]]:
    """:func:`cvm.data.values.plausibility_checks` in Spark."""
    from pyspark.sql import functions as F

    earliest = rules.EARLIEST_DATE
    checks = [(value < F.lit(f"{earliest.isoformat()} 00:00:00").cast("timestamp"),
               SparkReason("implausible_date", {"column": _lit(column), "year": _lit(str(earliest.year)), "value": expr}))]
    if not future_allowed:
        tomorrow = today + dt.timedelta(days=1)
        checks.append((value >= F.lit(f"{tomorrow.isoformat()} 00:00:00").cast("timestamp"),
                       SparkReason("future_date", {"column": _lit(column), "value": expr})))
    return checks


def _date_shape(expr: Any) -> Any:
    """:func:`cvm.data.values.date_shape` in Spark: the first of :data:`DATE_PATTERNS` a text follows."""
    from pyspark.sql import functions as F

    txt = F.trim(expr)
    shape = None
    for pattern, fmt in rules.DATE_PATTERNS:
        java = pattern.pattern
        if java.endswith("$"):
            java = java[:-1] + "\\z"
        shape = F.when(txt.rlike(java), _lit(fmt)) if shape is None else shape.when(txt.rlike(java), _lit(fmt))
    return shape


def _offset_text(expr: Any) -> Any:
    """:func:`cvm.data.values.has_offset` in Spark."""
    from pyspark.sql import functions as F

    txt = F.trim(expr)
    return (F.length(txt) > 16) & txt.rlike(r"(Z|UTC|[+-]\d{2}(:?\d{2})?)\z")


# ----------------------------------------------------------------------------- ids
def id_guard(expr: Any) -> Any:
    """:func:`cvm.data.values.id_guard_sql` in Spark: the id holds anything but printable ASCII.

    One character-class scan per cell, laid out as its own column so that :func:`id_value` and
    :func:`id_checks` share it: plain printable ASCII (nearly every id) skips both rewrites and
    the control-character test.
    """
    return expr.rlike("[^ -~]")


def id_value(expr: Any, guard: Any = None) -> Any:
    """:func:`cvm.data.values.id_sql` in Spark: no white space or invisible characters around, NULL when empty.

    ``guard``: the :func:`id_guard` of ``expr`` (computed here when None).
    """
    from pyspark.sql import functions as F

    guard = id_guard(expr) if guard is None else guard
    edge = f"^{rules._ID_EDGE}+|{rules._ID_EDGE}+$"
    cleaned = F.regexp_replace(expr, edge, "")
    cleaned = F.regexp_replace(cleaned, rules._ID_INVISIBLE, "")
    cleaned = F.regexp_replace(cleaned, rules._ID_SPACE, " ")
    return F.when(guard, F.nullif(cleaned, _lit(""))).otherwise(expr)


def id_checks(value: Any, field_name: str, column: str, guard: Any = None) -> list[tuple[Any, SparkReason]]:
    """:func:`cvm.data.values.id_checks` in Spark.

    ``guard``: the :func:`id_guard` of the cell the id ``value`` was read from. An id of
    printable ASCII holds no control character, so the regular expression runs on the others only.
    """
    from pyspark.sql import functions as F

    shown = F.regexp_replace(value, rules._ID_CONTROL, "\ufffd")
    test = value.rlike(rules._ID_CONTROL)
    if guard is not None:
        test = F.when(guard, test).otherwise(_lit(False))
    return [(test, SparkReason("control_character", {"field": _lit(field_name), "column": _lit(column), "value": shown}))]


def is_totals_text(expr: Any) -> Any:
    """:func:`cvm.data.validate.totals_sql` in Spark: the cell reads like a totals line."""
    from pyspark.sql import functions as F

    words = "|".join(re.escape(w) for w in TOTAL_WORDS)
    # the guard of :func:`cvm.data.validate.totals_sql`, tighter: byte-wise comparisons (no new string, no
    # regular expression) pass only cells starting with a space or control character or with
    # one of the words' first letters in either case; the expression runs on those alone
    letters = sorted({w[0] for w in TOTAL_WORDS})
    starts = None
    for c in letters:
        for ch in (c.lower(), c.upper()):
            test = (expr >= _lit(ch)) & (expr < _lit(chr(ord(ch) + 1)))
            starts = test if starts is None else starts | test
    # and (no regular expression for "store" or "shipping") the second letter of one of the words,
    # in either case, or a character beyond ASCII (whose lower case the expression decides)
    second = F.substring(expr, 2, 1)
    seconds = sorted({w[1] for w in TOTAL_WORDS} | {w[1].upper() for w in TOTAL_WORDS})
    guard = (expr < _lit("!")) | (starts & (second.isin(*seconds) | (second >= _lit("\u0080"))))
    return F.when(guard, F.lower(F.trim(expr)).rlike(f"^({words})\\b")).otherwise(_lit(False))


# ----------------------------------------------------------------------------- a frame's columns
@dataclass
class CheckedRows:
    """The rows of a source with their typed values, a pass flag and (for the others) the reason.

    ``frame`` holds the target columns (``customer_id, ts, amount, order_id, channel, margin``),
    ``_cvm_ok``, ``_cvm_blank``, ``reason``, ``reason_code``, ``reason_values`` and the source's
    own columns as text (``raw_columns``), for the quarantine.
    """

    frame: Any
    found: dict[str, str]
    raw_columns: list[str]
    formats: dict[str, Any]
    #: of a frame read by Spark's CSV reader (:data:`CORRUPT_RECORD`): the rows that show the file is not
    #: regular (``irregular``) and those holding a replacement character U+FFFD (``replaced``); see :func:`read_signals`
    signals: dict[str, int] = field(default_factory=dict)

    def quarantined(self) -> Any:
        """The rows set aside: the source's columns as text, with ``reason, reason_code, reason_values``."""
        from pyspark.sql import functions as F

        return self.frame.where(~F.col("_cvm_ok") & ~F.col("_cvm_blank")).select(
            *[F.col(f"`_cvm_raw{i}`").alias(c) for i, c in enumerate(self.raw_columns)],
            "reason", "reason_code", "reason_values")

    def typed(self, columns: tuple[str, ...] | None = None) -> Any:
        """Every row's typed target columns (or only ``columns`` of them) with ``_cvm_ok, _cvm_blank, reason_code``.

        The narrow frame a run keeps (persists) between its passes over the rows: the counts, the
        last day and the accepted transactions come from it (:meth:`tally`, :meth:`accepted` with
        ``rows=``); the source's own columns as text, the sentence and the cited values are
        computed only for :meth:`quarantined`.
        """
        names = list(columns) if columns else [f.name for f in schema_for("transactions")]
        return self.frame.select(*names, "_cvm_ok", "_cvm_blank", "reason_code")

    def accepted(self, rows: Any = None) -> Any:
        """The rows that pass every check: the target columns, typed (of ``rows``, a :meth:`typed` frame, if given)."""
        from pyspark.sql import functions as F

        frame = self.frame if rows is None else rows
        names = [f.name for f in schema_for("transactions") if f.name in frame.columns]
        return frame.where(F.col("_cvm_ok")).select(*names)

    def tally(self, rows: Any = None) -> tuple[dict[str, Any], Any]:
        """``(counts, last)``: :meth:`counts` and the latest ``ts`` of the accepted rows, in one pass.

        ``rows``: a :meth:`typed` frame of these rows (default the full frame).
        """
        from pyspark.sql import functions as F

        frame = self.frame if rows is None else rows
        found = (frame.where(~F.col("_cvm_blank")).groupBy("reason_code")
                 .agg(F.count(F.lit(1)).alias("n"), F.max(F.when(F.col("_cvm_ok"), F.col("ts"))).alias("last"))
                 .collect())
        by_code = {r["reason_code"]: int(r["n"]) for r in found}
        last = next((r["last"] for r in found if r["reason_code"] is None), None)
        accepted = by_code.pop(None, 0)
        quarantined = sum(by_code.values())
        return ({"rows_read": accepted + quarantined, "accepted": accepted, "quarantined": quarantined,
                 "duplicates": 0, "reasons": by_code}, last)

    def counts(self) -> dict[str, int]:
        """``rows_read, accepted, quarantined, duplicates`` and per reason code, in one pass over the rows."""
        return self.tally()[0]


def _spark_type(data_type: Any) -> str:
    name = data_type.typeName()
    return {"timestamp": "timestamp", "timestamp_ntz": "timestamp_ntz", "date": "date", "string": "string"}.get(
        name, "fractional" if name.startswith(_FRACTIONAL) else "integral" if name in _INTEGRAL else name)


def read_signals(columns: list[str]) -> dict[str, Any]:
    """Per row of a frame read by Spark's CSV reader: does it show that the file is not regular?

    ``irregular``: the record's field count differs from the header's (:data:`CORRUPT_RECORD`), or a
    cell holds U+FFFD (Spark decodes bytes that are not in the file's encoding as that replacement
    character: a line of another encoding), a line feed or a carriage return (a quoted field holding
    a line break, a quote never closed that swallowed the lines after it, a lone carriage return).
    Every such file the DuckDB ingest reads line by line, or sets the line aside; a regular file
    shows none of them. ``replaced``: a cell or the record holds U+FFFD.
    """
    from pyspark.sql import functions as F

    corrupt = F.col(CORRUPT_RECORD)
    cells = [F.col(f"`{c}`") for c in columns]
    replaced = corrupt.contains("\ufffd")
    broken = corrupt.isNotNull()
    for c in cells:
        replaced = replaced | c.contains("\ufffd")
        broken = broken | c.contains("\n") | c.contains("\r")
    return {"irregular": broken | replaced, "replaced": replaced}


def _evidence(df: Any, fields: list[Any], found: Mapping[str, str], types: Mapping[str, str], *,
              locale: str | None, delimiter: str | None, signals: Mapping[str, Any] | None = None
              ) -> tuple[dict[str, rules.NumberMarks], dict[str, rules.DateReading], dict[str, int]]:
    """:func:`cvm.data.values.read_columns` on a Spark frame: the same counts, the same decisions.

    The date format family comes from the shapes of every value (DuckDB takes a stratified sample
    of 20,000, which is every value of a smaller file); the day-month order from every value.
    ``signals`` (name -> a row's flag) are counted in the same pass (the third value returned).
    """
    from pyspark.sql import functions as F

    signals = dict(signals or {})
    text_fields = [f for f in fields if f.name in found and types[found[f.name]] == "string"]
    number_fields = [f.name for f in text_fields if f.type == "number"]
    date_fields = [f.name for f in text_fields if f.type == "timestamp"]
    if not number_fields and not date_fields and not signals:
        return {}, {}, {}
    cells = df.select(*[F.nullif(F.trim(F.col(f"`{found[name]}`")), _lit("")).alias(f"_c_{name}")
                        for name in dict.fromkeys(number_fields + date_fields)],
                      *[flag.alias(f"_x_{name}") for name, flag in signals.items()])
    # one column per step (text, kind; shape), so each step is computed once per value
    steps = cells.select("*", *[amount_text(F.col(f"_c_{n}")).alias(f"_t_{n}") for n in number_fields])
    steps = steps.select("*", *[amount_kind(F.col(f"_t_{n}")).alias(f"_k_{n}") for n in number_fields],
                         *[_date_shape(F.col(f"_c_{n}")).alias(f"_s_{n}") for n in date_fields])
    aggregates, keys = [], []
    for name in number_fields:
        for k in rules.KINDS:
            aggregates.append(F.count_if(F.col(f"_k_{name}") == _lit(k)))
            keys.append(("kind", name, k))
    shape_names = list(dict.fromkeys(fmt for _, fmt in rules.DATE_PATTERNS))
    for name in date_fields:
        for fmt in shape_names:
            aggregates.append(F.count_if(F.col(f"_s_{name}") == _lit(fmt)))
            keys.append(("shape", name, fmt))
        aggregates.append(F.count_if((F.col(f"_s_{name}") == _lit("%Y-%m-%d")) & _offset_text(F.col(f"_c_{name}"))))
        keys.append(("offsets", name, ""))
    for name in signals:
        aggregates.append(F.count_if(F.col(f"_x_{name}")))
        keys.append(("signal", name, ""))
    counts = dict(zip(keys, steps.agg(*aggregates).collect()[0]))
    seen = {name: int(counts[("signal", name, "")]) for name in signals}
    per_column = {name: {k: int(counts[("kind", name, k)]) for k in rules.KINDS} for name in number_fields}
    whole_file: dict[str, int] = {k: 0 for k in rules.KINDS}
    for found_kinds in per_column.values():
        for k, n in found_kinds.items():
            whole_file[k] += n
    numbers = {}
    for name, found_kinds in per_column.items():
        proven = found_kinds["c"] or found_kinds["d"]
        numbers[name] = rules.decide_number_marks(found_kinds if proven else whole_file, locale=locale,
                                                  delimiter=delimiter)
    first = {}
    for name in date_fields:
        shapes = {fmt: int(counts[("shape", name, fmt)]) for fmt in shape_names if counts[("shape", name, fmt)]}
        first[name] = rules.decide_date_reading(rules.DateEvidence(shapes, int(counts[("offsets", name, "")])),
                                                locale=locale, delimiter=delimiter)
    ordered = [n for n in date_fields if first[n].separator and not first[n].given]
    dates = dict(first)
    if ordered:
        pairs = cells.select(*[c.alias(f"_{side}_{name}") for name in ordered
                               for side, c in zip("ab", _order_numbers(F.col(f"_c_{name}"), first[name].separator))])
        proofs = []
        for name in ordered:
            a, b = F.col(f"_a_{name}"), F.col(f"_b_{name}")
            proofs += [F.count_if(a.between(13, 31) & b.between(1, 12)), F.count_if(b.between(13, 31) & a.between(1, 12))]
        row = pairs.agg(*proofs).collect()[0]
        for j, name in enumerate(ordered):
            sample = first[name]
            family = sample.format.replace("%m", "%X").replace("%d", "%m").replace("%X", "%d") \
                if sample.order == "md" else sample.format
            dates[name] = rules.decide_date_reading(
                rules.DateEvidence({family: 1}, day_first=int(row[2 * j]), month_first=int(row[2 * j + 1])),
                locale=locale, delimiter=delimiter)
    return numbers, dates, seen


def check_rows(df: Any, kind: str = "transactions", mapping: Mapping[str, str] | None = None, *,
               locale: str | None = None, delimiter: str | None = None, time_zone: str | None = None,
               today: dt.date | None = None, instants_to_zone: bool = False) -> CheckedRows:
    """Type and check every row of a Spark frame by the workspace's ingest rules (see the module notes).

    Parameters
    ----------
    df
        The source as Spark read it: text files with every column as text, Parquet and tables typed.
    kind
        The kind of input (only ``transactions`` is run on Spark).
    mapping
        ``--map``: target column -> source column.
    locale, delimiter
        The user's ``--locale`` and the text file's delimiter, as the DuckDB ingest weighs them.
    time_zone, today
        The workspace's time zone (default the setting's default) and the ingest day in it.
    instants_to_zone
        Spark ``TIMESTAMP`` columns are instants (a Parquet file's UTC-adjusted times, which
        DuckDB reads as ``TIMESTAMPTZ``): moved to the workspace's clock. Otherwise (a frame or
        table made in the session) they are read as written on the session's clock (UTC).

    The expressions are laid out in steps, as the DuckDB ingest's nested projections: the
    cells, then the rewritten texts and ids, then the kinds, then the values, then one flag per
    check, then the pass flag and the first reason; each step is a column computed once per row.

    Raises
    ------
    SchemaError
        A required column is missing or ``--map`` names a column the source lacks (the same
        coded errors as the DuckDB ingest), or the locale is unknown.
    """
    from pyspark.sql import functions as F

    from cvm.settings import Settings

    locale = None if locale is None else str(locale).strip().lower()
    rules.check_locale(locale)
    zone = time_zone or Settings().time_zone
    today = today or dt.datetime.now(ZoneInfo(zone)).date()
    fields = list(schema_for(kind))
    corrupt = CORRUPT_RECORD in df.columns  # read by Spark's CSV reader (cvm.data.spark.summary)
    verdict = READ_CODE in df.columns  # staged by the DuckDB ingest's reader (cvm.data.spark.staged)
    columns = [c for c in df.columns if c not in _NOT_SOURCE_COLUMNS]
    found = recognise_columns(columns, kind, mapping)
    types = {f.name: _spark_type(f.dataType) for f in df.schema.fields}
    numbers, dates, signals = _evidence(df, fields, found, types, locale=locale, delimiter=delimiter,
                                        signals=read_signals(columns) if corrupt else None)
    formats: dict[str, Any] = {"mapping": dict(found)}
    if locale:
        formats["locale"] = locale
    index = {c: i for i, c in enumerate(columns)}

    def raw(c: str) -> Any:
        return F.col(f"_cvm_c{index[c]}")

    def cell(c: str) -> Any:  # the text of a cell, trimmed, NULL when empty (typed cells as they are)
        return F.col(f"_cvm_t{index[c]}") if types[c] == "string" else raw(c)

    # step 1: the raw cells, their text as given (for the quarantine), trimmed texts
    step = df.select(*[F.col(f"`{c}`").cast("string").alias(f"_cvm_raw{i}") for i, c in enumerate(columns)],
                     *[F.col(f"`{c}`").alias(f"_cvm_c{i}") for i, c in enumerate(columns)],
                     (F.col(CORRUPT_RECORD) if corrupt else _lit(None).cast("string")).alias("_cvm_corrupt"),
                     *[F.col(c) for c in (READ_CODE, READ_REASON, READ_VALUES) if verdict])
    trimmed = [F.nullif(F.trim(raw(c)), _lit("")).alias(f"_cvm_t{index[c]}") for c in columns if types[c] == "string"]
    blank = None  # every cell empty (a line of delimiters): not a row at all, as in the DuckDB readers
    for i, c in enumerate(columns):
        if types[c] in _NEVER_BLANK_TEXT:  # a number or a time is empty only when missing (no text cast per row)
            empty = raw(c).isNull()
        else:
            empty = F.nullif(F.trim(F.col(f"_cvm_raw{i}")), _lit("")).isNull()
        blank = empty if blank is None else blank & empty
    blank = blank & F.col("_cvm_corrupt").isNull()
    if verdict:  # the reader left its blank lines out (Source.blank_sql): every row it staged is a row
        blank = _lit(False)
    step = step.select("*", *trimmed, blank.alias("_cvm_blank"))
    # the id guards (cvm.data.values.id_guard_sql), one scan per id cell, shared by the id's value and checks
    id_text = [f.name for f in fields if f.type == "id" and f.name in found and types[found[f.name]] == "string"]
    if id_text:
        step = step.select("*", *[id_guard(cell(found[n])).alias(f"_cvm_g_{n}") for n in id_text])
    # step 2: amount texts; step 3: their kinds (cvm.data.values)
    number_text = [f.name for f in fields if f.type == "number" and f.name in found and types[found[f.name]] == "string"]
    if number_text:
        step = step.select("*", *[amount_text(cell(found[n])).alias(f"_cvm_n_{n}") for n in number_text])
        step = step.select("*", *[amount_kind(F.col(f"_cvm_n_{n}")).alias(f"_cvm_k_{n}") for n in number_text])
    # step 4: the typed values
    values: dict[str, Any] = {}
    checks: list[tuple[Any, SparkReason]] = []
    text_cells: list[Any] = []
    for f in fields:
        if f.name not in found:
            values[f.name] = _lit(None).cast({"id": "string", "text": "string", "timestamp": "timestamp",
                                              "number": "double"}[f.type])
            continue
        col = found[f.name]
        ctype = types[col]
        value_ref = F.col(f"_cvm_v_{f.name}")
        shown = cell(col).cast("string")
        if f.type in ("id", "text"):
            if ctype == "fractional":
                value = F.when(raw(col) == F.floor(raw(col)), F.floor(raw(col)).cast("decimal(38,0)").cast("string")) \
                    .otherwise(raw(col).cast("string"))
            elif ctype == "string":
                guard = F.col(f"_cvm_g_{f.name}") if f.type == "id" else None
                value = id_value(cell(col), guard) if f.type == "id" else cell(col)
                if f.type == "id":
                    checks.extend(id_checks(value_ref, f.name, col, guard))
            else:
                value = F.nullif(F.trim(raw(col).cast("string")), _lit(""))
            values[f.name] = value
            text_cells.append(value_ref)
            if f.required:
                checks.append((value_ref.isNull(), SparkReason("missing", {"field": _lit(f.name), "column": _lit(col)})))
        elif f.type == "number":
            if ctype == "string":
                marks = numbers[f.name]
                if "decimal" not in formats:
                    formats["decimal"], formats["thousands"] = marks.decimal, marks.thousands
                    formats["decimal_evidence"] = marks.evidence
                kind_ref = F.col(f"_cvm_k_{f.name}")
                value = amount_value(F.col(f"_cvm_n_{f.name}"), kind_ref, marks)
                checks.extend(amount_checks(kind_ref, marks, f.name, col, shown))
            else:
                value = raw(col).try_cast("double")
            values[f.name] = value
            not_finite = value_ref.isNull() | F.isnan(value_ref) | (F.abs(value_ref) == _lit(float("inf")))
            checks.append((cell(col).isNotNull() & not_finite,
                           SparkReason("non_numeric", {"field": _lit(f.name), "column": _lit(col), "value": shown})))
            if f.required:
                checks.append((cell(col).isNull(), SparkReason("missing", {"field": _lit(f.name), "column": _lit(col)})))
        else:
            if ctype == "string":
                reading = dates[f.name]
                formats.setdefault("date_format", reading.format)
                formats.setdefault("date_formats", {})[col] = reading.format
                if reading.order:
                    formats.setdefault("date_order", {})[col] = f"{reading.order} ({reading.evidence})"
                value = date_value(cell(col), reading, zone, today.year)
                checks.extend(date_checks(cell(col), value_ref, reading, col))
            elif ctype == "timestamp" and instants_to_zone:  # an instant: on the workspace's clock
                value = F.from_utc_timestamp(raw(col), zone)
            elif ctype in ("timestamp", "timestamp_ntz", "date"):
                value = raw(col).cast("timestamp")
            elif ctype == "integral":
                value = F.when(raw(col).between(19000101, 21001231),
                               F.try_to_timestamp(raw(col).cast("string"), _lit("yyyyMMdd"))) \
                    .otherwise(timestamp_value(raw(col).cast("string"), "excel"))
            elif ctype == "fractional":
                value = timestamp_value(raw(col).cast("string"), "excel")
            else:
                value = raw(col).cast("string").try_cast("timestamp")
            values[f.name] = value
            checks.append((cell(col).isNotNull() & value_ref.isNull(),
                           SparkReason("unparseable_date", {"column": _lit(col), "value": shown})))
            checks.extend(plausibility_checks(value_ref, shown, col, today,
                                              future_allowed=f.name in rules.FUTURE_ALLOWED))
            if f.required:
                checks.append((cell(col).isNull(), SparkReason("missing", {"field": _lit(f.name), "column": _lit(col)})))
    first = columns[0]
    if types[first] == "string":
        text_cells.insert(0, cell(first))
    if text_cells:
        total = None
        for c in text_cells:
            test = F.coalesce(is_totals_text(c), _lit(False))
            total = test if total is None else total | test
        checks.insert(0, (total, SparkReason("totals_row")))
    if corrupt:  # the readers' shape check: a record whose field count differs from the header's
        record = F.col("_cvm_corrupt")
        found_fields = F.size(F.split(record, re.escape(delimiter or ",")))
        checks.insert(0, (record.isNotNull(), SparkReason("field_count", {"expected": _lit(str(len(columns))),
                                                                         "found": found_fields})))
    if verdict:  # the reader's shape checks, first as in the DuckDB ingest (Source.shape_checks)
        checks.insert(0, (F.col(READ_CODE).isNotNull(), ReaderVerdict()))
    step = step.select("*", *[v.alias(f"_cvm_v_{k}") for k, v in values.items()])
    # step 5: one flag per check, in the DuckDB ingest's order; step 6: the pass flag and the first reason
    step = step.select("*", *[F.coalesce(cond, _lit(False)).alias(f"_cvm_x{j}") for j, (cond, _) in enumerate(checks)])
    failed = _lit(False)
    code = sentence = cited = _lit(None).cast("string")
    for j, (_, why) in reversed(list(enumerate(checks))):
        flag = F.col(f"_cvm_x{j}")
        failed = flag | failed
        code = F.when(flag, why.code_column).otherwise(code)
        sentence = F.when(flag, why.sentence).otherwise(sentence)
        cited = F.when(flag, why.values_json).otherwise(cited)
    out = step.select(
        *[F.col(f"_cvm_raw{i}") for i in range(len(columns))],
        *[F.col(f"_cvm_v_{k}").alias(k) for k in values],
        F.col("_cvm_blank"),
        (~failed & ~F.col("_cvm_blank")).alias("_cvm_ok"),
        F.when(~F.col("_cvm_blank"), sentence).alias("reason"),
        F.when(~F.col("_cvm_blank"), code).alias("reason_code"),
        F.when(~F.col("_cvm_blank"), cited).alias("reason_values"),
    )
    return CheckedRows(out, dict(found), columns, formats, signals)


def refuse_no_rows(name: str) -> SchemaError:
    """The DuckDB ingest's refusal of a source with a header and no rows."""
    return SchemaError.coded("header_only", name=name)
