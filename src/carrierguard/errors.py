"""The one error tree of CarrierGuard.

Every error knows its stable reason ``code``, its HTTP ``status`` and a message in
Japanese and English, so the web layer maps errors mechanically and the CLI
prints them without a traceback. Foreign exceptions (SQLAlchemy, dnspython,
HTTP clients) are translated at the edge with ``raise ... from exc``; the core
never sees them.

    CarrierGuardError                    500 INTERNAL_ERROR
    ├── InvalidInput                     422 INVALID_REQUEST
    │   ├── PolicyError                  422 POLICY_INVALID   (file, line, field)
    │   ├── MessageUnreadable            422 MESSAGE_UNREADABLE
    │   ├── MailUnreadable               422 MAIL_UNREADABLE
    │   └── InvalidDate                  422 DATE_INVALID
    ├── AuthenticationFailed             401 AUTHENTICATION_REQUIRED
    ├── PermissionDenied                 403 ROLE_FORBIDDEN
    ├── NotFound                         404 NOT_FOUND
    ├── Conflict                         409 CONFLICT
    │   ├── IdempotencyKeyReused         409 IDEMPOTENCY_KEY_REUSED
    │   └── InvalidTransition            409 INVALID_STATE_TRANSITION
    ├── ReleaseFailed                    502 RELEASE_FAILED   (quarantine release)
    ├── StoreUnavailable                 503 STORE_UNAVAILABLE
    ├── DnsTemporaryFailure              503 DNS_TEMPORARY_FAILURE
    ├── ModelUnavailable                 503 MODEL_UNAVAILABLE
    ├── KeySetUnavailable                503 JWKS_UNAVAILABLE
    └── MilterProtocolError              500 MILTER_PROTOCOL_ERROR
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One bad field of an input, named by its dotted path."""

    field: str
    message: str


class CarrierGuardError(Exception):
    """Root of every error CarrierGuard raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_ja: ClassVar[str] = "内部エラーが発生しました。"

    def __init__(self, message: str, *, message_ja: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_ja = message_ja or self.default_ja

    def to_dict(self) -> dict[str, object]:
        """Render for JSON bodies and structured logs."""
        return {"code": self.code, "message_en": self.message, "message_ja": self.message_ja}


class InvalidInput(CarrierGuardError):
    """Input that cannot be accepted; ``problems`` names each bad field."""

    status = 422
    code = "INVALID_REQUEST"
    default_ja = "入力内容に誤りがあります。"

    def __init__(
        self,
        message: str,
        *,
        problems: tuple[FieldProblem, ...] = (),
        message_ja: str | None = None,
    ) -> None:
        super().__init__(message, message_ja=message_ja)
        self.problems = problems

    def to_dict(self) -> dict[str, object]:
        body = CarrierGuardError.to_dict(self)
        body["fields"] = [{"field": p.field, "message": p.message} for p in self.problems]
        return body


class PolicyError(InvalidInput):
    """A policy file that fails to load; the message names file, line and field."""

    code = "POLICY_INVALID"
    default_ja = "ポリシーファイルが不正です。"

    def __init__(self, path: str, line: int | None, field: str, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(
            f"{where}: field '{field}': {reason}",
            problems=(FieldProblem(field, reason),),
            message_ja=f"{where}: 項目 '{field}' が不正です: {reason}",
        )
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason


class AuthenticationFailed(CarrierGuardError):
    status = 401
    code = "AUTHENTICATION_REQUIRED"
    default_ja = "認証が必要です。有効な API キーを指定してください。"


class PermissionDenied(CarrierGuardError):
    status = 403
    code = "ROLE_FORBIDDEN"
    default_ja = "この操作を行う権限がありません。"


class NotFound(CarrierGuardError):
    status = 404
    code = "NOT_FOUND"
    default_ja = "指定されたものが見つかりません。"


class Conflict(CarrierGuardError):
    status = 409
    code = "CONFLICT"
    default_ja = "現在の状態ではこの操作はできません。"


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"
    default_ja = "この Idempotency-Key は別の内容の申込みで使用済みです。"


class InvalidTransition(Conflict):
    code = "INVALID_STATE_TRANSITION"
    default_ja = "この状態遷移は許可されていません。"


class StoreUnavailable(CarrierGuardError):
    status = 503
    code = "STORE_UNAVAILABLE"
    default_ja = "データベースに接続できません。しばらくしてから再試行してください。"


# --- Pillar M: mail authentication -------------------------------------------------------------
#
#    CarrierGuardError
#    ├── InvalidInput
#    │   └── MessageUnreadable           422 MESSAGE_UNREADABLE
#    ├── DnsTemporaryFailure             503 DNS_TEMPORARY_FAILURE  (name, rdtype, reason)
#    └── MilterProtocolError             500 MILTER_PROTOCOL_ERROR


class MessageUnreadable(InvalidInput):
    """A mail message that cannot be parsed at all (not a policy failure: those are results)."""

    code = "MESSAGE_UNREADABLE"
    default_ja = "メッセージを解析できません。"


class DnsTemporaryFailure(CarrierGuardError):
    """A DNS lookup that timed out or got SERVFAIL; checks turn it into ``temperror``."""

    status = 503
    code = "DNS_TEMPORARY_FAILURE"
    default_ja = "DNS の問い合わせが一時的に失敗しました。"

    def __init__(self, name: str, rdtype: str, reason: str) -> None:
        super().__init__(
            f"DNS lookup {name} {rdtype} failed: {reason}",
            message_ja=f"DNS の問い合わせ {name} {rdtype} が一時的に失敗しました: {reason}",
        )
        self.name = name
        self.rdtype = rdtype
        self.reason = reason


class MilterProtocolError(CarrierGuardError):
    """The MTA sent bytes that break the milter protocol; the session is closed."""

    code = "MILTER_PROTOCOL_ERROR"
    default_ja = "milter プロトコルのエラーです。"


class MailUnreadable(InvalidInput):
    """A message that cannot be read as mail at all (empty, too large, not RFC 5322)."""

    code = "MAIL_UNREADABLE"
    default_ja = "メールとして読み取れません。"


class ReleaseFailed(CarrierGuardError):
    """The MTA did not take a released message; it stays in the quarantine."""

    status = 502
    code = "RELEASE_FAILED"


class ModelUnavailable(CarrierGuardError):
    """The phishing model file is missing, corrupt or of an unknown version."""

    status = 503
    code = "MODEL_UNAVAILABLE"
    default_ja = "判定モデルを読み込めません。"


class InvalidDate(InvalidInput):
    """A date (a birth date) written in no notation we can read; names the text and why."""

    code = "DATE_INVALID"
    default_ja = "日付を読み取れません。"

    def __init__(self, text: str, reason: str, reason_ja: str | None = None) -> None:
        super().__init__(
            f"cannot read date {text!r}: {reason}",
            problems=(FieldProblem("birth_date", reason),),
            message_ja=f"日付 {text!r} を読み取れません: {reason_ja or reason}",
        )
        self.text = text
        self.reason = reason


# --- Pillar C: assurance ------------------------------------------------------------------------
#
#    CarrierGuardError
#    └── KeySetUnavailable               503 JWKS_UNAVAILABLE  (location, reason)


class KeySetUnavailable(CarrierGuardError):
    """A JWKS (IdP or trusted KYC issuer keys) that cannot be read or fetched."""

    status = 503
    code = "JWKS_UNAVAILABLE"
    default_ja = "署名検証用の鍵セット（JWKS）を取得できません。"

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(
            f"cannot load JWKS {location}: {reason}",
            message_ja=f"鍵セット（JWKS）{location} を取得できません: {reason}",
        )
        self.location = location
        self.reason = reason


# --- Cross-carrier count (C1) -------------------------------------------------------------------


class CrossCarrierUnavailable(CarrierGuardError):
    """The industry hub did not answer, answered badly, or failed its VOPRF proof."""

    status = 502
    code = "CROSS_CARRIER_UNAVAILABLE"
    default_ja = "他社回線数の照会基盤に接続できません。"


class CrossCarrierNotConfigured(CarrierGuardError):
    """This server holds no VOPRF key, so it cannot act as the hub's evaluator."""

    status = 503
    code = "CROSS_CARRIER_NOT_CONFIGURED"
    default_ja = "このサーバーには他社回線数照会の鍵が設定されていません。"


class RateLimited(CarrierGuardError):
    """A caller used up its allowance for the period (``retry_after`` seconds until the next)."""

    status = 429
    code = "RATE_LIMITED"
    default_ja = "利用上限に達しました。時間をおいて再試行してください。"

    def __init__(self, message: str, *, retry_after: int, message_ja: str | None = None) -> None:
        super().__init__(message, message_ja=message_ja)
        self.retry_after = retry_after
