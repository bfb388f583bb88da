"""Batch de-duplication: clusters of holder records that are one person, and a review list.

Owns the batch job over an iterable of ``(holder_id, Person)``, so the store can
stream the registry into it in chunks. Each record is normalised to a few hashed
blocking keys (optionally in worker processes); candidate pairs come only from
shared keys (sorted 64-bit hashes, never a scan of all pairs), and only their
records are normalised again and compared with the same ``match`` rules as
screening. "same" edges are joined into clusters (union-find); "uncertain" pairs
are listed for a person to decide. No I/O: progress is reported through a callback.

Blocking keys, each covering one way a real duplicate can still be "same" or
"uncertain" under the rule table: birth date + written name; birth date + reading;
birth date + address (a new family name, a kana-only legacy name, a slip of the
IME); written name + town (a typo in the birth date).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from hashlib import blake2b
from itertools import combinations, islice

import numpy as np

from carrierguard.errors import InvalidInput
from carrierguard.identity.matching import match_normalized
from carrierguard.identity.model import NormalizedPerson, Outcome, Person, normalize_person_once

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``; total is 0 while unknown (records still streaming)."""

MAX_BLOCK = 200
CHUNK = 5_000
_HASH_MASK = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class Cluster:
    """Holders that matching says are one person; ``min_score`` of the joining edges."""

    holder_ids: tuple[str, ...]
    min_score: float


@dataclass(frozen=True, slots=True)
class UncertainPair:
    """Two holders a person must look at, with the score and reasons of the match."""

    holder_a: str
    holder_b: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DedupeReport:
    """What the batch job found, and what it could not look at."""

    records: int
    comparisons: int
    clusters: tuple[Cluster, ...]
    uncertain: tuple[UncertainPair, ...]
    skipped: tuple[tuple[str, str], ...]  # (holder_id, reason) of unreadable records
    oversized_blocks: int  # blocks over MAX_BLOCK records, compared no further


def dedupe_keys(norm: NormalizedPerson) -> tuple[str, ...]:
    """The blocking keys one record is filed under (see the module docstring)."""
    dob = norm.birth_date.isoformat()
    name = norm.name.full
    keys = [f"n|{dob}|{name}", f"a|{dob}|{norm.address.key}", f"t|{name}|{norm.address.locality}"]
    if norm.name.reading:
        keys.append(f"p|{dob}|{norm.name.phonetic}")
    return tuple(keys)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while x != root:
            self.parent[x], x = root, self.parent.get(x, x)
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _candidate_pairs(hashes: np.ndarray, owners: np.ndarray) -> tuple[set[tuple[int, int]], int]:
    order = np.argsort(hashes, kind="stable")
    sorted_hashes, sorted_owners = hashes[order], owners[order]
    starts = np.flatnonzero(np.r_[True, sorted_hashes[1:] != sorted_hashes[:-1]])
    ends = np.r_[starts[1:], len(sorted_hashes)]
    sizes = ends - starts
    pairs: set[tuple[int, int]] = set()
    oversized = 0
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        if size > MAX_BLOCK:
            oversized += 1
            continue
        members = sorted(set(sorted_owners[start : start + size].tolist()))
        pairs.update(combinations(members, 2))
    return pairs, oversized


Keyed = tuple[int, ...] | str
"""The hashed blocking keys of one record, or the reason it could not be read."""


def _key_hash(key: str) -> int:
    # Not hash(): str hashes differ between processes, and workers hash keys too.
    digest = blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & _HASH_MASK


def _hash_chunk(chunk: list[Person]) -> list[Keyed]:
    out: list[Keyed] = []
    for person in chunk:
        try:
            norm = normalize_person_once(person)
        except InvalidInput as exc:
            out.append(exc.message)
            continue
        out.append(tuple(_key_hash(key) for key in dedupe_keys(norm)))
    return out


def _keyed(
    records: Iterable[tuple[str, Person]], workers: int
) -> Iterator[tuple[str, Person, Keyed]]:
    """Hash each record's keys, in order; with ``workers`` > 1 in a process pool.

    Only small results (a few integers) come back from the workers, and only the
    records found in a candidate pair are normalised again for comparison.
    """
    source = iter(records)
    chunks = iter(lambda: list(islice(source, CHUNK)), [])
    if workers <= 1:
        for chunk in chunks:
            keyed = _hash_chunk([person for _, person in chunk])
            for (holder_id, person), keys in zip(chunk, keyed, strict=True):
                yield holder_id, person, keys
        return
    with ProcessPoolExecutor(workers) as pool:
        pending: deque[tuple[list[tuple[str, Person]], Future[list[Keyed]]]] = deque()

        def drain() -> Iterator[tuple[str, Person, Keyed]]:
            chunk, future = pending.popleft()
            for (holder_id, person), keys in zip(chunk, future.result(), strict=True):
                yield holder_id, person, keys

        for chunk in chunks:
            pending.append((chunk, pool.submit(_hash_chunk, [person for _, person in chunk])))
            if len(pending) > 2 * workers:
                yield from drain()
        while pending:
            yield from drain()


def dedupe(
    records: Iterable[tuple[str, Person]],
    progress: Progress | None = None,
    *,
    workers: int = 1,
) -> DedupeReport:
    """Find clusters of one person and uncertain pairs among ``records``.

    ``workers`` > 1 normalises in that many processes (the comparisons stay in this one).
    """
    report = progress or (lambda _phase, _done, _total: None)
    ids: list[str] = []
    persons: list[Person] = []
    key_hashes: list[int] = []
    key_owners: list[int] = []
    skipped: list[tuple[str, str]] = []
    for count, (holder_id, person, keys) in enumerate(_keyed(records, workers), start=1):
        if isinstance(keys, str):
            skipped.append((holder_id, keys))
            continue
        index = len(persons)
        ids.append(holder_id)
        persons.append(person)
        key_hashes.extend(keys)
        key_owners.extend([index] * len(keys))
        if count % 10_000 == 0:
            report("normalise", count, 0)
    report("normalise", len(persons) + len(skipped), len(persons) + len(skipped))

    pairs, oversized = _candidate_pairs(
        np.asarray(key_hashes, dtype=np.int64), np.asarray(key_owners, dtype=np.int64)
    )
    del key_hashes, key_owners
    people: dict[int, NormalizedPerson] = {}
    for index in sorted({i for pair in pairs for i in pair}):
        people[index] = normalize_person_once(persons[index])
    union = _UnionFind()
    edge_scores: dict[int, float] = {}
    uncertain: list[UncertainPair] = []
    total = len(pairs)
    for done, (i, j) in enumerate(sorted(pairs), start=1):
        result = match_normalized(people[i], people[j])
        if result.outcome is Outcome.SAME:
            union.union(i, j)
            edge_scores[i] = min(edge_scores.get(i, 1.0), result.score)
        elif result.outcome is Outcome.UNCERTAIN:
            uncertain.append(UncertainPair(ids[i], ids[j], result.score, result.reasons))
        if done % 10_000 == 0:
            report("compare", done, total)
    report("compare", total, total)

    groups: dict[int, list[int]] = {}
    for member in list(union.parent):
        groups.setdefault(union.find(member), []).append(member)
    clusters = []
    for root, members in groups.items():
        everyone = sorted(set(members) | {root})
        low = min(edge_scores.get(m, 1.0) for m in everyone)
        clusters.append(Cluster(tuple(ids[m] for m in everyone), low))
    clusters.sort(key=lambda c: c.holder_ids)
    return DedupeReport(
        records=len(persons),
        comparisons=total,
        clusters=tuple(clusters),
        uncertain=tuple(uncertain),
        skipped=tuple(skipped),
        oversized_blocks=oversized,
    )
