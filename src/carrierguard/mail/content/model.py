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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import HashingVectorizer

from carrierguard.errors import ModelUnavailable
from carrierguard.mail.content.evidence import Evidence, vector
from carrierguard.mail.content.extract import MailText

MODEL_FORMAT = 1
MODEL_FILE = "phishing-v1.skops"
STRENGTHS = ("weak", "standard", "strong")
TEXT_CHARS = 1500
MAX_HOSTS = 20
STRUCT_WEIGHT = 1.0

CHAR_VECTORIZER = HashingVectorizer(
    analyzer="char", ngram_range=(1, 2), n_features=2**18, alternate_sign=False, norm="l2"
)
WORD_VECTORIZER = HashingVectorizer(
    analyzer="word",
    ngram_range=(1, 2),
    n_features=2**17,
    alternate_sign=False,
    norm="l2",
    token_pattern=r"(?u)\b\w\w+\b",
)
URL_VECTORIZER = HashingVectorizer(
    analyzer="char", ngram_range=(3, 5), n_features=2**18, alternate_sign=False, norm="l2"
)
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
    """Features of link hosts for the URL model."""
    return URL_VECTORIZER.transform(hosts)


def feature_matrix(texts: list[str], structured: list[list[float]]) -> sp.csr_matrix:
    """Hashed char and word n-grams plus the structured evidence, one row per message."""
    dense = sp.csr_matrix(np.asarray(structured, dtype=np.float64) * STRUCT_WEIGHT)
    return sp.hstack(
        [CHAR_VECTORIZER.transform(texts), WORD_VECTORIZER.transform(texts), dense], format="csr"
    )


@dataclass(frozen=True, slots=True)
class PhishingModel:
    """A loaded model: URL classifier, message classifier, thresholds and metadata."""

    url_classifier: Any
    classifier: Any
    thresholds: dict[str, dict[str, float]]  # category -> strength -> threshold
    meta: dict[str, Any]

    def url_scores(self, hosts: list[str]) -> tuple[float, ...]:
        """P(phishing) of each host by the URL model."""
        if not hosts:
            return ()
        proba = self.url_classifier.predict_proba(url_matrix(hosts))[:, 1]
        return tuple(float(p) for p in proba)

    def score(self, mail: MailText, ev: Evidence) -> Scores:
        """Probabilities for one message."""
        return self.score_many([mail], [ev])[0]

    def score_many(self, mails: list[MailText], evs: list[Evidence]) -> list[Scores]:
        """Probabilities for many messages at once (faster than one by one)."""
        urls = [self.url_scores(web_hosts(ev)) for ev in evs]
        x = feature_matrix(
            [message_text(m) for m in mails],
            [vector(ev, u) for ev, u in zip(evs, urls, strict=True)],
        )
        proba = self.classifier.predict_proba(x)
        order = [str(c) for c in self.classifier.classes_]
        out = []
        for row, u in zip(proba, urls, strict=True):
            p = dict(zip(order, (float(v) for v in row), strict=True))
            out.append(Scores(p.get("ham", 0.0), p.get("spam", 0.0), p.get("phishing", 0.0), u))
        return out

    def verdict(self, scores: Scores, strength: str) -> tuple[str, str]:
        """(verdict, category) for ``strength``: deliver, quarantine or reject.

        Phishing above the strength's threshold is quarantined, and rejected outright when it
        clears even the weak threshold (the most certain); spam above its threshold is
        quarantined.
        """
        phish, spam = self.thresholds["phishing"], self.thresholds["spam"]
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
