"""One cross-carrier publish at a time: a lease in the carrier's database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carrierguard.errors import Conflict
from carrierguard.store import crosscarrier as xc
from carrierguard.store.engine import create_store_engine, migrate
from tests.dbs import fresh_database

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=15)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_second_publish_waits_for_the_lease_or_its_expiry(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as url:
        engine = create_store_engine(url)
        migrate(engine)
        xc.take_publish_lease(engine, "host-a:1", T0, TTL)
        xc.take_publish_lease(engine, "host-a:1", T0 + timedelta(minutes=5), TTL)  # renewal
        with pytest.raises(Conflict, match="host-a:1"):
            xc.take_publish_lease(engine, "host-b:2", T0 + timedelta(minutes=10), TTL)
        xc.drop_publish_lease(engine, "host-b:2")  # not b's to give back: nothing happens
        with pytest.raises(Conflict):
            xc.take_publish_lease(engine, "host-b:2", T0 + timedelta(minutes=19), TTL)
        # a publish that died: its lease runs out and another takes over
        xc.take_publish_lease(engine, "host-b:2", T0 + timedelta(minutes=21), TTL)
        xc.drop_publish_lease(engine, "host-a:1")  # the old owner cannot free b's lease
        with pytest.raises(Conflict, match="host-b:2"):
            xc.take_publish_lease(engine, "host-c:3", T0 + timedelta(minutes=22), TTL)
        xc.drop_publish_lease(engine, "host-b:2")
        xc.take_publish_lease(engine, "host-c:3", T0 + timedelta(minutes=22), TTL)
        engine.dispose()


def test_publish_refuses_while_another_holds_the_lease(tmp_path: Path) -> None:
    from carrierguard.config import Settings
    from carrierguard.crosscarrier.client import HubClient, HubSettings
    from carrierguard.crosscarrier.publish import publish_changes
    from carrierguard.web.app import build_service

    service = build_service(Settings(db_url=f"sqlite:///{tmp_path / 'c.db'}", data_key=bytes(32)))
    engine = service.registry.engine
    migrate(engine)
    xc.take_publish_lease(engine, "elsewhere:9", datetime.now(UTC), TTL)
    unused = HubClient(HubSettings("http://127.0.0.1:9", "http://127.0.0.1:9", "k", b"\0" * 32))
    with pytest.raises(Conflict, match="elsewhere:9"):
        publish_changes(engine, service.protector, unused, service.policy)
    xc.drop_publish_lease(engine, "elsewhere:9")
    assert publish_changes(engine, service.protector, unused, service.policy).published == 0


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_lease_holder_with_a_long_host_name_fits(kind: str, tmp_path: Path) -> None:
    """The holder names the host; a long FQDN must not overflow the stored value."""
    holder = "mail-gateway-07.tokyo-east.internal.carrier.example.co.jp:123456:0a1b2c3d"
    with fresh_database(kind, tmp_path) as url:
        engine = create_store_engine(url)
        migrate(engine)
        xc.take_publish_lease(engine, holder, T0, TTL)
        with pytest.raises(Conflict, match="mail-gateway-07"):
            xc.take_publish_lease(engine, "other:1", T0, TTL)
        xc.drop_publish_lease(engine, holder)
        xc.take_publish_lease(engine, "other:1", T0, TTL)
        engine.dispose()
