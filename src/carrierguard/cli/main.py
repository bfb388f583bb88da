"""Entry point of the ``carrierguard`` command.

Each pillar keeps its commands in its own module; this one only assembles them
and turns a ``CarrierGuardError`` into a readable message and exit code 2.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from carrierguard.cli import audit, contracts, crosscarrier, identity, mail, report, users
from carrierguard.errors import CarrierGuardError
from carrierguard.logs import configure_logging

app = typer.Typer(
    name="carrierguard",
    help="CarrierGuard: 契約審査とフィッシング対策 / contract screening and phishing-mail defence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
contracts.register(app)
report.register(app)
app.add_typer(mail.app, name="mail")
app.add_typer(identity.app, name="identity")
app.add_typer(audit.app, name="audit")
app.add_typer(users.app, name="users")
app.add_typer(crosscarrier.app, name="xc")


def main() -> None:
    """Run the command; domain errors print as ``error [CODE]: message`` without a traceback."""
    # JSON logs on stderr, warnings and worse, so tables and JSON output stay clean.
    configure_logging(os.environ.get("CARRIERGUARD_LOG_LEVEL", "warning"))
    try:
        app()
    except CarrierGuardError as exc:
        err = Console(stderr=True)
        err.print(
            f"[bold red]error[/] [{exc.code}] {exc.message_ja}\n  {exc.message}",
            markup=True,
            highlight=False,
            soft_wrap=True,  # one error, one line per language: greppable logs
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
