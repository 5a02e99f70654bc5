"""A local file read by the DuckDB ingest's own reader and handed to Spark: one set of reading rules.

Spark's CSV reader reads a regular file as the DuckDB ingest does (the same sniffing, every
column as text, RFC 4180 quotes), and stays distributed. A file that is not regular it reads
otherwise: a line in another encoding becomes text with replacement characters (U+FFFD), a quote
never closed swallows the lines after it, a lone carriage return (old-Mac line end) does not end
a record. The DuckDB ingest reads such a file line by line (:mod:`cvm.data.readers`, its
"line-exact path") and sets a line it cannot read aside with its reason.

So when Spark's read shows a file is not regular (:func:`cvm.data.spark.rules.read_signals`) and
the file is local, :func:`staged_frame` reads it again with :func:`cvm.data.readers.stage` on a
temporary in-memory DuckDB connection on its line-exact path (the reading ``Workspace.ingest``
falls back to, and which its fast path is proven to agree with), and hands Spark the staged rows as Arrow:

* each source column as the reader gives its cell (``Source.column_sql``: trimmed text, NULL
  when empty), blank lines left out (``Source.blank_sql``: they are no rows in either engine);
* the reader's verdict on the row (:data:`cvm.data.spark.rules.READ_CODE`, ``READ_REASON``,
  ``READ_VALUES``): the first of ``Source.shape_checks`` it fails (``invalid_utf8``,
  ``unclosed_quote``, ``field_count``), its code, English sentence and cited values made by
  :class:`cvm.data.reasons.Reason` in DuckDB SQL, as the ingest stores them in ``quarantine``.

The Spark rules (:func:`cvm.data.spark.rules.check_rows`) then run on those rows and put the
verdict first, before their own checks, as the DuckDB ingest's ``_parse_plan`` does. An Excel
workbook is read the same way (the readers' Excel staging: openpyxl over the sheet's real data).

The rows pass through the driver: the whole file is read there, as the DuckDB ingest reads it.
Only irregular local files and workbooks take this road; a regular file never does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cvm.data.spark.rules import READ_CODE, READ_REASON, READ_VALUES


def staged_rows(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """``(table, detected)``: the rows of the local file ``path`` as the DuckDB ingest's reader stages them.

    ``table`` is a :class:`pyarrow.Table` with one text column per source column and the
    reader's verdict (:data:`cvm.data.spark.rules.READ_CODE`, ``READ_REASON``, ``READ_VALUES``);
    ``detected`` is what the reader found (``Source.detected``: format, encoding, delimiter …).

    Raises
    ------
    SchemaError
        The reader refuses the file (empty, binary, a damaged workbook …): the same coded error
        as the DuckDB ingest.
    """
    import duckdb

    from cvm.data import readers
    from cvm.data.validate import quote_ident

    with duckdb.connect() as con:
        # straight to the line-exact path: the reading the DuckDB ingest falls back to, and the one its
        # fast path must agree with (the ingest takes the fast path only where it proves that)
        src = readers.stage(con, Path(path), fast=False)
        cells = [f"CAST({src.column_sql[c]} AS VARCHAR) AS {quote_ident(c)}" for c in src.columns]
        verdict = []
        for part, name in (("code_sql", READ_CODE), ("sentence", READ_REASON), ("values_sql", READ_VALUES)):
            cases = " ".join(f"WHEN {cond} THEN {why if part == 'sentence' else getattr(why, part)}"
                             for cond, why in src.shape_checks)
            verdict.append(f"CAST({f'CASE {cases} END' if cases else 'NULL'} AS VARCHAR) AS {name}")
        table = con.sql(f"SELECT {', '.join(cells + verdict)} FROM {readers.INPUT_TABLE} "
                        f"WHERE NOT coalesce({src.blank_sql}, false)").to_arrow_table()
        readers.drop_staging(con)
    detected = {**src.detected, "reader": "cvm.data.readers (on the driver)"}
    return table, detected


def staged_frame(spark: Any, path: str | Path) -> tuple[Any, dict[str, Any]]:
    """``(frame, detected)``: :func:`staged_rows` of ``path`` as a Spark DataFrame (every column a string)."""
    from pyspark.sql.types import StringType, StructField, StructType

    table, detected = staged_rows(path)
    schema = StructType([StructField(name, StringType()) for name in table.column_names])
    if table.num_rows == 0:
        return spark.createDataFrame([], schema), detected
    return spark.createDataFrame(table, schema=schema), detected
