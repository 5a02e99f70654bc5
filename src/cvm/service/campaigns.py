"""Campaigns with a control group on a workspace: draw one from a worklist, measure it later.

``cvm actions --list NAME --holdout 0.1 --seed N`` and the Acties page's "hold out"
form call :func:`start_campaign`; ``cvm campaign evaluate`` and the page's campaign
section call :func:`evaluate_campaign`. The mathematics (the random draw, Welch's
interval, the ratio of means, the verdict) is in :mod:`cvm.value.campaign`; the
table in :mod:`cvm.data.campaigns`.

The campaign's date is the day after the as-of date of the valuation its list came
from: a contact goes out after the data the list was made from. Purchases from that
day on are compared. A purchase made before the contact actually went out counts in
both groups alike, as chance alone decided who was held out, so it dilutes the
measured difference but does not bias it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cvm.data.campaigns import load_campaign, purchases_after, save_campaign
from cvm.data.scores import load_scores, score_runs
from cvm.data.warehouse import Workspace
from cvm.errors import SchemaError
from cvm.i18n import Formats, ntext, text
from cvm.service.questions import Worklist, worklist
from cvm.value.campaign import MIN_GROUP, CampaignEffect, campaign_effect, split_holdout


@dataclass(frozen=True)
class Campaign:
    """A stored campaign (:func:`start_campaign`) and the first page of its contacted customers."""

    campaign: dict[str, Any]
    contacted: Worklist

    def to_dict(self) -> dict[str, Any]:
        c = self.campaign
        return {"campaign_id": c["campaign_id"], "worklist": c["worklist"], "created": str(c["created"]),
                "as_of": str(c["as_of"])[:10], "run_id": c["run_id"], "holdout_share": c["holdout_share"],
                "seed": c["seed"], "filters": c["filters"], "contacted": len(c["contacted"]),
                "held_out": len(c["held_out"])}


def start_campaign(ws: Workspace, name: str, holdout: float, seed: int | None = None, *,
                   value_tier: str | None = None, segment: str | None = None, min_value: float | None = None,
                   limit: int | None = None, language: str | None = None) -> Campaign:
    """Hold out a random ``holdout`` share of worklist ``name`` (after the filters) and store the campaign.

    Parameters
    ----------
    holdout
        Share of the list not to contact, strictly between 0 and 1.
    seed
        Of the random draw (:func:`cvm.value.campaign.split_holdout`); drawn and stored when None,
        so every campaign can be drawn again.
    value_tier, segment, min_value
        The filters of :func:`cvm.service.questions.worklist`.
    limit, language
        The page of contacted customers returned (every one when None), reasons in ``language``.

    Raises
    ------
    SchemaError
        ``holdout_share`` for a share outside (0, 1); ``campaign_empty_list`` when the filtered list is empty.
    """
    if not 0 < holdout < 1:
        raise SchemaError.coded("holdout_share", share=holdout)
    whole = worklist(ws, name, value_tier=value_tier, segment=segment, min_value=min_value, language="en")
    everyone = whole.rows["customer_id"].tolist()
    if not everyone:
        raise SchemaError.coded("campaign_empty_list", name=name)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    contacted, held_out = split_holdout(everyone, holdout, seed)
    stored = save_campaign(ws, worklist=name, as_of=whole.as_of, run_id=whole.run_id, model=whole.model,
                           holdout_share=holdout, seed=seed, filters=whole.filters, contacted=contacted, held_out=held_out)
    return Campaign(stored, campaign_list(ws, stored, limit=limit, language=language))


def campaign_list(ws: Workspace, campaign: dict[str, Any], *, sort: str | None = None, ascending: bool = False,
                  limit: int | None = None, offset: int = 0, language: str | None = None) -> Worklist:
    """The contacted customers of a stored campaign, as its worklist shows them (from the campaign's valuation)."""
    f = campaign.get("filters") or {}
    return worklist(ws, campaign["worklist"], value_tier=f.get("value_tier"), segment=f.get("segment"),
                    min_value=f.get("min_value"), sort=sort, ascending=ascending, limit=limit, offset=offset,
                    language=language, scores=_campaign_scores(ws, campaign), customer_ids=campaign["contacted"])


def _campaign_scores(ws: Workspace, campaign: dict[str, Any]) -> pd.DataFrame | None:
    """The scores the campaign was drawn from (the latest valuation if that run is gone)."""
    try:
        return load_scores(ws, run_id=campaign.get("run_id"))
    except SchemaError:
        return None


@dataclass(frozen=True)
class CampaignEvaluation:
    """What a campaign did (:func:`evaluate_campaign`): the groups' purchases and value after its date.

    ``start`` is the first day counted, ``end`` the latest transaction; ``effect`` the
    measured differences (:class:`cvm.value.campaign.CampaignEffect`).
    """

    campaign: dict[str, Any]
    start: pd.Timestamp
    end: pd.Timestamp
    effect: CampaignEffect
    currency: str = "EUR"
    notes: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        return int((self.end.normalize() - self.start).days) + 1

    def to_dict(self) -> dict[str, Any]:
        """``cvm campaign evaluate --json``."""
        c = self.campaign
        return {"campaign_id": c["campaign_id"], "worklist": c["worklist"], "as_of": str(c["as_of"])[:10],
                "start": str(self.start.date()), "end": str(self.end.date()), "days": self.days,
                "method": "welch", **self.effect.to_dict()}

    def sentences(self, language: str = "en") -> list[str]:
        """The result in words of ``language``: the groups, purchases, lift, value and whether it paid."""
        f = Formats(language, self.currency)
        e = self.effect
        money = f.money
        num = lambda v: f.number(v, 2)  # noqa: E731
        level = f.percent(e.purchases.level, 0)
        out = [text("campaign.groups", language, {
            "contacted": ntext("campaign.contacted", e.n_contacted, language, {"n": f.number(e.n_contacted)}),
            "held_out": f.number(e.n_held_out),
            "days": ntext("common.days", self.days, language, {"n": f.number(self.days)}),
            "start": f.date(self.start.date()), "end": f.date(self.end.date())})]
        p = e.purchases
        out.append(text("campaign.purchases", language, {
            "contacted": num(p.contacted_mean), "held_out": num(p.held_out_mean), "difference": num(p.difference),
            "low": num(p.low), "high": num(p.high), "level": level}))
        if e.purchase_ratio is not None:
            r = e.purchase_ratio
            out.append(text("campaign.lift", language, {
                "lift": f.percent(r.lift, 0), "low": f.percent(r.low - 1, 0), "high": f.percent(r.high - 1, 0)}))
        v = e.value
        out.append(text("campaign.value", language, {
            "contacted": money(v.contacted_mean), "held_out": money(v.held_out_mean), "difference": money(v.difference),
            "low": money(v.low), "high": money(v.high), "level": level}))
        c = e.contribution
        out.append(text(f"campaign.verdict.{e.verdict}", language, {
            "low": money(c.low), "high": money(c.high), "cost": money(e.cost_per_contact),
            "margin": f.percent(e.margin, 0)}))
        out.append(text("campaign.method", language, {"level": level}))
        return out


def evaluate_campaign(ws: Workspace, campaign_id: str | None = None, cost_per_contact: float | None = None,
                      level: float = 0.95, min_group: int = MIN_GROUP) -> CampaignEvaluation:
    """Measure a stored campaign (default the newest) on the purchases made after its date.

    Parameters
    ----------
    cost_per_contact
        What one contact cost; default ``settings.retention_cost_per_customer``.
    level
        Of the intervals (Welch's t; :mod:`cvm.value.campaign`).
    min_group
        Fewest customers per group.

    Raises
    ------
    SchemaError
        ``no_campaigns`` / ``unknown_campaign``; ``campaign_no_new_transactions`` while no
        transaction has arrived after the campaign's date; ``campaign_groups_too_small``.
    """
    campaign = load_campaign(ws, campaign_id)
    as_of = pd.Timestamp(campaign["as_of"])
    contacted, held_out = campaign["contacted"], campaign["held_out"]
    if min(len(contacted), len(held_out)) < max(min_group, 2):
        raise SchemaError.coded("campaign_groups_too_small", contacted=len(contacted), held_out=len(held_out),
                                minimum=max(min_group, 2))
    bought, last = purchases_after(ws, contacted + held_out, as_of)
    start = as_of.normalize() + pd.Timedelta(days=1)
    if last is None:
        raise SchemaError.coded("campaign_no_new_transactions", campaign=campaign["campaign_id"],
                                date=str(start.date()))
    n = len(contacted)
    margin = _run_margin(ws, campaign)
    cost = ws.settings.retention_cost_per_customer if cost_per_contact is None else float(cost_per_contact)
    effect = campaign_effect(bought["purchases"].iloc[:n], bought["purchases"].iloc[n:], bought["amount"].iloc[:n],
                             bought["amount"].iloc[n:], margin, cost, level, min_group)
    return CampaignEvaluation(campaign, start, last, effect, ws.settings.currency)


def _run_margin(ws: Workspace, campaign: dict[str, Any]) -> float:
    """The margin of the valuation the campaign was drawn from (the settings' margin if unknown)."""
    runs = score_runs(ws)
    match = runs[runs["run_id"] == campaign.get("run_id")] if not runs.empty else runs
    if not match.empty and pd.notna(match["margin"].iloc[0]):
        return float(match["margin"].iloc[0])
    return float(ws.settings.margin)
