"""What a command prints or writes: one JSON object for scripts, Rich tables for people, --out files.

``out`` (stdout) and ``err`` (stderr) are the consoles every command prints to.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from cvm.jsonsafe import json_safe


out = Console()
err = Console(stderr=True)

#: the options of a command that prints a customer table
ColumnsOpt = Annotated[
    Optional[str],
    typer.Option("--columns", help="Columns to show, comma-separated, e.g. customer_id,clv,probability_alive."),
]
WideOpt = Annotated[
    bool, typer.Option("--wide", help="Show every column, even when the table is wider than the terminal."),
]


def emit_json(payload: Any) -> None:
    """Print ``payload`` as one line of JSON on stdout."""
    out.file.write(json.dumps(json_safe(payload), ensure_ascii=False) + "\n")
    out.file.flush()


def table_words(ws=None, language: str | None = None):
    """The words and number formats of a table: the workspace's language and currency (web app's catalog).

    The headers (``col.<name>``), codes such as tiers and actions (``term.<code>``) and
    Babel's number patterns are those of the dashboard (:class:`cvm.web.i18n.Formatter`),
    so the command line reads like the pages.
    """
    from cvm.web.i18n import Formatter

    if ws is None:
        return Formatter(language or "en", "EUR")
    return Formatter(language or ws.settings.language, ws.settings.currency)


#: cells that are numbers (right-aligned, never wrapped or cut)
_NUMERIC_KINDS = ("money", "percent", "count", "number", "days")


def _kind(name: str, series) -> str:
    """How a column is shown: the dashboard's kind of a known column, else one read from its values."""
    import pandas as pd

    from cvm.web.present import COLUMN_KINDS

    if name in COLUMN_KINDS:
        kind = COLUMN_KINDS[name]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if kind in _NUMERIC_KINDS and not numeric:
            return "text"  # e.g. a value already formatted as text
        return kind
    if pd.api.types.is_bool_dtype(series):
        return "text"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    if pd.api.types.is_integer_dtype(series):
        return "count"
    if pd.api.types.is_float_dtype(series):
        known = series.dropna()
        known = known[known.abs() != float("inf")]
        if len(known) and (known == known.round()).all() and known.abs().max() < 1e15:
            return "count"  # a count stored as a float (41.0) prints as 41
        return "number"
    return "text"


def _digits(kind: str, series) -> int:
    """One precision per column: 2 decimals for money; for plain numbers 2, or 3 when every value is below 1."""
    if kind == "number":
        known = series.dropna().abs()
        known = known[known != float("inf")]
        return 3 if len(known) and known.max() < 1 else 2
    if kind == "days":
        known = series.dropna()
        return 0 if (known == known.round()).all() else 1
    return {"money": 2, "percent": 1}.get(kind, 0)


def _cell(value: Any, kind: str, digits: int, words) -> str:
    """One cell in the table's locale; a missing or infinite value as a dash."""
    import pandas as pd

    try:
        if value is None or value is pd.NaT or (isinstance(value, float) and not math.isfinite(value)):
            return "–"
        if kind in _NUMERIC_KINDS and pd.isna(value):
            return "–"
        if kind == "money":
            return words.money(value, digits=digits)
        if kind == "percent":
            return words.percent(value, digits)
        if kind == "days":  # "190 dagen", as the pages show it
            return words.ntext("common.days", value, n=words.number(value, digits))
        if kind in ("count", "number"):
            return words.number(value, digits)
        if kind == "date":
            return words.date(value)
        if kind == "datetime":
            return words.datetime(value)
        if kind == "term":
            return words.term(value)
    except (TypeError, ValueError):
        pass
    return format_value(value)


def _header(name: str, words) -> str:
    """A column's heading: the dashboard's label, a code in words (a tier as a column), else the name in words."""
    key = str(name)
    label = words.label(key)
    if label != key:
        return label
    term = words.term(key)
    if term != key:
        return term
    return words.attribute_label(key)


#: a text column narrower than this (or its content) would wrap a sentence word by word
_READABLE_TEXT = 18


def _widths(cells: list[str], header: str, numeric: bool) -> tuple[int, int]:
    """(least, natural) width of a column's content: a number is never cut, text and headers wrap between words."""
    from rich.cells import cell_len

    head_words = max((cell_len(w) for w in header.split()), default=1)
    longest = max((cell_len(c) for c in cells), default=1)
    natural = max(longest, cell_len(header))
    if numeric:
        return max(longest, head_words), natural
    least = max([head_words, min(longest, _READABLE_TEXT)] + [cell_len(w) for c in cells for w in c.split()])
    return least, natural


def frame_table(frame, title: str | None = None, max_rows: int = 30, *, words=None,
                priority: list[str] | None = None, columns: list[str] | None = None, wide: bool = False,
                width: int | None = None, choosable: bool = False) -> Table:
    """A Rich table of the first rows of a frame that fits ``width`` (the terminal) without cutting a number.

    Headers are the dashboard's labels in the workspace's language (``words``, :func:`table_words`);
    money carries the currency, shares print as percentages, counts as integers, one precision
    per column. When the columns do not fit, the least important go first — the last of
    ``priority`` (default: the frame's order, right to left) — and the caption names them and
    says how to see them (``--columns`` and ``--wide`` on a ``choosable`` command, else ``--json``).
    ``columns`` chooses the columns (all shown); ``wide`` keeps every one at its natural width.
    A table that cannot fit runs past ``width``: print it with ``crop=False`` (:func:`show_table`).
    """
    import pandas as pd

    words = words or table_words()
    shown = frame.head(max_rows)
    if not isinstance(shown.index, pd.RangeIndex):
        shown = shown.reset_index()
    if columns:
        shown = shown[[c for c in columns if c in shown.columns]]
    names = [str(c) for c in shown.columns]
    spec = {}
    for name, col in zip(names, shown.columns):
        series = shown[col]
        kind = _kind(name, series)
        digits = _digits(kind, pd.to_numeric(series, errors="coerce")) if kind in _NUMERIC_KINDS else 0
        cells = [_cell(v, kind, digits, words) for v in series.tolist()]
        header = _header(name, words)
        numeric = kind in _NUMERIC_KINDS
        spec[name] = (header, cells, numeric, _widths(cells, header, numeric))

    keep = list(names)
    left_out: list[str] = []
    limit = width or out.width
    if not wide and not columns:
        order = [c for c in (priority or []) if c in names] + [c for c in names if c not in (priority or [])]
        while len(keep) > 1 and sum(spec[c][3][0] for c in keep) + 3 * len(keep) + 1 > limit:
            drop = next(c for c in reversed(order) if c in keep)
            keep.remove(drop)
            left_out.insert(0, drop)
    sizes = {c: spec[c][3][0] for c in keep}
    if wide:
        sizes = {c: spec[c][3][1] for c in keep}
    else:  # room left widens the columns that are narrower than their content, the smallest need first
        room = limit - (sum(sizes.values()) + 3 * len(keep) + 1)
        for c in sorted(keep, key=lambda c: spec[c][3][1] - spec[c][3][0]):
            grow = min(max(room, 0), spec[c][3][1] - sizes[c])
            sizes[c] += grow
            room -= grow

    table = Table(title=title, show_lines=False, header_style="bold")
    for c in keep:
        header, _, numeric, _ = spec[c]
        # every column is at least as wide as its widest number and longest word, so nothing is cut
        table.add_column(header, justify="right" if numeric else "left", width=sizes[c], overflow="fold")
    for i in range(len(shown)):
        table.add_row(*[spec[c][1][i] for c in keep])
    if wide or sum(sizes.values()) + 3 * len(keep) + 1 > limit:
        # asked for, or the chosen columns cannot fit: the table runs past the terminal rather than cut a number
        table.width = sum(sizes.values()) + 3 * len(keep) + 1
    notes = []
    total = int(frame.attrs.get("total_rows", len(frame)))  # a frame cut to the rows shown says how many there were
    if total > min(max_rows, len(shown)):
        notes.append(words.ntext("cli.rows_shown", total, shown=words.number(len(shown)), total=words.number(total)))
    # the columns left out in words, each with the name --columns takes
    named = ", ".join(f"{spec[c][0]} ({c})" for c in left_out)
    if left_out and choosable:
        notes.append(words("cli.left_out_choosable", width=limit, columns=named,
                           example=",".join(keep[:1] + left_out[:2])))
    elif left_out:
        notes.append(words("cli.left_out", width=limit, columns=named))
    if notes:
        table.caption = "\n".join(notes)
    return table


def figure(name: str, value: Any, words=None) -> tuple[str, str]:
    """One named figure outside a table, as a table would show it: (heading, value in the locale)."""
    import pandas as pd

    from cvm.web.present import COLUMN_KINDS

    words = words or table_words()
    if isinstance(value, str):  # a date or a code (a column name, a tier) in words
        kind = COLUMN_KINDS.get(str(name)) if COLUMN_KINDS.get(str(name)) in ("date", "datetime") else "term"
    elif isinstance(value, bool) or value is None:
        kind = "text"
    else:
        kind = _kind(str(name), pd.Series([value]))
    digits = _digits(kind, pd.to_numeric(pd.Series([value]), errors="coerce")) if kind in _NUMERIC_KINDS else 0
    return _header(str(name), words), _cell(value, kind, digits, words)


def show_table(frame, title: str | None = None, max_rows: int = 30, **options: Any) -> None:
    """Print :func:`frame_table` on stdout; a table wider than the terminal runs past it instead of being cut."""
    out.print(frame_table(frame, title=title, max_rows=max_rows, **options), crop=False)


def parse_columns(text: str | None, available) -> list[str] | None:
    """``--columns a,b,c`` as a list of column names, or a clear error naming the columns there are."""
    from cvm.errors import SchemaError

    if text is None:
        return None
    chosen = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in available]
    if unknown or not chosen:
        plural = "s" if len(unknown) > 1 else ""
        raise SchemaError(f"unknown column{plural} for --columns: {', '.join(unknown) or '(none)'}",
                          hint=f"the columns are {', '.join(map(str, available))}")
    return chosen


def format_value(v: Any) -> str:
    """One table cell: a midnight timestamp as a date, numbers with 4 decimals below 10 else 2, NaN as a dash."""
    if isinstance(v, (datetime, date)):
        if isinstance(v, datetime) and (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        return f"{v:,.4f}" if abs(v) < 10 else f"{v:,.2f}"
    return str(v)


def check_out(path: Path | None, suffixes: tuple[str, ...] | None = None) -> None:
    """Refuse an unusable --out before any work is done (unknown extension, a folder, a file as folder)."""
    if path is None:
        return
    from cvm.data.export import FORMATS, check_destination

    check_destination(path, suffixes or tuple(FORMATS))


def write_frame(frame, path: Path) -> Path:
    """Write ``frame`` to ``--out`` in the format its extension names."""
    from cvm.data.export import export

    return export(frame, path)
