"""``identity rekey``: a registry keyed by an older normaliser is found again after it runs."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from carrierguard.cli.main import app
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
from carrierguard.contracts.service import ScreeningService, sealed_fields
from carrierguard.identity import KEY_VERSION
from carrierguard.store.engine import migrate
from carrierguard.store.rekey import key_version, registry_state, rekey
from carrierguard.store.schema import holder_blocks, holders
from carrierguard.web.app import build_service
from tests.dbs import fresh_database

KEY = bytes(range(32))


@pytest.fixture(params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScreeningService]:
    with fresh_database(request.param, tmp_path) as url:
        svc = build_service(Settings(db_url=url, data_key=KEY))
        migrate(svc.registry.engine)
        yield svc
        svc.registry.engine.dispose()


def apply(svc: ScreeningService, name: str, on: date, lines: int = 1) -> tuple[int, Outcome]:
    record = svc.screen(
        Application(
            channel=Channel.STORE,
            holder=HolderIdentity(
                kind=HolderKind.INDIVIDUAL, name=name, birth_date=date(1970, 5, 5)
            ),
            lines=tuple(LineRequest(SimType.VOICE) for _ in range(lines)),
            applied_on=on,
            kyc_method="ic_chip_mynumber",
        )
    ).record
    return record.holder_id, record.outcome


def age_the_keys(svc: ScreeningService, holder_id: int) -> None:
    """Make the holder's keys what an older normaliser would have stored (other keys)."""
    engine = svc.registry.engine
    with engine.begin() as conn:
        conn.execute(
            update(holders)
            .where(holders.c.id == holder_id)
            .values(identity_key=svc.protector.blind_index(f"old-normaliser|{holder_id}"))
        )
        conn.execute(delete(holder_blocks).where(holder_blocks.c.holder_id == holder_id))
        conn.execute(delete(registry_state))


def test_after_rekey_a_holder_keyed_the_old_way_is_found_again(service: ScreeningService) -> None:
    first, _ = apply(service, "一ヶ瀬 太郎", date(2024, 1, 1), lines=2)
    age_the_keys(service, first)
    engine = service.registry.engine
    assert key_version(engine) == 1  # people, and no version recorded: the old keys
    report = rekey(engine, service.protector, batch=1)
    assert (report.holders, report.keys_changed, report.blocks_changed) == (1, 1, 1)
    assert report.collisions == [] and key_version(engine) == KEY_VERSION
    again, _ = apply(service, "一ケ瀬　太郎", date(2024, 6, 1))
    assert again == first  # the same holder: its lines count together
    repeat = rekey(engine, service.protector)
    assert (repeat.keys_changed, repeat.blocks_changed) == (0, 0)


def test_two_holders_one_person_by_the_new_rules_are_listed_not_merged(
    service: ScreeningService,
) -> None:
    a, _ = apply(service, "佐藤 花子", date(2024, 1, 1))
    b, _ = apply(service, "鈴木 次郎", date(2024, 1, 1))
    same_as_a = HolderIdentity(
        kind=HolderKind.INDIVIDUAL, name="佐藤　花子", birth_date=date(1970, 5, 5)
    )
    engine = service.registry.engine
    with engine.begin() as conn:
        conn.execute(
            update(holders)
            .where(holders.c.id == b)
            .values(pii=service.protector.seal(sealed_fields(same_as_a)))
        )
    report = rekey(engine, service.protector)
    assert report.collisions == [(b, a)] and report.keys_changed == 0
    with engine.connect() as conn:
        keys = dict(conn.execute(select(holders.c.id, holders.c.identity_key)).all())
    assert len(set(keys.values())) == 2  # both kept


def test_rekey_command_reports_what_it_did(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    svc = build_service(Settings(db_url=url, data_key=KEY))
    migrate(svc.registry.engine)
    holder, _ = apply(svc, "髙橋 一郎", date(2024, 1, 1))
    age_the_keys(svc, holder)
    env = {"CARRIERGUARD_DATA_KEY": base64.b64encode(KEY).decode()}
    done = CliRunner().invoke(
        app, ["identity", "rekey", "--db", url, "--review", str(tmp_path / "r.jsonl")], env=env
    )
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["version_before"] == 1 and out["version"] == KEY_VERSION
    assert out["keys_changed"] == 1 and out["collisions"] == 0
    assert (tmp_path / "r.jsonl").read_text() == ""
