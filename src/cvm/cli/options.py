"""Options every command shares, and reading their values (dates, column mappings).

Each option is a typed alias, ``Annotated[..., typer.Option(help=...)]``, so a command's
signature says what it takes. Names, defaults and help texts are part of the CLI contract.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from cvm.errors import SchemaError


WorkspaceOpt = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="CVM_WORKSPACE", help="Workspace folder (cvm.duckdb + settings.toml)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", help="Value customers as of this date (YYYY-MM-DD); default: last transaction.")]
TimeUnitOpt = Annotated[Optional[str], typer.Option("--time-unit", help="day, week, month or year (default: settings).")]
ModelOpt = Annotated[str, typer.Option("--model", help="auto (chosen by backtest), bgnbd, mbgnbd or pnbd.")]
HorizonOpt = Annotated[Optional[int], typer.Option("--horizon", help="Prediction horizon in time units (default: settings).")]
DiscountOpt = Annotated[Optional[float], typer.Option("--discount-rate", help="Yearly discount rate, e.g. 0.1 (default: settings).")]
MarginOpt = Annotated[Optional[float], typer.Option("--margin", help="Gross margin as a share of revenue, e.g. 0.3 (default: settings).")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", help="Write the result to this file (.csv, .parquet or .xlsx).")]
MapOpt = Annotated[
    Optional[list[str]],
    typer.Option("--map", help="Column mapping target=SourceColumn, e.g. --map customer_id=Klantnummer (repeatable)."),
]
KindOpt = Annotated[str, typer.Option("--kind", help="transactions, customers, referrals, costs or invoices.")]

DEFAULT_WORKSPACE = Path("cvm-workspace")


def parse_mapping(items: list[str] | None) -> dict[str, str] | None:
    """``--map target=SourceColumn`` options as a mapping target -> source column (None when none given)."""
    if not items:
        return None
    mapping = {}
    for item in items:
        if "=" not in item:
            raise SchemaError(f"--map takes target=SourceColumn, got '{item}'", hint="e.g. --map customer_id=Klantnummer")
        target, source = item.split("=", 1)
        if not target.strip() or not source.strip():
            raise SchemaError(f"--map takes target=SourceColumn, got '{item}'", hint="e.g. --map customer_id=Klantnummer")
        mapping[target.strip()] = source.strip()
    return mapping


def parse_date(text: str | None, option: str) -> str | None:
    """A date option as ISO text (a date, or a date and time when more than a date was given)."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).date().isoformat() if len(text) <= 10 else datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise SchemaError(f"{option} must be a date like 2024-12-31, got '{text}'") from None
