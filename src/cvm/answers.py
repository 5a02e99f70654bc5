"""The answer a page or report section opens with: one or two sentences, numbers in them, and what to do.

Every function takes the result object the page itself shows (a :mod:`cvm.service` result) and
a :class:`cvm.i18n.formats.Formats` of the reader's language, and returns plain text from the
catalogues (message ids ``answer.<page>.*``). No figure is written here: each number in a sentence
is read from the result, so the sentence and the table beside it cannot disagree.

Ratios carry their unit: a share is a percentage, a return on cost is a percentage of the spend,
a value per euro is written "€ 2,35 per euro".

Examples
--------
>>> import pandas as pd
>>> from cvm.i18n.formats import Formats
>>> from cvm.service.overview import at_stake
>>> s = pd.DataFrame({"customer_id": list("abcd"), "clv": [50.0, 30.0, 10.0, 10.0],
...                   "probability_alive": [0.9, 0.3, 0.1, 0.8]})
>>> overview(at_stake(s, 0.5), Formats("en"))[0]
'2 customers (50.0% of all) make 80% of the predicted value (€80 of €100).'
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cvm.i18n import ntext, text
from cvm.i18n.formats import Formats, missing


def _say(fmt: Formats, key: str, **values: Any) -> str:
    return text("answer." + key, fmt.language, values)


def _say_n(fmt: Formats, key: str, count: Any, **values: Any) -> str:
    """A count sentence: the plural form of ``answer.<key>`` that fits ``count`` (gettext plural forms)."""
    return ntext("answer." + key, 0 if missing(count) else count, fmt.language, values)


def _term(fmt: Formats, code: Any) -> str:
    return text("term." + str(code), fmt.language, default=str(code))


def _money(fmt: Formats, value: float, like: float | None = None) -> str:
    """Money in whole units from 100 on, else with cents; ``like``: decide by that amount (two figures alike)."""
    size = abs(float(value if like is None else like))
    return fmt.money(value, digits=0 if size >= 100 else 2)


def overview(stake, fmt: Formats) -> list[str]:
    """The overview's answer from :class:`cvm.service.overview.ValueAtStake`: who makes the value, and
    how many of them the retention team should call."""
    conc = stake.concentration
    needed_value = float(conc.total) * float(conc.share)
    out = [_say_n(fmt, "overview.concentration", conc.customers_needed, n=fmt.number(conc.customers_needed),
                pct=fmt.percent(conc.customer_share, 1), share=fmt.percent(conc.share),
                value=_money(fmt, needed_value, like=conc.total), total=_money(fmt, conc.total))]
    if stake.at_risk:
        out.append(_say_n(fmt, "overview.act", stake.at_risk, k=fmt.number(stake.at_risk), line=fmt.percent(stake.at_risk_below),
                        value=_money(fmt, stake.at_risk_value)))
    else:
        out.append(_say(fmt, "overview.act_none", line=fmt.percent(stake.at_risk_below)))
    return out


#: RFM groups whose names promise a customer who stays
PROMISING_GROUPS = ("Champions", "Loyal customers", "Potential loyalists")


def segments(result: pd.DataFrame, fmt: Formats, at_risk_below: float | None = None) -> list[str]:
    """The segment page's answer from :func:`cvm.service.segments`: which group holds the future value,
    which holds little of it, and where to spend attention. With ``at_risk_below``, a group whose name
    promises loyalty (:data:`PROMISING_GROUPS`) but whose mean P(alive) is below that line is pointed out."""
    if result is None or result.empty or "clv_share" not in result.columns:
        return []
    ranked = result.sort_values("clv_share", ascending=False)
    # the group worth least among those with any predicted value (prospects, who never bought, are no group to serve cheaply)
    valued = ranked[ranked["clv_sum"] > 0] if "clv_sum" in ranked.columns and (ranked["clv_sum"] > 0).sum() > 1 else ranked
    top, bottom = ranked.iloc[0], valued.iloc[-1]
    out = [_say_n(fmt, "segments.top", top["customers"], segment=_term(fmt, top["segment"]), n=fmt.number(top["customers"]),
                pct=fmt.percent(top["customer_share"], 1), share=fmt.percent(top["clv_share"], 1))]
    if len(valued) > 1:
        out.append(_say_n(fmt, "segments.bottom", bottom["customers"], segment=_term(fmt, bottom["segment"]),
                        n=fmt.number(bottom["customers"]), pct=fmt.percent(bottom["customer_share"], 1),
                        share=fmt.percent(bottom["clv_share"], 1), top=_term(fmt, top["segment"])))
    if at_risk_below is not None and "probability_alive_mean" in result.columns:
        for _, row in result.iterrows():
            p = row["probability_alive_mean"]
            if row["segment"] in PROMISING_GROUPS and not missing(p) and p < at_risk_below:
                out.append(_say(fmt, "segments.misnamed", segment=_term(fmt, row["segment"]), p=fmt.percent(p, 1)))
    return out


def investment(result, fmt: Formats) -> list[str]:
    """The investment page's answer from :class:`cvm.value.investment.InvestmentResult`: where a euro of
    cost returns most and least, and which acquisition channels cost more than their customers bring."""
    out: list[str] = []
    groups = result.by_channel[result.by_channel["roi"].notna()] if "roi" in result.by_channel else pd.DataFrame()
    if len(groups) > 1:
        ranked = groups.sort_values("roi", ascending=False)
        best, worst = ranked.iloc[0], ranked.iloc[-1]
        out.append(_say(fmt, "investment.returns", best=_term(fmt, best["group"]), best_roi=fmt.percent(best["roi"]),
                        worst=_term(fmt, worst["group"]), worst_roi=fmt.percent(worst["roi"])))
    acq = result.acquisition
    losing = acq[(acq["acquisition_cost"] > 0) & (acq["headroom"] < 0)] if not acq.empty else acq
    if len(losing):
        worst = losing.sort_values("headroom").iloc[0]
        out.append(_say(fmt, "investment.acquisition_loses", channels=fmt.join([_term(fmt, c) for c in losing["channel"]]),
                        channel=_term(fmt, worst["channel"]), cost=_money(fmt, worst["acquisition_cost"]),
                        clv=_money(fmt, worst["mean_clv"])))
    elif not acq.empty and (acq["acquisition_cost"] > 0).any():
        out.append(_say(fmt, "investment.acquisition_pays"))
    return out


def budget(plan, fmt: Formats) -> list[str]:
    """What a retention budget buys, from :class:`cvm.value.investment.BudgetPlan`, and whether it is too
    small or too large."""
    if plan is None:
        return []
    cost = _money(fmt, plan.cost_per_customer)
    if plan.status == "no_one_worth":
        return [_say(fmt, "budget.no_one_worth", cost=cost, uplift=fmt.percent(plan.uplift))]
    if plan.status == "too_small":
        return [_say_n(fmt, "budget.too_small", plan.worth_contacting, budget=_money(fmt, plan.budget), cost=cost,
                     n=fmt.number(plan.worth_contacting), needed=_money(fmt, plan.budget_needed))]
    out = [_say_n(fmt, "budget.buys", plan.selected, budget=_money(fmt, plan.spend), n=fmt.number(plan.selected),
                kept=fmt.number(plan.customers_kept, 1), value=_money(fmt, plan.value_protected),
                uplift=fmt.percent(plan.uplift))]
    if plan.roi is not None:
        if plan.roi_low is not None and plan.roi_high is not None and not missing(plan.roi_low):
            out.append(_say(fmt, "budget.roi_interval", roi=fmt.percent(plan.roi), low=fmt.percent(plan.roi_low),
                            high=fmt.percent(plan.roi_high)))
        else:
            out.append(_say(fmt, "budget.roi", roi=fmt.percent(plan.roi)))
    if plan.status == "more_would_pay":
        left = plan.worth_contacting - plan.selected
        out.append(_say_n(fmt, "budget.more_would_pay", left, per_euro=fmt.money(plan.next_euro, digits=2), n=fmt.number(left),
                        needed=_money(fmt, plan.budget_needed)))
    elif plan.status == "too_large":
        out.append(_say(fmt, "budget.too_large", unused=_money(fmt, plan.unused), needed=_money(fmt, plan.budget_needed)))
    else:
        out.append(_say(fmt, "budget.fits"))
    return out


def customers(total: int, as_of: Any, fmt: Formats) -> list[str]:
    """The customer list's answer: how many customers were valued on which day, and what to do with the list."""
    return [_say_n(fmt, "customers.list", total, n=fmt.number(total), date=fmt.date(as_of))]


def models(run: dict | None, fmt: Formats) -> list[str]:
    """The models page's answer: which model values the customers now, and why (the run's stored reason)."""
    if not run:
        return [_say(fmt, "models.none")]
    return [_say_n(fmt, "models.chosen", run.get("n_customers"), model=_term(fmt, run.get("model")), date=fmt.date(run.get("as_of")),
                 n=fmt.number(run.get("n_customers")))]


def calculator(clv: float, break_even: float | None, cost: float, years: int, fmt: Formats) -> list[str]:
    """The calculator's answer: what one customer is worth with the figures entered, and up to which yearly
    retention cost keeping them pays (the break-even M of :func:`cvm.models.formula.break_even_retention_cost`)."""
    out = [_say_n(fmt, "calculator.worth", years, clv=fmt.money(clv, digits=2), n=fmt.number(years))]
    if break_even is not None:
        key = "calculator.cost_pays" if cost <= break_even else "calculator.cost_too_high"
        out.append(_say(fmt, key, m=fmt.money(cost, digits=2), max=fmt.money(break_even, digits=2)))
    return out


def data(quarantined: int, health: list[dict], fmt: Formats) -> list[str]:
    """The data page's answer: how many rows were rejected, and how many points of the data check ask for
    action (the ``warning`` lines of :meth:`cvm.health.DataHealth.sentences`), the first of them in full."""
    out = [_say_n(fmt, "data.quarantined", quarantined, n=fmt.number(quarantined)) if quarantined else _say(fmt, "data.all_accepted")]
    warnings = [line for line in health if line.get("level") == "warning"]
    if warnings:
        out.append(_say_n(fmt, "data.warnings", len(warnings), n=fmt.number(len(warnings)), first=warnings[0]["text"]))
    else:
        out.append(_say(fmt, "data.no_warnings"))
    return out


def cohorts(result: pd.DataFrame, fmt: Formats, period: str = "quarter") -> list[str]:
    """The cohort page's answer from :func:`cvm.service.cohorts`: of all cohorts together, the share of
    customers who bought again in the period after their first, the share still buying at the oldest age
    most cohorts reached, and where customers drop out most.

    Shares are pooled over the cohorts that reached an age: ``sum(active) / sum(customers)`` at that age
    (each customer counts once, not each cohort).
    """
    if result is None or result.empty or not {"cohort", "age", "customers", "active"} <= set(result.columns):
        return []
    pooled = result.groupby("age")[["active", "customers"]].sum()
    pooled = pooled[pooled["customers"] > 0]
    if 1 not in pooled.index:
        return []
    share = pooled["active"] / pooled["customers"]
    first = pooled.loc[1]
    out = [_say(fmt, "cohorts.second", share=fmt.percent(share.loc[1], 1), active=fmt.number(int(first["active"])),
                n=fmt.number(int(first["customers"])), next=text("cohorts.next." + period, fmt.language))]
    # the oldest age reached by at least half of the customers (so the share rests on most of them)
    ages = pooled.index[pooled["customers"] >= 0.5 * pooled["customers"].max()]
    last = int(max(ages))
    if last > 1:
        out.append(_say(fmt, "cohorts.later", span=_span(fmt, period, last), share=fmt.percent(share.loc[last], 1)))
    drops = (share.shift(1) - share).dropna()
    if len(drops) and int(drops.idxmax()) == 1:
        out.append(_say(fmt, "cohorts.todo_second", first=text("cohorts.first." + period, fmt.language)))
    elif len(drops):
        out.append(_say(fmt, "cohorts.todo_later", span=_span(fmt, period, int(drops.idxmax()))))
    return out


def _span(fmt: Formats, period: str, k: int) -> str:
    """``k`` periods in words: "3 kwartalen", "1 maand" (plural forms ``cohorts.span.<period>``)."""
    return ntext("cohorts.span." + period, k, fmt.language, {"k": fmt.number(k)})
