"""Make a registry's identity keys again after the normaliser changed (``identity rekey``).

A holder is found by the blind index of its identity key and by candidate keys
(``holder_blocks``); both come from ``identity`` normalisation. When a new version reads
some names differently (``identity.KEY_VERSION``), keys stored by the old one no longer meet
new applicants' keys. This walks the holders in id order, in chunks, opens each one's sealed
fields, and rewrites what changed, one transaction per chunk, so a stopped run is simply run
again. Two holders whose new keys are equal are one person by the new rules: the second
keeps its old key and both are listed for review (a merge is a person's decision).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, and_, delete, select, update
from sqlalchemy.exc import IntegrityError

from carrierguard.contracts.identity_link import as_holder, candidate_strings, identity_string
from carrierguard.contracts.model import HolderKind
from carrierguard.crypto import DataProtector
from carrierguard.identity import KEY_VERSION
from carrierguard.store.crosscarrier import mark_stale
from carrierguard.store.engine import dialect_insert
from carrierguard.store.schema import holder_blocks, holders, registry_state

KEY_VERSION_NAME = "identity_key_version"
#: Registries keyed before the version was recorded were keyed by version 1.
UNRECORDED_VERSION = 1


@dataclass
class RekeyReport:
    holders: int = 0
    keys_changed: int = 0
    blocks_changed: int = 0
    collisions: list[tuple[int, int]] = field(default_factory=list)  # (holder, existing holder)


def key_version(engine: Engine) -> int:
    """The identity key version the registry's keys were made by."""
    with engine.connect() as conn:
        value = conn.execute(
            select(registry_state.c.value).where(registry_state.c.name == KEY_VERSION_NAME)
        ).scalar()
        if value is not None:
            return int(value)
        anyone = conn.execute(select(holders.c.id).limit(1)).scalar()
    return KEY_VERSION if anyone is None else UNRECORDED_VERSION


def set_key_version(engine: Engine, version: int) -> None:
    with engine.begin() as conn:
        stmt = dialect_insert(conn, registry_state)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["name"], set_={"value": str(version)}),
            [{"name": KEY_VERSION_NAME, "value": str(version)}],
        )


def rekey(
    engine: Engine,
    protector: DataProtector,
    *,
    batch: int = 2000,
    progress: Callable[[int], None] = lambda done: None,
) -> RekeyReport:
    """Rewrite every holder's identity key and candidate keys that the current version
    makes differently; then record the version. Returns what changed."""
    report = RekeyReport()
    after = 0
    while True:
        with engine.begin() as conn:
            page = conn.execute(
                select(holders.c.id, holders.c.kind, holders.c.identity_key, holders.c.pii)
                .where(holders.c.id > after)
                .order_by(holders.c.id)
                .limit(batch)
            ).all()
            if not page:
                break
            after = page[-1].id
            ids = [r.id for r in page]
            stored: dict[int, set[str]] = {i: set() for i in ids}
            for holder_id, block in conn.execute(
                select(holder_blocks.c.holder_id, holder_blocks.c.block).where(
                    holder_blocks.c.holder_id.in_(ids)
                )
            ):
                stored[holder_id].add(block)
            for row in page:
                holder = as_holder(HolderKind(row.kind), protector.open(bytes(row.pii)))
                key = protector.blind_index(identity_string(holder))
                if key != row.identity_key:
                    _move_key(conn, row.id, key, report)
                blocks = {protector.blind_index(b) for b in candidate_strings(holder)}
                if blocks != stored[row.id]:
                    report.blocks_changed += 1
                    gone = stored[row.id] - blocks
                    if gone:
                        conn.execute(
                            delete(holder_blocks).where(
                                and_(
                                    holder_blocks.c.holder_id == row.id,
                                    holder_blocks.c.block.in_(gone),
                                )
                            )
                        )
                    new = blocks - stored[row.id]
                    if new:
                        conn.execute(
                            dialect_insert(conn, holder_blocks)
                            .values([{"block": b, "holder_id": row.id} for b in new])
                            .on_conflict_do_nothing()
                        )
        report.holders += len(page)
        progress(report.holders)
    set_key_version(engine, KEY_VERSION)
    return report


def _move_key(conn: Connection, holder_id: int, key: str, report: RekeyReport) -> None:
    """Give the holder its new key, unless another holder already has it (a collision)."""
    # Its cross-carrier token is made from the identity string, not the stored key: it
    # changes even when the key cannot move, and then it is the other holder's token.
    mark_stale(conn, holder_id)
    existing = conn.execute(select(holders.c.id).where(holders.c.identity_key == key)).scalar()
    if existing is not None:
        report.collisions.append((holder_id, int(existing)))
        return
    try:
        with conn.begin_nested():  # a screening may create that holder meanwhile
            conn.execute(update(holders).where(holders.c.id == holder_id).values(identity_key=key))
    except IntegrityError:
        found = conn.execute(select(holders.c.id).where(holders.c.identity_key == key)).scalar()
        report.collisions.append((holder_id, int(found or 0)))
        return
    report.keys_changed += 1
