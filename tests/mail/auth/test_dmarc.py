"""The pure DMARC core (RFC 9989): records, tree walk, Organizational Domain, policy, alignment."""

from __future__ import annotations

import pytest

from carrierguard.mail.auth.author import AuthorDomain, AuthorProblem
from carrierguard.mail.auth.dkim import DkimSignatureResult
from carrierguard.mail.auth.dmarc import (
    DmarcEvidence,
    DmarcRecord,
    DmarcRecordError,
    LookupState,
    RecordLookup,
    evaluate,
    organizational_domain,
    tree_walk,
)
from carrierguard.mail.auth.dmarc import testing_mode as downgraded
from carrierguard.mail.auth.spf import SpfResult


def found(text: str) -> RecordLookup:
    return RecordLookup(LookupState.FOUND, DmarcRecord.parse(text))


def evidence(exists: bool = True, **records: str) -> DmarcEvidence:
    """Records keyed by domain, written with underscores for dots."""
    return DmarcEvidence(
        {k.replace("_", "."): found(v) for k, v in records.items()}, author_exists=exists
    )


def spf_pass(domain: str) -> SpfResult:
    return SpfResult("pass", "mailfrom", domain, f"bounce@{domain}")


def dkim_pass(domain: str, complete: bool = True) -> DkimSignatureResult:
    return DkimSignatureResult("pass", domain, "sel", body_fully_signed=complete)


def author(domain: str) -> AuthorDomain:
    return AuthorDomain(domain, f"user@{domain}")


def test_record_parses_every_rfc9989_tag() -> None:
    """p, sp, np, psd, t, adkim, aspf, rua, ruf and fo are all read."""
    record = DmarcRecord.parse(
        "v=DMARC1; p=reject; sp=quarantine; np=reject; psd=n; t=y; adkim=s; aspf=s;"
        " rua=mailto:a@example.jp,mailto:b@example.jp; ruf=mailto:f@example.jp; fo=1:d"
    )
    assert (record.p, record.sp, record.np, record.psd, record.t) == (
        "reject",
        "quarantine",
        "reject",
        "n",
        True,
    )
    assert (record.adkim, record.aspf, record.fo) == ("s", "s", ("1", "d"))
    assert record.rua == ("mailto:a@example.jp", "mailto:b@example.jp")


def test_record_defaults_and_unknown_values() -> None:
    """Missing or invalid values fall back to RFC defaults; unknown tags are ignored."""
    record = DmarcRecord.parse("v=DMARC1; p=bogus; adkim=x; future=1")
    assert (record.p, record.adkim, record.aspf, record.psd, record.t) == (
        "none",
        "r",
        "r",
        "u",
        False,
    )
    assert record.p_given is False


def test_record_that_is_not_a_tag_list_is_invalid() -> None:
    """A part without '=' makes the record unusable (authheaders' bad record)."""
    with pytest.raises(DmarcRecordError):
        DmarcRecord.parse("v=DMARC1; p=none; reject")
    with pytest.raises(DmarcRecordError):
        DmarcRecord.parse("p=reject; v=DMARC1")


def test_tree_walk_drops_one_label_at_a_time() -> None:
    """A short name is walked label by label down to the top-level domain."""
    assert tree_walk("a.b.example.co.jp") == [
        "a.b.example.co.jp",
        "b.example.co.jp",
        "example.co.jp",
        "co.jp",
        "jp",
    ]


def test_tree_walk_jumps_to_seven_labels_and_asks_at_most_eight() -> None:
    """A name of ten labels is asked once, then from its rightmost seven labels down."""
    names = tree_walk("a.b.c.d.e.f.g.h.i.jp")
    assert names[:2] == ["a.b.c.d.e.f.g.h.i.jp", "d.e.f.g.h.i.jp"]
    assert len(names) == 8 and names[-1] == "jp"
    assert all(len(n.split(".")) <= 7 for n in names[1:])


def test_org_domain_is_the_record_with_fewest_labels() -> None:
    """Without psd tags the highest record on the walk marks the organisation."""
    ev = evidence(example_co_jp="v=DMARC1; p=reject", mail_example_co_jp="v=DMARC1; p=none")
    assert organizational_domain("a.mail.example.co.jp", ev) == "example.co.jp"


def test_org_domain_stops_at_psd_n() -> None:
    """A psd=n record declares its own domain the Organizational Domain."""
    ev = evidence(dept_example_jp="v=DMARC1; p=reject; psd=n", example_jp="v=DMARC1; p=none")
    assert organizational_domain("x.dept.example.jp", ev) == "dept.example.jp"


def test_org_domain_is_one_below_a_public_suffix_record() -> None:
    """A psd=y record puts the Organizational Domain one label below it."""
    ev = evidence(gov_example="v=DMARC1; p=reject; psd=y")
    assert organizational_domain("a.b.agency.gov.example", ev) == "agency.gov.example"


def test_org_domain_without_records_is_the_domain_itself() -> None:
    """With nothing published, a name is its own organisation."""
    assert organizational_domain("mail.example.jp", DmarcEvidence()) == "mail.example.jp"


def test_aligned_dkim_pass_passes_and_disposition_is_none() -> None:
    """A DKIM pass for the author domain passes DMARC."""
    got = evaluate(
        author("example.jp"),
        None,
        [dkim_pass("example.jp")],
        evidence(example_jp="v=DMARC1; p=reject"),
    )
    assert (got.result, got.policy, got.disposition, got.dkim_aligned) == (
        "pass",
        "reject",
        "none",
        True,
    )


def test_relaxed_alignment_accepts_a_subdomain_signature() -> None:
    """Relaxed alignment compares Organizational Domains."""
    ev = evidence(example_jp="v=DMARC1; p=reject")
    got = evaluate(author("example.jp"), spf_pass("bounce.example.jp"), [], ev)
    assert (got.result, got.spf_aligned) == ("pass", True)


def test_strict_alignment_refuses_a_subdomain() -> None:
    """aspf=s and adkim=s demand the exact author domain."""
    ev = evidence(example_jp="v=DMARC1; p=reject; aspf=s; adkim=s")
    got = evaluate(
        author("example.jp"), spf_pass("bounce.example.jp"), [dkim_pass("mail.example.jp")], ev
    )
    assert (got.result, got.disposition) == ("fail", "reject")


def test_subdomain_gets_sp_from_the_org_record() -> None:
    """A From subdomain without its own record gets the parent's sp."""
    ev = evidence(example_jp="v=DMARC1; p=none; sp=quarantine")
    got = evaluate(author("news.example.jp"), None, [], ev)
    assert (got.result, got.policy, got.policy_domain) == ("fail", "quarantine", "example.jp")


def test_non_existent_subdomain_gets_np() -> None:
    """np applies when the From domain does not exist in DNS."""
    ev = evidence(exists=False, example_jp="v=DMARC1; p=none; sp=quarantine; np=reject")
    assert evaluate(author("ghost.example.jp"), None, [], ev).policy == "reject"


def test_public_suffix_policy_applies_to_its_registrations() -> None:
    """A psd=y record at a public suffix covers names registered under it."""
    ev = evidence(exists=False, gov_example="v=DMARC1; p=none; np=reject; psd=y")
    got = evaluate(author("fake-agency.gov.example"), None, [], ev)
    assert (got.policy, got.disposition, got.org_domain) == (
        "reject",
        "reject",
        "fake-agency.gov.example",
    )


def test_testing_mode_applies_the_next_less_strict_policy() -> None:
    """t=y turns reject into quarantine and quarantine into none."""
    ev = evidence(example_jp="v=DMARC1; p=reject; t=y")
    got = evaluate(author("example.jp"), None, [], ev)
    assert (got.policy, got.disposition, got.testing) == ("reject", "quarantine", True)
    assert downgraded("quarantine", True) == "none"


def test_no_record_anywhere_is_none() -> None:
    """A domain without any DMARC record gets result none and no action."""
    got = evaluate(author("example.jp"), None, [], DmarcEvidence())
    assert (got.result, got.disposition) == ("none", "none")


def test_dns_failure_on_the_walk_is_temperror() -> None:
    """A timeout while looking for the policy is temperror, not none."""
    ev = DmarcEvidence({"example.jp": RecordLookup(LookupState.TEMPERROR, detail="timeout")})
    assert evaluate(author("example.jp"), None, [], ev).result == "temperror"


def test_unusable_author_is_permerror_and_rejected_by_local_policy() -> None:
    """Without one author domain DMARC cannot be applied; local policy rejects."""
    got = evaluate(AuthorProblem("FROM_MULTIPLE_FIELDS", "2 fields"), None, [], DmarcEvidence())
    assert (got.result, got.disposition, got.reason) == (
        "permerror",
        "reject",
        "FROM_MULTIPLE_FIELDS",
    )


def test_aligned_check_lost_to_a_dns_timeout_is_temperror_not_a_rejection() -> None:
    """If an aligned DKIM or SPF check timed out, DMARC says temperror and does not reject."""
    ev = evidence(example_jp="v=DMARC1; p=reject")
    timed_out = DkimSignatureResult("temperror", "example.jp", "sel")
    got = evaluate(author("example.jp"), None, [timed_out], ev)
    assert (got.result, got.disposition, got.reason) == ("temperror", "none", "AUTH_TEMPERROR")
    spf_timeout = SpfResult("temperror", "mailfrom", "example.jp", "b@example.jp")
    assert evaluate(author("example.jp"), spf_timeout, [], ev).result == "temperror"


def test_timeout_on_an_unrelated_domain_does_not_save_a_spoof() -> None:
    """A temperror for the attacker's own domain leaves the spoof failing and rejected."""
    ev = evidence(example_jp="v=DMARC1; p=reject")
    got = evaluate(
        author("example.jp"), None, [DkimSignatureResult("temperror", "evil.example", "s")], ev
    )
    assert (got.result, got.disposition) == ("fail", "reject")


def test_record_without_p_but_with_rua_is_honoured_as_p_none() -> None:
    """A missing p= with a reporting address means monitoring (p=none), still evaluated."""
    ev = evidence(example_jp="v=DMARC1; rua=mailto:r@example.jp")
    got = evaluate(author("example.jp"), None, [], ev)
    assert (got.result, got.policy, got.disposition) == ("fail", "none", "none")


def test_policy_comes_from_the_first_record_on_a_long_walk() -> None:
    """For a ten-label name the walk finds the record at its seven-label suffix."""
    ev = evidence(d_e_f_g_h_example_jp="v=DMARC1; p=quarantine", example_jp="v=DMARC1; p=none")
    got = evaluate(author("a.b.c.d.e.f.g.h.example.jp"), None, [], ev)
    assert (got.policy_domain, got.policy, got.org_domain) == (
        "d.e.f.g.h.example.jp",
        "quarantine",
        "example.jp",
    )
