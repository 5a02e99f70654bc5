"""The ``cvm`` command line (Typer + Rich).

Each command parses its options and calls one library function; rendering is
either a Rich table for people or, with ``--json``, exactly one JSON object
for scripts. Exit codes: 0 ok, 1 a user error (one clear message, no
traceback), 2 a usage error.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table

from cvm.errors import CvmError, SchemaError

app = typer.Typer(
    name="cvm",
    help="Customer value management: CLV models, a DuckDB workspace, and the decisions that follow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Manage web-app users (admin).", no_args_is_help=True)
token_app = typer.Typer(help="Manage API bearer tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(token_app, name="token")

out = Console()
err = Console(stderr=True)

# ----------------------------------------------------------------------------- shared options
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


# ----------------------------------------------------------------------------- helpers
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
        table.add_row(*[_fmt(v) for v in row])
    if len(frame) > max_rows:
        table.caption = f"{max_rows} of {len(frame):,} rows shown; use --json or --out for all"
    return table


def _fmt(v: Any) -> str:
    if isinstance(v, (datetime, date)):
        if isinstance(v, datetime) and (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        return f"{v:,.4f}" if abs(v) < 10 else f"{v:,.2f}"
    return str(v)


def open_workspace(path: Path, create: bool = False):
    from cvm.data import Workspace
    from cvm.errors import WorkspaceError

    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path} is a file, not a workspace folder",
                             hint="give the folder that holds cvm.duckdb (--workspace DIR)")
    if not create and not (path / "cvm.duckdb").exists():
        raise WorkspaceError(
            f"no workspace at {path}",
            hint="ingest data first (cvm ingest FILE --workspace DIR) or run 'cvm demo'",
        )
    return Workspace.open(path)


@contextmanager
def writing_workspace(path: Path, keep: bool = True) -> Iterator[Any]:
    """Open (or create) the workspace for a command that writes to it.

    A workspace this command created is removed again when the command fails (or when
    ``keep`` is false, as for a dry run), so a mistake leaves no half-made workspace behind.
    """
    created = not path.exists()
    ws = open_workspace(path, create=True)
    try:
        yield ws
    except BaseException:
        if created:
            _remove_new_workspace(ws)
        raise
    if created and not keep:
        _remove_new_workspace(ws)


def _remove_new_workspace(ws: Any) -> None:
    try:
        ws.close()
    finally:
        shutil.rmtree(ws.path, ignore_errors=True)


def check_out(path: Path | None, suffixes: tuple[str, ...] | None = None) -> None:
    """Refuse an unusable --out before any work is done (unknown extension, a folder, a file as folder)."""
    if path is None:
        return
    from cvm.value.export import FORMATS, check_destination

    check_destination(path, suffixes or tuple(FORMATS))


def parse_mapping(items: list[str] | None) -> dict[str, str] | None:
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
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).date().isoformat() if len(text) <= 10 else datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise SchemaError(f"{option} must be a date like 2024-12-31, got '{text}'") from None


def write_frame(frame, path: Path) -> Path:
    from cvm.value.export import export

    return export(frame, path)


# ----------------------------------------------------------------------------- commands: data
@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="CSV, TXT, Excel (.xlsx) or Parquet file.")],
    kind: KindOpt = "transactions",
    map_: MapOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what was detected and a preview; write nothing.")] = False,
    delimiter: Annotated[Optional[str], typer.Option(help="Override the sniffed delimiter.")] = None,
    decimal: Annotated[Optional[str], typer.Option(help="Override the sniffed decimal mark ('.' or ',').")] = None,
    date_format: Annotated[Optional[str], typer.Option("--date-format", help="Override the sniffed date format, e.g. %d-%m-%Y.")] = None,
    encoding: Annotated[Optional[str], typer.Option(help="Override the sniffed encoding (utf-8, cp1252).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Read a file into the workspace; rejected rows go to quarantine with their reason."""
    if not path.exists():
        raise SchemaError(f"file not found: {path}")
    options = {k: v for k, v in {"delimiter": delimiter, "decimal": decimal, "date_format": date_format, "encoding": encoding}.items() if v is not None}
    mapping = parse_mapping(map_)
    with writing_workspace(workspace, keep=not dry_run) as ws:
        report = ws.ingest(path, kind=kind, mapping=mapping, dry_run=dry_run, **options)
    payload = report.to_dict()
    if as_json:
        emit_json(payload)
        return
    preview = payload.pop("preview", None)
    detected = payload.pop("detected", None) or {}
    shown = {k: detected[k] for k in ("format", "encoding", "delimiter", "decimal", "date_format") if detected.get(k)}
    if shown:
        out.print("[bold]Detected[/bold]: " + ", ".join(f"{k} {v!r}" for k, v in shown.items()), highlight=False)
    if detected.get("mapping"):
        out.print("[bold]Columns[/bold]: " + ", ".join(f"{src} → {dst}" for dst, src in detected["mapping"].items()), highlight=False)
    if dry_run:
        if preview:
            import pandas as pd

            out.print(frame_table(pd.DataFrame(preview), title="Preview", max_rows=10))
        out.print("[yellow]dry run: nothing written[/yellow]")
    out.print(
        f"{payload['rows_read']:,} rows read = {payload['accepted']:,} accepted + "
        f"{payload['quarantined']:,} quarantined + {payload['duplicates']:,} duplicates → table {payload['table']}",
        highlight=False,
    )
    for reason, count in (payload.get("reasons") or {}).items():
        out.print(f"  quarantined: {count:,} × {reason}", highlight=False)
    if payload["quarantined"]:
        out.print(f"see every rejected line: cvm quarantine --workspace {workspace}")


@app.command()
def quarantine(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """Show rejected rows with their source line and reason."""
    ws = open_workspace(workspace)
    frame = ws.frame("SELECT source, line, reason, raw FROM quarantine ORDER BY source, line") if ws.has_table("quarantine") else None
    if as_json:
        emit_json({"rows": [] if frame is None else frame})
    elif frame is None or frame.empty:
        out.print("nothing quarantined")
    else:
        out.print(frame_table(frame, title="Quarantine"))


# ----------------------------------------------------------------------------- commands: models
@app.command()
def fit(
    model: Annotated[str, typer.Option("--model", help="bgnbd, mbgnbd, pnbd, bgbb, sbg or gg.")] = "bgnbd",
    summary: Annotated[Optional[Path], typer.Option("--summary", help="Fit a lifetimes-style summary CSV (frequency,recency,T[,monetary_value]) without a workspace.")] = None,
    as_of: AsOfOpt = None,
    calibration_end: Annotated[Optional[str], typer.Option("--calibration-end", help="Fit on transactions up to this date.")] = None,
    time_unit: TimeUnitOpt = None,
    penalizer: Annotated[float, typer.Option(help="L2 penalty on the parameters (0 = plain maximum likelihood).")] = 0.0,
    level: Annotated[float, typer.Option(help="Confidence level of the parameter intervals.")] = 0.95,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Fit a model and print its parameters, standard errors and log-likelihood."""
    from cvm.fitting import fit_summary_file, fit_workspace

    if summary is not None:
        result = _fit_summary(summary, model, penalizer, time_unit, fit_summary_file)
    else:
        ws = open_workspace(workspace)
        result = fit_workspace(
            ws, model=model, as_of=parse_date(as_of, "--as-of"), calibration_end=parse_date(calibration_end, "--calibration-end"),
            time_unit=time_unit, penalizer=penalizer,
        )
    if as_json:
        emit_json(result.to_dict())
        return
    out.print(result.model_object.summary(level=level).to_text())


def _fit_summary(summary: Path, model: str, penalizer: float, time_unit: str | None, fit_summary_file) -> Any:
    """``fit --summary``: a file without the summary columns is the user's mistake, said as such."""
    import csv

    if summary.is_dir():
        raise SchemaError(f"{summary} is a folder, not a summary file", hint="pass a CSV with frequency,recency,T")
    needed = "frequency, recency, T (and monetary_value for gg; n_periods for bgbb)"
    try:
        return fit_summary_file(summary, model=model, penalizer=penalizer, time_unit=time_unit)
    except KeyError as exc:
        raise SchemaError(f"{summary.name} has no column {exc}", hint=f"a summary file has one row per customer with columns {needed}") from None
    except csv.Error as exc:
        raise SchemaError(f"cannot read {summary.name} as a summary CSV: {exc}",
                          hint=f"the file needs a header row and one row per customer with columns {needed}") from None


@app.command()
def formula(
    gc: Annotated[float, typer.Option("--gc", help="Yearly gross contribution per customer (GC).")],
    m: Annotated[float, typer.Option("--m", help="Yearly retention cost per customer (M), paid mid-year.")],
    n: Annotated[int, typer.Option("--n", help="Horizon in years (N).")],
    r: Annotated[float, typer.Option("--r", help="Retention rate (r), e.g. 0.8.")],
    d: Annotated[float, typer.Option("--d", help="Yearly discount rate (d), e.g. 0.1.")],
    target: Annotated[Optional[float], typer.Option("--target", help="Also: the retention rate needed for this CLV.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The classic CLV formula of the brief: CLV = GC·Σ rⁱ/(1+d)ⁱ − M·Σ rⁱ⁻¹/(1+d)^(i−½)."""
    from cvm.models.formula import break_even_retention_cost, classic_clv, required_retention

    clv = float(classic_clv(gc, m, n, r, d))
    payload: dict[str, Any] = {
        "clv": clv,
        "inputs": {"gc": gc, "m": m, "n": n, "r": r, "d": d},
        "break_even_m": float(break_even_retention_cost(gc, n, r, d)),
    }
    if target is not None:
        payload["required_retention"] = float(required_retention(target, gc, m, n, d))
    if as_json:
        emit_json(payload)
        return
    out.print(f"CLV = [bold]{clv:,.2f}[/bold] per customer (GC={gc:g}, M={m:g}, N={n}, r={r:g}, d={d:g})")
    out.print(f"largest retention cost M that keeps CLV ≥ 0: {payload['break_even_m']:,.2f}")
    if target is not None:
        out.print(f"retention rate needed for CLV {target:,.2f}: {payload['required_retention']:.4f}")


@app.command()
def backtest(
    calibration_end: Annotated[str, typer.Option("--calibration-end", help="End of the calibration period (YYYY-MM-DD).")],
    holdout_end: Annotated[Optional[str], typer.Option("--holdout-end", help="End of the holdout (default: last transaction).")] = None,
    time_unit: TimeUnitOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Fit every model on the calibration period and compare them on the holdout."""
    from cvm.evaluation import backtest as run_backtest

    ws = open_workspace(workspace)
    result = run_backtest(
        ws, calibration_end=parse_date(calibration_end, "--calibration-end"), holdout_end=parse_date(holdout_end, "--holdout-end"),
        time_unit=time_unit or ws.settings.time_unit,
    )
    payload = result.to_dict()
    if as_json:
        emit_json(payload)
        return
    import pandas as pd

    frame = pd.DataFrame(payload["models"]).T
    out.print(frame_table(frame, title="Backtest on the holdout"))
    out.print(f"best: [bold]{payload['best']}[/bold] — {payload.get('reason', '')}")


# ----------------------------------------------------------------------------- commands: valuation
@app.command()
def score(
    model: ModelOpt = "auto",
    as_of: AsOfOpt = None,
    horizon: HorizonOpt = None,
    time_unit: TimeUnitOpt = None,
    discount_rate: DiscountOpt = None,
    margin: MarginOpt = None,
    out_file: OutOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Value every customer: P(alive), expected purchases, CLV with interval, tier and stage."""
    from cvm.value import score_customers

    check_out(out_file)
    ws = open_workspace(workspace)
    scores = score_customers(
        ws, as_of=parse_date(as_of, "--as-of"), model=model, horizon=horizon, time_unit=time_unit,
        discount_rate=discount_rate, margin=margin,
    )
    if out_file is not None:
        write_frame(scores, out_file)
    payload = {
        "as_of": scores.attrs.get("as_of"),
        "model": scores.attrs.get("model"),
        "run_id": scores.attrs.get("run_id"),
        "n_customers": int(len(scores)),
        "total_clv": float(scores["clv"].sum()),
        "out": str(out_file) if out_file else None,
    }
    if as_json:
        emit_json(payload)
        return
    out.print(frame_table(scores.sort_values("clv", ascending=False), title="Customers by predicted CLV", max_rows=15))
    out.print(f"{payload['n_customers']:,} customers valued, total CLV {payload['total_clv']:,.2f} (model {payload['model']})")
    if out_file:
        out.print(f"written to {out_file}")


@app.command()
def run(
    path: Annotated[str, typer.Argument(help="Transaction file (CSV, Excel, Parquet) or, with --engine spark, a Parquet/CSV path, URI or table.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write one row per customer (.csv, .parquet, .xlsx).")],
    kind: KindOpt = "transactions",
    map_: MapOpt = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb (default) or spark.")] = "duckdb",
    model: ModelOpt = "bgnbd",
    as_of: AsOfOpt = None,
    horizon: HorizonOpt = None,
    time_unit: TimeUnitOpt = None,
    discount_rate: DiscountOpt = None,
    margin: MarginOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """One shot: ingest, summarise, fit, score; write one row per customer."""
    if engine not in ("duckdb", "spark"):
        raise SchemaError(f"unknown engine '{engine}'", hint="use --engine duckdb or --engine spark")
    if engine != "spark" and not Path(path).exists():
        raise SchemaError(f"file not found: {path}")
    check_out(out_file)
    if engine == "spark":
        from cvm.data.spark import run_spark_pipeline

        result = run_spark_pipeline(
            str(path), str(out_file), model=model if model != "auto" else "bgnbd", horizon=horizon or 52,
            time_unit=time_unit or "week", discount_rate=0.10 if discount_rate is None else discount_rate,
            margin=0.3 if margin is None else margin, as_of=parse_date(as_of, "--as-of"), mapping=parse_mapping(map_),
        )
        payload = result if isinstance(result, dict) else result.to_dict()
    elif engine == "duckdb":
        from cvm.value import score_customers

        mapping, as_of_date = parse_mapping(map_), parse_date(as_of, "--as-of")
        with writing_workspace(workspace) as ws:  # a failed read leaves no new workspace behind
            report = ws.ingest(Path(path), kind=kind, mapping=mapping)
        # from here on the workspace is kept: it holds the data and every rejected row with its reason
        if report.accepted == 0 and not ws.frame(f"SELECT count(*) AS n FROM {kind}")["n"].iloc[0]:
            reasons = "; ".join(f"{n:,} × {why}" for why, n in (report.reasons or {}).items())
            raise SchemaError(
                f"{Path(path).name} gave no usable {kind}: {report.rows_read:,} rows read, none accepted"
                + (f" ({reasons})" if reasons else ""),
                hint=f"see each rejected line with: cvm quarantine --workspace {workspace}")
        scores = score_customers(
            ws, as_of=as_of_date, model=model, horizon=horizon, time_unit=time_unit,
            discount_rate=discount_rate, margin=margin,
        )
        write_frame(scores, out_file)
        payload = {"ingest": report.to_dict(), "n_customers": int(len(scores)), "model": scores.attrs.get("model"), "out": str(out_file)}
        payload["ingest"].pop("preview", None)
    else:
        raise SchemaError(f"unknown engine '{engine}'", hint="use --engine duckdb or --engine spark")
    if as_json:
        emit_json(payload)
        return
    # soft_wrap: paths stay whole on one line, whatever the terminal width
    out.print(f"{payload.get('n_customers', 0):,} customers valued → {out_file}", soft_wrap=True)
    if engine == "spark":
        for note in payload.get("notes") or []:
            out.print(note, soft_wrap=True)
    elif payload["ingest"].get("quarantined"):
        out.print(f"{payload['ingest']['quarantined']:,} rows quarantined with their reason: "
                  f"cvm quarantine --workspace {workspace}", soft_wrap=True)


#: what a person sees of the scored list; --json and --out give every column
CUSTOMER_COLUMNS = [
    "customer_id", "value_tier", "lifecycle_stage", "frequency", "probability_alive",
    "expected_purchases", "historic_value", "clv", "clv_low", "clv_high",
]


@app.command()
def customers(
    sort: Annotated[str, typer.Option("--sort", help="Column to sort by (descending), e.g. clv, probability_alive.")] = "clv",
    ascending: Annotated[bool, typer.Option("--ascending", help="Sort ascending instead.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows to show.")] = 20,
    tier: Annotated[Optional[str], typer.Option("--tier", help="Only this value tier.")] = None,
    out_file: OutOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """The scored customer list of the latest scoring run, sortable."""
    from cvm.value import latest_scores

    check_out(out_file)
    ws = open_workspace(workspace)
    frame = latest_scores(ws)
    if sort not in frame.columns:
        raise SchemaError(f"cannot sort by '{sort}'", hint=f"columns: {', '.join(frame.columns)}")
    if tier:
        tiers = list(ws.settings.tier_cutoffs)
        if tier not in tiers:
            raise SchemaError(f"unknown value tier '{tier}'", hint=f"the tiers are {', '.join(tiers)} (cvm settings)")
        frame = frame[frame["value_tier"] == tier]
    frame = frame.sort_values(sort, ascending=ascending)
    if out_file is not None:
        write_frame(frame, out_file)
    if as_json:
        emit_json({"n_customers": int(len(frame)), "customers": frame.head(limit)})
    else:
        shown = [c for c in CUSTOMER_COLUMNS if c in frame.columns]
        if sort not in shown:
            shown.append(sort)
        out.print(frame_table(frame[shown], title=f"Customers by {sort}", max_rows=limit))


@app.command()
def customer(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """The 360° view of one customer."""
    from cvm.value import customer_view

    ws = open_workspace(workspace)
    view = customer_view(ws, customer_id)
    payload = view.to_dict() if hasattr(view, "to_dict") else view
    if as_json:
        emit_json(payload)
        return
    _render_customer(payload, customer_id)


def _render_customer(view: dict, customer_id: str) -> None:
    """The 360° view for a person: who, what they are worth and why, what to do, then the detail tables."""
    import pandas as pd

    attributes = dict(view.get("attributes") or {})
    name = attributes.pop("name", None)
    out.rule(f"Customer {customer_id}" + (f" — {name}" if name else ""))
    score = view.get("score") or {}
    if score:
        figures = [
            ("value tier", score.get("value_tier")), ("journey stage", view.get("lifecycle_stage")),
            ("RFM segment", view.get("rfm_segment")),
            ("probability still active", _percent(score.get("probability_alive"))),
            ("predicted CLV", f"{_fmt(score.get('clv'))} (interval {_fmt(score.get('clv_low'))} – {_fmt(score.get('clv_high'))})"),
            ("historic value", _fmt(score.get("historic_value"))),
            ("expected purchases", _fmt(score.get("expected_purchases"))),
            ("residual value", _fmt(score.get("residual_value"))),
            ("may still invest", _fmt(score.get("max_investment"))),
            ("rank", f"{_fmt(score.get('rank'))} (model {score.get('model')}, as of {score.get('as_of')})"),
        ]
        for label, value in figures:
            if value not in (None, "", "None"):
                out.print(f"[bold]{label}[/bold]: {value}", soft_wrap=True)
    action = view.get("next_best_action") or {}
    if action.get("action"):
        out.print(f"[bold]next best action[/bold]: {action['action']} — {action.get('reason') or ''}", soft_wrap=True)
    if attributes:
        out.print("[bold]attributes[/bold]: " + ", ".join(f"{k}={_fmt(v)}" for k, v in attributes.items()),
                  soft_wrap=True)
    if view.get("referred_by"):
        out.print(f"[bold]referred by[/bold]: {view['referred_by']}")
    if view.get("network_value"):
        out.print(f"[bold]network value[/bold]: {_fmt(view['network_value'])}")
    tables = {"history": ["as_of", "probability_alive", "clv", "clv_low", "clv_high", "value_tier", "lifecycle_stage"]}
    for key in ("history", "channels", "transactions", "referrals", "invoices"):
        rows = view.get(key)
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            frame = pd.DataFrame(rows)
            keep = [c for c in tables.get(key, frame.columns) if c in frame.columns]
            out.print(frame_table(_dates_as_days(frame[keep]), title=key, max_rows=15))
    for note in view.get("notes") or []:
        out.print(f"[dim]{note}[/dim]", soft_wrap=True)


def _dates_as_days(frame):
    """Date columns whose times are all midnight shown as YYYY-MM-DD (they are days, not moments)."""
    import pandas as pd

    frame = frame.copy()
    for col in ("as_of", "issued", "due", "paid", "ts", "first", "last"):
        if col not in frame.columns:
            continue
        stamps = pd.to_datetime(frame[col], errors="coerce")
        known = stamps.notna()
        if known.any() and (stamps[known] == stamps[known].dt.normalize()).all():
            frame[col] = stamps.dt.strftime("%Y-%m-%d").where(known, frame[col])
    return frame


def _percent(value: Any) -> str | None:
    try:
        return f"{100 * float(value):.1f}%"
    except (TypeError, ValueError):
        return None


def _print_nested(payload: dict, title: str) -> None:
    import pandas as pd

    out.rule(title)
    for key, value in payload.items():
        if isinstance(value, pd.DataFrame):
            out.print(frame_table(value, title=key, max_rows=15))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            out.print(frame_table(pd.DataFrame(value), title=key, max_rows=15))
        elif isinstance(value, dict):
            out.print(f"[bold]{key}[/bold]: " + ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()))
        else:
            out.print(f"[bold]{key}[/bold]: {_fmt(value)}")


def _question(fn_name: str, workspace: Path, as_json: bool, title: str, render=None, **kwargs: Any) -> Any:
    """Run one value-management question and render it (``render`` for people, JSON for scripts)."""
    import cvm.value as value

    ws = open_workspace(workspace)
    result = getattr(value, fn_name)(ws, **kwargs)
    payload = result.to_dict() if hasattr(result, "to_dict") and not hasattr(result, "columns") else result
    if as_json:
        emit_json(payload if isinstance(payload, dict) else {"rows": payload})
        return result
    if render is not None:
        render(payload, title)
    elif hasattr(result, "columns"):
        out.print(frame_table(result, title=title))
    else:
        _print_nested(payload if isinstance(payload, dict) else {"result": payload}, title)
    return result


def _render_concentration(payload: dict, title: str) -> None:
    out.rule(title)
    for column, stats in (payload.get("by_column") or {payload["column"]: payload}).items():
        label = "predicted value (CLV)" if column == "clv" else "historic value" if column == "historic_value" else column
        out.print(
            f"{stats['customer_share']:.1%} of customers ({stats['customers_needed']:,} of {payload['n_customers']:,}) "
            f"make {payload.get('share', 0.8):.0%} of {label}; Gini {stats['gini']:.2f}",
            highlight=False,
        )
    top = payload.get("top")
    if top:
        import pandas as pd

        out.print(frame_table(pd.DataFrame(top), title="Most valuable customers", max_rows=10))


SEGMENT_COLUMNS = ["segment", "customers", "customer_share", "historic_value_sum", "clv_sum", "clv_share", "clv_mean",
                   "probability_alive_mean"]


def _render_segments(payload, title: str) -> None:
    import pandas as pd

    frame = pd.DataFrame(payload if isinstance(payload, list) else payload.get("rows", payload))
    shown = [c for c in SEGMENT_COLUMNS if c in frame.columns]
    out.print(frame_table(frame[shown] if shown else frame, title=title, max_rows=50))


def _render_migration(payload: dict, title: str) -> None:
    import pandas as pd

    counts = pd.DataFrame(payload["counts"]).T.fillna(0).astype(int)
    counts.index.name = f"{payload['from']} ↓ / {payload['to']} →"
    out.print(frame_table(counts.reset_index(), title=f"{title}: customers by {payload['by']}", max_rows=50))
    out.print(f"moved up {payload.get('moved_up', 0):,}, moved down {payload.get('moved_down', 0):,}, "
              f"stayed {payload.get('stayed', 0):,}", highlight=False)


@app.command()
def concentration(
    column: Annotated[str, typer.Option("--column", help="clv (predicted) or historic_value.")] = "clv",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """The 80/20 question: which share of customers makes 80% of value; Lorenz curve and Gini."""
    _question("concentration", workspace, as_json, "Concentration", render=_render_concentration, column=column)


@app.command()
def segments(
    by: Annotated[str, typer.Option("--by", help="rfm, value_tier, lifecycle_stage, matrix, channel or a customer attribute.")] = "rfm",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Customers and value per segment (RFM, tier, stage, value matrix or any attribute)."""
    _question("segments", workspace, as_json, f"Segments by {by}", render=_render_segments, by=by)


@app.command()
def migration(
    from_date: Annotated[str, typer.Option("--from", help="First as-of date.")],
    to_date: Annotated[str, typer.Option("--to", help="Second as-of date.")],
    by: Annotated[str, typer.Option("--by", help="value_tier, lifecycle_stage or rfm.")] = "value_tier",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """How customers moved between tiers or stages from one date to another."""
    _question("migration", workspace, as_json, "Migration", render=_render_migration, from_date=parse_date(from_date, "--from"), to_date=parse_date(to_date, "--to"), by=by)


@app.command()
def cohorts(
    period: Annotated[str, typer.Option("--period", help="month, quarter or year.")] = "month",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Acquisition cohorts: retention and cumulative value per cohort."""
    _question("cohorts", workspace, as_json, "Cohorts", period=period)


@app.command()
def invest(
    budget: Annotated[Optional[float], typer.Option("--budget", help="Retention budget to allocate.")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Cost-to-serve, ROI and CLV-to-cost per segment and channel; maximum acquisition cost; budget allocation."""
    _question("investment", workspace, as_json, "Investment", budget=budget)


@app.command()
def receivables(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """Outstanding and overdue invoices per customer and segment; days-sales-outstanding."""
    _question("receivables", workspace, as_json, "Receivables")


@app.command()
def actions(
    out_file: OutOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows to show.")] = 20,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Next-best action per customer with its reason; export for campaign tools with --out."""
    from cvm.value import next_best_actions

    check_out(out_file)
    ws = open_workspace(workspace)
    frame = next_best_actions(ws)
    if out_file is not None:
        write_frame(frame, out_file)
    if as_json:
        counts = frame["action"].value_counts().to_dict() if "action" in frame else {}
        emit_json({"n_customers": int(len(frame)), "actions": counts, "rows": frame.head(limit), "out": str(out_file) if out_file else None})
    else:
        shown = frame.drop(columns=[c for c in ("reason_code", "reason_values") if c in frame.columns])
        out.print(frame_table(shown, title="Next-best actions", max_rows=limit))
        if out_file:
            out.print(f"written to {out_file}")


@app.command()
def settings(
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="key=value, e.g. --set margin=0.25 (repeatable).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Show or change the workspace settings (margin, horizon, discount rate, tiers, weights, stages, language)."""
    from cvm.settings import Settings

    if set_:
        with writing_workspace(workspace) as ws:
            current = ws.settings
            for item in set_:
                if "=" not in item:
                    raise SchemaError(f"--set takes key=value, got '{item}'", hint="e.g. --set margin=0.25")
                key, value = item.split("=", 1)
                current = current.set(key.strip(), value.strip())
            ws.save_settings(current)  # only when every --set was valid: all or nothing
    else:  # showing the settings creates nothing (a new workspace would get these)
        if workspace.exists() and not workspace.is_dir():
            open_workspace(workspace)  # says the path is a file
        current = Settings.load(workspace / "settings.toml")
    if as_json:
        emit_json(current.model_dump())
        return
    for key in current.keys():
        obj: Any = current
        for part in key.split("."):
            obj = getattr(obj, part)
        out.print(f"{key} = {obj}")


# ----------------------------------------------------------------------------- commands: faces
@app.command()
def report(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the HTML report.")] = Path("cvm-report.html"),
    language: Annotated[Optional[str], typer.Option("--language", help="en or nl (default: settings).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Write one self-contained HTML report (works offline)."""
    from cvm.report import build_report

    check_out(out_file, (".html", ".htm"))
    ws = open_workspace(workspace)
    path = build_report(ws, out_file, language=language or ws.settings.language)
    if as_json:
        emit_json({"report": str(path)})
    else:
        out.print(f"report written to {path}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
) -> None:
    """Start the web dashboard (login required; /health is public)."""
    import uvicorn

    from cvm.web.app import create_app

    open_workspace(workspace)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning: binding {host} exposes the dashboard beyond this machine[/yellow]")
    uvicorn.run(create_app(workspace), host=host, port=port, log_level="info", access_log=False)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option("--role", help="admin, analyst or viewer.")] = "viewer",
    password: Annotated[Optional[str], typer.Option("--password", envvar="CVM_PASSWORD", help="Password (prompted when omitted).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Add a web-app user."""
    from cvm.web.auth import add_user

    if password is None:
        if not sys.stdin.isatty():
            raise SchemaError("no password given", hint="pass --password or set CVM_PASSWORD")
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    open_workspace(workspace, create=True)
    add_user(workspace, name, password, role)
    if as_json:
        emit_json({"user": name, "role": role})
    else:
        out.print(f"user {name} added with role {role}")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option("--role", help="admin, analyst or viewer.")] = "viewer",
    name: Annotated[Optional[str], typer.Option("--name", help="A label for the token.")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Create an API bearer token (shown once)."""
    from cvm.web.auth import create_token

    open_workspace(workspace, create=True)
    token = create_token(workspace, role, name=name)
    if as_json:
        emit_json({"token": token, "role": role})
    else:
        out.print(token)


@app.command()
def demo(
    workspace: WorkspaceOpt = Path("demo-workspace"),
    report_path: Annotated[Optional[Path], typer.Option("--report", help="Where to write the report (default: inside the workspace).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build a demo workspace from the bundled CDNOW data, fit, score and write the report."""
    from cvm.pipeline import run_demo

    result = run_demo(workspace, report_path=report_path, console=None if as_json else out)
    if as_json:
        emit_json(result)


@app.command()
def version() -> None:
    """Print the cvm version."""
    from cvm import __version__

    typer.echo(__version__)


# ----------------------------------------------------------------------------- entry point
def _error_payload(message: str, hint: str | None, kind: str, exit_code: int) -> dict[str, Any]:
    """The one JSON object a script gets on stdout when a command fails under ``--json``."""
    return {"error": message, "hint": hint, "kind": kind, "exit_code": exit_code}


def _print_error(message: str, hint: str | None) -> None:
    """One red ``error:`` line and an optional ``hint:`` line on stderr (the text is never read as markup)."""
    from rich.text import Text

    # soft_wrap: the terminal wraps long lines; paths in the message are never broken by a newline
    err.print(Text("error: ", style="bold red") + Text(message), highlight=False, soft_wrap=True)
    if hint:
        err.print(Text(f"hint: {hint}"), highlight=False, soft_wrap=True)


#: library notices that are not about the user's data (pyspark's note on pandas 3: the Spark engine's
#: tests check its numbers against the DuckDB engine under pandas 3)
QUIET_WARNINGS = ("PySpark does not yet fully support pandas",)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one ``warning:`` line on stderr, without the source file and code line."""
    from rich.text import Text

    if str(message).startswith(QUIET_WARNINGS):
        return
    err.print(Text("warning: ", style="yellow") + Text(str(message)), highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code.

    0 ok; 1 a mistake in the input or situation (a :class:`~cvm.errors.CvmError`: one
    message and a hint on stderr, never a traceback); 2 a usage error (unknown option,
    a value of the wrong type). With ``--json`` a failure also prints one JSON object
    ``{"error", "hint", "kind", "exit_code"}`` on stdout, so a script always gets JSON.
    Anything else is a fault in cvm: one line naming it (exit 1); ``CVM_DEBUG=1``
    shows the traceback.
    """
    from typer._click.exceptions import ClickException

    import warnings

    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            app(args=args, prog_name="cvm", standalone_mode=False)
    except CvmError as exc:
        _print_error(exc.message, exc.hint)
        if as_json:
            emit_json(_error_payload(exc.message, exc.hint, type(exc).__name__, 1))
        return 1
    except ClickException as exc:  # usage: unknown option, missing argument, a value of the wrong type
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
        if as_json:
            command = " ".join(a for a in args[:1] if not a.startswith("-"))
            emit_json(_error_payload(exc.format_message(), f"see: cvm {command} --help".replace("  ", " "),
                                     "UsageError", exc.exit_code))
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # a fault in cvm, not in the input: say so in one line
        if os.environ.get("CVM_DEBUG"):
            raise
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        message = f"cvm failed unexpectedly ({type(exc).__name__}{': ' + detail if detail else ''})"
        hint = "this is a fault in cvm, not in your input; run again with CVM_DEBUG=1 to see the traceback and report it"
        _print_error(message, hint)
        if as_json:
            emit_json(_error_payload(message, hint, "InternalError", 1))
        return 1
    return 0


def entry() -> None:  # console_scripts target
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
