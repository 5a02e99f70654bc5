"""The ``cvm`` command table: which function answers which command, in the order ``cvm --help`` lists them."""

from __future__ import annotations

import typer

from cvm.cli.campaign_commands import campaigns_list, evaluate
from cvm.cli.admin_commands import (
    audit_log, settings, token_create, token_list, token_revoke, users_add, users_list, users_passwd, users_remove, version,
)
from cvm.cli.data_commands import ingest, quarantine, run
from cvm.cli.driver_commands import drivers
from cvm.cli.health_commands import health
from cvm.cli.init_command import init
from cvm.cli.model_commands import backtest, fit, formula
from cvm.cli.question_commands import cohorts, concentration, invest, migration, receivables, segments
from cvm.cli.report_commands import demo, report, serve
from cvm.cli.value_commands import actions, customer, customers, score


app = typer.Typer(
    name="cvm",
    help="Customer value management: CLV models, a DuckDB workspace, and the decisions that follow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Manage web-app users (admin).", no_args_is_help=True)
token_app = typer.Typer(help="Manage API bearer tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(token_app, name="token")
campaign_app = typer.Typer(help="Campaigns with a control group: did they pay?", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
campaign_app.command("evaluate")(evaluate)
campaign_app.command("list")(campaigns_list)


for command in (
    init, ingest, quarantine, health, fit, formula, backtest, score, run, customers, customer, concentration, segments,
    migration, cohorts, invest, receivables, actions, settings, report, serve, demo, version,
):
    app.command()(command)
app.command()(drivers)
app.command("audit")(audit_log)
users_app.command("add")(users_add)
users_app.command("list")(users_list)
users_app.command("remove")(users_remove)
users_app.command("passwd")(users_passwd)
token_app.command("create")(token_create)
token_app.command("list")(token_list)
token_app.command("revoke")(token_revoke)
