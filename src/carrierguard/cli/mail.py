"""``carrierguard mail ...``: Pillar M commands (check, milter, dkim-keygen, ...).

The phishing ``scan`` command lives in its own section below, marked for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from carrierguard.errors import InvalidInput
from carrierguard.mail.auth.check import Envelope, authenticate, report_to_dict
from carrierguard.mail.dns import CachingResolver, DnspythonResolver, Resolver, StaticResolver
from carrierguard.mail.message import Message
from carrierguard.mail.settings import (
    DEFAULT_DNS_TIMEOUT,
    DEFAULT_QUARANTINE_DIR,
    AllowList,
    MailSettings,
)

app = typer.Typer(
    help="メール認証とフィッシング対策 / Mail authentication and phishing defence.",
    no_args_is_help=True,
)


def build_resolver(
    zone: Path | None, nameservers: list[str], port: int, timeout: float
) -> Resolver:
    """The zone-file resolver when ``--dns-zone`` is given, else cached real DNS."""
    if zone is not None:
        if not zone.is_file():
            raise InvalidInput(
                f"zone file not found: {zone}", message_ja=f"ゾーンファイルがありません: {zone}"
            )
        return StaticResolver.from_zone_file(zone)
    return CachingResolver(DnspythonResolver(nameservers=nameservers, port=port, timeout=timeout))


def _read_message(path: Path) -> Message:
    try:
        return Message.parse(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {path}: {exc.strerror}",
            message_ja=f"{path} を読み込めません: {exc.strerror}",
        ) from exc


DnsZone = Annotated[
    Path | None,
    typer.Option(
        "--dns-zone", help="RFC 1035 ゾーンファイルで DNS を代替 / answer DNS from a zone file"
    ),
]
Nameserver = Annotated[
    list[str] | None,
    typer.Option(
        "--nameserver", help="問い合わせ先 DNS サーバー / DNS server address (repeatable)"
    ),
]


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="検査するメール (.eml) / message file")],
    ip: Annotated[str | None, typer.Option(help="送信元 IP / client IP for SPF")] = None,
    helo: Annotated[str, typer.Option(help="HELO/EHLO 名 / HELO name")] = "",
    mail_from: Annotated[
        str, typer.Option("--mail-from", help="エンベロープ送信者 / MAIL FROM")
    ] = "",
    dns_zone: DnsZone = None,
    nameserver: Nameserver = None,
    dns_port: Annotated[int, typer.Option("--dns-port")] = 53,
    authserv_id: Annotated[str | None, typer.Option("--authserv-id")] = None,
) -> None:
    """SPF・DKIM・ARC・DMARC を検査し JSON で出力 / authenticate one message, print JSON."""
    resolver = build_resolver(dns_zone, nameserver or [], dns_port, DEFAULT_DNS_TIMEOUT)
    settings = MailSettings(authserv_id=authserv_id) if authserv_id else MailSettings()
    envelope = Envelope(ip=ip, helo=helo or "", mail_from=mail_from)
    report = authenticate(
        _read_message(file),
        envelope,
        resolver,
        authserv_id=settings.authserv_id,
        malformed_from_disposition=settings.malformed_from,
    )
    typer.echo(json.dumps(report_to_dict(report), ensure_ascii=False))


@app.command()
def milter(
    listen: Annotated[
        str, typer.Option(help="待ち受けアドレス / inet:HOST:PORT")
    ] = "inet:127.0.0.1:8891",
    authserv_id: Annotated[str | None, typer.Option("--authserv-id")] = None,
    quarantine_dir: Annotated[Path, typer.Option("--quarantine-dir")] = DEFAULT_QUARANTINE_DIR,
    nameserver: Nameserver = None,
    dns_port: Annotated[int, typer.Option("--dns-port")] = 53,
    dns_zone: DnsZone = None,
    allow: Annotated[
        list[str] | None, typer.Option(help="許可リスト (ドメインまたは CIDR) / allow-list entry")
    ] = None,
    trusted_arc_sealer: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-arc-sealer", help="信頼する ARC 転送元 / trusted ARC sealer domain"
        ),
    ] = None,
    monitor: Annotated[
        bool, typer.Option("--monitor", help="判定のみで拒否・隔離しない / never reject or hold")
    ] = False,
    on_error: Annotated[str, typer.Option("--on-error", help="tempfail | accept")] = "tempfail",
) -> None:
    """Postfix 用 milter を起動 / run the milter for Postfix smtpd_milters."""
    import asyncio

    from carrierguard.mail.milter.server import MilterServer, parse_listen, serve_forever
    from carrierguard.mail.quarantine import QuarantineStore
    from carrierguard.mail.verdict import standard_stages

    try:
        host, port = parse_listen(listen)
        options: dict[str, object] = {
            "enforce": not monitor,
            "on_error": on_error,
            "allow": AllowList.parse(allow or []),
            "trusted_arc_sealers": frozenset(d.lower() for d in trusted_arc_sealer or []),
            "quarantine_dir": quarantine_dir,
        }
        if authserv_id:
            options["authserv_id"] = authserv_id
        settings = MailSettings(**options)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInput(str(exc), message_ja=f"設定が不正です: {exc}") from exc
    resolver = build_resolver(dns_zone, nameserver or [], dns_port, settings.dns_timeout)
    server = MilterServer(
        settings, standard_stages(resolver, settings), QuarantineStore(quarantine_dir)
    )
    asyncio.run(serve_forever(server, host, port))


# --- phishing scan ------------------------------------------------------------------------------
# The phishing engineer adds the ``scan`` command here (see DESIGN.md `carrierguard mail scan`).
# Reuse ``build_resolver`` and ``report_to_dict`` for its "auth" part, and
# ``carrierguard.mail.verdict.standard_stages`` with the classifier stage before ``decide``.
