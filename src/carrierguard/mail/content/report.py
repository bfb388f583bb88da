"""Evaluation tables and the model card, rendered from ``train.Row`` figures.

Recall for phishing and spam corpora, false-block rate for ham corpora, per strength. Pure
formatting: the figures come from ``train.evaluate``.
"""

from __future__ import annotations

import json
from typing import Any

from carrierguard.mail.content.train import Row
from carrierguard.mail.recipients import STRENGTHS


def _rate(k: int, n: int) -> str:
    return f"{k / n:.4f} ({k}/{n})" if n else "-"


def summary(rows: list[Row]) -> list[Row]:
    """Rows plus totals: all ham, Japanese ham, all phishing."""
    out = list(rows)

    def total(name: str, keep: list[Row]) -> None:
        if keep:
            n = sum(r.n for r in keep)
            blocked = {s: sum(r.blocked[s] for r in keep) for s in STRENGTHS}
            phish = {s: sum(r.as_phishing[s] for r in keep) for s in STRENGTHS}
            out.append(Row(name, keep[0].split, keep[0].label, n, blocked, phish))

    same = [r for r in rows if r.split == rows[0].split] if rows else []
    total("ALL HAM", [r for r in same if r.label == "ham"])
    total("ALL PHISHING", [r for r in same if r.label == "phishing"])
    return out


def table(rows: list[Row]) -> str:
    """Markdown table: recall (phishing, spam) or false-block rate (ham) per strength."""
    head = "| corpus | split | label | n | measure | " + " | ".join(STRENGTHS) + " |"
    lines = [head, "|" + "---|" * (5 + len(STRENGTHS))]
    for r in summary(rows):
        measure = "false-block rate" if r.label == "ham" else "recall"
        cells = " | ".join(_rate(r.blocked[s], r.n) for s in STRENGTHS)
        lines.append(f"| {r.corpus} | {r.split} | {r.label} | {r.n} | {measure} | {cells} |")
    return "\n".join(lines)


def model_card(meta: dict[str, Any], thresholds: dict[str, dict[str, float]], rows: str) -> str:
    """The model card written next to the model file."""
    splits = json.dumps(meta.get("splits", {}), ensure_ascii=False, indent=1)
    return f"""# CarrierGuard phishing model (format {meta.get("format")})

Trained {meta.get("trained_at")} by `carrierguard mail train --data ../shared/data/mail`.

## What it does
Scores one mail as ham, spam or phishing from its text (hashed character 1-3-grams and
word 1-2-grams of subject, display name and body), structured evidence (links against
their displayed text, shorteners, IP and punycode hosts, lookalike domains, brands named
while sender or links are not the brand's official domains, lures, Reply-To and
Message-ID anomalies, hidden text) and a URL model's score for each link host.
Relay artefacts (X-Spam-*, list headers, subject tags, footers, "via List" From
rewriting) are removed before any feature is computed. Language is not a feature.

## Data
- Japanese phishing and spam from public SourceForge list archives (ja-phishing),
  real Japanese ham (ja-ham, 77), English list ham (en-ham-lists), SpamAssassin public
  corpus; all from `../shared/data/mail`, never copied.
- {meta.get("splits", {}).get("synthetic-ja", {}).get("train", 0)} legitimate Japanese notices written by us (`synthetic-ja`,
  training split only, header `X-CarrierGuard-Synthetic: yes`). Never evaluated on.
- URL model: {meta.get("url_model", {}).get("phishing_hosts")} JPCERT/CC phishing hosts
  reported before {meta.get("validation_start")} against
  {meta.get("url_model", {}).get("ham_hosts")} hosts linked from training ham and official
  brand domains.

## Splits
Per corpus by date: first 60 % train, next 20 % validation, last 20 % test, with every
campaign (messages sharing a subject template, or a sending or linked domain that no ham
uses) placed whole in the split of its first message. Messages per corpus and split:

```
{splits}
```

## Thresholds
Chosen on held-out ham only: validation ham ({meta.get("validation_ham")} messages, of
which {meta.get("validation_ham_japanese")} Japanese) plus out-of-fold scores of the
{meta.get("japanese_ham_out_of_fold")} real Japanese training ham (3-fold cross-validation;
validation alone holds too little Japanese ham). Half of each strength's false-block budget
(weak 0.01 %, standard 0.1 %, strong 1 %) goes to the phishing probability, half to the spam
probability, met by Japanese and by other ham separately (the higher threshold wins). Where the budget is below one
validation message the threshold is extrapolated from an exponential fit to the ten
highest ham scores, and never below the highest one.

```
{json.dumps(thresholds, indent=1)}
```

## Test figures (real mail only)
{rows}

## Limits
- Validation ham has ~850 messages: rates below 0.1 % are extrapolated, not measured.
- Most ham is English and from 2002 (SpamAssassin); the Japanese ham is 77 messages.
- The URL model knows JPCERT/CC hosts reported before the validation period.
"""
