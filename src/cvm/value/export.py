"""Write any result frame to CSV, Parquet or Excel, chosen by the file's extension."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from cvm.errors import CvmError, SchemaError

FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".xlsx": "Excel"}


def check_destination(path: str | Path, suffixes: tuple[str, ...] = tuple(FORMATS)) -> Path:
    """Check, before any work is done, that a result can be written to ``path``.

    The name must end in one of ``suffixes``; ``path`` must not be a folder, and no part
    of its folder may be an existing file. A missing folder is fine (it is created).

    Raises
    ------
    SchemaError
        With what is wrong and the file name to use instead.
    """
    path = Path(path)
    listed = ", ".join(suffixes[:-1]) + (" or " if len(suffixes) > 1 else "") + suffixes[-1]
    if path.is_dir():
        raise SchemaError(f"{path} is a folder, not a file name",
                          hint=f"give a file name ending in {listed}, e.g. {path / ('result' + suffixes[0])}")
    if path.suffix.lower() not in suffixes:
        raise SchemaError(f"cannot write '{path.name}': unknown file type '{path.suffix or '(none)'}'",
                          hint=f"use a file name ending in {listed}")
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                raise SchemaError(f"cannot write {path}: {folder} is a file, not a folder",
                                  hint="choose another place for the output")
            break
    return path


def export(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path``: ``.csv`` (UTF-8, comma), ``.parquet`` or ``.xlsx``.

    Timezone-aware timestamps are written without their zone in Excel (which
    cannot store zones). The folder is created when missing.

    Raises
    ------
    SchemaError
        For any other extension, or a folder given as the file.
    CvmError
        When the file cannot be written (no permission, disk full); no partial file is left.
    """
    path = check_destination(path)
    suffix = path.suffix.lower()
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError("only tables can be exported")
    out = frame.copy()
    out.attrs = {}
    # written beside the target and renamed when complete: a failed write leaves no half file
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            out.to_csv(partial, index=False)
        elif suffix == ".parquet":
            out.columns = [str(c) for c in out.columns]
            out.to_parquet(partial, index=False)
        else:
            for col in out.columns:
                if isinstance(out[col].dtype, pd.DatetimeTZDtype):
                    out[col] = out[col].dt.tz_localize(None)
            out.to_excel(partial, index=False, engine="openpyxl")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CvmError(f"cannot write {path}: {exc.strerror or exc}",
                       hint="check that the folder is writable and the file is not open in another program") from None
    return path
