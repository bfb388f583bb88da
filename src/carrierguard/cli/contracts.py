"""Pillar C commands: serve, screen, import, policy, keys, demo."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the Pillar C commands to the top-level ``app``."""
