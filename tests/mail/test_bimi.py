"""BIMI: record grammar, the SVG Tiny PS profile, VMC chains made here, and the inbound stage."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from carrierguard.cli.main import app
from carrierguard.mail.auth.author import AuthorDomain
from carrierguard.mail.auth.check import AuthReport, Envelope
from carrierguard.mail.auth.dkim import ArcResult
from carrierguard.mail.auth.dmarc import DmarcRecord, DmarcResult
from carrierguard.mail.bimi import (
    BIMI_EKU,
    LOGOTYPE_OID,
    BimiRecordError,
    BimiValidationError,
    bimi_stage,
    https_fetch,
    parse_bimi_record,
    validate_svg,
    validate_vmc,
)
from carrierguard.mail.dns import StaticRecord, StaticResolver, Txt
from carrierguard.mail.message import Message
from carrierguard.mail.verdict import CheckContext

NOW = datetime(2026, 11, 28, tzinfo=UTC)
LOGO = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" '
    b'viewBox="0 0 100 100"><title>Example Brand</title>'
    b'<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>'
    b'<rect width="100" height="100" fill="url(#g)"/>'
    b'<circle cx="50" cy="50" r="40" fill="#c00"/></svg>'
)


def _logo(**changes: bytes) -> bytes:
    data = LOGO
    for old, new in changes.items():
        data = data.replace(getattr(_Parts, old), new)
    return data


class _Parts:
    box = b'viewBox="0 0 100 100"'
    title = b"<title>Example Brand</title>"
    circle = b'<circle cx="50" cy="50" r="40" fill="#c00"/>'


# --- record ------------------------------------------------------------------------------


def test_record_with_location_and_authority_parses() -> None:
    """l= and a= are read from a well-formed record."""
    record = parse_bimi_record("v=BIMI1; l=https://x.test/l.svg; a=https://x.test/v.pem")
    assert (record.location, record.authority) == ("https://x.test/l.svg", "https://x.test/v.pem")


def test_empty_location_means_declined() -> None:
    """An empty l= is a domain declining to show a logo."""
    assert parse_bimi_record("v=BIMI1; l=;").declined


@pytest.mark.parametrize(
    "text", ["l=https://x.test/l.svg; v=BIMI1", "v=BIMI1; l=http://x.test/l.svg", "v=BIMI1; a="]
)
def test_bad_records_are_refused(text: str) -> None:
    """v must come first, l is required and URLs must be https."""
    with pytest.raises(BimiRecordError):
        parse_bimi_record(text)


# --- SVG Tiny PS -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "svg",
    [
        LOGO,
        gzip.compress(LOGO),
        _logo(circle=b'<use xlink:href="#g" xmlns:xlink="http://www.w3.org/1999/xlink"/>'),
        _logo(box=b'viewBox="0,0,512,512"'),
    ],
)
def test_valid_tiny_ps_logos_are_accepted(svg: bytes) -> None:
    """Square, titled, self-contained logos pass (also gzip-compressed)."""
    validate_svg(svg)


@pytest.mark.parametrize(
    ("svg", "code"),
    [
        (_logo(circle=b"<script>alert(1)</script>"), "SVG_FORBIDDEN_ELEMENT"),
        (_logo(circle=b'<circle r="4" onclick="evil()"/>'), "SVG_SCRIPT"),
        (
            _logo(circle=b'<image href="https://evil.test/x.png" width="1" height="1"/>'),
            "SVG_FORBIDDEN_ELEMENT",
        ),
        (
            _logo(
                circle=b'<use xlink:href="https://evil.test/a.svg#x" '
                b'xmlns:xlink="http://www.w3.org/1999/xlink"/>'
            ),
            "SVG_EXTERNAL_REFERENCE",
        ),
        (_logo(circle=b'<rect fill="url(https://evil.test/p)"/>'), "SVG_EXTERNAL_REFERENCE"),
        (
            _logo(circle=b"<style>@import url(https://evil.test/s.css);</style>"),
            "SVG_EXTERNAL_REFERENCE",
        ),
        (_logo(box=b'viewBox="0 0 200 100"'), "SVG_NOT_SQUARE"),
        (_logo(box=b""), "SVG_VIEWBOX"),
        (_logo(title=b""), "SVG_NO_TITLE"),
        (_logo(circle=b"<!-- " + b"x" * 33_000 + b" -->"), "SVG_TOO_LARGE"),
        (b'<!DOCTYPE svg [<!ENTITY a "b">]>' + LOGO[39:], "SVG_DTD"),
        (LOGO.replace(b'baseProfile="tiny-ps"', b'baseProfile="tiny"'), "SVG_PROFILE"),
    ],
)
def test_unsafe_or_malformed_logos_are_rejected(svg: bytes, code: str) -> None:
    """Scripts, external references, non-square, untitled and oversize logos fail."""
    with pytest.raises(BimiValidationError) as info:
        validate_svg(svg)
    assert info.value.code == code


# --- VMC ---------------------------------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = (
        bytes([n])
        if n < 128
        else bytes([0x80 | ((n.bit_length() + 7) // 8)])
        + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + content


SHA256_OID = bytes.fromhex("0609608648016503040201")


def logotype_extension(svg: bytes) -> bytes:
    """RFC 3709 LogotypeExtn with a subjectLogo holding ``svg`` as a gzip data: URI."""
    payload = gzip.compress(svg)
    uri = b"data:image/svg+xml;base64," + base64.b64encode(payload)
    hash_and_value = _tlv(
        0x30, _tlv(0x30, SHA256_OID + b"\x05\x00") + _tlv(0x04, hashlib.sha256(payload).digest())
    )
    details = _tlv(
        0x30,
        _tlv(0x16, b"image/svg+xml") + _tlv(0x30, hash_and_value) + _tlv(0x30, _tlv(0x16, uri)),
    )
    image = _tlv(0x30, details)
    data = _tlv(0xA0, _tlv(0x30, image))  # direct [0] LogotypeData (IMPLICIT)
    return _tlv(0x30, _tlv(0xA2, data))  # subjectLogo [2] EXPLICIT


@dataclass
class Ca:
    root: x509.Certificate
    intermediate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _cert(
    subject: str,
    issuer: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey | None,
    *,
    ca: bool,
    extensions: tuple[x509.ExtensionType, ...] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def ca() -> Ca:
    root, root_key = _cert("Test Mark Root", None, None, ca=True)
    inter, inter_key = _cert("Test Mark CA", root.subject, root_key, ca=True)
    return Ca(root, inter, inter_key)


def _vmc(ca: Ca, svg: bytes, eku: x509.ObjectIdentifier = BIMI_EKU) -> x509.Certificate:
    cert, _ = _cert(
        "example.test",
        ca.intermediate.subject,
        ca.key,
        ca=False,
        extensions=(
            x509.ExtendedKeyUsage([eku]),
            x509.UnrecognizedExtension(LOGOTYPE_OID, logotype_extension(svg)),
        ),
    )
    return cert


def test_matching_vmc_passes(ca: Ca) -> None:
    """A VMC with the BIMI EKU whose logotype hash covers the SVG chains to the test root."""
    validate_vmc([_vmc(ca, LOGO), ca.intermediate], [ca.root], LOGO, NOW)


def test_vmc_for_another_logo_fails_on_the_hash(ca: Ca) -> None:
    """A VMC issued for a different SVG does not vouch for this one."""
    other = _logo(circle=b'<circle cx="50" cy="50" r="10" fill="#00c"/>')
    with pytest.raises(BimiValidationError) as info:
        validate_vmc([_vmc(ca, other), ca.intermediate], [ca.root], LOGO, NOW)
    assert info.value.code == "VMC_HASH_MISMATCH"


def test_vmc_without_the_bimi_eku_fails(ca: Ca) -> None:
    """A certificate for server authentication is not a mark certificate."""
    cert = _vmc(ca, LOGO, ExtendedKeyUsageOID.SERVER_AUTH)
    with pytest.raises(BimiValidationError) as info:
        validate_vmc([cert, ca.intermediate], [ca.root], LOGO, NOW)
    assert info.value.code == "VMC_NO_BIMI_EKU"


def test_vmc_from_an_unknown_root_is_untrusted(ca: Ca) -> None:
    """A chain that does not end at a trust anchor fails."""
    stranger, _ = _cert("Other Root", None, None, ca=True)
    with pytest.raises(BimiValidationError) as info:
        validate_vmc([_vmc(ca, LOGO), ca.intermediate], [stranger], LOGO, NOW)
    assert info.value.code == "VMC_UNTRUSTED"


def test_expired_vmc_fails(ca: Ca) -> None:
    """Outside its validity period the certificate is refused."""
    with pytest.raises(BimiValidationError) as info:
        validate_vmc([_vmc(ca, LOGO), ca.intermediate], [ca.root], LOGO, NOW + timedelta(days=400))
    assert info.value.code == "VMC_EXPIRED"


# --- inbound stage -----------------------------------------------------------------------


def _context(policy: str, result: str = "pass") -> CheckContext:
    record = DmarcRecord(p=policy)
    dmarc = DmarcResult(
        result, policy, "none", "example.test", "example.test", "example.test", record=record
    )
    auth = AuthReport(
        AuthorDomain("example.test", "a@example.test"), None, (), ArcResult("none"), dmarc, ""
    )
    return CheckContext(Envelope(), auth=auth)


RESOLVER = StaticResolver.of(
    [
        StaticRecord(
            "default._bimi.example.test", "TXT", Txt((b"v=BIMI1; l=https://example.test/l.svg",))
        )
    ]
)
MESSAGE = Message.parse(b"From: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n")


def test_bimi_headers_are_added_when_dmarc_passes_at_reject() -> None:
    """DMARC pass under p=reject earns BIMI-Location and BIMI-Indicator."""
    out = bimi_stage(RESOLVER, lambda url: LOGO)(MESSAGE, _context("reject"))
    fields = dict(out.add_headers)
    assert fields["BIMI-Location"] == "v=BIMI1; l=https://example.test/l.svg"
    assert base64.b64decode(fields["BIMI-Indicator"].replace("\n\t", "")) == LOGO


@pytest.mark.parametrize(("policy", "result"), [("none", "pass"), ("reject", "fail")])
def test_no_bimi_headers_without_enforced_dmarc_pass(policy: str, result: str) -> None:
    """p=none, or a DMARC failure, adds nothing."""
    out = bimi_stage(RESOLVER, lambda url: LOGO)(MESSAGE, _context(policy, result))
    assert out.add_headers == ()


def test_an_unsafe_logo_adds_no_headers() -> None:
    """A logo that fails the SVG profile is not shown."""
    bad = _logo(circle=b"<script>x()</script>")
    out = bimi_stage(RESOLVER, lambda url: bad)(MESSAGE, _context("quarantine"))
    assert out.add_headers == ()


def test_bimi_check_command_validates_logo_and_vmc(ca: Ca, tmp_path: Path) -> None:
    """``mail bimi-check`` passes a good logo with its VMC and names the failure otherwise."""
    logo, vmc, root = tmp_path / "logo.svg", tmp_path / "vmc.pem", tmp_path / "root.pem"
    logo.write_bytes(LOGO)
    pem = serialization.Encoding.PEM
    vmc.write_bytes(_vmc(ca, LOGO).public_bytes(pem) + ca.intermediate.public_bytes(pem))
    root.write_bytes(ca.root.public_bytes(pem))
    runner = CliRunner()
    ok = runner.invoke(
        app, ["mail", "bimi-check", str(logo), "--vmc", str(vmc), "--trust", str(root)]
    )
    assert ok.exit_code == 0 and json.loads(ok.output) == {
        "result": "pass",
        "svg": "pass",
        "vmc": "pass",
    }
    logo.write_bytes(_logo(box=b'viewBox="0 0 10 20"'))
    bad = runner.invoke(app, ["mail", "bimi-check", str(logo)])
    assert bad.exit_code == 1 and json.loads(bad.output)["code"] == "SVG_NOT_SQUARE"


def test_with_trust_anchors_a_valid_vmc_is_required(ca: Ca) -> None:
    """Given anchors, headers need an a= certificate that vouches for the logo."""
    pem = serialization.Encoding.PEM
    chain = _vmc(ca, LOGO).public_bytes(pem) + ca.intermediate.public_bytes(pem)
    files = {"https://example.test/l.svg": LOGO, "https://example.test/v.pem": chain}
    record = b"v=BIMI1; l=https://example.test/l.svg; a=https://example.test/v.pem"
    with_vmc = StaticResolver.of(
        [StaticRecord("default._bimi.example.test", "TXT", Txt((record,)))]
    )
    stage = bimi_stage(with_vmc, files.__getitem__, [ca.root], lambda: NOW)
    assert "BIMI-Indicator" in dict(stage(MESSAGE, _context("reject")).add_headers)
    without = bimi_stage(RESOLVER, files.__getitem__, [ca.root], lambda: NOW)
    assert without(MESSAGE, _context("reject")).add_headers == ()


def test_https_fetch_refuses_plain_http_and_oversize_bodies() -> None:
    """The fetcher only speaks https and stops reading past its ceiling."""
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 2000 if "big" in request.url.path else LOGO)

    fetch = https_fetch(httpx.Client(transport=httpx.MockTransport(handler)), max_bytes=1000)
    assert fetch("https://example.test/logo.svg") == LOGO
    with pytest.raises(OSError):
        fetch("https://example.test/big.svg")
    with pytest.raises(OSError):
        fetch("http://example.test/logo.svg")
