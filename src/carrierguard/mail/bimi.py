"""BIMI: the DNS record, the SVG Tiny Portable/Secure profile, the VMC/CMC, and the
inbound stage that adds BIMI-Location and BIMI-Indicator.

Owns: record grammar (``v=BIMI1; l=...; a=...``), SVG profile rules (no scripts, no
external references, square ``viewBox``, a ``title``, at most 32 KB), certificate
chain checks (signatures, validity, the BIMI EKU ``1.3.6.1.5.5.7.3.31``) and the
RFC 3709 logotype extension whose hash must match the SVG. It does no network I/O:
the inbound stage is handed a ``fetch`` callable for the logo.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from carrierguard.errors import DnsTemporaryFailure
from carrierguard.mail.auth.author import AuthorDomain
from carrierguard.mail.dns import Resolver
from carrierguard.mail.message import Message
from carrierguard.mail.verdict import CheckContext, Stage

MAX_SVG_BYTES = 32 * 1024
BIMI_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.31")
LOGOTYPE_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.12")
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_FORBIDDEN = {"script", "foreignObject", "image", "animate", "animateMotion", "animateColor"}
_FORBIDDEN |= {"animateTransform", "set", "iframe", "video", "audio", "handler", "listener"}
_HASHES = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}


class BimiRecordError(ValueError):
    """A ``v=BIMI1`` record whose tags are unusable."""


class BimiValidationError(ValueError):
    """An SVG or certificate that fails BIMI's rules; ``code`` is stable."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class BimiRecord:
    """``l`` empty means the domain declines to show a logo."""

    location: str = ""
    authority: str = ""

    @property
    def declined(self) -> bool:
        return not self.location


def parse_bimi_record(text: str) -> BimiRecord:
    parts = [p.strip() for p in text.split(";")]
    if not parts or parts[0].replace(" ", "") != "v=BIMI1":
        raise BimiRecordError("record does not start with v=BIMI1")
    tags: dict[str, str] = {}
    for part in parts[1:]:
        if not part:
            continue
        name, eq, value = part.partition("=")
        if not eq:
            raise BimiRecordError(f"malformed tag {part!r}")
        tags.setdefault(name.strip().lower(), value.strip())
    if "l" not in tags:
        raise BimiRecordError("l= is missing")
    for tag in ("l", "a"):
        value = tags.get(tag, "")
        if value and not value.lower().startswith("https://"):
            raise BimiRecordError(f"{tag}= must be an https URL")
    return BimiRecord(tags["l"], tags.get("a", ""))


# --- SVG Tiny Portable/Secure -------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def validate_svg(data: bytes) -> None:
    """Raise ``BimiValidationError`` unless ``data`` fits the SVG Tiny PS profile."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) > MAX_SVG_BYTES:
        raise BimiValidationError("SVG_TOO_LARGE", f"{len(data)} bytes > {MAX_SVG_BYTES}")
    if re.search(rb"<!(DOCTYPE|ENTITY)", data, re.IGNORECASE):
        raise BimiValidationError("SVG_DTD", "DTDs and entities are not allowed")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise BimiValidationError("SVG_UNPARSABLE", str(exc)) from exc
    if root.tag != f"{{{SVG_NS}}}svg":
        raise BimiValidationError("SVG_NOT_SVG", f"root element is {root.tag}")
    if root.get("baseProfile") != "tiny-ps" or root.get("version") != "1.2":
        raise BimiValidationError("SVG_PROFILE", 'needs version="1.2" baseProfile="tiny-ps"')
    if any(a in root.attrib for a in ("x", "y")):
        raise BimiValidationError("SVG_ROOT_POSITION", "x/y not allowed on the root")
    _square_view_box(root.get("viewBox", ""))
    if not any(_local(c.tag) == "title" and (c.text or "").strip() for c in root):
        raise BimiValidationError("SVG_NO_TITLE", "a non-empty <title> child is required")
    for element in root.iter():
        name = _local(element.tag)
        if name in _FORBIDDEN:
            raise BimiValidationError("SVG_FORBIDDEN_ELEMENT", f"<{name}> is not allowed")
        for attr, value in element.attrib.items():
            attr_name = _local(attr)
            if attr_name.lower().startswith("on"):
                raise BimiValidationError("SVG_SCRIPT", f"event handler {attr_name}")
            if attr_name == "href" and not value.startswith("#"):
                raise BimiValidationError("SVG_EXTERNAL_REFERENCE", f"href={value!r}")
            if re.search(r"url\(\s*(?!['\"]?#)", value):
                raise BimiValidationError("SVG_EXTERNAL_REFERENCE", f"{attr_name}={value!r}")
        if name == "style" and re.search(r"@import|url\(\s*(?!['\"]?#)", element.text or ""):
            raise BimiValidationError("SVG_EXTERNAL_REFERENCE", "external reference in <style>")


def _square_view_box(text: str) -> None:
    numbers = [n for n in re.split(r"[\s,]+", text.strip()) if n]
    try:
        values = [float(n) for n in numbers]
    except ValueError:
        values = []
    if len(values) != 4:
        raise BimiValidationError("SVG_VIEWBOX", f"viewBox {text!r} is not four numbers")
    if values[2] <= 0 or values[2] != values[3]:
        raise BimiValidationError("SVG_NOT_SQUARE", f"viewBox {text!r} is not square")


# --- VMC / CMC --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogotypeImage:
    """One image of an RFC 3709 logotype: media type, hashes, URIs."""

    media_type: str
    hashes: tuple[tuple[str, bytes], ...]
    uris: tuple[str, ...]


def _der(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (tag, content) pairs of a concatenation of DER TLVs."""
    i = 0
    while i < len(data):
        tag = data[i]
        length = data[i + 1]
        i += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[i : i + count], "big")
            i += count
        if i + length > len(data):
            raise ValueError("truncated DER")
        yield tag, data[i : i + length]
        i += length


def _oid(content: bytes) -> str:
    first = content[0]
    parts = [first // 40, first % 40] if first < 80 else [2, first - 80]
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _details(content: bytes) -> LogotypeImage | None:
    """``LogotypeDetails`` if this SEQUENCE content has its shape, else None."""
    items = list(_der(content))
    if len(items) != 3 or items[0][0] != 0x16 or items[1][0] != 0x30 or items[2][0] != 0x30:
        return None
    hashes = []
    for tag, pair in _der(items[1][1]):
        fields = list(_der(pair))
        if tag != 0x30 or len(fields) != 2 or fields[1][0] != 0x04:
            return None
        alg = list(_der(fields[0][1]))
        if not alg or alg[0][0] != 0x06:
            return None
        hashes.append((_HASHES.get(_oid(alg[0][1]), _oid(alg[0][1])), fields[1][1]))
    uris = tuple(v.decode("ascii", "replace") for t, v in _der(items[2][1]) if t == 0x16)
    return LogotypeImage(items[0][1].decode("ascii", "replace"), tuple(hashes), uris)


def logotype_images(der: bytes) -> list[LogotypeImage]:
    """Every ``LogotypeDetails`` found in a logotype extension value (any tagging)."""
    found: list[LogotypeImage] = []

    def walk(data: bytes) -> None:
        for tag, content in _der(data):
            if tag & 0x20:  # constructed
                details = _details(content) if tag == 0x30 else None
                if details is not None:
                    found.append(details)
                else:
                    walk(content)

    try:
        walk(der)
    except (ValueError, IndexError) as exc:
        raise BimiValidationError("VMC_LOGOTYPE_UNPARSABLE", str(exc)) from exc
    return found


def _data_uri_payload(uri: str) -> bytes | None:
    head, comma, body = uri.partition(",")
    if not head.lower().startswith("data:") or not comma:
        return None
    return base64.b64decode(body) if head.lower().endswith(";base64") else body.encode()


def _plain(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def logo_matches(image: LogotypeImage, svg: bytes) -> bool:
    """The logotype's hash covers the SVG (embedded in a data: URI, or fetched as is)."""
    candidates = [p for u in image.uris if (p := _data_uri_payload(u)) is not None]
    if candidates:
        if not any(_plain(p) == _plain(svg) for p in candidates):
            return False
        targets = candidates
    else:
        targets = [svg]
    for name, value in image.hashes:
        if name in hashlib.algorithms_available and any(
            hashlib.new(name, t).digest() == value for t in targets
        ):
            return True
    return False


def validate_vmc(
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    svg: bytes,
    now: datetime,
) -> None:
    """Raise ``BimiValidationError`` unless ``chain`` (leaf first) is a valid mark certificate
    for ``svg`` that chains to one of ``anchors`` at ``now``."""
    if not chain:
        raise BimiValidationError("VMC_EMPTY", "no certificate")
    for cert in chain:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise BimiValidationError("VMC_EXPIRED", f"{cert.subject.rfc4514_string()}")
    for child, parent in itertools.pairwise(chain):
        _issued_by(child, parent)
    last = chain[-1]
    issuer = next((a for a in anchors if a.subject == last.issuer), None)
    if issuer is None and last not in anchors:
        raise BimiValidationError("VMC_UNTRUSTED", "chain does not reach a trust anchor")
    if issuer is not None and last not in anchors:
        _issued_by(last, issuer)
    leaf = chain[0]
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise BimiValidationError("VMC_NO_BIMI_EKU", "no extended key usage") from exc
    if BIMI_EKU not in list(eku):
        raise BimiValidationError("VMC_NO_BIMI_EKU", "EKU lacks 1.3.6.1.5.5.7.3.31")
    try:
        ext = leaf.extensions.get_extension_for_oid(LOGOTYPE_OID).value
    except x509.ExtensionNotFound as exc:
        raise BimiValidationError("VMC_NO_LOGOTYPE", "no logotype extension") from exc
    der = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
    images = logotype_images(der)
    if not images:
        raise BimiValidationError("VMC_NO_LOGOTYPE", "logotype extension holds no image")
    if not any(logo_matches(image, svg) for image in images):
        raise BimiValidationError("VMC_HASH_MISMATCH", "logotype hash does not match the SVG")


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> None:
    try:
        constraints = parent.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise BimiValidationError("VMC_ISSUER_NOT_CA", parent.subject.rfc4514_string())
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise BimiValidationError("VMC_BAD_SIGNATURE", str(exc)) from exc


def load_pem_chain(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise BimiValidationError("VMC_UNPARSABLE", str(exc)) from exc


# --- inbound ----------------------------------------------------------------------------

Fetch = Callable[[str], bytes]


def lookup_bimi(resolver: Resolver, domain: str, selector: str = "default") -> BimiRecord | None:
    """The record at the author domain, else at its organisational domain (given by DMARC)."""
    try:
        texts = resolver.query(f"{selector}._bimi.{domain}", "TXT").txt()
    except DnsTemporaryFailure:
        return None
    found = [t.decode("utf-8", "replace") for t in texts if t.lower().startswith(b"v=bimi1")]
    if len(found) != 1:
        return None
    try:
        return parse_bimi_record(found[0])
    except BimiRecordError:
        return None


def https_fetch(
    client: httpx.Client | None = None, *, timeout: float = 5.0, max_bytes: int = 256 * 1024
) -> Fetch:
    """The real ``Fetch``: an https GET with a timeout and a size ceiling (httpx)."""
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def fetch(url: str) -> bytes:
        if not url.lower().startswith("https://"):
            raise OSError(f"not https: {url}")
        try:
            with http.stream("GET", url) as response:
                response.raise_for_status()
                data = b""
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > max_bytes:
                        raise OSError(f"{url}: larger than {max_bytes} bytes")
                return data
        except httpx.HTTPError as exc:
            raise OSError(f"{url}: {exc}") from exc

    return fetch


def bimi_stage(
    resolver: Resolver,
    fetch: Fetch,
    anchors: Sequence[x509.Certificate] = (),
    clock: Callable[[], datetime] | None = None,
) -> Stage:
    """Add BIMI-Location and BIMI-Indicator when DMARC passed at quarantine or reject.

    The logo is fetched through ``fetch`` and must pass the SVG profile. With trust
    ``anchors`` given, a mark certificate (``a=``) is required and must vouch for the
    logo. Any problem means no headers, never a different verdict.
    """

    def add_bimi(message: Message, context: CheckContext) -> CheckContext:
        auth = context.auth
        if auth is None or not isinstance(auth.author, AuthorDomain):
            return context
        dmarc = auth.dmarc
        record = dmarc.record
        if dmarc.result != "pass" or record is None or dmarc.testing:
            return context
        if dmarc.policy not in ("quarantine", "reject") or record.p not in ("quarantine", "reject"):
            return context
        domains = [auth.author.domain]
        if dmarc.org_domain and dmarc.org_domain != auth.author.domain:
            domains.append(dmarc.org_domain)
        bimi = next((r for d in domains if (r := lookup_bimi(resolver, d)) is not None), None)
        if bimi is None or bimi.declined:
            return context
        try:
            svg = fetch(bimi.location)
            validate_svg(svg)
            if anchors:
                if not bimi.authority:
                    return context
                now = clock() if clock else datetime.now(UTC)
                validate_vmc(load_pem_chain(fetch(bimi.authority)), anchors, svg, now)
        except (OSError, BimiValidationError):
            return context
        location = f"v=BIMI1; l={bimi.location}" + (
            f"; a={bimi.authority}" if bimi.authority else ""
        )
        indicator = base64.b64encode(_plain(svg)).decode("ascii")
        folded = "\n\t".join(indicator[i : i + 76] for i in range(0, len(indicator), 76))
        headers = (("BIMI-Location", location), ("BIMI-Indicator", folded))
        return replace(context, add_headers=(*context.add_headers, *headers))

    return add_bimi
