"""The verdict pipeline: stages with one signature, enforcement and local overrides."""

from __future__ import annotations

from dataclasses import replace

import pytest

from carrierguard.mail.auth.check import Envelope
from carrierguard.mail.dns import StaticRecord, StaticResolver, Txt
from carrierguard.mail.message import Message
from carrierguard.mail.settings import AllowList, MailSettings
from carrierguard.mail.verdict import (
    Action,
    CheckContext,
    Reason,
    decide,
    run_pipeline,
    standard_stages,
)
from tests.mail.conftest import message

SPOOF_IP = "203.0.113.9"


def zone(policy: str) -> StaticResolver:
    return StaticResolver.of(
        [
            StaticRecord("bank.example", "TXT", Txt((b"v=spf1 ip4:192.0.2.0/24 -all",))),
            StaticRecord("_dmarc.bank.example", "TXT", Txt((f"v=DMARC1; p={policy}".encode(),))),
        ]
    )


def run(
    policy: str, settings: MailSettings | None = None, raw: bytes | None = None, ip: str = SPOOF_IP
) -> CheckContext:
    settings = settings or MailSettings(authserv_id="mx.test")
    msg = Message.parse(raw or message("ceo@bank.example"))
    ctx = CheckContext(Envelope(ip=ip, helo="h.example", mail_from="ceo@bank.example"))
    return run_pipeline(standard_stages(zone(policy), settings), msg, ctx)


def test_reject_policy_spoof_is_rejected_with_550_5_7_1() -> None:
    """A spoof of a p=reject domain gets the SMTP rejection the issue names."""
    verdict = run("reject").verdict
    assert verdict is not None
    assert (verdict.action, verdict.smtp_code, verdict.smtp_status) == (
        Action.REJECT,
        550,
        "5.7.1",
    )
    assert verdict.smtp_text.isascii()


def test_quarantine_policy_spoof_is_quarantined() -> None:
    """p=quarantine leads to the quarantine action."""
    verdict = run("quarantine").verdict
    assert verdict is not None and verdict.action is Action.QUARANTINE


def test_aligned_mail_is_delivered_with_headers() -> None:
    """Mail from the bank's own network is delivered with A-R and verdict headers."""
    ctx = run("reject", ip="192.0.2.7")
    assert ctx.verdict is not None and ctx.verdict.action is Action.DELIVER
    names = [name for name, _ in ctx.add_headers]
    assert names == ["Authentication-Results", "X-CarrierGuard-Verdict", "X-CarrierGuard-Reason"]
    assert "dmarc=pass" in ctx.add_headers[0][1]


def test_monitoring_mode_delivers_but_still_gives_the_reason() -> None:
    """With enforcement off, a failing message is delivered and the reason recorded."""
    ctx = run("reject", MailSettings(authserv_id="mx.test", enforce=False))
    assert ctx.verdict is not None and ctx.verdict.action is Action.DELIVER
    assert [r.code for r in ctx.reasons] == ["DMARC_FAIL"]


@pytest.mark.parametrize("entry", ["bank.example", "203.0.113.0/24"])
def test_allow_list_overrides_the_senders_policy(entry: str) -> None:
    """An allow-listed domain or network is delivered, marked as a local-policy override."""
    settings = MailSettings(authserv_id="mx.test", allow=AllowList.parse([entry]))
    ctx = run("reject", settings)
    assert ctx.verdict is not None and ctx.verdict.action is Action.DELIVER
    assert ctx.auth is not None and ctx.auth.dmarc.override == "local_policy"
    assert "override=local_policy" in ctx.add_headers[0][1]


def test_allow_list_never_excuses_a_malformed_from() -> None:
    """A message with two From fields is rejected even from an allow-listed network."""
    settings = MailSettings(authserv_id="mx.test", allow=AllowList.parse(["203.0.113.0/24"]))
    raw = message("a@bank.example", "x\r\n", "From: b@other.example")
    ctx = run("reject", settings, raw)
    assert ctx.verdict is not None and ctx.verdict.action is Action.REJECT


def test_trusted_arc_sealer_overrides_a_dmarc_failure() -> None:
    """A passing ARC chain sealed by a trusted forwarder excuses the failure (RFC 8617)."""
    from carrierguard.mail.auth.dkim import ArcResult
    from carrierguard.mail.verdict import local_policy_stage

    ctx = run("reject", MailSettings(authserv_id="mx.test", enforce=False))
    assert ctx.auth is not None
    aar = "i=1; lists.example; spf=pass smtp.mailfrom=bank.example; dmarc=pass header.from=bank.example"
    arc = ArcResult("pass", 1, ("lists.example",), "", aar)
    sealed = replace(ctx, auth=replace(ctx.auth, arc=arc))
    trusting = MailSettings(authserv_id="mx.test", trusted_arc_sealers=frozenset({"lists.example"}))
    after = local_policy_stage(trusting)(Message.parse(message("ceo@bank.example")), sealed)
    assert after.auth is not None and after.auth.dmarc.override == "trusted_forwarder"
    untrusted = local_policy_stage(MailSettings(authserv_id="mx.test"))
    assert untrusted(Message.parse(b""), sealed).auth == sealed.auth


@pytest.mark.parametrize(
    "aar",
    [
        "i=1; lists.example; dmarc=fail header.from=bank.example",
        "i=1; lists.example; dmarc=pass header.from=other.example",
        "i=1; lists.example; dmarc=pass header.from=bank.example(",
        "i=1; lists.example; dkim=pass (dmarc=pass header.from=bank.example)",
    ],
)
def test_trusted_sealer_must_have_seen_dmarc_pass_for_this_from(aar: str) -> None:
    """A trusted forwarder only excuses mail it recorded as passing DMARC for the same From."""
    from carrierguard.mail.auth.dkim import ArcResult
    from carrierguard.mail.verdict import local_policy_stage

    ctx = run("reject", MailSettings(authserv_id="mx.test", enforce=False))
    assert ctx.auth is not None
    arc = ArcResult("pass", 1, ("lists.example",), "", aar)
    sealed = replace(ctx, auth=replace(ctx.auth, arc=arc))
    trusting = MailSettings(authserv_id="mx.test", trusted_arc_sealers=frozenset({"lists.example"}))
    after = local_policy_stage(trusting)(Message.parse(message("ceo@bank.example")), sealed)
    assert after.auth is not None and after.auth.dmarc.override == ""


def test_a_later_stage_can_add_a_reason_before_decide() -> None:
    """A new stage (the phishing classifier, say) plugs in with the same signature."""

    def phishing(msg: Message, ctx: CheckContext) -> CheckContext:
        return replace(
            ctx.with_reason(
                Reason("PHISHING_SUSPECTED", "フィッシングの疑い", "Phishing", Action.QUARANTINE)
            ),
            phishing_probability=0.97,
        )

    stages = [*standard_stages(zone("none"), MailSettings(authserv_id="mx.test"))]
    stages.insert(-1, phishing)
    ctx = run_pipeline(
        stages,
        Message.parse(message("ceo@bank.example")),
        CheckContext(Envelope(ip="192.0.2.7", mail_from="ceo@bank.example")),
    )
    assert ctx.verdict is not None and ctx.verdict.action is Action.QUARANTINE
    assert ctx.add_headers[-1] == ("X-CarrierGuard-Reason", "PHISHING_SUSPECTED")


def test_decide_without_reasons_delivers() -> None:
    """With nothing against it a message is delivered."""
    ctx = decide(Message.parse(b"Subject: x\r\n\r\n"), CheckContext(Envelope()))
    assert ctx.verdict is not None and ctx.verdict.action is Action.DELIVER and ctx.final


def test_homograph_from_domain_is_quarantined_even_when_it_authenticates() -> None:
    """A Cyrillic look-alike of a Latin domain is held, whatever its own DMARC says."""
    raw = message("ceo@b\u0430nk.example")
    ctx = run("none", raw=raw)
    assert ctx.verdict is not None and ctx.verdict.action is Action.QUARANTINE
    assert [r.code for r in ctx.reasons] == ["FROM_DOMAIN_CONFUSABLE"]


def test_japanese_idn_from_domain_is_not_treated_as_a_homograph() -> None:
    """An ordinary Japanese domain name is delivered normally."""
    ctx = run("none", raw=message("info@日本語.jp"))
    assert ctx.verdict is not None and ctx.verdict.action is Action.DELIVER
