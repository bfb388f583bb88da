"""``carrierguard users ...``: people who sign in to the review pages (password + TOTP)."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from carrierguard.auth import Role
from carrierguard.cli.contracts import DbOption, _settings, open_service
from carrierguard.errors import InvalidInput
from carrierguard.web.ui.accounts import Accounts

app = typer.Typer(help="画面の利用者 / Web users (password + TOTP).", no_args_is_help=True)
console = Console()


@app.command("create")
def create(
    username: Annotated[str, typer.Option(help="Sign-in name")],
    role: Annotated[Role, typer.Option(help="Role, e.g. hq_reviewer")],
    db: DbOption = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """利用者を作成し TOTP を登録 / Create a user and print the TOTP enrolment URI (shown once)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("パスワード / password: ")
        if getpass.getpass("もう一度 / again: ") != password:
            raise InvalidInput("the passwords differ", message_ja="パスワードが一致しません。")
    service = open_service(_settings(db))
    new = Accounts(service.registry, service.protector).create_user(
        username, role, password, datetime.now(UTC)
    )
    console.print(f"created {username} ({role.value})")
    console.print("認証アプリに登録してください / add this to an authenticator app:")
    print(new.provisioning_uri())
