"""Output edge of the sender-side checks: table, CSV, HTML (inline SVG chart, no script,
works offline; Japanese first with English) for the posture audit, and the commands
``carrierguard mail posture``, ``bimi-check`` and ``milter-submission`` (``register(app)``).
Checks live in ``posture``, ``bimi`` and ``outbound``; this module renders and wires.
"""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Annotated

import typer

from carrierguard.errors import InvalidInput
from carrierguard.mail.posture import DomainPosture, PostureSummary, audit, summarise
from carrierguard.mail.settings import DEFAULT_QUARANTINE_DIR

COLUMNS = (
    "domain",
    "dmarc",
    "p",
    "sp",
    "np",
    "t",
    "rua",
    "spf_valid",
    "spf_lookups",
    "spf_void",
    "dkim",
    "mta_sts",
    "tls_rpt",
    "bimi",
    "findings",
)
HEADINGS = {
    "domain": "ドメイン / domain",
    "dmarc": "DMARC",
    "p": "p",
    "sp": "sp",
    "np": "np",
    "t": "t",
    "rua": "集計レポート先 / rua",
    "spf_valid": "SPF 有効 / valid",
    "spf_lookups": "SPF 参照数 / lookups",
    "spf_void": "SPF 空参照 / void",
    "dkim": "DKIM 鍵 / keys",
    "mta_sts": "MTA-STS",
    "tls_rpt": "TLS-RPT",
    "bimi": "BIMI",
    "findings": "指摘 / findings",
}
_COLOURS = {"reject": "#1b7f3b", "quarantine": "#5aa64f", "none": "#e0a526"}


def row(p: DomainPosture) -> dict[str, str]:
    """One flat row for CSV and the table."""
    d = p.dmarc
    return {
        "domain": p.domain,
        "dmarc": d.state,
        "p": d.p,
        "sp": d.sp,
        "np": d.np,
        "t": "y" if d.testing else "",
        "rua": " ".join(d.rua),
        "spf_valid": "yes" if p.spf.valid else "no",
        "spf_lookups": str(p.spf.lookups),
        "spf_void": str(p.spf.void_lookups),
        "dkim": " ".join(
            f"{k.selector}:{k.key_type}{k.bits}" if k.found and k.bits else f"{k.selector}:-"
            for k in p.dkim
        ),
        "mta_sts": _tag(p.mta_sts.record, p.mta_sts.valid),
        "tls_rpt": _tag(p.tls_rpt.record, p.tls_rpt.valid),
        "bimi": _tag(p.bimi.record, p.bimi.valid),
        "findings": " ".join(f.code for f in p.findings),
    }


def _tag(record: str, valid: bool) -> str:
    return "" if not record else ("ok" if valid else "invalid")


def summary_line(s: PostureSummary) -> tuple[str, str]:
    share = f"{s.enforcing_share:.1%}"
    return (
        f"DMARC が quarantine/reject のドメイン: {s.enforcing}/{s.total} ({share})",
        f"Domains with DMARC at quarantine or reject: {s.enforcing}/{s.total} ({share})",
    )


def to_csv(postures: list[DomainPosture]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for p in postures:
        writer.writerow(row(p))
    return out.getvalue()


def chart(s: PostureSummary) -> str:
    """A horizontal bar per DMARC state, as inline SVG."""
    width, bar, gap, label = 520, 22, 8, 130
    top = max((n for _, n in s.by_policy), default=1)
    height = len(s.by_policy) * (bar + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="DMARC policy / DMARC ポリシー">'
    ]
    for i, (name, count) in enumerate(s.by_policy):
        y = gap + i * (bar + gap)
        w = int((width - label - 60) * count / top)
        colour = _COLOURS.get(name.split("+")[0], "#b3261e")
        parts.append(f'<text x="0" y="{y + 16}" font-size="13">{escape(name)}</text>')
        parts.append(f'<rect x="{label}" y="{y}" width="{w}" height="{bar}" fill="{colour}"/>')
        parts.append(f'<text x="{label + w + 6}" y="{y + 16}" font-size="13">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(postures: list[DomainPosture], generated: datetime) -> str:
    s = summarise(postures)
    ja, en = summary_line(s)
    head = "".join(f"<th>{escape(HEADINGS[c])}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{escape(v)}</td>" for v in list(row(p).values())[:-1])
        + "<td>"
        + "<br>".join(
            f"{escape(f.message_ja)}<br><small>{escape(f.message_en)}</small>" for f in p.findings
        )
        + "</td></tr>"
        for p in postures
    )
    return (
        '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">'
        "<title>送信ドメイン認証の状況 / Sender authentication posture</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 4px}</style></head><body>"
        "<h1>送信ドメイン認証の状況 <small>Sender authentication posture</small></h1>"
        f"<p>{escape(ja)}<br>{escape(en)}</p>"
        f"<p>SPF 有効 / SPF valid: {s.spf_valid}/{s.total}</p>"
        f"<figure>{chart(s)}<figcaption>DMARC ポリシー別ドメイン数 / domains by DMARC "
        "policy (+t: テストモード / testing)</figcaption></figure>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<p>作成 / generated {generated.isoformat(timespec='seconds')}</p></body></html>\n"
    )


def _domains(domains: list[str], file: Path | None) -> list[str]:
    names = list(domains)
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"cannot read {file}: {exc.strerror}",
                message_ja=f"{file} を読み込めません: {exc.strerror}",
            ) from exc
        names += [ln.split("#")[0].strip() for ln in text.splitlines()]
    names = [n for n in names if n]
    if not names:
        raise InvalidInput(
            "give domains or --file", message_ja="ドメインまたは --file を指定してください。"
        )
    return names


def register(app: typer.Typer) -> None:
    """Add ``posture``, ``bimi-check`` and ``milter-submission`` to ``carrierguard mail``."""
    from rich.console import Console
    from rich.table import Table

    @app.command("posture")
    def posture(
        domains: Annotated[list[str] | None, typer.Argument(help="ドメイン / domains")] = None,
        file: Annotated[
            Path | None, typer.Option("--file", help="1 行 1 ドメイン / one domain a line")
        ] = None,
        dns_zone: Annotated[
            Path | None, typer.Option("--dns-zone", help="ゾーンファイル / zone file")
        ] = None,
        nameserver: Annotated[
            list[str] | None, typer.Option("--nameserver", help="DNS サーバー / DNS server")
        ] = None,
        dns_port: Annotated[int, typer.Option("--dns-port")] = 53,
        selector: Annotated[
            list[str] | None, typer.Option("--selector", help="DKIM セレクタ / DKIM selector")
        ] = None,
        output: Annotated[str, typer.Option("--format", help="table | csv | html")] = "table",
        jobs: Annotated[int, typer.Option("--jobs", help="並列数 / domains at once")] = 8,
    ) -> None:
        """送信ドメインの SPF/DMARC/DKIM/MTA-STS/TLS-RPT/BIMI 監査 / sender posture audit."""
        if output not in ("table", "csv", "html"):
            raise InvalidInput(
                "--format must be table, csv or html",
                message_ja="--format は table, csv, html のいずれかです。",
            )
        from carrierguard.cli.mail import build_resolver
        from carrierguard.mail.settings import DEFAULT_DNS_TIMEOUT

        names = _domains(domains or [], file)
        resolver = build_resolver(dns_zone, nameserver or [], dns_port, DEFAULT_DNS_TIMEOUT)
        # Each domain waits on DNS, not the CPU: a few threads share the caching resolver.
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            postures = list(pool.map(lambda n: audit(resolver, n, selector or []), names))
        if output == "csv":
            typer.echo(to_csv(postures), nl=False)
            return
        if output == "html":
            typer.echo(to_html(postures, datetime.now(UTC)), nl=False)
            return
        shown = [c for c in COLUMNS if c not in ("rua", "findings")]
        table = Table(*shown)
        for p in postures:
            cells = row(p)
            table.add_row(*(cells[c] for c in shown))
        console = Console()
        console.print(table)
        for line in summary_line(summarise(postures)):
            console.print(line)

    @app.command("bimi-check")
    def bimi_check(
        svg: Annotated[Path, typer.Argument(help="ロゴ SVG / logo SVG")],
        vmc: Annotated[Path | None, typer.Option("--vmc", help="VMC/CMC PEM (leaf first)")] = None,
        trust: Annotated[
            Path | None, typer.Option("--trust", help="信頼するルート PEM / trust anchors PEM")
        ] = None,
    ) -> None:
        """BIMI ロゴ (SVG Tiny PS) と VMC の検証 / validate a BIMI logo and its VMC."""
        from carrierguard.mail.bimi import (
            BimiValidationError,
            load_pem_chain,
            validate_svg,
            validate_vmc,
        )

        data = svg.read_bytes()
        result: dict[str, object] = {"svg": "pass"}
        try:
            validate_svg(data)
            if vmc is not None:
                anchors = load_pem_chain(trust.read_bytes()) if trust else []
                validate_vmc(load_pem_chain(vmc.read_bytes()), anchors, data, datetime.now(UTC))
                result["vmc"] = "pass"
        except BimiValidationError as exc:
            result = {"result": "fail", "code": exc.code, "detail": exc.detail}
            typer.echo(json.dumps(result, ensure_ascii=False))
            raise typer.Exit(1) from exc
        typer.echo(json.dumps({"result": "pass", **result}, ensure_ascii=False))

    @app.command("milter-submission")
    def milter_submission(
        listen: Annotated[str, typer.Option(help="inet:HOST:PORT")] = "inet:127.0.0.1:8893",
        redis_url: Annotated[
            str | None,
            typer.Option("--redis", help="複数プロセスで共有 / shared state, redis://HOST:PORT/DB"),
        ] = None,
        per_minute: Annotated[
            int, typer.Option("--max-per-minute", help="1 分あたりの送信上限 / mails a minute")
        ] = 100,
        new_recipients: Annotated[
            int,
            typer.Option("--max-new-recipients", help="新規宛先の上限 / never-seen recipients"),
        ] = 50,
        new_window: Annotated[
            int, typer.Option("--new-recipient-window", help="秒 / seconds")
        ] = 600,
        quarantine_dir: Annotated[Path, typer.Option("--quarantine-dir")] = DEFAULT_QUARANTINE_DIR,
        quarantine_db: Annotated[
            str | None,
            typer.Option(
                "--quarantine-db",
                help="隔離先データベース (全ホストで共有) / database URL of the shared quarantine "
                "(default: --quarantine-dir)",
            ),
        ] = None,
        redis_prefix: Annotated[str, typer.Option("--redis-prefix", hidden=True)] = "cg:outbound:",
        phishing: Annotated[
            str,
            typer.Option(
                "--hold-on-phishing",
                help="フィッシング判定で保留 / hold on outbound phishing: weak|standard|strong|off",
            ),
        ] = "weak",
    ) -> None:
        """送信 (submission) 用 milter: 踏み台送信対策 / outbound abuse milter for submission.

        Postfix master.cf, submission service: ``-o smtpd_milters=inet:127.0.0.1:8893``.
        Held mail goes to the quarantine (``carrierguard mail quarantine``).
        """
        import asyncio

        from carrierguard.cli.mail import _migrated_engine, open_quarantine
        from carrierguard.mail.milter.server import MilterServer, parse_listen, serve_forever
        from carrierguard.mail.outbound import (
            OutboundLimiter,
            OutboundPolicy,
            build_store,
            classifier_judge,
            submission_stages,
        )
        from carrierguard.mail.settings import MailSettings

        if phishing not in ("weak", "standard", "strong", "off"):
            raise InvalidInput(
                "--hold-on-phishing must be weak, standard, strong or off",
                message_ja="--hold-on-phishing は weak, standard, strong, off のいずれかです。",
            )
        try:
            host, port = parse_listen(listen)
            policy = OutboundPolicy(per_minute, 60, new_recipients, new_window)
        except ValueError as exc:
            raise InvalidInput(str(exc), message_ja=f"設定が不正です: {exc}") from exc
        limiter = OutboundLimiter(build_store(redis_url, redis_prefix), policy)
        settings = MailSettings(quarantine_dir=quarantine_dir)
        judge = None if phishing == "off" else classifier_judge(phishing)
        stages = submission_stages(limiter, is_phishing=judge)
        engine = _migrated_engine(quarantine_db) if quarantine_db else None
        server = MilterServer(settings, stages, open_quarantine(quarantine_dir, engine))
        asyncio.run(serve_forever(server, host, port))

    @app.command("outbound-held")
    def outbound_held(
        redis_url: Annotated[str | None, typer.Option("--redis")] = None,
        release: Annotated[
            list[str] | None, typer.Option("--release", help="保留解除 / release ACCOUNT")
        ] = None,
        redis_prefix: Annotated[str, typer.Option("--redis-prefix", hidden=True)] = "cg:outbound:",
    ) -> None:
        """保留中の送信アカウントとメール (JSON 行) / held accounts and mail as JSON lines."""
        from dataclasses import asdict

        from carrierguard.mail.outbound import build_store

        if not redis_url:
            raise InvalidInput(
                "held accounts are shared through Redis: give --redis",
                message_ja="保留情報は Redis にあります。--redis を指定してください。",
            )
        store = build_store(redis_url, redis_prefix)
        for account in release or []:
            store.release(account.lower())
            typer.echo(json.dumps({"released": account.lower()}))
        for mail in store.held_mail():
            held = store.holding(mail.account)
            record = {**asdict(mail), "held": held is not None}
            if held is not None:
                record["reason"] = held.reason
            typer.echo(json.dumps(record, ensure_ascii=False))
