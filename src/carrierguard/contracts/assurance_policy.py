"""The ``[assurance]`` section of the screening policy: values and their TOML parser.

``parse_assurance(table, locate, source)`` reads the already-parsed ``[assurance]`` table;
``locate(dotted)`` gives the line of a field for ``PolicyError`` (policy.py owns the text).
A missing section, or a missing sub-table, takes the defaults below. JWKS locations stay
strings here: reading a file or fetching a URL happens at the edge (``assurance_jwks``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from carrierguard.contracts.model import Channel
from carrierguard.contracts.resale import ResaleRules
from carrierguard.errors import PolicyError


class KycMethod(StrEnum):
    """How the applicant's identity was verified (携帯電話不正利用防止法 施行規則の方法)."""

    IC_CHIP_MYNUMBER = "ic_chip_mynumber"  # マイナンバーカードの IC チップ読取り
    JPKI_SIGNATURE = "jpki_signature"  # 公的個人認証（署名用電子証明書）
    IC_CHIP_LICENSE = "ic_chip_license"  # 運転免許証の IC チップ読取り
    RELIED_ASSERTION = "relied_assertion"  # 他社の本人確認結果への依拠（OIDC4IA）
    # Legacy methods, still known so a policy that names them fails with a clear reason.
    ID_IMAGE_UPLOAD = "id_image_upload"  # 本人確認書類の画像送信（ホ方式）
    DOCUMENT_VISUAL = "document_visual"  # 券面の目視確認


#: Methods that read an IC chip or verify a JPKI signature (a relied assertion is checked
#: against the policy's allowed evidence instead).
IC_OR_JPKI: frozenset[KycMethod] = frozenset(
    {
        KycMethod.IC_CHIP_MYNUMBER,
        KycMethod.JPKI_SIGNATURE,
        KycMethod.IC_CHIP_LICENSE,
        KycMethod.RELIED_ASSERTION,
    }
)
#: Since this date a contract made online must use IC-chip reading or JPKI.
ONLINE_IC_OR_JPKI_FROM = date(2026, 4, 1)


class DataSimUse(StrEnum):
    """What a data-only line is for; the data-SIM KYC switch is set per use (MISSION C8)."""

    CONSUMER = "consumer"
    IOT = "iot"
    INBOUND_PREPAID = "inbound_prepaid"


class EmploymentCheck(StrEnum):
    """How a corporate signer's employment (在籍確認) was verified."""

    CALL_TO_REGISTERED_NUMBER = "call_to_registered_number"
    EMPLOYMENT_CERTIFICATE = "employment_certificate"
    CORPORATE_IDP = "corporate_idp"


#: Asymmetric JWS algorithms only: never ``none``, never HMAC (a public key is no secret).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: RFC 8176 values accepted as MFA by default; "swk+pin" means both must be present.
DEFAULT_MFA_AMR = ("otp", "hwk", "swk+pin", "face", "fpt", "iris", "mfa")
TRUST_FRAMEWORK = "jp_mpiupa"


@dataclass(frozen=True, slots=True, kw_only=True)
class MfaPolicy:
    """MFA for additional lines: which ID tokens count, from which IdP (MISSION C4)."""

    required_for_additional_lines: bool
    channels: frozenset[Channel]
    jwks: str
    issuer: str
    audience: str
    algorithms: frozenset[str]
    max_age_seconds: int
    leeway_seconds: int
    accepted_amr: tuple[frozenset[str], ...]
    accepted_acr: frozenset[str]


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    issuer: str
    jwks: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReliancePolicy:
    """When another company's verified_claims may be relied on (MISSION C6)."""

    issuers: tuple[TrustedIssuer, ...]
    audience: str | None
    allowed_evidence: frozenset[str]
    max_age_days: int
    algorithms: frozenset[str]
    leeway_seconds: int

    def trusted(self, issuer: str) -> TrustedIssuer | None:
        return next((t for t in self.issuers if t.issuer == issuer), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class KycPolicy:
    """Accepted verification methods per channel, and the data-SIM switch per use."""

    methods: Mapping[Channel, frozenset[KycMethod]]
    data_sim: Mapping[DataSimUse, bool]

    def accepted(self, channel: Channel) -> frozenset[KycMethod]:
        return self.methods.get(channel, frozenset())


@dataclass(frozen=True, slots=True, kw_only=True)
class EmploymentPolicy:
    required: bool
    accepted: frozenset[EmploymentCheck]


_IC = frozenset({KycMethod.IC_CHIP_MYNUMBER, KycMethod.IC_CHIP_LICENSE, KycMethod.JPKI_SIGNATURE})
DEFAULT_KYC = KycPolicy(
    methods={
        Channel.STORE: _IC,
        Channel.AGENCY: _IC,
        Channel.ONLINE: frozenset({KycMethod.JPKI_SIGNATURE, KycMethod.RELIED_ASSERTION}),
    },
    data_sim={DataSimUse.CONSUMER: True, DataSimUse.IOT: False, DataSimUse.INBOUND_PREPAID: True},
)
DEFAULT_EMPLOYMENT = EmploymentPolicy(required=True, accepted=frozenset(EmploymentCheck))


@dataclass(frozen=True, slots=True, kw_only=True)
class AssurancePolicy:
    """``mfa`` None: no IdP configured (MFA cannot be checked); ``reliance`` None: never rely."""

    mfa: MfaPolicy | None = None
    kyc: KycPolicy = DEFAULT_KYC
    reliance: ReliancePolicy | None = None
    employment: EmploymentPolicy = DEFAULT_EMPLOYMENT
    resale: ResaleRules = field(default_factory=ResaleRules)


_E = TypeVar("_E", bound=StrEnum)


class _Section:
    """One table of the section: typed getters that fail with the field's dotted name."""

    def __init__(
        self,
        table: Mapping[str, Any],
        where: str,
        allowed: set[str],
        locate: Callable[[str], int | None],
        source: str,
    ) -> None:
        self.table, self.where, self.locate, self.source = table, where, locate, source
        for key in table:
            if key not in allowed:
                raise self.fail(key, f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def fail(self, key: str, reason: str) -> PolicyError:
        dotted = f"{self.where}.{key}" if key else self.where
        return PolicyError(self.source, self.locate(dotted), dotted, reason)

    def sub(self, key: str, allowed: set[str]) -> _Section:
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return _Section(value, f"{self.where}.{key}", allowed, self.locate, self.source)

    def has(self, key: str) -> bool:
        return key in self.table

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "missing" if value is None else "must be a non-empty string")
        return value

    def number(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.fail(key, f"must be a whole number >= {minimum}, got {value!r}")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.table.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def members(self, key: str, enum: type[_E], default: tuple[str, ...]) -> frozenset[_E]:
        out = set()
        for item in self.strings(key, default):
            try:
                out.add(enum(item))
            except ValueError:
                allowed = ", ".join(e.value for e in enum)
                raise self.fail(key, f"unknown value {item!r} ({allowed})") from None
        return frozenset(out)

    def algorithms(self, key: str) -> frozenset[str]:
        algs = self.strings(key, ("RS256", "ES256"))
        for alg in algs:
            if alg.lower() == "none" or alg.upper().startswith("HS"):
                raise self.fail(key, f"{alg} is refused: tokens must be signed with a public key")
            if alg not in ASYMMETRIC_ALGORITHMS:
                allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
                raise self.fail(key, f"unknown algorithm {alg!r} ({allowed})")
        if not algs:
            raise self.fail(key, "at least one algorithm is needed")
        return frozenset(algs)


def parse_assurance(
    table: Mapping[str, Any], locate: Callable[[str], int | None], source: str
) -> AssurancePolicy:
    """Validate the ``[assurance]`` table; ``PolicyError`` names file, line and field."""
    if not isinstance(table, Mapping):
        raise PolicyError(source, locate("assurance"), "assurance", "must be a table")
    root = _Section(
        table,
        "assurance",
        {"mfa", "kyc", "data_sim_kyc", "kyc_reliance", "employment", "resale"},
        locate,
        source,
    )
    return AssurancePolicy(
        mfa=_mfa(root) if root.has("mfa") else None,
        kyc=_kyc(root),
        reliance=_reliance(root) if root.has("kyc_reliance") else None,
        employment=_employment(root),
        resale=_resale(root),
    )


def _mfa(root: _Section) -> MfaPolicy:
    s = root.sub(
        "mfa",
        {
            "required_for_additional_lines",
            "channels",
            "jwks",
            "issuer",
            "audience",
            "algorithms",
            "max_age_seconds",
            "leeway_seconds",
            "accepted_amr",
            "accepted_acr",
        },
    )
    combos = []
    for entry in s.strings("accepted_amr", DEFAULT_MFA_AMR):
        combo = frozenset(part.strip() for part in entry.split("+") if part.strip())
        if not combo:
            raise s.fail("accepted_amr", "empty entry")
        if combo <= {"pwd"}:
            raise s.fail("accepted_amr", "a password alone ('pwd') never counts as MFA")
        combos.append(combo)
    return MfaPolicy(
        required_for_additional_lines=s.boolean("required_for_additional_lines", True),
        channels=s.members("channels", Channel, ("online",)),
        jwks=s.text("jwks"),
        issuer=s.text("issuer"),
        audience=s.text("audience"),
        algorithms=s.algorithms("algorithms"),
        max_age_seconds=s.number("max_age_seconds", 600, minimum=1),
        leeway_seconds=s.number("leeway_seconds", 30),
        accepted_amr=tuple(combos),
        accepted_acr=frozenset(s.strings("accepted_acr", ())),
    )


def _kyc(root: _Section) -> KycPolicy:
    s = root.sub("kyc", {c.value for c in Channel})
    methods = {}
    for channel in Channel:
        default = tuple(m.value for m in DEFAULT_KYC.accepted(channel))
        accepted = s.members(channel.value, KycMethod, default)
        if channel is Channel.ONLINE and not accepted <= IC_OR_JPKI:
            weak = ", ".join(sorted(m.value for m in accepted - IC_OR_JPKI))
            raise s.fail(
                channel.value,
                f"since {ONLINE_IC_OR_JPKI_FROM.isoformat()} online contracts need IC-chip "
                f"reading or JPKI; remove {weak}",
            )
        methods[channel] = accepted
    d = root.sub("data_sim_kyc", {u.value for u in DataSimUse})
    data_sim = {use: d.boolean(use.value, DEFAULT_KYC.data_sim[use]) for use in DataSimUse}
    return KycPolicy(methods=methods, data_sim=data_sim)


def _reliance(root: _Section) -> ReliancePolicy:
    s = root.sub(
        "kyc_reliance",
        {"issuers", "audience", "allowed_evidence", "max_age_days", "algorithms", "leeway_seconds"},
    )
    raw = s.table.get("issuers", [])
    if not isinstance(raw, list) or not raw:
        raise s.fail("issuers", "must list at least one trusted issuer ([[...issuers]])")
    issuers = []
    for body in raw:
        if not isinstance(body, dict):
            raise s.fail("issuers", "each issuer must be a table with issuer and jwks")
        one = _Section(body, f"{s.where}.issuers", {"issuer", "jwks"}, s.locate, s.source)
        issuers.append(TrustedIssuer(one.text("issuer"), one.text("jwks")))
    evidence = frozenset(s.strings("allowed_evidence", ("electronic_signature",)))
    if not evidence:
        raise s.fail("allowed_evidence", "at least one evidence type is needed")
    return ReliancePolicy(
        issuers=tuple(issuers),
        audience=s.text("audience") if s.has("audience") else None,
        allowed_evidence=evidence,
        max_age_days=s.number("max_age_days", 365, minimum=1),
        algorithms=s.algorithms("algorithms"),
        leeway_seconds=s.number("leeway_seconds", 30),
    )


def _employment(root: _Section) -> EmploymentPolicy:
    s = root.sub("employment", {"required", "accepted"})
    accepted = s.members("accepted", EmploymentCheck, tuple(e.value for e in EmploymentCheck))
    if not accepted:
        raise s.fail("accepted", "at least one way of verifying employment is needed")
    return EmploymentPolicy(required=s.boolean("required", True), accepted=accepted)


def _resale(root: _Section) -> ResaleRules:
    base = ResaleRules()
    names = set(ResaleRules.__dataclass_fields__)
    s = root.sub("resale", names)
    values = {name: s.number(name, getattr(base, name)) for name in names}
    try:
        return ResaleRules(**values)
    except ValueError as exc:
        raise s.fail("", str(exc)) from None
