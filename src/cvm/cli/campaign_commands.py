"""Worklists and campaigns on the command line: ``cvm actions --list NAME`` and ``cvm campaign evaluate|list``.

``cvm actions --list NAME`` shows :func:`cvm.service.questions.worklist`, the rows the
dashboard's Acties page shows for the same list and filters; with ``--holdout`` it
draws and stores a campaign (:func:`cvm.service.campaigns.start_campaign`) and shows
the customers to contact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from cvm.cli.options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt
from cvm.cli.output import emit_json, out, parse_columns, show_table, table_words, write_frame
from cvm.cli.workspace import open_workspace

#: what a person sees of a worklist, in this order (the page shows the same)
WORKLIST_SHOWN = ["customer_id", "name", "value_tier", "segment", "clv", "probability_alive", "max_spend", "action",
                  "reason"]
#: which of them stay on a narrow terminal, most important first
WORKLIST_PRIORITY = ["customer_id", "name", "max_spend", "clv", "reason", "action", "probability_alive", "value_tier",
                     "segment"]

ListOpt = Annotated[Optional[str], typer.Option(
    "--list", help="A worklist: retention, win_back, nurture, collect or referral_thanks (default: the next-best "
                   "action of every customer).")]
TierOpt = Annotated[Optional[str], typer.Option("--tier", help="Only this value tier (with --list).")]
SegmentOpt = Annotated[Optional[str], typer.Option("--segment", help="Only this segment (with --list).")]
MinValueOpt = Annotated[Optional[float], typer.Option("--min-value", help="Only customers with at least this CLV (with --list).")]
SortOpt = Annotated[Optional[str], typer.Option(
    "--sort", help="Sort a worklist by clv, max_spend, probability_alive, name, customer_id, value_tier or segment "
                   "(default: most urgent first).")]
AscendingOpt = Annotated[bool, typer.Option("--ascending", help="Sort ascending instead.")]
OffsetOpt = Annotated[int, typer.Option("--offset", min=0, help="Skip this many rows of a worklist (paging).")]
HoldoutOpt = Annotated[Optional[float], typer.Option(
    "--holdout", help="Hold out this random share of the worklist as a control group and store the campaign, e.g. 0.1.")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Seed of the control group's random draw.")]
LanguageOpt = Annotated[Optional[str], typer.Option("--language", help="en or nl: the language of the reasons (default: settings).")]


def worklist_command(ws, name: str, *, tier: str | None, segment: str | None, min_value: float | None,
                     sort: str | None, ascending: bool, limit: int, offset: int, holdout: float | None,
                     seed: int | None, language: str | None, out_file: Path | None, as_json: bool,
                     columns: str | None, wide: bool) -> None:
    """``cvm actions --list NAME``: one worklist (or a new campaign's contacted group), printed, written or as JSON."""
    from cvm.i18n import language as pick_language
    from cvm.service.campaigns import start_campaign
    from cvm.service.questions import worklist

    lang = pick_language(language or ws.settings.language)
    campaign = None
    if holdout is not None:
        started = start_campaign(ws, name, holdout, seed, value_tier=tier, segment=segment, min_value=min_value,
                                 language=lang)
        campaign = started.to_dict()
        result = started.contacted
    else:
        result = worklist(ws, name, value_tier=tier, segment=segment, min_value=min_value, sort=sort,
                          ascending=ascending, limit=None if out_file is not None else limit, offset=offset,
                          language=lang)
    if out_file is not None:
        write_frame(result.export_frame(campaign["campaign_id"] if campaign else None), out_file)
    rows = result.rows.head(limit)
    if as_json:
        payload = result.to_dict()
        payload["rows"] = payload["rows"][:limit]
        emit_json({**payload, "campaign": campaign, "out": str(out_file) if out_file else None})
        return
    words = table_words(ws, lang)
    chosen = parse_columns(columns, list(result.rows.columns)) if columns else None
    shown = rows[[c for c in (chosen or WORKLIST_SHOWN) if c in rows.columns]].copy()
    if shown["name"].isna().all() if "name" in shown else False:
        shown = shown.drop(columns="name")
    shown.attrs["total_rows"] = result.total
    title = words(f"worklist.{name}")
    show_table(shown, title=title, max_rows=limit, words=words, columns=chosen, wide=wide, choosable=True,
               priority=WORKLIST_PRIORITY)
    out.print(escape(words(f"worklist.{name}.todo")), highlight=False)
    if name in ("retention", "win_back"):
        out.print(escape(words("actions.spend_note", chance=words.percent(result.contact_success, 0))), highlight=False)
    if campaign is not None:
        out.print(escape(words("actions.campaign_shown", id=campaign["campaign_id"],
                               contacted=words.ntext("actions.to_contact", campaign["contacted"],
                                                     n=words.number(campaign["contacted"])),
                               held_out=words.number(campaign["held_out"]))), highlight=False)
    if out_file:
        out.print(f"written to {out_file}")


def evaluate(
    campaign: Annotated[Optional[str], typer.Argument(help="The campaign's id (default: the newest).")] = None,
    cost_per_contact: Annotated[Optional[float], typer.Option(
        "--cost-per-contact", help="What one contact cost (default: settings retention_cost_per_customer).")] = None,
    language: LanguageOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Did the campaign pay? Purchases and value of contacted against held-out customers since its date, with
    95% intervals (Welch's t)."""
    from cvm.i18n import language as pick_language
    from cvm.service.campaigns import evaluate_campaign

    ws = open_workspace(workspace)
    result = evaluate_campaign(ws, campaign, cost_per_contact=cost_per_contact)
    lang = pick_language(language or ws.settings.language)
    if as_json:
        emit_json({**result.to_dict(), "sentences": result.sentences(lang)})
        return
    out.rule(f"{result.campaign['campaign_id']}")
    for sentence in result.sentences(lang):
        out.print(escape(sentence), highlight=False)


def campaigns_list(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """The campaigns with a control group, newest first."""
    from cvm.data.campaigns import campaigns

    ws = open_workspace(workspace)
    frame = campaigns(ws)
    if as_json:
        emit_json({"campaigns": frame})
        return
    words = table_words(ws)
    if frame.empty:
        out.print(escape(words("actions.campaigns_none")), highlight=False)
        return
    show_table(frame, title=words("actions.campaigns_title"), max_rows=50, words=words)

