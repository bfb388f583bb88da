"""DKIM signing of outbound mail and key generation (RSA-2048, Ed25519)."""

from __future__ import annotations

import pytest

from carrierguard.errors import InvalidInput
from carrierguard.mail.auth.dkim import verify_dkim
from carrierguard.mail.dns import StaticResolver
from carrierguard.mail.message import Message
from carrierguard.mail.signing import DkimSigner, KeyAlgorithm, generate_key, zone_line
from tests.mail.conftest import message


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_signed_mail_verifies_against_the_published_zone_line(algorithm: KeyAlgorithm) -> None:
    """A signature verifies with the TXT record exactly as keygen prints it."""
    key = generate_key(algorithm)
    raw = message("News <news@carrier.example>", "こんにちは\r\n")
    name, value = DkimSigner("carrier.example", "s2026", key).signature(raw)
    signed = f"{name}: {value}\r\n".encode() + raw
    resolver = StaticResolver.from_zone_text(zone_line("s2026", "carrier.example", key))
    (result,) = verify_dkim(Message.parse(signed), resolver)
    assert (result.result, result.domain, result.selector) == ("pass", "carrier.example", "s2026")
    expected = "ed25519-sha256" if algorithm is KeyAlgorithm.ED25519 else "rsa-sha256"
    assert result.algorithm == expected


def test_rsa_keys_are_2048_bits() -> None:
    """The RSA public key in the record is a 2048-bit key."""
    import base64

    from cryptography.hazmat.primitives.serialization import load_der_public_key

    key = generate_key(KeyAlgorithm.RSA)
    public = load_der_public_key(base64.b64decode(key.public_b64))
    assert public.key_size == 2048  # type: ignore[union-attr]


def test_zone_line_refuses_a_bad_selector() -> None:
    """A selector that is not a DNS label is rejected before anything is printed."""
    with pytest.raises(InvalidInput):
        zone_line("bad selector", "carrier.example", generate_key(KeyAlgorithm.ED25519))


def test_signing_stage_signs_only_internal_mail_for_our_domains() -> None:
    """Outbound mail from our network gets a DKIM-Signature; inbound mail does not."""
    from carrierguard.mail.auth.check import Envelope
    from carrierguard.mail.settings import AllowList
    from carrierguard.mail.signing import signing_stage
    from carrierguard.mail.verdict import CheckContext

    signer = DkimSigner("carrier.example", "s1", generate_key(KeyAlgorithm.ED25519))
    stage = signing_stage({"carrier.example": signer}, AllowList.parse(["10.0.0.0/8"]))
    msg = Message.parse(message("info@news.carrier.example"))
    inside = stage(msg, CheckContext(Envelope(ip="10.1.2.3")))
    outside = stage(msg, CheckContext(Envelope(ip="203.0.113.1")))
    assert [name for name, _ in inside.add_headers] == ["DKIM-Signature"]
    assert outside.add_headers == ()
    other = stage(Message.parse(message("a@else.example")), CheckContext(Envelope(ip="10.1.2.3")))
    assert other.add_headers == ()
