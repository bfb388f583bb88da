"""``python -m carrierguard.mail.content scan|train|eval`` before the CLI hook-up."""

from __future__ import annotations

import typer

from carrierguard.mail.content.cli import register

app = typer.Typer(no_args_is_help=True)
register(app)

if __name__ == "__main__":
    app()
