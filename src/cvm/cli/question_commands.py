"""The business questions, each one library call: concentration (80/20), segments, migration, cohorts,
investment and receivables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape

from cvm.cli.options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt, parse_date
from cvm.cli.output import emit_json, figure, out, show_table, table_words
from cvm.cli.workspace import open_workspace

if TYPE_CHECKING:  # the library and pandas are imported when a command runs, not when cvm starts
    import pandas as pd

    from cvm.value.concentration import ConcentrationResult
    from cvm.value.investment import InvestmentResult
    from cvm.value.migration import MigrationResult
    from cvm.value.receivables import ReceivablesResult


def _fact(name: str, value: Any, words) -> None:
    """One named figure on a line, as a table would show it."""
    label, text = figure(name, value, words)
    out.print(f"[bold]{escape(label)}[/bold]: {escape(text)}", highlight=False)


def _lower(label: str) -> str:
    """A label inside a sentence: "Historische waarde" -> "historische waarde", "CLV" stays."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def _render_concentration(result: ConcentrationResult, title: str, words) -> None:
    out.rule(title)
    for column, stats in (result.by_column or {result.column: {"customer_share": result.customer_share,
                                                                 "customers_needed": result.customers_needed,
                                                                 "gini": result.gini}}).items():
        out.print(escape(words.ntext(
            "cli.concentration", stats["customers_needed"], pct=words.percent(stats["customer_share"]),
            n=words.number(stats["customers_needed"]), total=words.number(result.n_customers),
            share=words.percent(result.share, 0), value=_lower(words.label(column)),
            gini=words.number(stats["gini"], 2))), highlight=False)
    if not result.top.empty:
        show_table(result.top, title=words("overview.top_customers"), max_rows=10, words=words)


SEGMENT_COLUMNS = ["segment", "customers", "customer_share", "historic_value_sum", "clv_sum", "clv_share", "clv_mean",
                   "probability_alive_mean"]


def _render_segments(result: pd.DataFrame, title: str, words) -> None:
    shown = [c for c in SEGMENT_COLUMNS if c in result.columns]
    show_table(result[shown], title=title, max_rows=50, words=words)


def _render_migration(result: MigrationResult, title: str, words) -> None:
    counts = result.counts.fillna(0).astype(int)
    counts.index = [words.term(str(i)) for i in counts.index]
    counts.columns = [words.term(str(c)) for c in counts.columns]
    counts.index.name = f"{words.date(result.from_date)} ↓ / {words.date(result.to_date)} →"
    show_table(counts.reset_index(), title=f"{title} ({words.label(result.by)})", max_rows=50, words=words)
    moves = [(words(f"cohorts.{key}"), n) for key, n in (("moved_up", result.moved_up), ("moved_down", result.moved_down),
                                                        ("stayed", result.stayed)) if n is not None]  # up/down: only for ordered groups
    out.print(", ".join(f"{word}: {words.number(n)}" for word, n in moves), highlight=False)


def _render_cohorts(result: pd.DataFrame, title: str, words, period: str = "month") -> None:
    from cvm import answers

    _say(answers.cohorts(result, words.formats, period))
    show_table(result, title=title, words=words)


def _say(sentences: list[str]) -> None:
    """The answer a question opens with (:mod:`cvm.answers`), one sentence a line."""
    for sentence in sentences:
        out.print(escape(sentence), highlight=False)


def _render_investment(result: InvestmentResult, title: str, words) -> None:
    from cvm import answers

    out.rule(title)
    _say(answers.investment(result, words.formats))
    _say(answers.budget(result.plan, words.formats))
    _fact("segment_column", result.segment_column, words)
    for name, table in (("by_segment", result.by_segment), ("by_channel", result.by_channel),
                        ("acquisition", result.acquisition)):
        if not table.empty:
            show_table(table, title=words(f"investment.{name}"), max_rows=15, words=words)
    _fact("total_cost", float(result.customers["cost"].sum()), words)
    if result.retention is not None:  # what the plan buys is the budget's answer above; here whom to contact first
        chosen = result.retention[result.retention["selected"]]
        plan = [c for c in ("customer_id", "clv", "probability_alive", "value_at_risk", "expected_saving",
                            "retention_cost", "saving_per_cost") if c in chosen.columns]
        show_table(chosen[plan], title=words("investment.plan_customers"), max_rows=15, words=words)


def _render_receivables(result: ReceivablesResult, title: str, words) -> None:
    out.rule(title)
    for name, figure_ in (("as_of", result.as_of), ("outstanding", result.outstanding), ("overdue", result.overdue),
                          ("dso", result.dso)):
        _fact(name, figure_, words)
    for name, table in (("ageing", result.ageing), ("receivables_by_segment", result.by_segment),
                        ("late_payers", result.owing)):
        if not table.empty:
            show_table(table, title=words(f"investment.{name}"), max_rows=15, words=words)


#: the catalogue's words for each question's heading
TITLES = {"Concentration": "report.concentration", "Investment": "investment.title", "Receivables": "investment.receivables",
          "Cohorts": "nav.cohorts", "Migration": "cohorts.migration"}


def _answer(result: Any, payload: dict[str, Any], ws, as_json: bool, render, title: str) -> None:
    """Print one question's answer: its JSON ``payload`` for scripts, else ``render`` for people."""
    if as_json:
        emit_json(payload)
    else:
        words = table_words(ws)
        render(result, words(TITLES[title]) if title in TITLES else title, words)


def concentration(
    column: Annotated[str, typer.Option("--column", help="clv (predicted) or historic_value.")] = "clv",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """The 80/20 question: which share of customers makes 80% of value; Lorenz curve and Gini."""
    import cvm.service as value

    ws = open_workspace(workspace)
    result = value.concentration(ws, column=column)
    _answer(result, result.to_dict(), ws, as_json, _render_concentration, "Concentration")


def segments(
    by: Annotated[str, typer.Option("--by", help="rfm, value_tier, lifecycle_stage, matrix, channel or a customer attribute.")] = "rfm",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Customers and value per segment (RFM, tier, stage, value matrix or any attribute)."""
    import cvm.service as value

    ws = open_workspace(workspace)
    result = value.segments(ws, by=by)
    _answer(result, {"rows": result}, ws, as_json, _render_segments, f"Segments by {by}")


def migration(
    from_date: Annotated[str, typer.Option("--from", help="First as-of date.")],
    to_date: Annotated[str, typer.Option("--to", help="Second as-of date.")],
    by: Annotated[str, typer.Option("--by", help="value_tier, lifecycle_stage or rfm.")] = "value_tier",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """How customers moved between tiers or stages from one date to another."""
    import cvm.service as value

    ws = open_workspace(workspace, write=True)  # a date never valued is scored and stored
    result = value.migration(ws, from_date=parse_date(from_date, "--from"), to_date=parse_date(to_date, "--to"), by=by)
    _answer(result, result.to_dict(), ws, as_json, _render_migration, "Migration")


def cohorts(
    period: Annotated[str, typer.Option("--period", help="month, quarter or year.")] = "month",
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Acquisition cohorts: retention and cumulative value per cohort."""
    import cvm.service as value

    ws = open_workspace(workspace)
    result = value.cohorts(ws, period=period)
    _answer(result, {"rows": result}, ws, as_json,
            lambda r, title, words: _render_cohorts(r, title, words, period), "Cohorts")


def invest(
    budget: Annotated[Optional[float], typer.Option("--budget", help="Retention budget to allocate.")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Cost-to-serve, ROI and CLV-to-cost per segment and channel; maximum acquisition cost; budget allocation."""
    import cvm.service as value

    ws = open_workspace(workspace)
    result = value.investment(ws, budget=budget)
    _answer(result, result.to_dict(), ws, as_json, _render_investment, "Investment")


def receivables(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """Outstanding and overdue invoices per customer and segment; days-sales-outstanding."""
    import cvm.service as value

    ws = open_workspace(workspace)
    result = value.receivables(ws)
    _answer(result, result.to_dict(), ws, as_json, _render_receivables, "Receivables")
