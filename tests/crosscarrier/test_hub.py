"""Two carriers and a hub: lines held at one carrier count at another, and nobody learns who.

The hub is the real web app (evaluator and registry routes) on its own database; each
carrier is a real ScreeningService on its own database, talking to the hub over HTTP
(an in-process client). The registry runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from carrierguard.auth import Role, issue_key
from carrierguard.config import Settings
from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    LineRequest,
)
from carrierguard.contracts.service import ScreeningService
from carrierguard.crosscarrier import oprf
from carrierguard.crosscarrier.client import HubClient, HubSettings
from carrierguard.crosscarrier.publish import publish_changes
from carrierguard.errors import CrossCarrierUnavailable
from carrierguard.identity import KEY_VERSION
from carrierguard.store import crosscarrier as xc
from carrierguard.store.engine import migrate
from carrierguard.web.app import build_service, create_app
from tests.dbs import fresh_database

DEFAULT = resources.files("carrierguard.data").joinpath("default_policy.toml").read_text("utf-8")
SEED = bytes(range(32))
VERSION = {"X-CarrierGuard-Key-Version": str(KEY_VERSION)}


@dataclass
class Hub:
    client: TestClient
    keys: dict[str, str]
    public_key: bytes
    db_url: str

    def carrier_client(self, name: str, public_key: bytes | None = None) -> HubClient:
        settings = HubSettings(
            evaluator_url="http://hub",
            registry_url="http://hub",
            api_key=self.keys[name],
            public_key=public_key or self.public_key,
        )
        return HubClient(settings, http=self.client)


def make_hub(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv("CARRIERGUARD_XC_EVALUATOR_SEED", base64.b64encode(SEED).decode())
    settings = Settings(db_url=db_url, data_key=bytes(32))
    service = build_service(settings)
    migrate(service.registry.engine)
    keys = {}
    with service.registry.write() as tx:
        for name, role in (
            ("carrier-a", Role.CARRIER_PEER),
            ("carrier-b", Role.CARRIER_PEER),
            ("clerk", Role.CLERK),
        ):
            issued = issue_key()
            tx.insert_api_key(
                name=name,
                role=role.value,
                prefix=issued.prefix,
                secret_hash=issued.secret_hash,
                now=datetime.now(UTC),
            )
            keys[name] = issued.token
    app = create_app(settings, service=service)
    return Hub(TestClient(app), keys, oprf.Evaluator(SEED).public_key, db_url)


def make_carrier(tmp: Path, name: str, section: str = "") -> ScreeningService:
    policy = tmp / f"{name}.toml"
    policy.write_text(DEFAULT + section, encoding="utf-8")
    settings = Settings(
        db_url=f"sqlite:///{tmp / (name + '.db')}", data_key=bytes([7]) * 32, policy_path=policy
    )
    service = build_service(settings)
    migrate(service.registry.engine)
    return service


XC_SECTION = '\n[cross_carrier]\ncaps = { voice = 5 }\non_unavailable = "{when}"\n'


def screen(
    service: ScreeningService, name: str, lines: int, on: date = date(2026, 11, 28)
) -> tuple[Outcome, list[str]]:
    app = Application(
        channel=Channel.STORE,
        holder=HolderIdentity(kind=HolderKind.INDIVIDUAL, name=name, birth_date=date(1985, 4, 1)),
        lines=tuple(LineRequest(SimType.VOICE) for _ in range(lines)),
        applied_on=on,
        kyc_method="ic_chip_mynumber",
    )
    record = service.screen(app).record
    return record.outcome, [r.code for r in record.reasons]


def five_lines(service: ScreeningService, name: str) -> None:
    """Five voice lines, two months apart (so the burst rule stays quiet): all approved."""
    for month in range(1, 11, 2):
        assert screen(service, name, 1, on=date(2024, month, 1))[0] is Outcome.APPROVE


@pytest.fixture(params=["sqlite", "postgres"])
def hub(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hub]:
    with fresh_database(request.param, tmp_path) as url:
        made = make_hub(url, monkeypatch)
        yield made
        made.client.close()
        xc_engine = build_service(Settings(db_url=url, data_key=bytes(32))).registry.engine
        xc_engine.dispose()


def test_lines_at_another_carrier_send_the_application_to_review(hub: Hub, tmp_path: Path) -> None:
    a = make_carrier(tmp_path, "a")
    b = make_carrier(tmp_path, "b", XC_SECTION.replace("{when}", "approve"))
    b.cross_carrier = hub.carrier_client("carrier-b")
    five_lines(a, "髙橋 一郎")  # five voice lines at carrier A
    # Before A publishes, B sees nothing elsewhere and approves within its own cap.
    assert screen(b, "高橋　一郎", 1)[0] is Outcome.APPROVE
    done = publish_changes(
        a.registry.engine, a.protector, hub.carrier_client("carrier-a"), a.policy
    )
    assert (done.holders_seen, done.published, done.full) == (1, 1, True)
    b.policies.current()
    outcome, codes = screen(b, "高橋 一郎", 1)  # written another way: the same token
    assert outcome is Outcome.REVIEW and "CROSS_CARRIER_CAP_EXCEEDED" in codes
    # A's own lines never count twice at A: the registry leaves out the asking carrier.
    own = hub.carrier_client("carrier-a")
    (token,) = own.tokens(["individual|" + "x"])  # any token: A sees no one else's lines
    assert own.elsewhere([token]) == {}


def test_publishing_sends_only_changes_and_withdraws_terminated_lines(
    hub: Hub, tmp_path: Path
) -> None:
    a = make_carrier(tmp_path, "a")
    for n in range(3):
        screen(a, f"佐藤 {n}郎", 2)
    client = hub.carrier_client("carrier-a")
    first = publish_changes(a.registry.engine, a.protector, client, a.policy)
    assert first.published == 3
    again = publish_changes(a.registry.engine, a.protector, client, a.policy)
    assert (again.published, again.full) == (0, False)
    holder = a.holder(1)
    for line in holder.lines:
        a.terminate_line(line.line_id)
    third = publish_changes(a.registry.engine, a.protector, client, a.policy)
    assert third.published == 1
    b = hub.carrier_client("carrier-b")
    tokens = client.tokens([f"individual|佐藤{n}郎|1985-04-01" for n in range(3)])
    seen = b.elsewhere(tokens)
    assert len(seen) == 2  # the holder whose lines all ended is withdrawn from the registry
    assert all(e.lines[SimType.VOICE] == 2 and e.carriers == 1 for e in seen.values())


def test_the_hub_stores_no_name_birth_date_or_address(hub: Hub, tmp_path: Path) -> None:
    a = make_carrier(tmp_path, "a")
    five_lines(a, "髙橋 一郎")
    publish_changes(a.registry.engine, a.protector, hub.carrier_client("carrier-a"), a.policy)
    engine = build_service(Settings(db_url=hub.db_url, data_key=bytes(32))).registry.engine
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(xc.xc_holdings.select())]
    engine.dispose()
    assert len(rows) == 1
    text = repr(rows)
    assert "高橋" not in text and "髙橋" not in text and "1985" not in text
    assert rows[0][1] == "carrier-a" and rows[0][2] == 5


def test_a_hub_that_is_down_or_uses_another_key_follows_on_unavailable(
    hub: Hub, tmp_path: Path
) -> None:
    lenient = make_carrier(tmp_path, "l", XC_SECTION.replace("{when}", "approve"))
    strict = make_carrier(tmp_path, "s", XC_SECTION.replace("{when}", "review"))
    down = HubClient(
        HubSettings(
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
            hub.keys["carrier-b"],
            hub.public_key,
            timeout=0.5,
        )
    )
    lenient.cross_carrier = down
    strict.cross_carrier = down
    assert screen(lenient, "鈴木 花子", 1)[0] is Outcome.APPROVE
    outcome, codes = screen(strict, "鈴木 花子", 1)
    assert outcome is Outcome.REVIEW and codes == ["CROSS_CARRIER_UNAVAILABLE"]
    impostor_key = oprf.Evaluator(bytes([9]) * 32).public_key
    strict.cross_carrier = hub.carrier_client("carrier-b", public_key=impostor_key)
    outcome, codes = screen(strict, "鈴木 次郎", 1)
    assert outcome is Outcome.REVIEW and codes == ["CROSS_CARRIER_UNAVAILABLE"]


def test_hub_routes_need_a_carrier_peer_key_and_check_their_input(hub: Hub) -> None:
    blinded = oprf.blind(["individual|x|2000-01-01"])
    body = {"blinded": [base64.b64encode(e).decode() for e in blinded.elements]}
    assert hub.client.post("/v1/xc/evaluate", json=body).status_code == 401
    clerk = {"Authorization": f"Bearer {hub.keys['clerk']}"}
    assert hub.client.post("/v1/xc/evaluate", json=body, headers=clerk).status_code == 403
    peer = {"Authorization": f"Bearer {hub.keys['carrier-a']}", **VERSION}
    assert hub.client.post("/v1/xc/evaluate", json=body, headers=peer).status_code == 200
    for other in ({}, {"X-CarrierGuard-Key-Version": str(KEY_VERSION + 1)}):
        older = {"Authorization": peer["Authorization"], **other}
        refused = hub.client.post("/v1/xc/evaluate", json=body, headers=older)
        assert refused.status_code == 409, refused.text  # another normaliser: refused
    key = hub.client.get("/v1/xc/public-key", headers=peer).json()
    assert base64.b64decode(key["public_key"]) == hub.public_key
    bad = {"blinded": ["!!!"]}
    assert hub.client.post("/v1/xc/evaluate", json=bad, headers=peer).status_code == 422
    not_a_point = {"blinded": [base64.b64encode(b"\x01" * 32).decode()]}
    assert hub.client.post("/v1/xc/evaluate", json=not_a_point, headers=peer).status_code == 422
    dup = {"holdings": [{"token": "a" * 64, "voice": 1}, {"token": "a" * 64, "voice": 2}]}
    assert hub.client.put("/v1/xc/holdings", json=dup, headers=peer).status_code == 422
    short = {"tokens": ["abc"]}
    assert hub.client.post("/v1/xc/holdings/query", json=short, headers=peer).status_code == 422


def test_each_carrier_has_a_daily_allowance_and_the_hub_shows_its_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from carrierguard.cli.main import app

    monkeypatch.setenv("CARRIERGUARD_XC_DAILY_EVALUATIONS", "3")
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = make_hub(url, monkeypatch)
    peer_a = {"Authorization": f"Bearer {hub.keys['carrier-a']}", **VERSION}
    peer_b = {"Authorization": f"Bearer {hub.keys['carrier-b']}", **VERSION}

    def evaluate(headers: dict[str, str], n: int) -> int:
        blinded = oprf.blind([f"individual|p{i}|2000-01-01" for i in range(n)])
        body = {"blinded": [base64.b64encode(e).decode() for e in blinded.elements]}
        answer = hub.client.post("/v1/xc/evaluate", json=body, headers=headers)
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) > 0
            assert answer.json()["error"]["code"] == "RATE_LIMITED"
        return answer.status_code

    assert evaluate(peer_a, 2) == 200
    bad = {"blinded": [base64.b64encode(b"\x01" * 32).decode()]}
    assert hub.client.post("/v1/xc/evaluate", json=bad, headers=peer_a).status_code == 422
    assert evaluate(peer_a, 2) == 429  # 4 > 3: refused, and not counted (nor was the bad one)
    assert evaluate(peer_a, 1) == 200  # 3 of 3
    assert evaluate(peer_a, 1) == 429
    assert evaluate(peer_b, 3) == 200  # another carrier has its own allowance
    a = make_carrier(tmp_path, "a")
    five_lines(a, "髙橋 一郎")
    client = hub.carrier_client("carrier-b")
    with pytest.raises(CrossCarrierUnavailable, match="429"):  # B's allowance is used up
        publish_changes(a.registry.engine, a.protector, client, a.policy)
    assert xc.watermark(a.registry.engine) is None  # nothing counted as published
    shown = CliRunner().invoke(app, ["xc", "usage", "--db", url], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    line_a = next(ln for ln in shown.output.splitlines() if "carrier-a" in ln)
    line_b = next(ln for ln in shown.output.splitlines() if "carrier-b" in ln)
    assert [c.strip() for c in line_a.split("│")][1:3] == ["carrier-a", "0"]
    assert line_a.split("│")[7].strip() == "3"  # evaluated: only what was allowed
    assert line_b.split("│")[7].strip() == "3"


def test_a_rekeyed_holder_replaces_its_token_at_the_hub(hub: Hub, tmp_path: Path) -> None:
    from sqlalchemy import update

    from carrierguard.store.rekey import rekey
    from carrierguard.store.schema import holders

    a = make_carrier(tmp_path, "a")
    five_lines(a, "髙橋 一郎")
    client = hub.carrier_client("carrier-a")
    publish_changes(a.registry.engine, a.protector, client, a.policy)
    engine = a.registry.engine
    # As if the token had been made by an older normaliser: the hub holds it, and the
    # holder's stored key is the old one too.
    old = "f" * 64
    xc.publish(
        build_service(Settings(db_url=hub.db_url, data_key=bytes(32))).registry.engine,
        "carrier-a",
        [(old, xc.Counts(5))],
        datetime.now(UTC),
    )
    with engine.begin() as conn:
        conn.execute(update(xc.xc_published).values(token=old))
        conn.execute(update(holders).values(identity_key="0" * 64))
    assert rekey(engine, a.protector).keys_changed == 1
    again = publish_changes(engine, a.protector, client, a.policy)
    assert again.published == 1  # its lines did not change; its token did
    b = hub.carrier_client("carrier-b")
    (token,) = b.tokens(["individual|高橋一郎|1985-04-01"])
    seen = b.elsewhere([token, old])
    assert old not in seen and seen[token].lines[SimType.VOICE] == 5  # counted once


def test_holders_imported_after_a_publish_are_published_next_time(hub: Hub, tmp_path: Path) -> None:
    from carrierguard.store.importer import BookImporter
    from tests.integration.live import HOLDER, book_row, write_book

    a = make_carrier(tmp_path, "a")
    five_lines(a, "佐藤 花子")
    client = hub.carrier_client("carrier-a")
    assert publish_changes(a.registry.engine, a.protector, client, a.policy).published == 1
    assert xc.watermark(a.registry.engine) is not None
    book = write_book(tmp_path / "b.csv", [book_row(HOLDER, "voice", "active", "2020-01-01")] * 3)
    BookImporter(a.registry.engine, a.protector).import_file(book)
    assert xc.watermark(a.registry.engine) is None  # the next publish looks at everyone
    again = publish_changes(a.registry.engine, a.protector, client, a.policy)
    assert (again.full, again.published) == (True, 1)  # the imported holder; 佐藤 unchanged
