"""The regulator report against counts computed here, independently, from the raw rows."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from carrierguard.cli.main import app as cli_app
from carrierguard.contracts.assurance import AssuranceEvidence
from carrierguard.contracts.assurance_policy import EmploymentCheck
from carrierguard.contracts.cases import CaseService
from carrierguard.contracts.corporate import EmploymentRecord
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    LineRequest,
)
from carrierguard.contracts.policy import load_policy
from carrierguard.contracts.report import ReportPeriod, to_csv
from carrierguard.contracts.review import ActualUser, PurposeCategory, Relationship
from carrierguard.contracts.service import ScreeningService
from carrierguard.crypto import DataProtector
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.registry import Registry
from carrierguard.store.report_queries import read_report

KEY = bytes(range(32))
TOKYO = ZoneInfo("Asia/Tokyo")
PERIOD = ReportPeriod(start=date(2026, 9, 1), end=date(2026, 10, 31))
# The packaged default policy, written out here so the expectation does not reuse its reader.
POOL_OF = {"voice": "voice", "data_sms": "voice", "data": "data"}
CAPS = {  # (pool, kind) -> (cap, hard_cap)
    ("voice", "individual"): (5, 10),
    ("voice", "corporate"): (100, 1000),
    ("data", "individual"): (10, 20),
}
COUNTED = {"active", "suspended", "number_kept", "reserved"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


class Book:
    """Drives the real services over a fresh registry, with a clock it moves."""

    def __init__(self, url: str) -> None:
        self.engine = create_store_engine(url)
        migrate(self.engine)
        self.clock = Clock(utc(2026, 5, 1))
        registry = Registry(self.engine)
        protector = DataProtector(KEY)
        self.screening = ScreeningService(registry, load_policy(), protector, clock=self.clock)
        self.cases = CaseService(registry, protector, self.clock)

    def apply(
        self, who: str, channel: Channel, at: datetime, kyc: str = "", **sims: int
    ) -> tuple[str, int]:
        self.clock.now = at
        corporate = who.startswith("株式会社")
        # The KYC each channel accepts under the default policy; corporations bring the
        # record of how the signer's employment was checked.
        kyc = kyc or ("jpki_signature" if channel is Channel.ONLINE else "ic_chip_mynumber")
        employment = EmploymentRecord(
            check=EmploymentCheck.CALL_TO_REGISTERED_NUMBER, reference="03-0000", verified_by="s1"
        )
        holder = HolderIdentity(
            kind=HolderKind.CORPORATE if corporate else HolderKind.INDIVIDUAL,
            name=who,
            birth_date=None if corporate else date(1980, 1, 1),
            corporate_number="7000012050002" if corporate else None,
        )
        requests = tuple(LineRequest(SimType(s)) for s, n in sims.items() for _ in range(n))
        record = self.screening.screen(
            Application(
                channel=channel,
                holder=holder,
                lines=requests,
                applied_on=at.astimezone(TOKYO).date(),
                kyc_method=kyc,
            ),
            evidence=AssuranceEvidence(employment=employment if corporate else None),
        ).record
        return record.outcome.value, record.case_id or 0

    def supply(self, case_id: int, purpose: PurposeCategory, users: int, verified: bool) -> None:
        self.cases.supply_info(
            case_id,
            actor="clerk",
            purpose=purpose,
            purpose_text="理由",
            pledge_signed_by="署名",
            actual_users=[
                ActualUser(
                    name=f"利用者 {i}",
                    birth_date=date(2010, 1, 1),
                    relationship=Relationship.CHILD,
                    verification_method="ic_chip_mynumber",
                    verified=verified,
                )
                for i in range(users)
            ],
        )

    def decide(self, case_id: int, at: datetime, approve: bool, code: str | None = None) -> None:
        self.clock.now = at
        self.cases.decide(
            case_id, actor="hq", approve=approve, comment="判断理由", reason_code=code
        )


def build_registry(url: str) -> Book:
    """A mix of outcomes, channels, pools, months and case endings, some outside the period."""
    b, S, A, On = Book(url), Channel.STORE, Channel.AGENCY, Channel.ONLINE
    # Before the period: five voice lines, two or fewer a month so that no burst fires.
    assert b.apply("高橋 一郎", S, utc(2026, 5, 1, 1), voice=2)[0] == "approve"
    assert b.apply("高橋 一郎", S, utc(2026, 6, 15, 1), voice=2)[0] == "approve"
    assert b.apply("高橋 一郎", On, utc(2026, 7, 20, 1), voice=1)[0] == "approve"
    # The sixth: review at a store, granted for the family with a verified user, 25 h later.
    outcome, case = b.apply("高橋 一郎", S, utc(2026, 9, 5, 1), voice=1)
    assert outcome == "review"
    b.supply(case, PurposeCategory.FAMILY, 1, verified=True)
    b.decide(case, utc(2026, 9, 6, 2), approve=True)
    # Approvals online across both pools, then data with SMS.
    assert b.apply("佐藤 次郎", On, utc(2026, 9, 12, 5), voice=1, data=1)[0] == "approve"
    assert b.apply("佐藤 次郎", On, utc(2026, 10, 20, 5), data_sms=2)[0] == "approve"
    # Agency burst: escalated at once, refused because its user is not verified.
    outcome, case = b.apply("鈴木 三郎", A, utc(2026, 9, 20, 3), voice=3)
    assert outcome == "review"
    b.supply(case, PurposeCategory.BUSINESS, 1, verified=False)
    b.decide(case, utc(2026, 9, 22, 10, 30), approve=False, code="ACTUAL_USERS_UNVERIFIED")
    # 2026-09-30 16:30 UTC is 2026-10-01 01:30 in Tokyo: an October application.
    assert b.apply("鈴木 三郎", A, utc(2026, 9, 30, 16, 30), voice=1)[0] == "approve"
    # Refused at screening above the hard cap; a data review withdrawn.
    assert b.apply("田中 四郎", S, utc(2026, 10, 3, 2), voice=11)[0] == "refuse"
    outcome, case = b.apply("田中 四郎", On, utc(2026, 10, 4, 2), data=12)
    assert outcome == "review"
    b.cases.withdraw(case, actor="clerk")
    # A store case escalated by hand and left open.
    outcome, case = b.apply("伊藤 五郎", S, utc(2026, 10, 10, 2), data_sms=3)
    assert outcome == "review"
    b.cases.escalate(case, actor="clerk")
    # A corporation: data has no corporate cap, voice is far below it.
    assert b.apply("株式会社 六", S, utc(2026, 9, 15, 0), data=30)[0] == "approve"
    assert b.apply("株式会社 六", On, utc(2026, 10, 15, 0), voice=2, data=1)[0] == "approve"
    # Seven voice lines online, granted for IoT with two verified users.
    outcome, case = b.apply("山本 花子", On, utc(2026, 10, 25, 0), voice=7)
    assert outcome == "review"
    b.supply(case, PurposeCategory.IOT, 2, verified=True)
    b.decide(case, utc(2026, 10, 26, 12, 15), approve=True)
    # A store review refused three hours later: the purpose was not established.
    outcome, case = b.apply("中村 八郎", S, utc(2026, 9, 25, 6), voice=6)
    assert outcome == "review"
    b.decide(case, utc(2026, 9, 25, 9), approve=False, code="PURPOSE_NOT_ESTABLISHED")
    # Online with a store-only KYC method: refused for an assurance reason.
    assert b.apply("加藤 十郎", On, utc(2026, 9, 18, 4), kyc="ic_chip_license", voice=1)[0] == (
        "refuse"
    )
    # Just outside the period at both ends (Tokyo dates 08-31 and 11-01).
    assert b.apply("小林 九郎", S, utc(2026, 8, 31, 14, 59), voice=1)[0] == "approve"
    assert b.apply("小林 九郎", S, utc(2026, 10, 31, 15, 0), voice=1)[0] == "approve"
    return b


# -- the independent count ----------------------------------------------------------------
def rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql)))


def aware(moment: datetime | str) -> datetime:
    """A stored timestamp as an aware UTC instant (SQLite hands back its text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def expected_figures(engine: Engine) -> dict[tuple[str, str, str, str, str], float]:
    """Every figure, from plain SELECTs of the raw tables and arithmetic in Python."""
    cases = {r.application_id: r for r in rows(engine, "SELECT * FROM cases")}
    escalated_cases = {
        r.case_id for r in rows(engine, "SELECT * FROM case_events WHERE to_state = 'escalated'")
    }
    lo = datetime(2026, 9, 1, tzinfo=TOKYO)
    hi = datetime(2026, 11, 1, tzinfo=TOKYO)
    out: Counter[tuple[str, str, str, str, str]] = Counter()
    hours: defaultdict[tuple[str, str, str], list[float]] = defaultdict(list)
    groups = set()
    for a in rows(engine, "SELECT * FROM applications"):
        created = aware(a.created_at)
        if not lo <= created < hi:
            continue
        month = created.astimezone(TOKYO).strftime("%Y-%m")
        pools = [u["pool"] for u in json.loads(a.usage) if u["requested"] > 0]
        case = cases.get(a.id)
        for pool in [*pools, "all"]:
            g = (month, pool, a.channel)
            groups.add(g)
            out[(*g, "applications", "")] += 1
            if a.state == "approved":
                out[(*g, "approvals", "")] += 1
                how = "at_screening" if a.outcome == "approve" else "exception_granted"
                out[(*g, "approvals", how)] += 1
            if a.outcome == "review":
                out[(*g, "reviews", "")] += 1
                out[(*g, "reviews", case.state)] += 1
                out[(*g, "review_reasons", json.loads(a.reasons)[0]["code"])] += 1
            if a.state == "refused":
                code = json.loads(a.reasons)[0]["code"] if case is None else case.decision_code
                out[(*g, "refusals", "")] += 1
                out[(*g, "refusals", code)] += 1
            if case is not None and case.state == "approved":
                out[(*g, "exceptions_granted", "")] += 1
                out[(*g, "exceptions_granted", case.purpose_category)] += 1
            if a.escalate_to_hq or (case is not None and case.id in escalated_cases):
                out[(*g, "escalations", "")] += 1
            if case is not None and case.decided_at is not None:
                out[(*g, "cases_decided", "")] += 1
                spent = aware(case.decided_at) - aware(case.created_at)
                hours[g].append(spent.total_seconds() / 3600)
    figures: dict[tuple[str, str, str, str, str], float] = dict(out)
    for g, values in hours.items():
        figures[(*g, "median_hours_to_decide", "")] = round(statistics.median(values), 2)

    kinds = {r.id: r.kind for r in rows(engine, "SELECT id, kind FROM holders")}
    verified = {r.holder_id for r in rows(engine, "SELECT * FROM actual_users") if r.verified}
    held: Counter[tuple[int, str]] = Counter()
    for ln in rows(engine, "SELECT holder_id, sim_type, state FROM lines"):
        if ln.state in COUNTED:
            held[(ln.holder_id, POOL_OF[ln.sim_type])] += 1
    snap: Counter[tuple[str, str, str, str, str]] = Counter()
    base: Counter[tuple[str, str]] = Counter()
    for (holder, pool), n in held.items():
        kind = kinds[holder]
        cap, hard = CAPS.get((pool, kind), (None, None))
        where = ("current", pool, "all")
        bases = (["multi_line"] if n >= 2 else []) + (["above_cap"] if cap and n > cap else [])
        if cap and n > cap:
            snap[(*where, "holders_above_cap", kind)] += 1
        if hard and n > hard:
            snap[(*where, "holders_above_hard_cap", kind)] += 1
        if n >= 2:
            snap[(*where, "multi_line_holders", "")] += 1
        for b in bases:
            base[(pool, b)] += 1
            if holder in verified:
                snap[(*where, "holders_with_verified_actual_users", b)] += 1
    figures.update(snap)
    for (pool, b), n in base.items():
        mine = snap[("current", pool, "all", "holders_with_verified_actual_users", b)]
        figures[("current", pool, "all", "actual_users_share", b)] = round(mine / n, 4)
    return figures


def parse_csv(body: str) -> dict[tuple[str, str, str, str, str], float]:
    reader = csv.reader(io.StringIO(body))
    assert next(reader) == ["month", "pool", "channel", "metric", "breakdown", "value"]
    parsed: dict[tuple[str, str, str, str, str], float] = {}
    for month, pool, channel, metric, breakdown, value in reader:
        key = (month, pool, channel, metric, breakdown)
        assert key not in parsed, f"duplicate row {key}"
        parsed[key] = float(value)
    return parsed


def assert_same(csv_figures: dict[Any, float], expected: dict[Any, float]) -> None:
    for key, value in csv_figures.items():
        assert value == pytest.approx(expected.get(key, 0), abs=1e-9), key
    for key, value in expected.items():
        if value:
            assert key in csv_figures, f"missing row {key} = {value}"


# -- tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 3, 200_000])
def test_every_csv_figure_equals_the_count_from_raw_rows(db_url: str, chunk: int) -> None:
    """Each CSV row equals the independent count, whatever the chunk size; none is missing."""
    book = build_registry(db_url)
    report = read_report(book.engine, PERIOD, load_policy(), now=utc(2026, 11, 28), chunk=chunk)
    figures = parse_csv(to_csv(report))
    expected = expected_figures(book.engine)
    assert_same(figures, expected)
    # Spot checks that the scenario exercises what it claims to.
    assert figures[("2026-09", "all", "store", "refusals", "PURPOSE_NOT_ESTABLISHED")] == 1
    assert figures[("2026-10", "voice", "store", "refusals", "LINE_HARD_CAP_EXCEEDED")] == 1
    assert figures[("2026-10", "all", "agency", "applications", "")] == 1  # Tokyo month
    assert figures[("2026-10", "all", "store", "escalations", "")] == 1  # escalated by hand
    assert figures[("2026-09", "voice", "store", "median_hours_to_decide", "")] == 14.0
    assert figures[("current", "voice", "all", "holders_above_cap", "individual")] == 2
    assert figures[("current", "voice", "all", "actual_users_share", "above_cap")] == 1.0
    assert ("2026-08", "all", "store", "applications", "") not in figures
    assert ("2026-11", "all", "store", "applications", "") not in figures


def test_report_command_writes_csv_and_an_html_page_with_charts(tmp_path: Any) -> None:
    """`carrierguard report` writes the same CSV, and HTML with inline SVG charts."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    book = build_registry(url)
    runner = CliRunner()
    out_csv, out_html = tmp_path / "r.csv", tmp_path / "r.html"
    args = ["report", "--from", "2026-09-01", "--to", "2026-10-31", "--db", url]
    done = runner.invoke(cli_app, [*args, "--format", "csv", "--output", str(out_csv)])
    assert done.exit_code == 0, done.output
    assert_same(parse_csv(out_csv.read_text("utf-8")), expected_figures(book.engine))
    done = runner.invoke(cli_app, [*args, "--format", "html", "--output", str(out_html)])
    assert done.exit_code == 0, done.output
    page = out_html.read_text("utf-8")
    assert page.count("<svg") >= 4 and "<script" not in page
    assert "申込件数" in page and "Applications" in page
    assert "src=" not in page and "https://" not in page


def test_period_that_ends_before_it_starts_is_refused_by_the_command(tmp_path: Any) -> None:
    """A reversed period exits with a message naming the dates, in both languages."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    done = CliRunner().invoke(
        cli_app, ["report", "--from", "2026-10-01", "--to", "2026-09-01", "--db", url]
    )
    assert done.exit_code != 0


def test_a_day_after_the_period_counts_nothing(db_url: str) -> None:
    """Figures of a period with no applications hold only the holder snapshot."""
    book = build_registry(db_url)
    quiet = ReportPeriod(start=date(2027, 1, 1), end=date(2027, 1, 31))
    report = read_report(book.engine, quiet, load_policy(), now=utc(2027, 2, 1))
    assert {f.month for f in report.figures} == {"current"}
    assert report.generated_at == utc(2027, 2, 1)
