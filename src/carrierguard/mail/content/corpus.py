"""The shared mail corpora as labelled, dated items, and the time split by campaign.

Reads ``../shared/data/mail`` (ja-phishing, ja-ham, en-ham-lists, spamassassin) through
their index files; never copies them anywhere. ``split_by_time`` orders each corpus by date
and assigns whole campaigns (messages linked by subject or by a sending or linked domain
that no ham uses) to train, validation or test by their first message, so that no campaign
appears in two splits.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

LABELS = ("ham", "spam", "phishing")
SPLITS = ("train", "val", "test")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled message of a corpus; ``raw`` is read lazily by the caller."""

    path: Path
    corpus: str
    label: str
    date: datetime


def parse_date(text: str) -> datetime:
    """Date header text to an aware datetime; the epoch when unreadable or implausible."""
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return _EPOCH
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when if when.year >= 1990 else _EPOCH


def _header_date(path: Path) -> datetime:
    head = path.read_bytes()[:16384].decode("latin-1")
    m = re.search(r"^Date:[ \t]*(.+)$", head, re.MULTILINE | re.IGNORECASE)
    return parse_date(m.group(1).strip()) if m else _EPOCH


def _rows(path: Path) -> Iterable[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


def load(root: Path) -> list[Item]:
    """Every labelled message of the mail corpora under ``root`` (``shared/data/mail``)."""
    items: list[Item] = []
    jp = root / "ja-phishing"
    for row in _rows(jp / "labels.csv"):
        label = {"legit": "ham"}.get(row["label"], row["label"])
        corpus = "ja-phishing" if label == "phishing" else f"ja-phishing-{label}"
        path = jp / row["file"]
        date = parse_date(row["date"])
        items.append(Item(path, corpus, label, date if date != _EPOCH else _header_date(path)))
    for name in ("ja-ham", "en-ham-lists"):
        for row in _rows(root / name / "index.csv"):
            path = root / name / row["file"]
            items.append(Item(path, name, "ham", parse_date(row["date"])))
    sa = root / "spamassassin"
    for row in _rows(sa / "index.csv"):
        path = sa / row["file"]
        group = row["group"].rsplit("-", 1)[0]
        items.append(Item(path, f"spamassassin-{group}", row["label"], _header_date(path)))
    return items


FEEDBACK_LABELS = {"phishing": "phishing", "not_phishing": "ham"}


def load_feedback(directory: Path) -> list[Item]:
    """Messages people labelled in the quarantine (``mail.release.record_feedback``).

    ``directory/phishing/*.eml`` are phishing, ``directory/not_phishing/*.eml`` ham; the
    corpus name is ``feedback``. A missing directory is simply no feedback.
    """
    items = []
    for folder, label in FEEDBACK_LABELS.items():
        for path in sorted((directory / folder).glob("*.eml")):
            items.append(Item(path, "feedback", label, _header_date(path)))
    return items


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def subject_key(subject: str) -> str:
    """Subject without reply prefixes, digits, dates and punctuation: a campaign's template."""
    s = re.sub(r"^(?:\s*(?:re|fwd?|aw)\s*:)+", "", subject.lower())
    s = re.sub(r"[\d\W_]+", "", s)
    return s[:60]


def campaigns(keys: list[set[str]]) -> list[int]:
    """Campaign id per message: messages sharing any key are one campaign."""
    uf = _UnionFind(len(keys))
    first: dict[str, int] = {}
    for i, ks in enumerate(keys):
        for k in ks:
            if k in first:
                uf.union(i, first[k])
            else:
                first[k] = i
    return [uf.find(i) for i in range(len(keys))]


def split_by_time(
    items: list[Item], keys: list[set[str]], shares: tuple[float, float] = (0.6, 0.2)
) -> list[str]:
    """Split name per item: per corpus by date, whole campaigns placed by their first message."""
    out = ["train"] * len(items)
    by_corpus: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_corpus[item.corpus].append(i)
    for idx in by_corpus.values():
        idx.sort(key=lambda i: (items[i].date, str(items[i].path)))
        n = len(idx)
        cut_val, cut_test = round(n * shares[0]), round(n * (shares[0] + shares[1]))
        position = {i: p for p, i in enumerate(idx)}
        camp = campaigns([keys[i] for i in idx])
        start: dict[int, int] = {}
        for local, i in enumerate(idx):
            start.setdefault(camp[local], position[i])
        for local, i in enumerate(idx):
            p = start[camp[local]]
            out[i] = "train" if p < cut_val else ("val" if p < cut_test else "test")
    return out
