"""``carrierguard mail ...``: Pillar M commands (check, scan, milter, dkim-keygen, ...)."""

from __future__ import annotations

import typer

app = typer.Typer(help="メール認証とフィッシング対策 / Mail authentication and phishing defence.",
                  no_args_is_help=True)
