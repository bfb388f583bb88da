"""Publishing a carrier's line counts to the hub's registry, incrementally (``xc publish``)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from carrierguard.contracts.identity_link import as_holder, identity_string
from carrierguard.contracts.lines import LineState
from carrierguard.contracts.model import HolderKind
from carrierguard.contracts.policy import Policy
from carrierguard.crosscarrier.client import HubClient
from carrierguard.crypto import DataProtector
from carrierguard.store import crosscarrier as xc
from carrierguard.store.crosscarrier import Counts

#: Lines whose updated_at is a little older than the last watermark are looked at again:
#: a transaction may commit after a later one, with an earlier timestamp.
OVERLAP = timedelta(minutes=10)
#: One publish at a time; a publish that died frees the lease when it runs out.
LEASE = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Published:
    holders_seen: int
    published: int
    full: bool


def counted_states(policy: Policy) -> list[str]:
    """The line states the policy counts toward caps: what the hub is told about."""
    return [s.value for s in LineState if policy.counts(s)]


def identity_of(protector: DataProtector, pii: bytes) -> str:
    """The identity key of a stored individual holder (what the token is made from)."""
    return identity_string(as_holder(HolderKind.INDIVIDUAL, protector.open(pii)))


def publish_changes(
    engine: Engine,
    protector: DataProtector,
    hub: HubClient,
    policy: Policy,
    *,
    full: bool = False,
    batch: int = 500,
    progress: Callable[[int], None] = lambda seen: None,
) -> Published:
    """Send the hub each individual holder's counts that changed since it last heard them.

    Holders are walked in id order, ``batch`` at a time: one evaluator round trip and one
    registry round trip per batch, then the batch is noted as published. A run that stops
    leaves the watermark where it was, so the next run looks at the same changes again
    (re-sending a count is harmless). One publish runs at a time (a lease in the
    database); a second one is refused with Conflict.
    """
    lease = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    xc.take_publish_lease(engine, lease, datetime.now(UTC), LEASE)
    try:
        return _publish(engine, protector, hub, policy, full, batch, progress, lease)
    finally:
        xc.drop_publish_lease(engine, lease)


def _publish(
    engine: Engine,
    protector: DataProtector,
    hub: HubClient,
    policy: Policy,
    full: bool,
    batch: int,
    progress: Callable[[int], None],
    lease: str,
) -> Published:
    states = counted_states(policy)
    started = xc.last_line_change(engine) or datetime.now(UTC)
    since = None if full else xc.watermark(engine)
    changed_since = None if since is None else since - OVERLAP
    seen = sent = after = 0
    while True:
        page = xc.holders_to_publish(
            engine, states, after_id=after, limit=batch, changed_since=changed_since
        )
        if not page:
            break
        xc.take_publish_lease(engine, lease, datetime.now(UTC), LEASE)  # still ours: renew
        after = page[-1].holder_id
        seen += len(page)
        todo = [
            h
            for h in page
            if h.stale or (h.published != h.counts and not (h.published is None and h.counts.empty))
        ]
        if todo:
            tokens = hub.tokens([identity_of(protector, h.pii) for h in todo])
            hub.publish(_rows(engine, todo, tokens))
            xc.note_published(
                engine,
                [(h.holder_id, t, h.counts) for t, h in zip(tokens, todo, strict=True)],
                datetime.now(UTC),
            )
            sent += len(todo)
        progress(seen)
    xc.set_watermark(engine, started)
    return Published(holders_seen=seen, published=sent, full=since is None)


def _rows(
    engine: Engine, todo: list[xc.HolderCounts], tokens: list[str]
) -> list[tuple[str, Counts]]:
    """What the hub must now hold for each token the batch touches: one row per token.

    The hub keeps one row per token and carrier, so a token two of our holders share (one
    person by the current normaliser, e.g. after an upgrade) is sent as the sum of their
    lines: this batch's counts plus what was last published for the others. A holder whose
    token changed (identity rekey) leaves its old token, which is sent without its lines
    (zeros withdraw it), or the hub would count them twice."""
    old = {h.published_token for h in todo if h.published_token is not None}
    touched = set(tokens) | old
    totals = xc.published_totals(engine, touched, excluding=[h.holder_id for h in todo])
    for token, h in zip(tokens, todo, strict=True):
        totals[token] = totals.get(token, Counts()).plus(h.counts)
    return [(token, totals.get(token, Counts())) for token in sorted(touched)]
