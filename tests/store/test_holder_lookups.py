"""The holder statements a new applicant's screening runs, on both engines (PostgreSQL sends
them through psycopg directly): candidates by key, creation, and the holder's lock."""

from __future__ import annotations

from datetime import UTC, datetime

from carrierguard.contracts.model import HolderKind
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.registry import Registry

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def registry(db_url: str) -> Registry:
    engine = create_store_engine(db_url)
    migrate(engine)
    return Registry(engine)


def test_create_then_find_the_same_holder(db_url: str) -> None:
    reg = registry(db_url)
    with reg.write() as tx:
        first = tx.lock_or_create_holder_created(
            identity_key="k1", kind=HolderKind.INDIVIDUAL, pii=b"\x00sealed\xff", now=NOW
        )
        again = tx.lock_or_create_holder_created(
            identity_key="k1", kind=HolderKind.CORPORATE, pii=b"other", now=NOW
        )
        other = tx.lock_or_create_holder(
            identity_key="k2", kind=HolderKind.CORPORATE, pii=b"c", now=NOW
        )
        tx.lock_holder(first[0])
    assert first[1] is True and again == (first[0], False)
    assert other not in (first[0],)
    with reg.read() as tx:
        assert tx.find_holder("k1") == first[0]
        assert tx.holder(first[0]).kind is HolderKind.INDIVIDUAL  # the second kind was not written
        assert tx.holder(other).kind is HolderKind.CORPORATE
        assert tx.resale_assessment(first[0]) is None  # risk flags start empty


def test_candidates_by_key_are_distinct_in_id_order_with_their_sealed_fields(db_url: str) -> None:
    reg = registry(db_url)
    with reg.write() as tx:
        ids = [
            tx.lock_or_create_holder(
                identity_key=f"h{i}", kind=HolderKind.INDIVIDUAL, pii=f"pii-{i}".encode(), now=NOW
            )
            for i in range(5)
        ]
        tx.insert_blocks(ids[3], ["nm:a", "ph:b"])  # both keys: listed once
        tx.insert_blocks(ids[1], ["nm:a"])
        tx.insert_blocks(ids[4], ["ph:b"])
        tx.insert_blocks(ids[0], ['odd "key", \\ {x}'])
    with reg.read() as tx:
        assert tx.block_candidates(["ph:b", "nm:a"]) == [
            (ids[1], b"pii-1"),
            (ids[3], b"pii-3"),
            (ids[4], b"pii-4"),
        ]
        assert tx.block_candidates(["nm:a", "ph:b"], limit=2) == [
            (ids[1], b"pii-1"),
            (ids[3], b"pii-3"),
        ]
        assert tx.block_candidates(['odd "key", \\ {x}']) == [(ids[0], b"pii-0")]
        assert tx.block_candidates(["none"]) == []
        assert tx.block_candidates([]) == []
