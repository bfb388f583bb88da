"""Build the phishing model from the shared corpora and measure it.

``prepare`` reads and splits the corpora (see ``corpus``) and adds our synthetic Japanese
notices to the training split. ``fit`` trains the URL model on JPCERT/CC phishing hosts
reported before the validation period against hosts linked from training ham, then the
message model on the training split, and sets each strength's threshold on validation
ham. ``evaluate`` measures recall and false blocks on the real test split only.
"""

from __future__ import annotations

import csv
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from carrierguard.errors import MailUnreadable
from carrierguard.mail.content import corpus, synthetic
from carrierguard.mail.content.brands import Catalogue, default_catalogue, official_anywhere
from carrierguard.mail.content.evidence import Evidence, gather, vector
from carrierguard.mail.content.extract import MailText, read_message
from carrierguard.mail.content.model import (
    MODEL_FORMAT,
    PhishingModel,
    Scores,
    feature_matrix,
    message_text,
    threshold_for_rate,
    url_matrix,
    web_hosts,
)
from carrierguard.mail.recipients import STRENGTHS

TARGET_RATES = {"weak": 0.0001, "standard": 0.001, "strong": 0.01}
# Share of the ham class's training weight carried by Japanese ham. Nearly all phishing is
# Japanese and most ham English; without this the model learns the language itself.
JAPANESE_HAM_SHARE = 0.5
MIN_GROUP = 10
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def is_japanese(text: str) -> bool:
    """True when a tenth or more of the first 2,000 characters are kana or kanji."""
    head = text[:2000]
    return bool(head) and len(_JAPANESE.findall(head)) >= 0.1 * len(head)


def sample_weights(examples: list[Example]) -> np.ndarray:
    """Weights that give Japanese ham ``JAPANESE_HAM_SHARE`` of the ham class's weight."""
    ja = [e.label == "ham" and is_japanese(message_text(e.mail)) for e in examples]
    ham = [e.label == "ham" for e in examples]
    n_ja, n_ham = sum(ja), sum(ham)
    w = np.ones(len(examples))
    if 0 < n_ja < n_ham:
        up = JAPANESE_HAM_SHARE * (n_ham - n_ja) / ((1 - JAPANESE_HAM_SHARE) * n_ja)
        w[np.array(ja)] = max(up, 1.0)
    return w


URL_PHISH_SAMPLE = 60_000


@dataclass(slots=True)
class Example:
    """One message ready for training or evaluation."""

    source: str  # path, or "synthetic:N"
    corpus: str
    label: str
    date: datetime
    split: str
    mail: MailText
    evidence: Evidence
    url_scores: tuple[float, ...] = field(default_factory=tuple)


def _campaign_keys(examples: list[Example], catalogue: Catalogue) -> list[set[str]]:
    ham_domains = {
        x.domain for e in examples if e.label == "ham" for x in e.evidence.links if x.domain
    }
    keys: list[set[str]] = []
    for e in examples:
        ks = {"s:" + k} if (k := corpus.subject_key(e.mail.subject)) else set()
        if e.label != "ham":
            domains = {x.domain for x in e.evidence.links if x.domain}
            if e.mail.from_domain:
                domains.add(e.mail.from_domain)
            ks |= {
                "d:" + d
                for d in domains
                if d not in ham_domains and not official_anywhere(d, catalogue)
            }
        keys.append(ks)
    return keys


def prepare(
    root: Path, catalogue: Catalogue | None = None, feedback: Path | None = None
) -> tuple[list[Example], int]:
    """Read, split and featurise the corpora; returns examples and the unreadable count.

    ``feedback`` (a directory written by quarantine feedback) adds people's labels to the
    training split only: they are real mail, but not a held-out measurement.
    """
    catalogue = catalogue or default_catalogue()
    examples: list[Example] = []
    unreadable = 0
    for item in corpus.load(root):
        try:
            mail = read_message(item.path.read_bytes())
        except MailUnreadable:
            unreadable += 1
            continue
        ev = gather(mail, catalogue)
        examples.append(Example(str(item.path), item.corpus, item.label, item.date, "", mail, ev))
    splits = corpus.split_by_time(
        [corpus.Item(Path(e.source), e.corpus, e.label, e.date) for e in examples],
        _campaign_keys(examples, catalogue),
    )
    for e, s in zip(examples, splits, strict=True):
        e.split = s
    examples.extend(feedback_examples(feedback, catalogue) if feedback else [])
    for i, raw in enumerate(synthetic.notices()):
        mail = read_message(raw)
        examples.append(
            Example(
                f"synthetic:{i}",
                "synthetic-ja",
                "ham",
                datetime(2024, 1, 1, tzinfo=UTC),
                "train",
                mail,
                gather(mail, catalogue),
            )
        )
    return examples, unreadable


def feedback_examples(directory: Path, catalogue: Catalogue) -> list[Example]:
    """Training examples from quarantine feedback (unreadable files are skipped)."""
    out = []
    for item in corpus.load_feedback(directory):
        try:
            mail = read_message(item.path.read_bytes())
        except MailUnreadable:
            continue
        ev = gather(mail, catalogue)
        out.append(Example(str(item.path), item.corpus, item.label, item.date, "train", mail, ev))
    return out


def _phish_hosts(root: Path, before: datetime, rng: random.Random) -> list[str]:
    hosts: set[str] = set()
    for path in sorted((root / "jpcert-phishurl").glob("*/*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                try:
                    when = datetime.strptime(row["date"][:10], "%Y/%m/%d").replace(tzinfo=UTC)
                except (ValueError, TypeError):
                    continue
                if when >= before:
                    continue
                url = (row.get("URL") or "").strip()
                host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
                if host:
                    hosts.add(host)
    ordered = sorted(hosts)
    rng.shuffle(ordered)
    return ordered[:URL_PHISH_SAMPLE]


def _linear(alpha: float) -> SGDClassifier:
    """Logistic loss by SGD: seconds on one core where lbfgs needs minutes."""
    return SGDClassifier(
        loss="log_loss",
        alpha=alpha,
        max_iter=50,
        tol=1e-4,
        class_weight="balanced",
        average=True,
        random_state=0,
    )


def _fit_url_model(phish: list[str], ham: list[str]) -> SGDClassifier:
    x = url_matrix(phish + ham)
    y = np.array([1] * len(phish) + [0] * len(ham))
    clf = _linear(1e-5)
    clf.fit(x, y)
    return clf


def _url_scores(clf: SGDClassifier, hosts: list[str]) -> tuple[float, ...]:
    if not hosts:
        return ()
    return tuple(float(p) for p in clf.predict_proba(url_matrix(hosts))[:, 1])


def fit(root: Path, examples: list[Example], catalogue: Catalogue | None = None) -> PhishingModel:
    """Train the URL and message models and choose thresholds on validation ham."""
    catalogue = catalogue or default_catalogue()
    rng = random.Random(5)
    val_start = min(e.date for e in examples if e.corpus == "ja-phishing" and e.split == "val")
    phish = _phish_hosts(root, val_start, rng)
    official = [f"www.{d}" for b in catalogue.brands for d in b.domains]
    official += [d for b in catalogue.brands for d in b.domains]
    train = [e for e in examples if e.split == "train"]
    ham_train = [e for e in train if e.label == "ham"]
    # Cross-fitting: each training ham is scored by a URL model that never saw its hosts.
    folds: list[list[Example]] = [ham_train[0::2], ham_train[1::2]]
    for k in (0, 1):
        other = folds[1 - k]
        hosts = sorted({h for e in other for h in web_hosts(e.evidence)} | set(official))
        clf = _fit_url_model(phish, hosts)
        for e in folds[k]:
            e.url_scores = _url_scores(clf, web_hosts(e.evidence))
    all_ham_hosts = sorted({h for e in ham_train for h in web_hosts(e.evidence)} | set(official))
    url_clf = _fit_url_model(phish, all_ham_hosts)
    for e in examples:
        if not (e.split == "train" and e.label == "ham"):
            e.url_scores = _url_scores(url_clf, web_hosts(e.evidence))

    x = feature_matrix(
        [message_text(e.mail) for e in train], [vector(e.evidence, e.url_scores) for e in train]
    )
    y = np.array([e.label for e in train])
    clf = CalibratedClassifierCV(_linear(2e-5), method="sigmoid", cv=3, ensemble=False)
    weights = sample_weights(train)
    clf.fit(x, y, sample_weight=weights)
    oof_japanese = _out_of_fold_japanese_ham(train, x, y, weights)

    model = PhishingModel(url_clf, clf, {}, {})
    val = [e for e in examples if e.split == "val"]
    val_scores = _score(model, val)
    ham_val = [(e, s) for e, s in zip(val, val_scores, strict=True) if e.label == "ham"]
    thresholds = choose_thresholds(ham_val, oof_japanese)
    meta: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "validation_start": val_start.isoformat(),
        "url_model": {"phishing_hosts": len(phish), "ham_hosts": len(all_ham_hosts)},
        "validation_ham": len(ham_val),
        "validation_ham_japanese": sum(is_japanese(message_text(e.mail)) for e, _ in ham_val),
        "japanese_ham_out_of_fold": len(oof_japanese),
        "target_false_block_rates": TARGET_RATES,
        "splits": split_counts(examples),
    }
    return PhishingModel(url_clf, clf, thresholds, meta)


def _out_of_fold_japanese_ham(
    train: list[Example], x: Any, y: np.ndarray, weights: np.ndarray
) -> list[Scores]:
    """Scores of real Japanese training ham from models that did not see them (3 folds).

    Validation holds only a handful of Japanese ham; these honest out-of-fold scores let the
    thresholds answer for Japanese ham too.
    """
    chosen = [
        i
        for i, e in enumerate(train)
        if e.label == "ham"
        and not e.corpus.startswith("synthetic")
        and is_japanese(message_text(e.mail))
    ]
    if not chosen:
        return []
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    proba = cross_val_predict(
        CalibratedClassifierCV(_linear(2e-5), method="sigmoid", cv=3, ensemble=False),
        x,
        y,
        cv=folds,
        method="predict_proba",
        params={"sample_weight": weights},
    )
    classes = [str(c) for c in np.unique(y)]
    out = []
    for i in chosen:
        p = dict(zip(classes, (float(v) for v in proba[i]), strict=True))
        out.append(Scores(p["ham"], p["spam"], p["phishing"], train[i].url_scores))
    return out


def choose_thresholds(
    ham: list[tuple[Example, Scores]], japanese_extra: list[Scores] | None = None
) -> dict[str, dict[str, float]]:
    """Per category and strength, the threshold that meets the target on held-out ham.

    Half of each strength's false-block budget goes to the phishing rule, half to spam. The
    target must hold for Japanese ham (validation plus out-of-fold training scores) and for
    the other validation ham separately, the higher threshold winning, when the Japanese
    group has ``MIN_GROUP`` messages; a smaller group is pooled with the rest.
    """
    ja = [s for e, s in ham if is_japanese(message_text(e.mail))] + list(japanese_extra or [])
    other = [s for e, s in ham if not is_japanese(message_text(e.mail))]
    groups = [ja, other] if min(len(ja), len(other)) >= MIN_GROUP else [ja + other]
    out: dict[str, dict[str, float]] = {}
    for category in ("phishing", "spam"):
        out[category] = {
            st: max(
                threshold_for_rate([getattr(s, category) for s in g], TARGET_RATES[st] / 2)
                for g in groups
                if g
            )
            for st in STRENGTHS
        }
    return out


def _score(model: PhishingModel, examples: list[Example]) -> list[Scores]:
    x = feature_matrix(
        [message_text(e.mail) for e in examples],
        [vector(e.evidence, e.url_scores) for e in examples],
    )
    return [
        Scores(p["ham"], p["spam"], p["phishing"], e.url_scores)
        for p, e in zip(model.proba(x), examples, strict=True)
    ]


def split_counts(examples: list[Example]) -> dict[str, dict[str, int]]:
    """Messages per corpus and split."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in examples:
        counts[e.corpus][e.split] += 1
    return {k: dict(v) for k, v in sorted(counts.items())}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the evaluation table: how many of ``n`` messages each strength blocked."""

    corpus: str
    split: str
    label: str
    n: int
    blocked: dict[str, int]
    as_phishing: dict[str, int]


def evaluate(
    model: PhishingModel, examples: list[Example], split: str = "test", corpus: str | None = None
) -> list[Row]:
    """Blocked counts per corpus and strength on real mail of ``split`` (synthetic excluded).

    ``split="all"`` takes every split (used for the 77 Japanese ham, some of them trained on).
    """
    chosen = [
        e
        for e in examples
        if (split == "all" or e.split == split)
        and not e.corpus.startswith("synthetic")
        and (corpus is None or e.corpus == corpus)
    ]
    for e in chosen:
        if not e.url_scores:
            e.url_scores = model.url_scores(web_hosts(e.evidence))
    scores = _score(model, chosen)
    groups: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for e, s in zip(chosen, scores, strict=True):
        for st in STRENGTHS:
            groups[(e.corpus, e.label)].append((st, *model.verdict(s, st)))
    rows = []
    for (name, label), verdicts in sorted(groups.items()):
        n = len(verdicts) // len(STRENGTHS)
        blocked = {st: sum(v != "deliver" for s, v, _ in verdicts if s == st) for st in STRENGTHS}
        phish = {
            st: sum(c == "phishing" and v != "deliver" for s, v, c in verdicts if s == st)
            for st in STRENGTHS
        }
        rows.append(Row(name, split, label, n, blocked, phish))
    return rows
