"""The verdict pipeline: stages with one signature, composed in a list.

Every stage is ``(message, context) -> context``. A stage adds what it learned
(authentication results, reasons, header fields to add) and may end the pipeline
by setting ``context.final``; the ``decide`` stage turns what the others left into
a ``Verdict``. The phishing classifier (``mail.content.stage``) joins as one more
stage before ``decide``: it sets ``phishing_probability``/``category``, adds reasons
and names the recipients it holds the message back from.

Stages do no I/O of their own except through objects they were built with (the
resolver for the authentication stage).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from carrierguard.mail.auth.author import AuthorDomain
from carrierguard.mail.auth.check import AuthReport, Envelope, authenticate
from carrierguard.mail.auth.dmarc import override
from carrierguard.mail.auth.results import authentication_results, read_results
from carrierguard.mail.dns import Resolver
from carrierguard.mail.message import Message
from carrierguard.mail.settings import MailSettings

VERDICT_HEADER = "X-CarrierGuard-Verdict"
REASON_HEADER = "X-CarrierGuard-Reason"


class Action(Enum):
    DELIVER = "deliver"
    QUARANTINE = "quarantine"
    REJECT = "reject"


SEVERITY = {Action.DELIVER: 0, Action.QUARANTINE: 1, Action.REJECT: 2}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a message got its verdict; ``code`` is stable SCREAMING_SNAKE."""

    code: str
    message_ja: str
    message_en: str
    action: Action = Action.DELIVER

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message_ja": self.message_ja, "message_en": self.message_en}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What happens to the message, and the SMTP reply when it is refused."""

    action: Action
    reasons: tuple[Reason, ...] = ()
    smtp_code: int = 250
    smtp_status: str = "2.0.0"
    smtp_text: str = "OK"


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the stages know about one message so far."""

    envelope: Envelope
    auth: AuthReport | None = None
    reasons: tuple[Reason, ...] = ()
    add_headers: tuple[tuple[str, str], ...] = ()
    phishing_probability: float | None = None
    category: str | None = None
    verdict: Verdict | None = None
    final: bool = False
    notes: tuple[tuple[str, str], ...] = field(default=())
    # Recipients the message is held back from while the others receive it (their own,
    # stricter filter strength): the milter removes them and quarantines a copy for them.
    held_for: tuple[str, ...] = ()

    def with_reason(self, reason: Reason) -> CheckContext:
        return replace(self, reasons=(*self.reasons, reason))


Stage = Callable[[Message, CheckContext], CheckContext]


def run_pipeline(stages: Sequence[Stage], message: Message, context: CheckContext) -> CheckContext:
    """Pass the context through each stage until one marks it final."""
    for stage in stages:
        context = stage(message, context)
        if context.final:
            break
    return context


def authentication_stage(resolver: Resolver, settings: MailSettings) -> Stage:
    """SPF, DKIM, ARC and DMARC (``decide`` writes the Authentication-Results field)."""

    def authenticate_message(message: Message, context: CheckContext) -> CheckContext:
        report = authenticate(
            message,
            context.envelope,
            resolver,
            authserv_id=settings.authserv_id,
            malformed_from_disposition=settings.malformed_from,
        )
        return replace(context, auth=report)

    return authenticate_message


def local_policy_stage(settings: MailSettings) -> Stage:
    """Local overrides of a DMARC failure: the allow-list and trusted ARC forwarders.

    A message whose From could not be parsed is never excused: the allow-list
    names domains, and such a message has no trustworthy domain.
    """

    def apply_local_policy(message: Message, context: CheckContext) -> CheckContext:
        report = context.auth
        if report is None or report.dmarc.disposition == "none":
            return context
        dmarc = report.dmarc
        if not isinstance(report.author, AuthorDomain):
            return context
        if settings.allow.allows_domain(report.author.domain) or settings.allow.allows_ip(
            context.envelope.ip
        ):
            dmarc = override(dmarc, "none", "local_policy", "ALLOW_LISTED")
        elif _trusted_forwarder_vouches(report, report.author.domain, settings):
            # RFC 8617 section 7.2: a receiver may trust the authentication results a
            # known forwarder (a mailing list, say) recorded before it changed the message.
            dmarc = override(dmarc, "none", "trusted_forwarder", "TRUSTED_ARC_SEALER")
        if dmarc is report.dmarc:
            return context
        return replace(context, auth=replace(report, dmarc=dmarc))

    return apply_local_policy


def _trusted_forwarder_vouches(report: AuthReport, domain: str, settings: MailSettings) -> bool:
    """A valid chain, last sealed by a trusted forwarder that saw DMARC pass for this From."""
    arc = report.arc
    if arc.result != "pass" or arc.last_sealer not in settings.trusted_arc_sealers:
        return False
    _, clauses = read_results(arc.last_aar)
    return any(
        c.method == "dmarc" and c.result == "pass" and c.get("header.from") == domain
        for c in clauses
    )


def dmarc_reason(report: AuthReport) -> Reason | None:
    """The reason the DMARC outcome contributes, if it asks for any action."""
    dmarc = report.dmarc
    if dmarc.override:
        return Reason(
            f"DMARC_OVERRIDDEN_{dmarc.override.upper()}",
            f"DMARC は {dmarc.result} ですが、ローカルポリシーにより配送します。",
            f"DMARC {dmarc.result}, delivered by local policy ({dmarc.override}).",
        )
    if dmarc.disposition == "none":
        return None
    action = Action.REJECT if dmarc.disposition == "reject" else Action.QUARANTINE
    if dmarc.result == "permerror":
        return Reason(
            dmarc.reason or "FROM_HEADER_INVALID",
            "差出人 (From) ヘッダーが不正なため、なりすましの可能性があります。",
            "The From header cannot be trusted (possible spoofing).",
            action,
        )
    return Reason(
        "DMARC_FAIL",
        f"送信ドメイン {dmarc.header_from} の DMARC 認証に失敗しました"
        f" (ポリシー: {dmarc.policy})。",
        f"DMARC authentication failed for {dmarc.header_from} (policy {dmarc.policy}).",
        action,
    )


def dmarc_stage(settings: MailSettings) -> Stage:
    """Turn the DMARC disposition into a reason carrying an action (when enforcing)."""

    def weigh_dmarc(message: Message, context: CheckContext) -> CheckContext:
        if context.auth is None:
            return context
        reason = dmarc_reason(context.auth)
        if reason is None:
            return context
        if not settings.enforce:
            reason = replace(reason, action=Action.DELIVER)
        return context.with_reason(reason)

    return weigh_dmarc


def lookalike_stage(settings: MailSettings) -> Stage:
    """Quarantine mail whose From domain is built to look like another (IDN homograph).

    DMARC cannot help here: the attacker owns the look-alike domain and passes.
    """

    def weigh_lookalike(message: Message, context: CheckContext) -> CheckContext:
        author = context.auth.author if context.auth else None
        if not isinstance(author, AuthorDomain) or not author.confusable:
            return context
        reason = Reason(
            "FROM_DOMAIN_CONFUSABLE",
            f"差出人ドメイン {author.unicode_domain} は他のドメインに見せかけた文字を含みます。",
            f"The From domain {author.unicode_domain} imitates another domain (homograph).",
            Action.QUARANTINE if settings.enforce else Action.DELIVER,
        )
        return context.with_reason(reason)

    return weigh_lookalike


def decide(message: Message, context: CheckContext) -> CheckContext:
    """The final stage: the strictest action any reason asks for, and the headers saying so."""
    action = max((r.action for r in context.reasons), key=SEVERITY.__getitem__, default=None)
    action = action or Action.DELIVER
    codes = ", ".join(r.code for r in context.reasons) or "NONE"
    if action is Action.REJECT:
        verdict = Verdict(
            action,
            context.reasons,
            550,
            "5.7.1",
            # SMTP replies are ASCII; the Japanese reason goes to logs and the headers.
            "Message rejected: " + ", ".join(r.code for r in context.reasons if r.action is action),
        )
    else:
        verdict = Verdict(action, context.reasons)
    headers: tuple[tuple[str, str], ...] = ((VERDICT_HEADER, action.value), (REASON_HEADER, codes))
    if context.auth is not None:
        # Written last so that it shows local-policy overrides (RFC 8601 section 2.7.6).
        report = context.auth
        folded = authentication_results(
            report.authentication_results.split(";", 1)[0],
            spf=report.spf,
            dkim=report.dkim,
            arc=report.arc,
            dmarc=report.dmarc,
            fold="\n\t",
        )
        headers = (("Authentication-Results", folded), *headers)
    return replace(
        context, verdict=verdict, add_headers=(*context.add_headers, *headers), final=True
    )


def standard_stages(resolver: Resolver, settings: MailSettings) -> list[Stage]:
    """The authentication pipeline; insert more stages (phishing) before ``decide``."""
    return [
        authentication_stage(resolver, settings),
        local_policy_stage(settings),
        dmarc_stage(settings),
        lookalike_stage(settings),
        decide,
    ]
