"""Getting data in: ``cvm ingest``, ``cvm quarantine``, and the one-shot ``cvm run`` (file in, values out)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cvm.cli.options import (
    DEFAULT_WORKSPACE, AsOfOpt, DiscountOpt, HorizonOpt, JsonOpt, KindOpt, MapOpt, MarginOpt, ModelOpt, TimeUnitOpt,
    WorkspaceOpt, parse_date, parse_mapping,
)
from cvm.cli.health_commands import print_health
from cvm.cli.output import check_out, emit_json, frame_table, out, table_words
from cvm.cli.workspace import open_workspace, writing_workspace
from cvm.errors import SchemaError
from cvm.health import data_health

LocaleOpt = Annotated[Optional[str], typer.Option(
    "--locale", help="How the file writes amounts and dates where its values leave it open: nl, de, fr "
                     "(1.234,56; day first), en (1,234.56; day first) or us (1,234.56; month first).")]


def ingest(
    path: Annotated[Path, typer.Argument(help="CSV, TXT, Excel (.xlsx) or Parquet file.")],
    kind: KindOpt = "transactions",
    map_: MapOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what was detected and a preview; write nothing.")] = False,
    delimiter: Annotated[Optional[str], typer.Option(help="Override the sniffed delimiter.")] = None,
    decimal: Annotated[Optional[str], typer.Option(help="Override the sniffed decimal mark ('.' or ',').")] = None,
    date_format: Annotated[Optional[str], typer.Option("--date-format", help="Override the sniffed date format, e.g. %d-%m-%Y.")] = None,
    encoding: Annotated[Optional[str], typer.Option(help="Override the sniffed encoding (utf-8, cp1252).")] = None,
    locale: LocaleOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Read a file into the workspace; rejected rows go to quarantine with their reason."""
    if not path.exists():
        raise SchemaError.coded("file_not_found", path=str(path))
    options = {k: v for k, v in {"delimiter": delimiter, "decimal": decimal, "date_format": date_format, "encoding": encoding,
                                 "locale": locale}.items() if v is not None}
    mapping = parse_mapping(map_)
    with writing_workspace(workspace, keep=not dry_run) as ws:
        report = ws.ingest(path, kind=kind, mapping=mapping, dry_run=dry_run, **options)
    payload = report.to_dict()
    summary = None if dry_run else data_health(ws, ingest=report, scored=False)
    if as_json:
        emit_json(payload if summary is None else {**payload, "health": summary.to_dict(ws.settings.language)})
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

            shown_rows = pd.DataFrame(preview).drop(columns=["reason_code", "reason_values"], errors="ignore")
            out.print(frame_table(shown_rows, title="Preview", max_rows=10))
        out.print("[yellow]dry run: nothing written[/yellow]")
    out.print(
        f"{payload['rows_read']:,} rows read = {payload['accepted']:,} accepted + "
        f"{payload['quarantined']:,} quarantined + {payload['duplicates']:,} duplicates + "
        f"{payload.get('changed', 0):,} changed → table {payload['table']}",
        highlight=False,
    )
    if payload.get("changed"):
        out.print(f"  changed: {payload['changed']:,} rows corrected an order (same order id, other content; the "
                  f"newer row wins, the older is kept in transactions_history)", highlight=False)
    for reason, count in (payload.get("reasons") or {}).items():
        out.print(f"  quarantined: {count:,} × {reason}", highlight=False)
    if payload["quarantined"]:
        out.print(f"see every rejected line: cvm quarantine --workspace {workspace}")
    if summary is not None:
        print_health(summary, ws.settings.language)


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


def run(
    path: Annotated[str, typer.Argument(help="Transaction file (CSV, Excel, Parquet) or, with --engine spark, a Parquet/CSV path, URI or table.")],
    out_file: Annotated[str, typer.Option("--out", help="Where to write one row per customer (.csv, .parquet, .xlsx); with --engine spark a .parquet/.csv folder, a URI (s3a://…) or a table (catalog.schema.table).")],
    kind: KindOpt = "transactions",
    map_: MapOpt = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb (default) or spark.")] = "duckdb",
    model: ModelOpt = "bgnbd",
    as_of: AsOfOpt = None,
    horizon: HorizonOpt = None,
    time_unit: TimeUnitOpt = None,
    discount_rate: DiscountOpt = None,
    margin: MarginOpt = None,
    locale: LocaleOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
    master: Annotated[Optional[str], typer.Option("--master", envvar="CVM_SPARK_MASTER", help="With --engine spark: the Spark master (spark://host:7077, yarn, k8s://…, local[4]) or Spark Connect (sc://host:15002).")] = None,
    conf: Annotated[Optional[list[str]], typer.Option("--conf", help="With --engine spark: a Spark setting key=value (repeatable).")] = None,
    app_name: Annotated[str, typer.Option("--name", help="With --engine spark: the application name on the cluster.")] = "cvm",
) -> None:
    """One shot: ingest, summarise, fit, score; write one row per customer."""
    if engine not in ("duckdb", "spark"):
        raise SchemaError.coded("unknown_engine", engine=engine)
    if engine != "spark" and not Path(path).exists():
        raise SchemaError.coded("file_not_found", path=str(path))
    if engine == "spark":  # --out stays a string: s3a://bucket/x must not become s3a:/bucket/x
        from cvm.service.spark import run_from_cli

        result = run_from_cli(
            str(path), out_file, master, conf, app_name, model=model if model != "auto" else "bgnbd", horizon=horizon or 52,
            time_unit=time_unit or "week", discount_rate=0.10 if discount_rate is None else discount_rate,
            margin=0.3 if margin is None else margin, as_of=parse_date(as_of, "--as-of"), mapping=parse_mapping(map_),
            locale=locale,
        )
        payload = result if isinstance(result, dict) else result.to_dict()
    elif engine == "duckdb":
        from cvm.service import score_customers

        out_file = Path(out_file)
        check_out(out_file)
        mapping, as_of_date = parse_mapping(map_), parse_date(as_of, "--as-of")
        with writing_workspace(workspace) as ws:  # a failed read leaves no new workspace behind
            report = ws.ingest(Path(path), kind=kind, mapping=mapping, locale=locale)
        # from here on the workspace is kept: it holds the data and every rejected row with its reason
        if report.accepted == 0 and not ws.frame(f"SELECT count(*) AS n FROM {kind}")["n"].iloc[0]:
            reasons = "; ".join(f"{n:,} × {why}" for why, n in (report.reasons or {}).items())
            raise SchemaError(
                f"{Path(path).name} gave no usable {kind}: {report.rows_read:,} rows read, none accepted"
                + (f" ({reasons})" if reasons else ""),
                hint=f"see each rejected line with: cvm quarantine --workspace {workspace}")
        scores = score_customers(
            ws, as_of=as_of_date, model=model, horizon=horizon, time_unit=time_unit,
            discount_rate=discount_rate, margin=margin, out_file=out_file,  # written while the run is stored
        )
        payload = {"ingest": report.to_dict(), "n_customers": int(len(scores)), "model": scores.attrs.get("model"), "out": str(out_file)}
        payload["ingest"].pop("preview", None)
    else:
        raise SchemaError.coded("unknown_engine", engine=engine)
    if as_json:
        emit_json(payload)
        return
    from cvm.cli.error_output import reader_language
    from cvm.i18n import ntext

    words = table_words(language=reader_language(["--workspace", str(workspace)]))
    n = payload.get("n_customers", 0)
    # soft_wrap: paths stay whole on one line, whatever the terminal width
    out.print(ntext("cli.run_valued", n, words.language, {"customers": words.number(n), "path": out_file}), soft_wrap=True)
    if engine == "spark":
        for note in payload.get("notes") or []:
            out.print(note, soft_wrap=True)
    elif payload["ingest"].get("quarantined"):
        rows = payload["ingest"]["quarantined"]
        out.print(ntext("cli.run_quarantined", rows, words.language,
                        {"rows": words.number(rows), "workspace": workspace}), soft_wrap=True)
