"""The drivers page (``/drivers``): which customer groups buy more often, stay longer, spend more and pay back
their costs. The route parses the chosen attributes, asks :func:`cvm.service.drivers.drivers` and renders
its result in the page's language (the words of :mod:`cvm.value.drivers`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from cvm.service.drivers import driver_attributes, drivers
from cvm.value.drivers import (
    KINDS, MIN_CUSTOMERS_PER_VALUE, TABLE_COLUMNS, AttributeEffects, DriversResult, group_sentences, table_rows,
)
from cvm.web.deps import Fmt, State, Viewer
from cvm.web.render import figure, render
from cvm.web.routes_pages import _cached_question, _said

router = APIRouter(include_in_schema=False)

#: most attributes compared at once on the page (each adds coefficients to the one model)
MAX_CHOSEN = 4


@router.get("/drivers")
def drivers_page(
    request: Request, user: Viewer, state: State, fmt: Fmt,
    by: Annotated[list[str] | None, Query(max_length=MAX_CHOSEN)] = None,
) -> Response:
    """The chooser of attributes (those with at least two groups large enough) and, for the chosen ones,
    the answer in sentences, a table and a chart per attribute with every factor and its interval."""
    ws = state.workspace()
    choices, choices_error = _cached_question(state, "drivers:attributes", lambda: driver_attributes(ws))
    choices = choices or {}
    asked = [b[:200] for b in (by or []) if b.strip()]
    chosen = [b for b in asked if b in choices]
    if by is None and choices:  # first visit: the acquisition channel when the customers have one, else the first
        chosen = ["channel"] if "channel" in choices else [next(iter(choices))]
    context: dict[str, Any] = {
        "choices": [(name, fmt.attribute_label(name)) for name in choices], "chosen": chosen,
        "error": _said(fmt, choices_error), "minimum": MIN_CUSTOMERS_PER_VALUE,
    }
    unknown = [b for b in asked if b not in choices]
    if unknown and choices:  # not an attribute that can be compared (a typed or an old address): say which are
        context["error"] = fmt("drivers.not_a_choice", attribute=fmt.formats.join(unknown),
                               choices=fmt.formats.join([label for _, label in context["choices"]]))
    if chosen:
        result, error = _cached_question(state, "drivers:" + "\x1f".join(chosen), lambda: drivers(ws, chosen))
        context["error"] = context["error"] or _said(fmt, error)
        if result is not None:
            context.update(_result_context(result, fmt))
    return render(request, "drivers.html", **context)


def _result_context(result: DriversResult, fmt) -> dict[str, Any]:
    lang = fmt.language
    attributes = []
    for i, attr in enumerate(result.attributes):
        label = fmt.attribute_label(attr.attribute)
        notes = []
        if attr.left_out:
            shown = fmt.formats.join([f"{fmt.term(v)} ({fmt.number(n)})" for v, n in attr.left_out.items()])
            notes.append(fmt("drivers.left_out", minimum=MIN_CUSTOMERS_PER_VALUE, values=shown))
        if attr.without_value:
            notes.append(fmt.ntext("drivers.without_value", attr.without_value, n=fmt.number(attr.without_value), attribute=label.lower()))
        attributes.append({
            "id": f"drivers-{i}", "label": label,
            "title": fmt("drivers.by_attribute", attribute=label[:1].lower() + label[1:]),
            "rows": table_rows(result, attr, lang),
            "sentences": [s for g in attr.groups for s in group_sentences(result, attr, g, lang)],
            "notes": notes, "chart": _effects_chart(attr, fmt),
        })
    return {
        "answer": result.answer(lang), "attributes": attributes, "columns": TABLE_COLUMNS,
        "intro": fmt("drivers.intro", level=fmt.percent(result.level, 0)),
        "facts": [(fmt("drivers.facts.as_of"), fmt.date(result.as_of)),
                  (fmt("drivers.facts.customers"), fmt.number(result.n_customers))],
    }


def _effects_chart(attr: AttributeEffects, fmt) -> dict[str, Any] | None:
    """Every compared group's three factors with their intervals on a log axis, a group per row (its three
    effects side by side), the baseline's 1 marked with a dotted line."""
    groups = [g for g in attr.groups if not g.baseline]
    if not groups:
        return None
    traces = []
    for offset, kind in zip((0.22, 0.0, -0.22), KINDS):
        rows = [(i, g.effect(kind)) for i, g in enumerate(groups) if g.effect(kind).lower is not None]
        if not rows:
            continue
        traces.append({
            "type": "scatter", "mode": "markers", "name": fmt(f"drivers.col.{kind}"),
            "x": [e.factor for _, e in rows], "y": [-i + offset for i, _ in rows],
            "error_x": {"type": "data", "symmetric": False, "array": [e.upper - e.factor for _, e in rows],
                        "arrayminus": [e.factor - e.lower for _, e in rows]},
            "marker": {"size": 10}, "hoverinfo": "x+name",
        })
    if not traces:
        return None
    return figure(
        traces, separators=fmt.separators, height=max(360, 170 + 80 * len(groups)),
        margin={"l": 110, "r": 20, "t": 50, "b": 60},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        xaxis={"type": "log", "title": {"text": fmt("drivers.chart_axis", baseline=fmt.term(attr.baseline))}},
        yaxis={"tickvals": [-i for i in range(len(groups))], "ticktext": [fmt.term(g.value) for g in groups],
               "range": [-len(groups) + 0.5, 0.5], "zeroline": False, "title": {"text": ""}},
        shapes=[{"type": "line", "x0": 1, "x1": 1, "yref": "paper", "y0": 0, "y1": 1, "line": {"dash": "dot"}}],
    )
