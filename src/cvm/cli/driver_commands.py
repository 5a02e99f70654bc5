"""``cvm drivers``: which customer groups buy more often, stay longer, spend more and pay back their costs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from cvm.cli.options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt
from cvm.cli.output import emit_json, out, show_table, table_words
from cvm.cli.workspace import open_workspace

if TYPE_CHECKING:  # the library and pandas are imported when the command runs, not when cvm starts
    from cvm.value.drivers import DriversResult


def _render(result: DriversResult, language: str, words) -> None:
    import pandas as pd

    from cvm.i18n import text
    from cvm.value.drivers import MIN_CUSTOMERS_PER_VALUE, TABLE_COLUMNS, group_sentences, table_rows

    for sentence in result.answer(language):
        out.print(escape(sentence), highlight=False)
    headers = {c: text("drivers.col." + c, language) for c in TABLE_COLUMNS}
    for attr in result.attributes:
        label = text("col." + attr.attribute, language, default=attr.attribute.replace("_", " "))
        rows = pd.DataFrame([{headers[c]: r[c] for c in TABLE_COLUMNS} for r in table_rows(result, attr, language)])
        priority = [headers[c] for c in ("group", "purchase", "dropout", "spend", "verdict", "customers", "profit")]
        show_table(rows, title=text("drivers.by_attribute", language, {"attribute": label.lower()}), max_rows=50,
                   words=words, priority=priority)
        for group in attr.groups:  # the drivers in words; every figure is in the table and in --json
            for sentence in group_sentences(result, attr, group, language, clear_only=True):
                out.print("  " + escape(sentence), highlight=False)
        if attr.left_out:
            shown = ", ".join(f"{v} ({words.number(n)})" for v, n in attr.left_out.items())
            out.print(escape(text("drivers.left_out", language, {"minimum": MIN_CUSTOMERS_PER_VALUE, "values": shown})),
                      highlight=False)


def drivers(
    by: Annotated[list[str], typer.Option("--by", metavar="ATTRIBUTE", help="Customer attribute to compare (channel, region, any column "
                                                       "of the customers file); repeat for several.")] = [],  # noqa: B006
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Per group of customers: how much more or less often they buy, how much longer they stay, how much more
    they spend (each with its 95% interval) and whether they are profitable after their costs."""
    from cvm.service.drivers import drivers as drivers_of

    ws = open_workspace(workspace)
    result = drivers_of(ws, by)
    language = ws.settings.language
    if as_json:
        emit_json(result.to_dict(language))
    else:
        _render(result, language, table_words(ws))
