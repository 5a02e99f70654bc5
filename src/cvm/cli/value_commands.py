"""What customers are worth: ``cvm score``, ``cvm customers``, ``cvm customer ID`` and ``cvm actions``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from cvm.cli.error_output import print_warning
from cvm.cli.options import (
    DEFAULT_WORKSPACE, AsOfOpt, DiscountOpt, HorizonOpt, JsonOpt, MarginOpt, ModelOpt, OutOpt, TimeUnitOpt,
    WorkspaceOpt, parse_date,
)
from cvm.cli.health_commands import print_health
from cvm.cli.output import (
    ColumnsOpt, WideOpt, check_out, emit_json, format_value, parse_columns, show_table, table_words, out, write_frame,
)
from cvm.cli.campaign_commands import (
    AscendingOpt, HoldoutOpt, LanguageOpt, ListOpt, MinValueOpt, OffsetOpt, SeedOpt, SegmentOpt, SortOpt, TierOpt,
    worklist_command,
)
from cvm.cli.workspace import open_workspace
from cvm.service.customers import CUSTOMER_COLUMNS, CUSTOMER_PRIORITY, customer_list

if TYPE_CHECKING:  # the library is imported when a command runs, not when cvm starts
    from cvm.value.customer import CustomerView


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
    columns: ColumnsOpt = None,
    wide: WideOpt = False,
) -> None:
    """Value every customer: P(alive), expected purchases, CLV with interval, tier and stage."""
    from cvm.health import data_health
    from cvm.service import score_customers

    check_out(out_file)
    ws = open_workspace(workspace, write=True)  # stores the run in scores
    chosen = parse_columns(columns, _SCORE_FIELDS) if columns else None
    scores = score_customers(
        ws, as_of=parse_date(as_of, "--as-of"), model=model, horizon=horizon, time_unit=time_unit,
        discount_rate=discount_rate, margin=margin, out_file=out_file,  # written while the run is stored
    )
    from cvm.data.scores import latest_run

    default = latest_run(ws)
    payload = {
        "as_of": scores.attrs.get("as_of"),
        "model": scores.attrs.get("model"),
        "run_id": scores.attrs.get("run_id"),
        "n_customers": int(len(scores)),
        "total_clv": float(scores["clv"].sum()),
        "out": str(out_file) if out_file else None,
        "model_reason": scores.attrs.get("model_reason"),
        "notes": list(scores.attrs.get("notes") or []),  # e.g. a model left out of --model auto, with its reason
        "default_valuation": default is not None and default["run_id"] == scores.attrs.get("run_id"),
        # customers valued with the population mean spend (net returns), and customers with only returns (not valued)
        "spend_excluded": len(scores.attrs.get("spend_excluded") or []),
        "spend_excluded_customers": list(scores.attrs.get("spend_excluded") or []),
        "returns_only": len(scores.attrs.get("returns_only_customers") or []),
    }
    summary = data_health(ws, run_id=scores.attrs.get("run_id"))
    if as_json:
        emit_json({**payload, "health": summary.to_dict(ws.settings.language)})
        return
    for note in payload["notes"]:
        print_warning(note)
    from cvm.i18n import ntext, text

    words = table_words(ws)
    shown = scores[[c for c in (chosen or CUSTOMER_COLUMNS) if c in scores.columns]]  # --json and --out: every column
    show_table(shown.sort_values("clv", ascending=False), title=text("cli.customers_by_clv", words.language),
               max_rows=15, words=words, priority=list(CUSTOMER_PRIORITY), columns=chosen, wide=wide, choosable=True)
    out.print(ntext("cli.scored", payload["n_customers"], words.language, {
        "customers": words.number(payload["n_customers"]), "as_of": words.date(payload["as_of"]),
        "total": words.money(payload["total_clv"]), "model": payload["model"]}), soft_wrap=True)
    if default is not None and not payload["default_valuation"]:
        out.print(text("cli.kept_as_history", words.language, {"as_of": words.date(default["as_of"])}), soft_wrap=True)
    if out_file:
        out.print(text("cli.written_to", words.language, {"path": out_file}), soft_wrap=True)
    print_health(summary, ws.settings.language)


#: the columns ``cvm score --columns`` can choose from (those of a valuation a person reads)
_SCORE_FIELDS = list(CUSTOMER_COLUMNS) + [
    "recency", "T", "monetary_value", "expected_spend", "residual_value", "max_investment", "rank", "percentile",
]


def customers(
    sort: Annotated[str, typer.Option("--sort", help="Column to sort by (descending), e.g. clv, probability_alive.")] = "clv",
    ascending: Annotated[bool, typer.Option("--ascending", help="Sort ascending instead.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows to show.")] = 20,
    tier: Annotated[Optional[str], typer.Option("--tier", help="Only this value tier.")] = None,
    out_file: OutOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
    columns: ColumnsOpt = None,
    wide: WideOpt = False,
) -> None:
    """The scored customer list of the latest valuation (the latest as-of date), sortable.

    The table shows the columns of the dashboard's customer list; ``--json`` and ``--out``
    every column of the stored scores.
    """
    check_out(out_file)
    ws = open_workspace(workspace)
    listing = customer_list(ws, value_tier=tier, sort=sort, ascending=ascending, columns=None,
                            limit=None if out_file is not None else limit)
    frame = listing.rows
    chosen = parse_columns(columns, list(frame.columns)) if columns else None
    if out_file is not None:
        write_frame(frame, out_file)
    if as_json:
        emit_json({"as_of": listing.as_of, "model": listing.model, "run_id": listing.run_id,
                   "n_customers": listing.total, "customers": frame.head(limit)})
    else:
        shown = chosen or [c for c in CUSTOMER_COLUMNS if c in frame.columns]
        if sort not in shown:
            shown.append(sort)
        frame = frame[shown]
        frame.attrs["total_rows"] = listing.total
        show_table(frame, title=f"Customers by {sort}", max_rows=limit, words=table_words(ws),
                   priority=list(CUSTOMER_PRIORITY), columns=chosen, wide=wide, choosable=True)


def _run_keys(frame) -> dict[str, Any]:
    """Which valuation a list comes from: ``as_of``, ``model`` and ``run_id`` of its run."""
    return {key: frame.attrs.get(key) for key in ("as_of", "model", "run_id")}


def customer(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """The 360° view of one customer."""
    from cvm.service import customer_view

    ws = open_workspace(workspace)
    view = customer_view(ws, customer_id)
    if as_json:
        emit_json(view.to_dict())
        return
    _render_customer(view, customer_id, table_words(ws))


def _render_customer(view: CustomerView, customer_id: str, words) -> None:
    """The 360° view for a person: who, what they are worth and why, what to do, then the detail tables."""
    attributes = dict(view.attributes)
    name = attributes.pop("name", None)
    out.rule(f"Customer {customer_id}" + (f" — {name}" if name else ""))
    score = view.score or {}
    if score:
        figures = [
            ("value tier", score.get("value_tier")), ("journey stage", view.stage),
            ("RFM segment", view.segment),
            ("probability still active", _percent(score.get("probability_alive"))),
            ("predicted CLV", f"{format_value(score.get('clv'))} (interval {format_value(score.get('clv_low'))} – {format_value(score.get('clv_high'))})"),
            ("historic value", format_value(score.get("historic_value"))),
            ("expected purchases", format_value(score.get("expected_purchases"))),
            ("residual value", format_value(score.get("residual_value"))),
            ("may still invest", format_value(score.get("max_investment"))),
            ("rank", f"{format_value(score.get('rank'))} (model {score.get('model')}, as of {score.get('as_of')})"),
        ]
        for label, value in figures:
            if value not in (None, "", "None"):
                out.print(f"[bold]{label}[/bold]: {value}", soft_wrap=True)
    action = view.action or {}
    if action.get("action"):
        out.print(f"[bold]next best action[/bold]: {action['action']} — {action.get('reason') or ''}", soft_wrap=True)
    if attributes:
        out.print("[bold]attributes[/bold]: " + ", ".join(f"{k}={format_value(v)}" for k, v in attributes.items()),
                  soft_wrap=True)
    if view.referred_by:
        out.print(f"[bold]referred by[/bold]: {view.referred_by}")
    if view.network_value:
        out.print(f"[bold]network value[/bold]: {format_value(view.network_value)}")
    history = ["as_of", "probability_alive", "clv", "clv_low", "clv_high", "value_tier", "lifecycle_stage"]
    for key, frame in (("history", view.history[[c for c in history if c in view.history.columns]]),
                       ("channels", view.channels), ("transactions", view.transactions),
                       ("referrals", view.referrals), ("invoices", view.invoices)):
        if not frame.empty:
            show_table(_dates_as_days(frame), title=key, max_rows=15, words=words)
    for note in view.notes:
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


def actions(
    out_file: OutOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows to show.")] = 20,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
    columns: ColumnsOpt = None,
    wide: WideOpt = False,
    worklist: ListOpt = None,
    tier: TierOpt = None,
    segment: SegmentOpt = None,
    min_value: MinValueOpt = None,
    sort: SortOpt = None,
    ascending: AscendingOpt = False,
    offset: OffsetOpt = 0,
    holdout: HoldoutOpt = None,
    seed: SeedOpt = None,
    language: LanguageOpt = None,
) -> None:
    """Next-best action per customer with its reason; with --list a team's worklist (name, value, reason, suggested
    action, maximum sensible spend), with --holdout a campaign with a control group; export with --out."""
    from cvm.service import next_best_actions

    check_out(out_file)
    if worklist is None and (holdout is not None or seed is not None or tier or segment or min_value is not None
                             or sort or ascending or offset):
        from cvm.errors import SchemaError

        raise SchemaError("--holdout, --seed, --tier, --segment, --min-value, --sort, --ascending and --offset "
                          "work on a worklist", hint="choose one with --list, e.g. --list retention")
    ws = open_workspace(workspace, write=holdout is not None)  # a campaign is stored in the workspace
    if worklist is not None:
        worklist_command(ws, worklist, tier=tier, segment=segment, min_value=min_value, sort=sort,
                         ascending=ascending, limit=limit, offset=offset, holdout=holdout, seed=seed,
                         language=language, out_file=out_file, as_json=as_json, columns=columns, wide=wide)
        return
    frame = next_best_actions(ws)
    chosen = parse_columns(columns, list(frame.columns)) if columns else None
    if out_file is not None:
        write_frame(frame, out_file)
    if as_json:
        counts = frame["action"].value_counts().to_dict() if "action" in frame else {}
        emit_json({**_run_keys(frame), "n_customers": int(len(frame)), "actions": counts, "rows": frame.head(limit),
                   "out": str(out_file) if out_file else None})
    else:
        words = table_words(ws, language)
        shown = frame.head(limit).copy()
        if words.language != "en" and "reason_code" in shown:  # the stored reason is English; say it in hers
            from cvm.value.explain import explain

            shown["reason"] = [explain(code, values, words.language, words.currency, terms=words.term)
                               for code, values in zip(shown["reason_code"], shown["reason_values"])]
        shown = shown.drop(columns=[c for c in ("reason_code", "reason_values") if c in shown.columns])
        shown.attrs["total_rows"] = len(frame)
        show_table(shown, title="Next-best actions", max_rows=limit, words=words, columns=chosen, wide=wide,
                   choosable=True, priority=["customer_id", "action", "clv", "probability_alive", "reason"])
        if out_file:
            out.print(f"written to {out_file}")
