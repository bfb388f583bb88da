"""Two of our holders whose identity keys now read as one person share one token at the hub.

That happens after an upgrade of the normaliser (before ``identity rekey``, or when rekey
finds two holders that are one person by the new rules and lists them instead of merging).
The hub keeps one row per token and carrier, so the carrier must send the sum of its
holders' lines under that token: never two rows for one token in a request (the hub refuses
it), never one holder's count overwriting the other's.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select, update

from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import HolderIdentity, HolderKind
from carrierguard.contracts.service import ScreeningService, sealed_fields
from carrierguard.crosscarrier.publish import publish_changes
from carrierguard.store import crosscarrier as xc
from carrierguard.store.rekey import rekey
from carrierguard.store.schema import holders
from tests.crosscarrier.test_hub import Hub, hub, make_carrier, screen

__all__ = ["hub"]  # the fixture, shared with test_hub

NAME = "髙橋 一郎"
TOKEN_OF = "individual|高橋一郎|1985-04-01"


def two_holders_one_person(a: ScreeningService) -> tuple[int, int]:
    """Holder 1 (2 lines) and holder 2 (3 lines) whose sealed fields read as the same person,
    under different stored keys, as an older normaliser would have left them."""
    screen(a, NAME, 2)
    screen(a, "佐藤 花子", 3)
    same = HolderIdentity(kind=HolderKind.INDIVIDUAL, name=NAME, birth_date=date(1985, 4, 1))
    with a.registry.engine.begin() as conn:
        conn.execute(
            update(holders)
            .where(holders.c.id == 2)
            .values(pii=a.protector.seal(sealed_fields(same)))
        )
    return 1, 2


def voice_elsewhere(hub: Hub) -> int:
    b = hub.carrier_client("carrier-b")
    (token,) = b.tokens([TOKEN_OF])
    found = b.elsewhere([token]).get(token)
    return 0 if found is None else found.lines[SimType.VOICE]


def test_two_holders_with_one_token_in_one_batch_are_sent_as_their_sum(
    hub: Hub, tmp_path: Path
) -> None:
    """Test that one batch holding both sends one row for the token, with both holders' lines."""
    a = make_carrier(tmp_path, "a")
    two_holders_one_person(a)
    done = publish_changes(
        a.registry.engine, a.protector, hub.carrier_client("carrier-a"), a.policy
    )
    assert done.published == 2
    assert voice_elsewhere(hub) == 5


def test_two_holders_with_one_token_in_different_batches_do_not_overwrite_each_other(
    hub: Hub, tmp_path: Path
) -> None:
    """Test that the second holder's count adds to the first's, and a withdrawal keeps the rest."""
    a = make_carrier(tmp_path, "a")
    two_holders_one_person(a)
    client = hub.carrier_client("carrier-a")
    publish_changes(a.registry.engine, a.protector, client, a.policy, batch=1)
    assert voice_elsewhere(hub) == 5
    for line in a.holder(1).lines:
        a.terminate_line(line.line_id)
    again = publish_changes(a.registry.engine, a.protector, client, a.policy, batch=1)
    assert again.published == 1
    assert voice_elsewhere(hub) == 3  # holder 2's lines are still held


def test_a_holder_rekey_could_not_move_still_gets_its_new_token_at_the_hub(
    hub: Hub, tmp_path: Path
) -> None:
    """Test that a rekey collision marks the holder stale: its lines move to the shared token."""
    a = make_carrier(tmp_path, "a")
    screen(a, NAME, 2)
    screen(a, "佐藤 花子", 3)
    client = hub.carrier_client("carrier-a")
    publish_changes(a.registry.engine, a.protector, client, a.policy)
    b = hub.carrier_client("carrier-b")
    (old,) = b.tokens(["individual|佐藤花子|1985-04-01"])
    assert b.elsewhere([old])[old].lines[SimType.VOICE] == 3
    # The new normaliser reads holder 2 as holder 1's person (its stored key is the old one).
    same = HolderIdentity(kind=HolderKind.INDIVIDUAL, name=NAME, birth_date=date(1985, 4, 1))
    with a.registry.engine.begin() as conn:
        conn.execute(
            update(holders)
            .where(holders.c.id == 2)
            .values(pii=a.protector.seal(sealed_fields(same)))
        )
    report = rekey(a.registry.engine, a.protector)
    assert report.collisions == [(2, 1)]
    with a.registry.engine.connect() as conn:
        stale = conn.execute(
            select(xc.xc_published.c.stale).where(xc.xc_published.c.holder_id == 2)
        ).scalar_one()
    assert stale is True
    again = publish_changes(a.registry.engine, a.protector, client, a.policy)
    assert again.published == 1
    assert voice_elsewhere(hub) == 5  # one person by the new rules: counted together
    assert old not in b.elsewhere([old])  # the old token is withdrawn
