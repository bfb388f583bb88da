"""``carrierguard mail ...``: Pillar M commands (check, milter, dkim-keygen, ...).

The phishing ``scan`` command lives in its own section below, marked for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import Engine

from carrierguard.errors import InvalidInput
from carrierguard.mail.auth.check import Envelope, authenticate, checked_ip, report_to_dict
from carrierguard.mail.content.cli import register as register_content_commands
from carrierguard.mail.dns import CachingResolver, DnspythonResolver, Resolver, StaticResolver
from carrierguard.mail.message import Message
from carrierguard.mail.milter.server import ResultSink
from carrierguard.mail.milter.session import MilterSession
from carrierguard.mail.quarantine import Quarantine, QuarantineStore
from carrierguard.mail.reputation import (
    MemoryReputationStore,
    RedisReputationStore,
    ReputationStore,
    reputation_stage,
)
from carrierguard.mail.settings import (
    DEFAULT_DNS_TIMEOUT,
    DEFAULT_QUARANTINE_DIR,
    AllowList,
    MailSettings,
)
from carrierguard.mail.signing import DkimSigner, KeyAlgorithm, generate_key, load_key, zone_line
from carrierguard.mail.verdict import CheckContext, Stage

if TYPE_CHECKING:
    from carrierguard.store.quarantine import DbQuarantine

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
    """The message in ``path``; an unreadable, empty or non-mail file is a clear error."""
    from carrierguard.mail.content.extract import looks_like_mail

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {path}: {exc.strerror}",
            message_ja=f"{path} を読み込めません: {exc.strerror}",
        ) from exc
    if not data.strip():
        raise InvalidInput(f"{path} is empty", message_ja=f"{path} は空です。")
    if not looks_like_mail(data):
        raise InvalidInput(
            f"{path} is not a mail message: no RFC 5322 header block found",
            message_ja=f"{path} はメールではありません (RFC 5322 のヘッダがありません)。",
        )
    return Message.parse(data)


QuarantineDbFlag = Annotated[
    bool,
    typer.Option(
        "--quarantine-db",
        help="隔離を --db のデータベースに保存 (全ホストで共有) / keep held mail in the --db "
        "database, shared by every host (sealed with the data key serve uses)",
    ),
]
QuarantineDb = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="データベースの隔離を使う / the quarantine in this database (default: --quarantine-dir)",
    ),
]
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
    envelope = Envelope(ip=checked_ip(ip) if ip else None, helo=helo or "", mail_from=mail_from)
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
    quarantine_db: QuarantineDbFlag = False,
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
    db: Annotated[
        str | None, typer.Option("--db", help="DMARC 集計の保存先 / database URL for DMARC rows")
    ] = None,
    dkim_key: Annotated[
        list[str] | None,
        typer.Option("--dkim-key", help="送信署名鍵 / DOMAIN:SELECTOR:KEYFILE (repeatable)"),
    ] = None,
    internal_network: Annotated[
        list[str] | None,
        typer.Option("--internal-network", help="署名対象の送信元 / CIDR of outbound clients"),
    ] = None,
    failure_reports: Annotated[
        bool,
        typer.Option("--failure-reports", help="DMARC 失敗レポートを送信 / send RFC 9991 reports"),
    ] = False,
    report_sender: Annotated[str, typer.Option("--report-sender")] = "",
    smtp_host: Annotated[str, typer.Option("--smtp-host")] = "127.0.0.1",
    smtp_port: Annotated[int, typer.Option("--smtp-port")] = 25,
    bimi: Annotated[
        bool,
        typer.Option(
            "--bimi", help="BIMI ヘッダーを付与 / add BIMI headers on enforced DMARC pass"
        ),
    ] = False,
    reputation_redis: Annotated[
        str | None,
        typer.Option(
            "--reputation-redis",
            help="送信ドメイン評判の共有先 / Redis URL shared by milter processes (default: memory)",
        ),
    ] = None,
    content: Annotated[
        bool,
        typer.Option(
            "--content/--no-content",
            help="フィッシング判定 (AI) を行う / run the phishing classifier after authentication",
        ),
    ] = True,
    content_model: Annotated[
        Path | None,
        typer.Option("--content-model", help="判定モデル / model file (default: shipped)"),
    ] = None,
    default_strength: Annotated[
        str,
        typer.Option(
            "--default-strength",
            help="強度未設定の受信者 / strength for recipients who chose none: weak|standard|strong",
        ),
    ] = "standard",
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            "--metrics-file",
            help="Prometheus 指標の出力先 / metrics file for node_exporter's textfile collector "
            "(refreshed every 15 s)",
        ),
    ] = None,
    strength: Annotated[
        list[str] | None,
        typer.Option(
            "--strength",
            help="受信者ごとの強度 / ADDRESS=weak|standard|strong (repeatable; without it and "
            "with --db, the strengths set through the API are used)",
        ),
    ] = None,
) -> None:
    """Postfix 用 milter を起動 / run the milter for Postfix smtpd_milters.

    Postfix main.cf: ``smtpd_milters = inet:127.0.0.1:8891``,
    ``milter_default_action = tempfail``, ``milter_protocol = 6``.
    With ``--quarantine-db --db URL`` held mail goes to that database, which every milter
    host and ``serve --quarantine-db`` share (sealed with the data key of
    CARRIERGUARD_DATA_KEY or CARRIERGUARD_KEY_FILE, the key serve uses).
    """
    import asyncio

    from carrierguard.mail.milter.server import MilterServer, parse_listen, serve_forever
    from carrierguard.mail.signing import signing_stage
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
    if quarantine_db and not db:
        raise InvalidInput(
            "--quarantine-db keeps held mail in the --db database: give --db",
            message_ja="--quarantine-db は --db のデータベースに隔離します。--db を指定してください。",
        )
    resolver = build_resolver(dns_zone, nameserver or [], dns_port, settings.dns_timeout)
    engine = _migrated_engine(db) if db else None  # strengths, DMARC rows, quarantine share it
    quarantine = open_quarantine(quarantine_dir, engine if quarantine_db else None)
    stages = standard_stages(resolver, settings)
    stages.insert(-1, reputation_stage(_reputation_store(reputation_redis)))
    if content:
        stages.insert(
            -1,
            _content_stage(
                content_model,
                default_strength,
                strength or [],
                engine,
                settings.enforce,
                _reputation_store(reputation_redis, "cg:linkdomain:"),
            ),
        )
    if bimi:
        from carrierguard.mail.bimi import bimi_stage, https_fetch

        stages.insert(-1, bimi_stage(resolver, https_fetch()))
    if dkim_key:
        internal = AllowList.parse(internal_network or [])
        stages.insert(0, signing_stage(_signers(dkim_key), internal))
    sinks: list[ResultSink] = []
    if engine is not None:
        sinks.append(_dmarc_recorder(engine))
    if failure_reports:
        from carrierguard.mail.reports.failure import FailureReporter, FailureReportPolicy

        reporter = FailureReporter(
            FailureReportPolicy(
                enabled=True,
                sender=report_sender or f"dmarc-noreply@{settings.authserv_id}",
                receiver=settings.authserv_id,
            ),
            resolver,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
        )

        def report_failure(session: MilterSession, context: CheckContext) -> None:
            if context.auth is not None:
                message = Message.parse(session.raw_message())
                reporter.consider(message, session.envelope(), context.auth)

        sinks.append(report_failure)

    def on_result(session: MilterSession, context: CheckContext) -> None:
        for sink in sinks:
            sink(session, context)

    from carrierguard.mail.milter.metrics import MilterMetrics

    server = MilterServer(
        settings,
        stages,
        quarantine,
        on_result=on_result if sinks else None,
        metrics=MilterMetrics() if metrics_file else None,
    )
    asyncio.run(serve_forever(server, host, port, metrics_file=metrics_file))


def _content_stage(
    model_path: Path | None,
    default: str,
    chosen: list[str],
    engine: Engine | None,
    enforce: bool,
    link_domains: ReputationStore,
) -> Stage:
    """The phishing classifier stage, with each recipient's strength (M1)."""
    from carrierguard.mail.content import model as model_io
    from carrierguard.mail.content.stage import content_stage
    from carrierguard.mail.recipients import FixedStrengths, StoredStrengths, checked_strength

    fixed: dict[str, str] = {}
    for spec in chosen:
        address, sep, value = spec.rpartition("=")
        if not sep or not address:
            raise InvalidInput(
                f"--strength takes ADDRESS=STRENGTH, got {spec!r}",
                message_ja=f"--strength は ADDRESS=強度 の形です: {spec!r}",
            )
        fixed[address] = checked_strength(value)
    book: FixedStrengths | StoredStrengths = FixedStrengths(fixed, checked_strength(default))
    if engine is not None and not fixed:
        book = StoredStrengths(engine, default)
    return content_stage(
        model_io.load(model_path), book, enforce=enforce, link_domains=link_domains
    )


def _migrated_engine(url: str) -> Engine:
    """One engine on a database whose schema is up to date."""
    from carrierguard.store.engine import create_store_engine, migrate

    engine = create_store_engine(url)
    migrate(engine)
    return engine


def open_quarantine(directory: Path, engine: Engine | None) -> Quarantine:
    """The directory quarantine, or with ``engine`` the one in that database.

    The database quarantine seals held mail with the data key (CARRIERGUARD_DATA_KEY or
    the key file ``serve`` created). A mail command never creates that key: mail sealed
    with a key nobody else has could not be read by the API. The key is tried on the
    newest entry at once, so a wrong one fails here and not at the first release.
    """
    if engine is None:
        return QuarantineStore(directory)
    return _db_quarantine(engine)


def _db_quarantine(engine: Engine) -> DbQuarantine:
    from carrierguard.config import Settings
    from carrierguard.store.quarantine import DbQuarantine

    settings = Settings.from_env()
    if not settings.data_key and not settings.key_file.exists():
        raise InvalidInput(
            f"no data key: set CARRIERGUARD_DATA_KEY, or CARRIERGUARD_KEY_FILE to the key "
            f"`carrierguard serve` uses ({settings.key_file} does not exist)",
            message_ja=f"データ鍵がありません。CARRIERGUARD_DATA_KEY か、serve と同じ鍵ファイルを "
            f"CARRIERGUARD_KEY_FILE に指定してください ({settings.key_file} がありません)。",
        )
    store = DbQuarantine(engine, settings.resolved_data_key())
    store.check_key()
    return store


def _reputation_store(url: str | None, prefix: str = "cg:reputation:") -> ReputationStore:
    """Domain reputation in Redis when several milter processes run, else in memory."""
    if url is None:
        return MemoryReputationStore()
    import redis

    return RedisReputationStore(redis.Redis.from_url(url), prefix=prefix)


def _signers(specs: list[str]) -> dict[str, DkimSigner]:
    signers = {}
    for spec in specs:
        domain, selector, path = [*spec.split(":", 2), "", ""][:3]
        if not (domain and selector and path):
            raise InvalidInput(
                f"--dkim-key must be DOMAIN:SELECTOR:KEYFILE, got {spec!r}",
                message_ja=f"--dkim-key は DOMAIN:SELECTOR:KEYFILE の形式です: {spec!r}",
            )
        try:
            key = load_key(Path(path).read_bytes())
        except OSError as exc:
            raise InvalidInput(
                f"cannot read the DKIM key {path}: {exc.strerror}",
                message_ja=f"DKIM 鍵 {path} を読めません: {exc.strerror}",
            ) from exc
        signers[domain.lower()] = DkimSigner(domain.lower(), selector, key)
    return signers


def _dmarc_recorder(engine: Engine) -> ResultSink:
    """Store one row per DMARC-evaluated message for the aggregate reports."""
    from datetime import UTC, datetime

    from carrierguard.mail.reports.aggregate import row_from_report
    from carrierguard.store.mail_schema import record_dmarc_result

    def record(session: MilterSession, context: CheckContext) -> None:
        if context.auth is None:
            return
        row = row_from_report(session.envelope(), context.auth, datetime.now(UTC))
        if row is not None:
            with engine.begin() as conn:
                record_dmarc_result(conn, row)

    return record


@app.command("dkim-keygen")
def dkim_keygen(
    domain: Annotated[str, typer.Option(help="署名ドメイン / signing domain")],
    selector: Annotated[str, typer.Option(help="セレクタ / selector")],
    out: Annotated[Path, typer.Option(help="秘密鍵の保存先 / private key file (mode 0600)")],
    algorithm: Annotated[str, typer.Option(help="rsa (2048 bit) | ed25519")] = "rsa",
) -> None:
    """DKIM 鍵を生成し DNS TXT レコードを表示 / create a DKIM key, print its DNS TXT record."""
    import os

    try:
        chosen = KeyAlgorithm(algorithm.lower())
    except ValueError as exc:
        raise InvalidInput(
            f"algorithm must be rsa or ed25519, got {algorithm!r}",
            message_ja=f"アルゴリズムは rsa か ed25519 です: {algorithm!r}",
        ) from exc
    key = generate_key(chosen)
    line = zone_line(selector, domain, key)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private + b"\n")
    typer.echo(line)


@app.command("dmarc-report")
def dmarc_report(
    db: Annotated[str, typer.Option("--db", help="DMARC 集計の保存先 / database URL")],
    date_from: Annotated[str, typer.Option("--from", help="開始日 / first day (YYYY-MM-DD, UTC)")],
    date_to: Annotated[str, typer.Option("--to", help="終了日 (含まない) / end day, exclusive")],
    org_name: Annotated[str, typer.Option("--org-name")],
    email: Annotated[str, typer.Option("--email", help="報告元アドレス / report sender")],
    receiver: Annotated[str, typer.Option("--receiver", help="受信側ドメイン / our domain")],
    out: Annotated[Path | None, typer.Option(help="レポートの保存先 / write .xml.gz here")] = None,
    send: Annotated[bool, typer.Option("--send", help="rua 宛に送信 / mail them")] = False,
    smtp_host: Annotated[str, typer.Option("--smtp-host")] = "127.0.0.1",
    smtp_port: Annotated[int, typer.Option("--smtp-port")] = 25,
    nameserver: Nameserver = None,
    dns_port: Annotated[int, typer.Option("--dns-port")] = 53,
    dns_zone: DnsZone = None,
) -> None:
    """DMARC 集約レポート (RFC 9990) を作成・送信 / build and send DMARC aggregate reports."""
    import asyncio
    from datetime import UTC, datetime

    from carrierguard.mail.reports.job import build_reports, deliver
    from carrierguard.store.mail_schema import dmarc_results_between

    try:
        begin = datetime.fromisoformat(date_from).replace(tzinfo=UTC)
        end = datetime.fromisoformat(date_to).replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput(
            f"dates must be YYYY-MM-DD: {exc}", message_ja=f"日付は YYYY-MM-DD 形式です: {exc}"
        ) from exc
    engine = _migrated_engine(db)
    with engine.connect() as conn:
        reports = build_reports(
            dmarc_results_between(conn, begin, end),
            org_name=org_name,
            email=email,
            receiver=receiver,
            begin=begin,
            end=end,
        )
    for report in reports:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / report.filename).write_bytes(report.payload)
        typer.echo(
            json.dumps(
                {
                    "policy_domain": report.policy_domain,
                    "report_id": report.report_id,
                    "messages": report.messages,
                    "file": report.filename,
                    "bytes": len(report.payload),
                }
            )
        )
    if send:
        resolver = build_resolver(dns_zone, nameserver or [], dns_port, DEFAULT_DNS_TIMEOUT)
        sent = asyncio.run(
            deliver(
                reports,
                resolver,
                sender=email,
                receiver=receiver,
                smtp_host=smtp_host,
                smtp_port=smtp_port,
            )
        )
        typer.echo(json.dumps({"sent": sent}))


def _quarantine_at(quarantine_dir: Path, db: str | None) -> Quarantine:
    return open_quarantine(quarantine_dir, _migrated_engine(db) if db else None)


@app.command("quarantine")
def quarantine_list(
    quarantine_dir: Annotated[Path, typer.Option("--quarantine-dir")] = DEFAULT_QUARANTINE_DIR,
    db: QuarantineDb = None,
    state: Annotated[str, typer.Option(help="held | released | deleted | all")] = "held",
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="最大件数 / at most N entries")
    ] = None,
    after: Annotated[
        str | None, typer.Option("--after", help="この id の次から / continue after this id")
    ] = None,
) -> None:
    """隔離メールの一覧 (JSON 行、古い順) / list quarantined messages as JSON lines, oldest first."""
    from dataclasses import asdict

    from carrierguard.mail.quarantine import STATES

    if state != "all" and state not in STATES:
        raise InvalidInput(
            f"state must be one of {', '.join(STATES)} or all",
            message_ja=f"state は {', '.join(STATES)} または all です。",
        )
    store = _quarantine_at(quarantine_dir, db)
    for entry in store.list(None if state == "all" else state, limit=limit, after=after):
        typer.echo(json.dumps(asdict(entry), ensure_ascii=False))


@app.command("quarantine-import")
def quarantine_import(
    from_dir: Annotated[
        Path, typer.Option("--from-dir", help="移行元の隔離ディレクトリ / directory quarantine")
    ],
    db: Annotated[str, typer.Option("--db", help="移行先データベース / database URL")],
    batch: Annotated[int, typer.Option("--batch", min=1, hidden=True)] = 200,
) -> None:
    """隔離ディレクトリをデータベースへ移行 / copy a directory quarantine into the database.

    Ids, states and labels are kept; entries already in the database are skipped, so a
    second run adds nothing. The directory is left as it was (remove it once checked).
    """
    from rich.progress import Progress

    if not from_dir.is_dir():
        raise InvalidInput(
            f"not a directory: {from_dir}", message_ja=f"ディレクトリではありません: {from_dir}"
        )
    source = QuarantineStore(from_dir)
    target = _db_quarantine(_migrated_engine(db))
    entries = source.list(None)
    added = 0
    with Progress(transient=True) as bar:
        task = bar.add_task("隔離メール / held mail", total=len(entries))
        for start in range(0, len(entries), batch):
            chunk = entries[start : start + batch]
            added += target.import_entries((e, source.get(e.id)) for e in chunk)
            bar.advance(task, len(chunk))
    typer.echo(
        f"{added} 件を移行、{len(entries) - added} 件は移行済み / "
        f"imported {added}, already there {len(entries) - added}"
    )


@app.command("quarantine-purge")
def quarantine_purge(
    older_than_days: Annotated[
        float, typer.Option("--older-than-days", min=0, help="保存期間 (日) / retention in days")
    ],
    quarantine_dir: Annotated[Path, typer.Option("--quarantine-dir")] = DEFAULT_QUARANTINE_DIR,
    db: QuarantineDb = None,
) -> None:
    """保存期間を過ぎた隔離メールを削除 / remove held mail older than the retention period."""
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC) - timedelta(days=older_than_days)
    removed = _quarantine_at(quarantine_dir, db).purge(before)
    typer.echo(
        f"{removed} 件削除 / removed (received before {before.isoformat(timespec='seconds')})"
    )


@app.command("false-blocks")
def false_blocks(
    days: Annotated[int, typer.Option("--days", min=1, help="集計期間 (日) / period in days")] = 30,
    quarantine_dir: Annotated[Path, typer.Option("--quarantine-dir")] = DEFAULT_QUARANTINE_DIR,
    db: QuarantineDb = None,
) -> None:
    """誤遮断の状況 (M4) / held mail later reported as not phishing, overall and by reason."""
    from datetime import UTC, datetime, timedelta

    from rich.console import Console
    from rich.table import Table

    until = datetime.now(UTC)
    report = _quarantine_at(quarantine_dir, db).false_blocks(until - timedelta(days=days), until)

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value * 100:.2f}%"

    table = Table(title=f"誤遮断 / false blocks, {days} 日 / days")
    for column in ("理由 / reason", "隔離 / held", "誤遮断 / false", "フィッシング / phishing",
                   "確認済み中の誤遮断率 / share of reviewed"):  # fmt: skip
        table.add_column(column)
    for r in report.by_reason:
        table.add_row(r.code, str(r.held), str(r.false_blocks), str(r.catches),
                      pct(r.rate_among_reviewed))  # fmt: skip
    table.add_row("ALL", str(report.held), str(report.false_blocks), str(report.catches),
                  pct(report.rate_among_reviewed), style="bold")  # fmt: skip
    console = Console()
    console.print(table)
    console.print(
        f"確認済みの誤遮断率 (下限) / confirmed false-block rate (lower bound): "
        f"{pct(report.confirmed_rate)}; 配送済 / released: {report.released}"
    )


# --- recipients' filter strengths (M1, M3) -----------------------------------------------------
recipients_app = typer.Typer(
    help="受信者ごとのフィルター強度 / each recipient's filter strength (弱/標準/強)",
    no_args_is_help=True,
)
app.add_typer(recipients_app, name="recipients")
DbUrl = Annotated[str, typer.Option("--db", help="データベース URL / database URL")]


@recipients_app.command("set")
def recipients_set(
    address: Annotated[str, typer.Argument(help="受信者アドレス / recipient address")],
    strength: Annotated[str, typer.Argument(help="weak | standard | strong | unset")],
    db: DbUrl = "sqlite:///./carrierguard.db",
) -> None:
    """強度を設定 / set (or with ``unset``, clear) one recipient's strength; audited."""
    from datetime import UTC, datetime

    from carrierguard.mail.recipients import checked_strength, normalized_address
    from carrierguard.store.mail_schema import set_recipient_strength

    chosen = None if strength == "unset" else checked_strength(strength)
    normal = normalized_address(address)
    if "@" not in normal:
        raise InvalidInput(
            f"not a mail address: {address!r}",
            message_ja=f"メールアドレスではありません: {address!r}",
        )
    now = datetime.now(UTC)
    with _migrated_engine(db).begin() as conn:
        set_recipient_strength(conn, normal, chosen, now=now, actor="cli")
    typer.echo(f"{normal}: {chosen or 'unset'}")


@recipients_app.command("unset")
def recipients_unset(
    db: DbUrl = "sqlite:///./carrierguard.db",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="CSV の出力先 / CSV file (stdout if omitted)"),
    ] = None,
) -> None:
    """啓発メールの宛先一覧 / recipients who never chose a strength, as CSV (address,first_seen)."""
    import csv
    import sys

    from carrierguard.store.mail_schema import unset_pages

    engine = _migrated_engine(db)
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    count = 0
    try:
        writer = csv.writer(out)
        writer.writerow(["address", "first_seen"])
        for page in unset_pages(engine, size=5000):
            writer.writerows([address, first_seen.isoformat()] for address, first_seen in page)
            count += len(page)
    finally:
        if output:
            out.close()
    if output:
        typer.echo(f"{count} 件 / recipients without a strength -> {output}", err=True)


@recipients_app.command("notify")
def recipients_notify(
    sender: Annotated[str, typer.Option("--sender", help="差出人 / From address of the notice")],
    settings_url: Annotated[
        str, typer.Option("--settings-url", help="強度の設定ページ / where subscribers choose")
    ],
    db: DbUrl = "sqlite:///./carrierguard.db",
    relay: Annotated[
        str, typer.Option("--relay", help="送信に使う MTA / HOST:PORT of the submission MTA")
    ] = "127.0.0.1:25",
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="最大件数 / at most N")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="送らずに件数のみ / count only, send nothing")
    ] = False,
    dkim_key: Annotated[
        str | None,
        typer.Option(
            "--dkim-key",
            help="DKIM 署名 / sign each notice: DOMAIN:SELECTOR:KEYFILE (the sender's domain)",
        ),
    ] = None,
) -> None:
    """啓発メールを送信 (M3) / mail recipients who never chose a strength; each is told once.

    With --dkim-key each notice is DKIM-signed for the sender's domain, so that it passes
    DMARC at the recipients' mailboxes even when the relay does not sign.
    """
    from rich.progress import Progress

    from carrierguard.mail.awareness import notify
    from carrierguard.mail.release import SmtpRelay
    from carrierguard.store.mail_schema import count_unset

    signer = next(iter(_signers([dkim_key]).values())) if dkim_key else None
    engine = _migrated_engine(db)
    with engine.connect() as conn:
        remaining = count_unset(conn, not_notified=True)
    total = min(remaining, limit) if limit else remaining
    with Progress(transient=True) as bar:
        task = bar.add_task("啓発メール / notices", total=total)
        result = notify(
            engine,
            SmtpRelay.parse(relay),
            sender=sender,
            settings_url=settings_url,
            limit=limit,
            dry_run=dry_run,
            progress=lambda n: bar.advance(task, n),
            signer=signer,
        )
    if dry_run:
        typer.echo(f"{result.pending} 件に送信予定 / would be sent (dry run)")
    else:
        typer.echo(f"送信 / sent {result.sent}, 拒否 / refused {result.refused}")


# --- phishing scan ------------------------------------------------------------------------------
# ``scan``, ``train`` and ``eval`` (see DESIGN.md `carrierguard mail scan`).
register_content_commands(app)
# Reuse ``build_resolver`` and ``report_to_dict`` for its "auth" part, and
# ``carrierguard.mail.verdict.standard_stages`` with the classifier stage before ``decide``.

from carrierguard.mail.posture_html import register as register_posture  # noqa: E402

register_posture(app)
