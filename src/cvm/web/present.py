"""How the library's results are shown to people: which columns, in what format, with which words.

The value layer speaks in column names (``clv_share``, ``customers_needed``) and
codes (``at risk``, ``Key customers``, ``win back``). The pages show them as
labels from the message catalogs (``col.<name>``), values in the locale
(:meth:`cvm.web.i18n.Formatter.cell`) and codes as words (``term.<code>``).

:data:`COLUMN_KINDS` says how each known column is formatted; :func:`table`
picks and orders the columns a page shows, so internal ones (run ids, the name
of the grouping column) stay out of sight.
"""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from cvm.errors import CvmError
from cvm.i18n.columns import COLUMN_KINDS  # how each column is shown, one table for every face


def kind_of(column: str) -> str:
    return COLUMN_KINDS.get(column, "text")


def table(rows: list[dict[str, Any]] | pd.DataFrame | None, columns: Iterable[str], limit: int | None = None,
          labels: dict[str, str] | None = None, kinds: dict[str, str] | None = None) -> dict[str, Any]:
    """A table for the ``ui.grid`` macro: the given columns (those present) of ``rows``.

    ``rows`` may be a list of dicts or a DataFrame; ``limit`` keeps the first rows
    and records how many there were in ``total``. ``labels`` maps a column to the
    catalog key of its heading and ``kinds`` to its format, where they differ
    from the defaults (``col.<name>``, :data:`COLUMN_KINDS`).
    """
    if isinstance(rows, pd.DataFrame):
        frame = rows.reset_index() if rows.index.name is not None else rows
        rows = frame.to_dict(orient="records")
    rows = list(rows or [])
    present = [c for c in columns if any(_shown(r.get(c)) for r in rows)] if rows else list(columns)
    total = len(rows)
    if limit is not None:
        rows = rows[:limit]
    return {"columns": present, "rows": rows, "total": total, "labels": labels or {}, "kinds": kinds or {}}


def _shown(value: Any) -> bool:
    """False for a missing value (None, NaN): a column with only those is left out."""
    if value is None:
        return False
    try:
        return value == value  # NaN is the one value unequal to itself
    except (TypeError, ValueError):
        return True


def matrix(counts: dict[str, dict[str, Any]], shares: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A from × to table of a migration: one row per starting group, one column per end group."""
    start = list(counts)
    end: list[str] = []
    for row in counts.values():
        for key in row:
            if key not in end:
                end.append(key)
    rows = [{"from": a, "cells": [(counts[a].get(b, 0), (shares or {}).get(a, {}).get(b)) for b in end],
             "total": sum(v or 0 for v in counts[a].values())} for a in start]
    return {"to": end, "rows": rows}


def quarantine_reason(fmt, reason: str | None, code: str | None = None, values: Any = None) -> str | None:
    """A stored quarantine reason in the page's language, from its code and values
    (:func:`cvm.data.reasons.quarantine_reason`; the stored English without a code)."""
    from cvm.data.reasons import quarantine_reason as render

    return render(reason, fmt.language, fmt.label, code, values)


#: actions whose reason cites only figures of the customer's score row
SCORE_ONLY_ACTIONS = ("retain", "win back", "upsell", "nurture")


def reason_text(fmt, reason_code: str | None, values: dict[str, Any] | None) -> str | None:
    """A library reason (code and figures) as a sentence in the page's language and currency.

    Words and numbers come from :func:`cvm.value.explain.explain`, the one
    renderer the report and the CLI use too; tiers and stages take the page's
    own terms (``term.<code>``).
    """
    if not reason_code:
        return None
    from cvm.value.explain import explain

    text = explain(reason_code, values or {}, fmt.language, fmt.currency, terms=fmt.term)
    return text if text.endswith((".", "!", "?")) else text + "."


def run_reason(fmt, run: dict[str, Any]) -> str | None:
    """Why a stored scoring run used its model, in the page's language (English for runs stored
    before reasons had codes)."""
    import json

    code = run.get("model_reason_code")
    if not code:
        return run.get("model_reason")
    raw = run.get("model_reason_values")
    try:
        values = json.loads(raw) if isinstance(raw, str) else (raw or {})
    except ValueError:
        return run.get("model_reason")
    return reason_text(fmt, code, values)


def backtest_reason(fmt, result: dict[str, Any]) -> str | None:
    """Why a backtest chose its model, in the page's language (``cvm backtest --json`` result).

    Results stored before reasons had codes carry only the English ``reason``.
    """
    code = result.get("reason_code")
    return reason_text(fmt, code, result.get("reason_values")) if code else result.get("reason")


def action_reason(fmt, action: dict[str, Any] | str | None, score: dict[str, Any] | None = None) -> str | None:
    """The reason for a customer's next-best action in the page's language.

    ``action`` is the customer view's ``next_best_action`` (``action``,
    ``reason``, ``reason_code``, ``reason_values``) or only the action's name.
    With a reason code the sentence is rendered from it. Without one, the
    code and figures are taken from the customer's ``score`` row by the value
    layer's own rule (:func:`cvm.value.actions.action_reason`), except for
    "collect payment" and "lower cost-to-serve", whose figures (overdue amount,
    cost-to-serve) are not in the scores: then no sentence is shown rather than
    an English one or a wrong amount.
    """
    if isinstance(action, dict):
        name = action.get("action")
        code, values = action.get("reason_code"), action.get("reason_values")
    else:
        name, code, values = action, None, None
    if not name:
        return None
    if not code and name in SCORE_ONLY_ACTIONS and score:
        from cvm.value.actions import action_reason as library_rule

        try:
            code, values = library_rule(str(name), score)
        except CvmError:
            return None
    return reason_text(fmt, code, values)
