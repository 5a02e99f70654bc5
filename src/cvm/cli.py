"""The ``cvm`` command line (Typer + Rich). Each command parses options and calls one library function."""

from __future__ import annotations

import typer

app = typer.Typer(name="cvm", help="Customer value management: CLV models and the decisions that follow.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the cvm version."""
    from cvm import __version__

    typer.echo(__version__)


def main() -> None:
    app()
