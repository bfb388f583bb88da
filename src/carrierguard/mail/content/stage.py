"""The phishing classifier as a stage of the milter's verdict pipeline (after authentication).

The model scores a message once; each recipient's strength (弱/標準/強) then turns the
scores into that recipient's verdict. One SMTP transaction carries one copy for all
recipients, so the stage settles on the mildest action any recipient gets for the whole
message and names, in ``held_for``, the recipients whose stricter strength holds the
message back from them: the milter removes those recipients from the delivery and puts
a copy in the quarantine for them. A message the reader cannot parse keeps whatever
authentication decided: an unreadable body is not evidence of phishing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import structlog

from carrierguard.errors import MailUnreadable
from carrierguard.mail.content.brands import Catalogue, default_catalogue
from carrierguard.mail.content.evidence import Evidence, gather, reasons
from carrierguard.mail.content.extract import MailText, read_message
from carrierguard.mail.content.model import Scores
from carrierguard.mail.content.scan import model_reason
from carrierguard.mail.message import Message
from carrierguard.mail.recipients import StrengthBook
from carrierguard.mail.reputation import DAY, ReputationStore
from carrierguard.mail.verdict import SEVERITY, Action, CheckContext, Reason, Stage

log = structlog.get_logger("carrierguard.mail.content")

SCORE_HEADER = "X-CarrierGuard-Phishing-Probability"


class Scorer(Protocol):
    """What the stage needs of ``PhishingModel``."""

    def score(self, mail: MailText, ev: Evidence) -> Scores: ...

    def verdict(self, scores: Scores, strength: str) -> tuple[str, str]: ...


NEW_DOMAIN_DAYS = 7.0


def new_link_domains(
    domains: list[str], first_seen: ReputationStore, now: float
) -> list[tuple[str, float]]:
    """(registrable domain, age in days) of linked domains we first saw less than a week ago.

    Every domain is counted as seen now, so the age is from our first sighting, shared by
    all milter processes through the store.
    """
    found = []
    for domain in dict.fromkeys(d for d in domains if d):
        stats = first_seen.observe(domain, now, False)
        age = (now - stats.first_seen) / DAY
        if age < NEW_DOMAIN_DAYS:
            found.append((domain, age))
    return found


def content_stage(
    model: Scorer,
    strengths: StrengthBook,
    *,
    enforce: bool = True,
    catalogue: Catalogue | None = None,
    link_domains: ReputationStore | None = None,
    clock: Callable[[], float] = time.time,
) -> Stage:
    """Score the message and weigh it at each recipient's strength.

    ``link_domains`` remembers when each linked domain was first seen; a held message
    whose links point at a domain first seen within a week says so among its reasons
    (evidence for the operator; the verdict is the model's).
    """
    catalogue = catalogue or default_catalogue()

    def classify(message: Message, context: CheckContext) -> CheckContext:
        try:
            mail = read_message(message.raw)
        except MailUnreadable as exc:
            log.info("content_unreadable", code=exc.code)
            return replace(context, notes=(*context.notes, ("content", "unreadable")))
        evidence = gather(mail, catalogue)
        scores = model.score(mail, evidence)
        recipients = context.envelope.recipients
        strengths.seen(recipients)
        chosen = strengths.strengths(recipients) if recipients else {"": strengths.default}
        verdicts = {r: model.verdict(scores, s) for r, s in chosen.items()}
        actions = {r: Action(v) for r, (v, _) in verdicts.items()}
        if not enforce:
            actions = dict.fromkeys(actions, Action.DELIVER)
        mildest = min(actions.values(), key=SEVERITY.__getitem__)
        held = tuple(r for r, a in actions.items() if r and a is not mildest)
        context = replace(
            context,
            phishing_probability=round(scores.phishing, 6),
            category=scores.category,
            add_headers=(*context.add_headers, (SCORE_HEADER, f"{scores.phishing:.4f}")),
            held_for=held,
        )
        fresh: list[tuple[str, float]] = []
        if link_domains is not None:  # every message counts, so that "first seen" is true
            linked = [link.domain for link in evidence.links if not link.ip_host]
            fresh = new_link_domains(linked, link_domains, clock())
        flagged = [(v, c) for v, c in verdicts.values() if v != "deliver"]
        if not flagged:
            return context
        category = flagged[0][1]
        context = context.with_reason(Reason(**model_reason(category, scores), action=mildest))
        for why in reasons(evidence, scores.url_scores):
            context = context.with_reason(Reason(why.code, why.message_ja, why.message_en))
        for domain, age in fresh:
            context = context.with_reason(
                Reason(
                    "LINK_DOMAIN_NEW",
                    f"リンク先 {domain} は当社で初めて観測してから {age:.1f} 日です。",
                    f"The linked domain {domain} was first seen by us {age:.1f} days ago.",
                )
            )
        return context

    return classify
