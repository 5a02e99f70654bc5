"""What a command prints or writes: one JSON object for scripts, Rich tables for people, --out files.

``out`` (stdout) and ``err`` (stderr) are the consoles every command prints to.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


out = Console()
err = Console(stderr=True)


def _jsonable(value: Any) -> Any:
    """Make numpy/pandas values JSON-safe (NaN -> null, timestamps -> ISO)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [_jsonable(r) for r in value.reset_index().to_dict(orient="records")] if not isinstance(value.index, pd.RangeIndex) else [_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return _jsonable(value.to_dict())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if value is pd.NaT:
        return None
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _jsonable(value.to_dict())
    return value


def emit_json(payload: Any) -> None:
    """Print ``payload`` as one line of JSON on stdout."""
    out.file.write(json.dumps(_jsonable(payload), ensure_ascii=False) + "\n")
    out.file.flush()


def frame_table(frame, title: str | None = None, max_rows: int = 30) -> Table:
    """A Rich table of the first rows of a frame, numbers right-aligned."""
    import pandas as pd

    table = Table(title=title, show_lines=False, header_style="bold")
    shown = frame.head(max_rows)
    if not isinstance(shown.index, pd.RangeIndex):
        shown = shown.reset_index()
    for col in shown.columns:
        numeric = pd.api.types.is_numeric_dtype(shown[col])
        table.add_column(str(col), justify="right" if numeric else "left")
    for row in shown.itertuples(index=False):
        table.add_row(*[format_value(v) for v in row])
    if len(frame) > max_rows:
        table.caption = f"{max_rows} of {len(frame):,} rows shown; use --json or --out for all"
    return table


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
    from cvm.value.export import FORMATS, check_destination

    check_destination(path, suffixes or tuple(FORMATS))


def write_frame(frame, path: Path) -> Path:
    """Write ``frame`` to ``--out`` in the format its extension names."""
    from cvm.value.export import export

    return export(frame, path)
