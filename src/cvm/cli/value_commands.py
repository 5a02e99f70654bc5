"""What customers are worth: ``cvm score``, ``cvm customers``, ``cvm customer ID`` and ``cvm actions``."""

from __future__ import annotations

from typing import Annotated, Any, Optional

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
from cvm.cli.workspace import open_workspace
from cvm.errors import SchemaError


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
    from cvm.value import score_customers

    check_out(out_file)
    ws = open_workspace(workspace)
    chosen = parse_columns(columns, _SCORE_FIELDS) if columns else None
    scores = score_customers(
        ws, as_of=parse_date(as_of, "--as-of"), model=model, horizon=horizon, time_unit=time_unit,
        discount_rate=discount_rate, margin=margin,
    )
    if out_file is not None:
        write_run(scores, out_file)
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
    shown = scores[[c for c in (chosen or CUSTOMER_COLUMNS) if c in scores.columns]]  # --json and --out: every column
    show_table(shown.sort_values("clv", ascending=False), title="Customers by predicted CLV", max_rows=15,
               words=table_words(ws), priority=CUSTOMER_PRIORITY, columns=chosen, wide=wide, choosable=True)
    out.print(f"{payload['n_customers']:,} customers valued as of {payload['as_of']}, "
              f"total CLV {payload['total_clv']:,.2f} (model {payload['model']})")
    if default is not None and not payload["default_valuation"]:
        out.print(f"kept as history: customers, actions and the dashboard keep using the valuation as of "
                  f"{default['as_of']:%Y-%m-%d} (the latest date)", soft_wrap=True)
    if out_file:
        out.print(f"written to {out_file}")
    print_health(summary, ws.settings.language)


def write_run(scores, out_file) -> None:
    """Write a stored run to ``--out``; when that fails, say that the run itself is kept and how to write it again."""
    from cvm.errors import CvmError

    try:
        write_frame(scores, out_file)
    except CvmError as exc:
        run_id = scores.attrs.get("run_id")
        if run_id:
            again = f"the valuation itself is stored (run {run_id}): write it again with `cvm customers --out FILE`"
            exc.hint = f"{exc.hint}; {again}" if exc.hint else again
        raise


#: what a person sees of the scored list; --json and --out give every column
CUSTOMER_COLUMNS = [
    "customer_id", "value_tier", "lifecycle_stage", "frequency", "probability_alive",
    "expected_purchases", "historic_value", "clv", "clv_low", "clv_high",
]
#: which of them stay when the terminal is narrow, most important first (the last is left out first)
CUSTOMER_PRIORITY = [
    "customer_id", "clv", "probability_alive", "value_tier", "lifecycle_stage", "historic_value",
    "expected_purchases", "frequency", "clv_low", "clv_high",
]
#: the columns ``cvm score --columns`` can choose from (those of a valuation a person reads)
_SCORE_FIELDS = CUSTOMER_COLUMNS + [
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
    """The scored customer list of the latest valuation (the latest as-of date), sortable."""
    from cvm.data.scores import latest_scores

    check_out(out_file)
    ws = open_workspace(workspace)
    frame = latest_scores(ws)
    if sort not in frame.columns:
        raise SchemaError(f"cannot sort by '{sort}'", hint=f"columns: {', '.join(frame.columns)}")
    chosen = parse_columns(columns, list(frame.columns)) if columns else None
    if tier:
        tiers = list(ws.settings.tier_cutoffs)
        if tier not in tiers:
            raise SchemaError(f"unknown value tier '{tier}'", hint=f"the tiers are {', '.join(tiers)} (cvm settings)")
        frame = frame[frame["value_tier"] == tier]
    frame = frame.sort_values(sort, ascending=ascending)
    if out_file is not None:
        write_frame(frame, out_file)
    if as_json:
        emit_json({**_run_keys(frame), "n_customers": int(len(frame)), "customers": frame.head(limit)})
    else:
        shown = chosen or [c for c in CUSTOMER_COLUMNS if c in frame.columns]
        if sort not in shown:
            shown.append(sort)
        show_table(frame[shown], title=f"Customers by {sort}", max_rows=limit, words=table_words(ws),
                   priority=CUSTOMER_PRIORITY, columns=chosen, wide=wide, choosable=True)


def _run_keys(frame) -> dict[str, Any]:
    """Which valuation a list comes from: ``as_of``, ``model`` and ``run_id`` of its run."""
    return {key: frame.attrs.get(key) for key in ("as_of", "model", "run_id")}


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
    _render_customer(payload, customer_id, table_words(ws))


def _render_customer(view: dict, customer_id: str, words=None) -> None:
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
    action = view.get("next_best_action") or {}
    if action.get("action"):
        out.print(f"[bold]next best action[/bold]: {action['action']} — {action.get('reason') or ''}", soft_wrap=True)
    if attributes:
        out.print("[bold]attributes[/bold]: " + ", ".join(f"{k}={format_value(v)}" for k, v in attributes.items()),
                  soft_wrap=True)
    if view.get("referred_by"):
        out.print(f"[bold]referred by[/bold]: {view['referred_by']}")
    if view.get("network_value"):
        out.print(f"[bold]network value[/bold]: {format_value(view['network_value'])}")
    tables = {"history": ["as_of", "probability_alive", "clv", "clv_low", "clv_high", "value_tier", "lifecycle_stage"]}
    for key in ("history", "channels", "transactions", "referrals", "invoices"):
        rows = view.get(key)
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            frame = pd.DataFrame(rows)
            keep = [c for c in tables.get(key, frame.columns) if c in frame.columns]
            show_table(_dates_as_days(frame[keep]), title=key, max_rows=15, words=words)
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


def actions(
    out_file: OutOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows to show.")] = 20,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
    columns: ColumnsOpt = None,
    wide: WideOpt = False,
) -> None:
    """Next-best action per customer with its reason; export for campaign tools with --out."""
    from cvm.value import next_best_actions

    check_out(out_file)
    ws = open_workspace(workspace)
    frame = next_best_actions(ws)
    chosen = parse_columns(columns, list(frame.columns)) if columns else None
    if out_file is not None:
        write_frame(frame, out_file)
    if as_json:
        counts = frame["action"].value_counts().to_dict() if "action" in frame else {}
        emit_json({**_run_keys(frame), "n_customers": int(len(frame)), "actions": counts, "rows": frame.head(limit),
                   "out": str(out_file) if out_file else None})
    else:
        words = table_words(ws)
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
