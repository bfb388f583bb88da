"""``make demo``: load a synthetic book into SQLite and screen a scripted set of applications.

Everything goes through the same code paths users run: the CSV importer and the
screening service (the API calls the same service).
"""

from __future__ import annotations

import csv
import tempfile
from datetime import date
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from carrierguard.config import Settings
from carrierguard.contracts.assurance import AssuranceEvidence
from carrierguard.contracts.assurance_policy import EmploymentCheck
from carrierguard.contracts.corporate import EmploymentRecord
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    LineRequest,
)
from carrierguard.contracts.synthetic import write_synthetic_book

# People the script applies for, already in the book with lines opened long ago.
SCRIPTED_BOOK = (
    (
        "高橋 一郎",
        "タカハシ イチロウ",
        "1985-04-01",
        "東京都千代田区千代田1-1",
        "100-0001",
        "voice",
        4,
    ),
    (
        "山田 太郎",
        "ヤマダ タロウ",
        "1970-07-07",
        "大阪府大阪市北区梅田2-4-9",
        "530-0001",
        "voice",
        9,
    ),
    (
        "佐藤 花子",
        "サトウ ハナコ",
        "1990-12-24",
        "愛知県名古屋市中区栄3-5-1",
        "460-0008",
        "data",
        10,
    ),
)


def _person(name: str, birth: str, address: str = "", postal: str = "") -> HolderIdentity:
    return HolderIdentity(
        kind=HolderKind.INDIVIDUAL,
        name=name,
        birth_date=date.fromisoformat(birth),
        address=address or None,
        postal_code=postal or None,
    )


def _scenarios(today: date) -> list[tuple[str, Application]]:
    def app(
        holder: HolderIdentity, *sims: SimType, channel: Channel = Channel.STORE
    ) -> Application:
        return Application(
            channel=channel,
            holder=holder,
            lines=tuple(LineRequest(s) for s in sims),
            applied_on=today,
            kyc_method="ic_chip_mynumber",
        )

    takahashi = _person("高橋 一郎", "1985-04-01")
    return [
        (
            "新規の方が音声1回線 / new customer, 1 voice line",
            app(_person("鈴木 次郎", "1999-02-03"), SimType.VOICE),
        ),
        ("音声4回線の方が5回線目 / 5th voice line", app(takahashi, SimType.VOICE)),
        (
            "同じ方（全角空白）が6回線目 / same person (full-width space), 6th line",
            app(_person("高橋　一郎", "1985-04-01"), SimType.DATA_SMS),
        ),
        (
            "代理店で上限超過 / over the cap at a sales agency",
            app(takahashi, SimType.VOICE, channel=Channel.AGENCY),
        ),
        (
            "音声9回線の方が2回線 / 9 voice lines held, 2 more asked",
            app(_person("山田 太郎", "1970-07-07"), SimType.VOICE, SimType.VOICE),
        ),
        (
            "新規で3回線同時 / new customer asks for 3 lines at once",
            app(_person("中村 美咲", "2001-05-05"), SimType.VOICE, SimType.VOICE, SimType.DATA),
        ),
        (
            "データ専用11回線目 / 11th data-only line",
            app(_person("佐藤 花子", "1990-12-24"), SimType.DATA),
        ),
        (
            "法人のデータ専用20回線 / corporation, 20 data-only lines",
            Application(
                channel=Channel.STORE,
                holder=HolderIdentity(
                    kind=HolderKind.CORPORATE,
                    name="株式会社デモ物流",
                    corporate_number="7000012050002",
                ),
                lines=tuple(LineRequest(SimType.DATA) for _ in range(20)),
                applied_on=today,
                kyc_method="jpki_signature",
            ),
        ),
        (
            "本人確認なしのオンライン申込み / online, no identity verification",
            Application(
                channel=Channel.ONLINE,
                holder=_person("伊藤 三郎", "1988-08-08"),
                lines=(LineRequest(SimType.VOICE),),
                applied_on=today,
            ),
        ),
    ]


def run_demo(*, db_url: str, reset: bool, holders: int, console: Console) -> None:
    from carrierguard.cli.contracts import decision_table, open_service, run_import

    if reset and db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    console.print(
        Panel.fit(
            "CarrierGuard デモ: 合成データの契約台帳を取込み、申込みを審査します。\n"
            "CarrierGuard demo: load a synthetic book, then screen sample applications.",
            title="CarrierGuard",
        )
    )
    service = open_service(Settings.from_env(db_url=db_url))
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "book.csv"
        rows = write_synthetic_book(book, holders)
        with book.open("a", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            for name, kana, birth, address, postal, sim, count in SCRIPTED_BOOK:
                for _ in range(count):
                    writer.writerow(
                        [
                            "individual",
                            name,
                            kana,
                            birth,
                            address,
                            postal,
                            "",
                            sim,
                            "active",
                            "2023-04-01",
                        ]
                    )
        console.print(f"合成台帳 / synthetic book: {holders:,} holders, {rows:,} lines")
        report = run_import(service, book)
    if report.rejected:
        console.print(f"[red]{len(report.rejected)} rows rejected[/]")
    employment = AssuranceEvidence(
        employment=EmploymentRecord(
            check=EmploymentCheck.CALL_TO_REGISTERED_NUMBER,
            reference="03-0000-0000",
            verified_by="demo-staff",
        )
    )
    records = [
        (label, service.screen(app, evidence=employment).record)
        for label, app in _scenarios(service.today())
    ]
    console.print(decision_table(records))
    counts = {
        o: sum(1 for _, r in records if r.outcome.value == o)
        for o in ("approve", "review", "refuse")
    }
    console.print(
        f"承認 approve {counts['approve']} ・ 審査 review {counts['review']} ・ 拒否 refuse {counts['refuse']}"
    )
    from carrierguard.crosscarrier.demo import run_cross_carrier_demo

    console.print(
        Panel.fit(
            "他社回線数の照会: 個人を特定しないトークンで、他社の回線数を合算します (C1)。\n"
            "Cross-carrier count: lines at other carriers count too, by a token that names no one.",
            title="他社回線数 / Cross-carrier",
        )
    )
    console.print(
        decision_table(
            run_cross_carrier_demo(console), title="他社分を含む審査 / With lines elsewhere"
        )
    )
    scan_demo_mail(console)
    console.print(
        Panel.fit(
            "API を起動するには / to start the API:\n"
            f"  .venv/bin/carrierguard keys create --role clerk --name demo-clerk --db {db_url}\n"
            f"  .venv/bin/carrierguard serve --db {db_url}\n"
            "  then open http://127.0.0.1:8000/docs",
            title="次の手順 / next",
        )
    )


VERDICT_STYLE = {"deliver": "green", "quarantine": "yellow", "reject": "red"}


def scan_demo_mail(console: Console) -> None:
    """Scan the sample mails shipped for the demo at each filter strength (M1, M3)."""
    from carrierguard.mail.content import model as model_io
    from carrierguard.mail.content.brands import default_catalogue
    from carrierguard.mail.content.scan import scan_bytes

    folder = resources.files("carrierguard.data").joinpath("demo_mail")
    model = model_io.load(None)
    catalogue = default_catalogue()
    table = Table(
        title="メール判定 / Mail scan (弱 weak ・ 標準 standard ・ 強 strong)", show_lines=True
    )
    table.add_column("メール / Message", overflow="fold")
    table.add_column("確率 / P(phish)", justify="right")
    for strength in ("weak", "standard", "strong"):
        table.add_column(strength)
    table.add_column("主な理由 / Main reasons", overflow="fold")
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if not item.name.endswith(".eml"):
            continue
        data = item.read_bytes()
        results = [
            scan_bytes(item.name, data, model, s, catalogue) for s in ("weak", "standard", "strong")
        ]
        first = results[0]
        verdicts = [
            f"[{VERDICT_STYLE.get(r.verdict or '', 'white')}]{r.verdict}[/]" for r in results
        ]
        # The reasons of the mildest strength that holds it; a message every strength
        # delivers needs none (its evidence is still in `mail scan`'s JSON).
        holding = next((r for r in results if r.verdict != "deliver"), None)
        shown = holding.reasons[:3] if holding else ()
        reasons = "\n".join(r["message_ja"] for r in shown) or "—"
        table.add_row(item.name, f"{first.phishing_probability or 0:.3f}", *verdicts, reasons)
    console.print(table)
