"""Write any result frame to CSV, Parquet or Excel, chosen by the file's extension."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cvm.errors import SchemaError

FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".xlsx": "Excel"}


def export(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path``: ``.csv`` (UTF-8, comma), ``.parquet`` or ``.xlsx``.

    Timezone-aware timestamps are written without their zone in Excel (which
    cannot store zones). The folder is created when missing.

    Raises
    ------
    SchemaError
        For any other extension.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SchemaError(f"cannot write '{path.name}'", hint="use a file name ending in .csv, .parquet or .xlsx")
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError("only tables can be exported")
    path.parent.mkdir(parents=True, exist_ok=True)
    out = frame.copy()
    out.attrs = {}
    if suffix == ".csv":
        out.to_csv(path, index=False)
    elif suffix == ".parquet":
        out.columns = [str(c) for c in out.columns]
        out.to_parquet(path, index=False)
    else:
        for col in out.columns:
            if isinstance(out[col].dtype, pd.DatetimeTZDtype):
                out[col] = out[col].dt.tz_localize(None)
        out.to_excel(path, index=False, engine="openpyxl")
    return path
