"""The phishing model: features, the URL model, thresholds per strength, and the skops file.

A message becomes hashed character n-grams (Japanese has no spaces) plus hashed word n-grams
plus the structured evidence vector (which includes the URL model's scores for its link
hosts). A calibrated linear model (logistic loss) gives P(ham), P(spam), P(phishing). Each
strength has a threshold on P(phishing) and one on P(spam), both chosen on validation ham so
that together they block at most the strength's target share of it.

The vectorisers are stateless module constants; only fitted estimators go into the file,
which is loaded with skops trusting only the scikit-learn and numpy types we list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from scipy.special import expit  # type: ignore[import-untyped]

from carrierguard.errors import ModelUnavailable
from carrierguard.mail.content.evidence import Evidence, vector
from carrierguard.mail.content.extract import MailText
from carrierguard.mail.content.hashing import (
    char_ngram_indices,
    counted,
    rows_to_csr,
    stack_rows,
    word_ngram_indices,
)

MODEL_FORMAT = 2
MODEL_FILE = "phishing-v2.skops"
TEXT_CHARS = 1500
MAX_HOSTS = 20
URL_CACHE_SIZE = 65536  # hosts whose URL-model score is kept
STRUCT_WEIGHT = 1.0

CHAR_NGRAMS = (1, 3)
CHAR_FEATURES = 2**18
WORD_NGRAMS = 2
WORD_FEATURES = 2**17
URL_NGRAMS = (3, 5)
URL_FEATURES = 2**18
_TRUSTED = [
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    "builtins.slice",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.preprocessing._label.LabelEncoder",
]


@dataclass(frozen=True, slots=True)
class Scores:
    """What the model says about one message."""

    ham: float
    spam: float
    phishing: float
    url_scores: tuple[float, ...]

    @property
    def category(self) -> str:
        """The most probable of phishing, spam and ham."""
        best = max((self.phishing, "phishing"), (self.spam, "spam"), (self.ham, "ham"))
        return best[1]


def message_text(mail: MailText) -> str:
    """The text the n-gram features read: subject, display name, start of the body."""
    return f"{mail.subject}\n{mail.from_display}\n{mail.body[:TEXT_CHARS]}"


def web_hosts(ev: Evidence) -> list[str]:
    """Distinct link hosts (http/https), at most ``MAX_HOSTS``, in order of appearance."""
    seen: dict[str, None] = {}
    for link in ev.links:
        if link.host and link.scheme in ("http", "https", ""):
            seen.setdefault(link.host, None)
    return list(seen)[:MAX_HOSTS]


def url_matrix(hosts: list[str]) -> sp.csr_matrix:
    """Features of link hosts for the URL model: hashed character 3- to 5-grams."""
    rows = [char_ngram_indices(h.lower(), *URL_NGRAMS, URL_FEATURES) for h in hosts]
    return rows_to_csr(rows, URL_FEATURES)


Row = list[tuple[np.ndarray, np.ndarray]]  # (columns, values) blocks of one sparse row


def feature_matrix(texts: list[str], structured: list[list[float]]) -> sp.csr_matrix:
    """Hashed char and word n-grams plus the structured evidence, one row per message.

    Columns: char n-grams, then word n-grams, then the structured features.
    """
    width = CHAR_FEATURES + WORD_FEATURES + (len(structured[0]) if structured else 0)
    return stack_rows(feature_rows(texts, structured), width)


def feature_rows(texts: list[str], structured: list[list[float]]) -> list[Row]:
    """The rows of ``feature_matrix`` as (columns, values) blocks, without scipy."""
    offset = CHAR_FEATURES + WORD_FEATURES
    rows = []
    for text, values in zip(texts, structured, strict=True):
        low = text.lower()
        c_cols, c_vals = counted(char_ngram_indices(low, *CHAR_NGRAMS, CHAR_FEATURES))
        w_cols, w_vals = counted(word_ngram_indices(low, WORD_NGRAMS, WORD_FEATURES))
        dense = np.asarray(values, dtype=np.float64) * STRUCT_WEIGHT
        nz = np.flatnonzero(dense)
        rows.append([(c_cols, c_vals), (w_cols + CHAR_FEATURES, w_vals), (nz + offset, dense[nz])])
    return rows


@dataclass(frozen=True, slots=True)
class LinearScorer:
    """A fitted linear model (and its sigmoid calibrators) as plain arrays.

    Going through scikit-learn's predict_proba costs milliseconds of validation per call;
    the same arithmetic on arrays costs microseconds.
    """

    weights: np.ndarray  # (n_features, k)
    intercept: np.ndarray  # (k,)
    calib_a: np.ndarray | None  # (k,) or None for a plain binary model
    calib_b: np.ndarray | None
    classes: tuple[str, ...]

    @classmethod
    def of_calibrated(cls, clf: Any) -> LinearScorer:
        """From a CalibratedClassifierCV(ensemble=False, method="sigmoid") of a linear model."""
        (inner,) = clf.calibrated_classifiers_
        est = inner.estimator
        return cls(
            np.ascontiguousarray(est.coef_.T),
            np.asarray(est.intercept_, dtype=np.float64),
            np.array([c.a_ for c in inner.calibrators], dtype=np.float64),
            np.array([c.b_ for c in inner.calibrators], dtype=np.float64),
            tuple(str(c) for c in est.classes_),
        )

    @classmethod
    def of_binary(cls, clf: Any) -> LinearScorer:
        """From a binary linear model with logistic loss."""
        return cls(
            np.ascontiguousarray(clf.coef_.T),
            np.asarray(clf.intercept_, dtype=np.float64),
            None,
            None,
            tuple(str(c) for c in clf.classes_),
        )

    def proba(self, x: sp.csr_matrix) -> np.ndarray:
        """Class probabilities, columns in ``classes`` order (binary: P(class 1) only)."""
        return self._calibrate(np.asarray(x @ self.weights) + self.intercept)

    def proba_rows(self, rows: list[Row]) -> np.ndarray:
        """``proba`` for rows given as (columns, values) blocks: no sparse matrix needed."""
        d = np.empty((len(rows), self.weights.shape[1]))
        for i, blocks in enumerate(rows):
            total = self.intercept.copy()
            for cols, vals in blocks:
                if len(cols):
                    total += vals @ self.weights[cols]
            d[i] = total
        return self._calibrate(d)

    def _calibrate(self, d: np.ndarray) -> np.ndarray:
        if self.calib_a is None or self.calib_b is None:
            return np.asarray(expit(d))
        p = expit(-(self.calib_a * d + self.calib_b))
        total = p.sum(axis=1, keepdims=True)
        return np.asarray(np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total > 0))


@dataclass(frozen=True, slots=True)
class PhishingModel:
    """A loaded model: URL classifier, message classifier, thresholds and metadata."""

    url_classifier: Any
    classifier: Any
    thresholds: dict[str, dict[str, float]]  # category -> strength -> threshold
    meta: dict[str, Any]
    url_scorer: LinearScorer = field(init=False)
    scorer: LinearScorer = field(init=False)
    _url_cache: dict[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "url_scorer", LinearScorer.of_binary(self.url_classifier))
        object.__setattr__(self, "scorer", LinearScorer.of_calibrated(self.classifier))
        object.__setattr__(self, "_url_cache", {})

    def url_scores(self, hosts: list[str]) -> tuple[float, ...]:
        """P(phishing) of each host by the URL model.

        A host's score depends on the host alone (each row is scored on its own), and the
        same hosts recur across messages, so scores are remembered per host.
        """
        if not hosts:
            return ()
        cache = self._url_cache
        if len(cache) >= URL_CACHE_SIZE:
            cache.clear()
        keys = [h.lower() for h in hosts]
        known = {k: cache.get(k) for k in keys}
        missing = [k for k, v in known.items() if v is None]
        if missing:
            rows = [[counted(char_ngram_indices(k, *URL_NGRAMS, URL_FEATURES))] for k in missing]
            for k, p in zip(missing, self.url_scorer.proba_rows(rows)[:, 0], strict=True):
                known[k] = cache[k] = float(p)
        return tuple(known[k] or 0.0 for k in keys)

    def proba(self, x: sp.csr_matrix) -> list[dict[str, float]]:
        """Class probabilities of each row of a ``feature_matrix``."""
        classes = self.scorer.classes
        return [dict(zip(classes, map(float, row), strict=True)) for row in self.scorer.proba(x)]

    def score(self, mail: MailText, ev: Evidence) -> Scores:
        """Probabilities for one message."""
        return self.score_many([mail], [ev])[0]

    def score_many(self, mails: list[MailText], evs: list[Evidence]) -> list[Scores]:
        """Probabilities for many messages at once (faster than one by one)."""
        urls = [self.url_scores(web_hosts(ev)) for ev in evs]
        rows = feature_rows(
            [message_text(m) for m in mails],
            [vector(ev, u) for ev, u in zip(evs, urls, strict=True)],
        )
        classes = self.scorer.classes
        probs = [
            dict(zip(classes, map(float, row), strict=True)) for row in self.scorer.proba_rows(rows)
        ]
        return [
            Scores(p.get("ham", 0.0), p.get("spam", 0.0), p.get("phishing", 0.0), u)
            for p, u in zip(probs, urls, strict=True)
        ]

    def verdict(self, scores: Scores, strength: str) -> tuple[str, str]:
        """(verdict, category) for ``strength``; see ``decide``."""
        return decide(self.thresholds, scores, strength)


def decide(
    thresholds: dict[str, dict[str, float]], scores: Scores, strength: str
) -> tuple[str, str]:
    """(verdict, category) for ``strength``: deliver, quarantine or reject.

    Phishing above the strength's threshold is quarantined, and rejected outright when it
    clears even the weak threshold (the most certain); spam above its threshold is
    quarantined.
    """
    phish, spam = thresholds["phishing"], thresholds["spam"]
    if scores.phishing >= phish[strength]:
        return ("reject" if scores.phishing >= phish["weak"] else "quarantine"), "phishing"
    if scores.spam >= spam[strength]:
        return "quarantine", "spam"
    return "deliver", "ham" if scores.category != "phishing" else "phishing"


def default_model_path() -> Path:
    """The model file shipped inside the package."""
    return Path(str(resources.files("carrierguard.data").joinpath("models", MODEL_FILE)))


def save(model: PhishingModel, path: Path) -> None:
    """Write ``model`` as a compressed skops file."""
    import zipfile

    from skops.io import dump

    bundle = {
        "format": MODEL_FORMAT,
        "url_classifier": model.url_classifier,
        "classifier": model.classifier,
        "thresholds": {k: dict(v) for k, v in model.thresholds.items()},
        "meta": model.meta,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    dump(bundle, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)


def load(path: Path | None = None) -> PhishingModel:
    """Load a model file, trusting only the types this module expects."""
    from skops.io import get_untrusted_types
    from skops.io import load as skops_load

    path = path or default_model_path()
    try:
        untrusted = get_untrusted_types(file=path)
        unknown = [t for t in untrusted if t not in _TRUSTED]
        if unknown:
            raise ModelUnavailable(f"{path}: untrusted types {unknown}")
        bundle = skops_load(path, trusted=untrusted)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelUnavailable(f"cannot load {path}: {exc}") from exc
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise ModelUnavailable(f"{path}: unknown model format")
    return PhishingModel(
        url_classifier=bundle["url_classifier"],
        classifier=bundle["classifier"],
        thresholds={
            k: {s: float(t) for s, t in v.items()} for k, v in bundle["thresholds"].items()
        },
        meta=dict(bundle["meta"]),
    )


def threshold_for_rate(ham_scores: list[float], rate: float) -> float:
    """Lowest block score that blocks at most ``rate`` of ``ham_scores``.

    When ``rate * n`` is below one message the empirical quantile says nothing, so the tail
    is extrapolated: an exponential fitted (peaks over threshold, in logit space) to the
    top ten scores. Never below the highest ham score in that case.
    """
    if not ham_scores:
        return 0.5
    eps = 1e-9
    logits = sorted((math.log(max(s, eps) / max(1 - s, eps)) for s in ham_scores), reverse=True)
    n = len(logits)
    allowed = rate * n
    if allowed >= 1:
        k = math.floor(allowed)
        cut = logits[k] if k < n else logits[-1] - 1
        # Halfway between the last allowed and the first blocked-free score.
        chosen = (logits[k - 1] + cut) / 2 if k >= 1 else cut
        chosen = max(chosen, cut + 1e-6)
    else:
        top = logits[: min(10, n)]
        base = top[-1]
        scale = max(sum(t - base for t in top) / max(len(top) - 1, 1), 0.25)
        chosen = max(base + scale * math.log(len(top) / allowed), logits[0] + 0.1)
    return 1.0 / (1.0 + math.exp(-chosen))
