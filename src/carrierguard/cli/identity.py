"""``carrierguard identity ...``: compare and de-duplicate identities."""

from __future__ import annotations

import typer

app = typer.Typer(help="本人同一性の判定 / Japanese identity resolution.", no_args_is_help=True)
