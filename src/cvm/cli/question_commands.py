"""The business questions, each one library call: concentration (80/20), segments, migration, cohorts,
investment and receivables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from cvm.cli.options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt, parse_date
from cvm.cli.output import emit_json, figure, out, show_table, table_words
from cvm.cli.workspace import open_workspace


def _print_nested(payload: dict, title: str, words=None) -> None:
    import pandas as pd

    out.rule(title)
    for key, value in payload.items():
        if isinstance(value, pd.DataFrame):
            show_table(value, title=key, max_rows=15, words=words)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            show_table(pd.DataFrame(value), title=key, max_rows=15, words=words)
        elif isinstance(value, dict):
            shown = ", ".join("{} {}".format(*figure(k, v, words)) for k, v in value.items())
            out.print(f"[bold]{escape(figure(key, None, words)[0])}[/bold]: {escape(shown)}", highlight=False)
        else:
            label, text = figure(key, value, words)
            out.print(f"[bold]{escape(label)}[/bold]: {escape(text)}", highlight=False)


def _question(fn_name: str, workspace: Path, as_json: bool, title: str, render=None, **kwargs: Any) -> Any:
    """Run one value-management question and render it (``render`` for people, JSON for scripts)."""
    import cvm.service as value

    ws = open_workspace(workspace)
    result = getattr(value, fn_name)(ws, **kwargs)
    payload = result.to_dict() if hasattr(result, "to_dict") and not hasattr(result, "columns") else result
    if as_json:
        emit_json(payload if isinstance(payload, dict) else {"rows": payload})
        return result
    words = table_words(ws)
    if render is not None:
        render(payload, title, words)
    elif hasattr(result, "columns"):
        show_table(result, title=title, words=words)
    else:
        _print_nested(payload if isinstance(payload, dict) else {"result": payload}, title, words)
    return result


def _render_concentration(payload: dict, title: str, words=None) -> None:
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

        show_table(pd.DataFrame(top), title="Most valuable customers", max_rows=10, words=words)


SEGMENT_COLUMNS = ["segment", "customers", "customer_share", "historic_value_sum", "clv_sum", "clv_share", "clv_mean",
                   "probability_alive_mean"]


def _render_segments(payload, title: str, words=None) -> None:
    import pandas as pd

    frame = pd.DataFrame(payload if isinstance(payload, list) else payload.get("rows", payload))
    shown = [c for c in SEGMENT_COLUMNS if c in frame.columns]
    show_table(frame[shown] if shown else frame, title=title, max_rows=50, words=words)


def _render_migration(payload: dict, title: str, words=None) -> None:
    import pandas as pd

    counts = pd.DataFrame(payload["counts"]).T.fillna(0).astype(int)
    if words is not None:
        counts.index = [words.term(i) for i in counts.index]
    counts.index.name = f"{payload['from']} ↓ / {payload['to']} →"
    show_table(counts.reset_index(), title=f"{title}: customers by {payload['by']}", max_rows=50, words=words)
    out.print(f"moved up {payload.get('moved_up', 0):,}, moved down {payload.get('moved_down', 0):,}, "
              f"stayed {payload.get('stayed', 0):,}", highlight=False)


def concentration(
    column: Annotated[str, typer.Option("--column", help="clv (predicted) or historic_value.")] = "clv",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """The 80/20 question: which share of customers makes 80% of value; Lorenz curve and Gini."""
    _question("concentration", workspace, as_json, "Concentration", render=_render_concentration, column=column)


def segments(
    by: Annotated[str, typer.Option("--by", help="rfm, value_tier, lifecycle_stage, matrix, channel or a customer attribute.")] = "rfm",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Customers and value per segment (RFM, tier, stage, value matrix or any attribute)."""
    _question("segments", workspace, as_json, f"Segments by {by}", render=_render_segments, by=by)


def migration(
    from_date: Annotated[str, typer.Option("--from", help="First as-of date.")],
    to_date: Annotated[str, typer.Option("--to", help="Second as-of date.")],
    by: Annotated[str, typer.Option("--by", help="value_tier, lifecycle_stage or rfm.")] = "value_tier",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """How customers moved between tiers or stages from one date to another."""
    _question("migration", workspace, as_json, "Migration", render=_render_migration, from_date=parse_date(from_date, "--from"), to_date=parse_date(to_date, "--to"), by=by)


def cohorts(
    period: Annotated[str, typer.Option("--period", help="month, quarter or year.")] = "month",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Acquisition cohorts: retention and cumulative value per cohort."""
    _question("cohorts", workspace, as_json, "Cohorts", period=period)


def invest(
    budget: Annotated[Optional[float], typer.Option("--budget", help="Retention budget to allocate.")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Cost-to-serve, ROI and CLV-to-cost per segment and channel; maximum acquisition cost; budget allocation."""
    _question("investment", workspace, as_json, "Investment", budget=budget)


def receivables(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """Outstanding and overdue invoices per customer and segment; days-sales-outstanding."""
    _question("receivables", workspace, as_json, "Receivables")
