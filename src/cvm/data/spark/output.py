"""Where a Spark run's results go: Parquet or CSV folders, URIs and catalog tables, replaced safely.

``--out`` decides the format (:func:`output_format`): a ``.csv`` path is CSV (texts safe to
open in a spreadsheet, :func:`cvm.data.export.csv_safe_sql`), a qualified name
(``catalog.schema.table``) a table, any other path or URI a Parquet folder; file kinds Spark
cannot write (Excel, JSON, ...) are refused by name before any work. A local output is
replaced only after the new one was written (:func:`replace_output`).
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from cvm.data.export import csv_safe_sql
from cvm.errors import SchemaError


def write_scores(scores_df: Any, out: str, out_format: str | None = None, mode: str = "overwrite") -> str:
    """Write scores as Parquet (default), CSV (a folder of part files with a header) or a Spark table.

    ``out_format``: ``parquet``, ``csv`` or ``table`` (``out`` is then the table
    name); guessed from ``out`` when ``None`` (``.csv`` -> CSV, else Parquet). In CSV,
    texts that begin with ``= + - @``, a tab or a CR get a ``'`` in front (safe to open).
    """
    fmt = output_format(out, out_format)
    if fmt == "csv":  # texts a spreadsheet would read as a formula get a quote in front
        from pyspark.sql import functions as F

        scores_df = scores_df.select(*[
            F.expr(csv_safe_sql(f"`{f.name}`")).alias(f.name) if f.dataType.typeName() == "string" else F.col(f"`{f.name}`")
            for f in scores_df.schema.fields])

    def write(target: str) -> None:
        writer = scores_df.write.mode(mode)
        if fmt == "table":
            writer.saveAsTable(target)
        elif fmt == "csv":
            writer.option("header", True).option("escape", '"').csv(target)  # a quote in a text doubled (RFC 4180)
        else:
            writer.parquet(target)

    if mode == "overwrite":
        replace_output(write, str(out), fmt)
    else:
        write(str(out))
    return str(out)


def quarantine_target(out: str, out_format: str | None) -> tuple[str, str]:
    """Where a run's unusable rows go, next to the scores: ``(target, format)``.

    A table ``scores`` gets ``scores_quarantine``; a path ``…/scores.parquet`` (or
    ``.csv``) gets ``…/scores.quarantine.parquet`` (``.csv``) in the same format.
    """
    fmt = output_format(out, out_format)
    if fmt == "table":
        return f"{out}_quarantine", fmt
    text = str(out).rstrip("/")
    stem, dot, ext = text.rpartition(".")
    if dot and "/" not in ext and ext.lower() in ("parquet", "pq", "csv"):
        return f"{stem}.quarantine.{ext}", fmt
    return f"{text}.quarantine", fmt


#: file kinds the Spark engine cannot write: refused by name instead of written as a Parquet folder
_NOT_WRITABLE = ("xlsx", "xlsm", "xls", "json", "jsonl", "ndjson", "txt", "tsv", "orc", "avro", "feather",
                 "arrow", "html", "pdf", "duckdb", "sqlite", "db", "zip", "gz")


def output_format(out: str, out_format: str | None) -> str:
    """``parquet``, ``csv`` or ``table`` for ``--out``; a file kind Spark cannot write is refused.

    A name without ``/`` or ``:`` whose dotted parts are not a file extension
    (``main.sales.scores``) is a table; ``scores.csv`` (``.csv``) is CSV; any
    other path or URI (``s3a://bucket/scores``, ``scores.parquet``) a Parquet folder.
    """
    text = str(out).rstrip("/")
    ext = text.rsplit("/", 1)[-1].rpartition(".")[2].lower() if "." in text.rsplit("/", 1)[-1] else ""
    if out_format is None:
        if ext in _NOT_WRITABLE:
            raise SchemaError(
                f"the Spark engine cannot write .{ext} files ({out})",
                hint="give --out a .parquet or .csv path (a folder of part files), a URI, or a table name "
                     "such as catalog.schema.scores; or use --engine duckdb for Excel")
        if ext == "csv":
            return "csv"
        if ext in ("parquet", "pq", "") or "/" in text or ":" in text:
            return "parquet"
        return "table" if _is_table_name(text) else "parquet"
    if out_format not in ("parquet", "csv", "table"):
        raise SchemaError(f"unknown output format '{out_format}'", hint="use parquet, csv or table")
    return out_format


def _is_table_name(text: str) -> bool:
    """``schema.table`` or ``catalog.schema.table`` (backticks allowed): no path, no file extension."""
    if "/" in text or ":" in text or "\\" in text:
        return False
    parts = text.split(".")
    ident = re.compile(r"^(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)$")
    return 1 < len(parts) <= 3 and all(ident.match(p) for p in parts) and parts[-1].lower() not in _NOT_WRITABLE + (
        "csv", "parquet", "pq")


def _local_path(out: str) -> Any:
    """The local :class:`~pathlib.Path` of ``out``, or None for a URI (``s3a://``, ``abfss://``, ``dbfs:/``)."""
    text = str(out)
    if text.startswith("file:"):
        text = text[5:].lstrip("/")
        return Path("/" + text)
    return None if ":" in text.split("/", 1)[0] else Path(text)


def replace_output(write: Any, out: str, fmt: str) -> None:
    """Run ``write(target)`` so that an existing local ``out`` is replaced only after the write succeeded.

    On a local file system the new output is written next to ``out`` (a hidden
    ``.name.cvm-new-…`` folder), the old one moved aside, the new one renamed into
    place and the old one removed: a failed run leaves the previous output intact
    and the same command runs twice. A table or a URI is written with Spark's own
    ``overwrite`` (object stores have no rename of folders).
    """
    local = None if fmt == "table" else _local_path(out)
    if local is None:
        write(out)
        return
    local = local.absolute()
    token = uuid.uuid4().hex[:8]
    fresh = local.with_name(f".{local.name}.cvm-new-{token}")
    old = local.with_name(f".{local.name}.cvm-old-{token}")
    try:
        write(str(fresh))
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    if local.exists():
        local.rename(old)
    fresh.rename(local)  # an old file of the same name (a DuckDB run's scores.parquet) is replaced too
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    elif old.exists():
        old.unlink()


def read_scores(spark: Any, out: str, schema: Any, out_format: str | None = None) -> Any:
    """The scores :func:`write_scores` wrote, read back lazily (columnar for Parquet and tables)."""
    fmt = output_format(out, out_format)
    if fmt == "table":
        return spark.table(out)
    if fmt == "csv":
        return spark.read.schema(schema).option("header", True).option("escape", '"').csv(str(out))
    return spark.read.parquet(str(out))


def is_table_source(source: Any) -> bool:
    """A text naming a catalog table (``schema.table``, ``catalog.schema.table``) rather than a file."""
    return isinstance(source, str) and _is_table_name(source) and not Path(source).exists()


