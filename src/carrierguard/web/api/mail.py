"""``/v1/mail``: the quarantine (list, read, release, feedback) and recipients' filter strengths.

Held mail is the content of communications (通信の秘密): only the role ``mail_operator``
may list, read, release or label it, and every read of a message body, every release
and every label is written to the audit trail. Strengths per recipient may also be set
by ``system`` (the carrier's customer portal, where a subscriber picks 弱/標準/強).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from carrierguard.auth import Permission
from carrierguard.config import Settings
from carrierguard.contracts.service import ScreeningService
from carrierguard.mail.false_blocks import FalseBlockReport
from carrierguard.mail.quarantine import STATES, Quarantine, QuarantineEntry, QuarantineStore
from carrierguard.mail.recipients import normalized_address
from carrierguard.mail.release import SmtpRelay, record_feedback, release
from carrierguard.mail.reputation import ReputationStore
from carrierguard.store import audit
from carrierguard.web.api.applications import ERRORS, Service
from carrierguard.web.deps import Caller, require

router = APIRouter(prefix="/v1/mail", tags=["mail"])
MAIL_ERRORS = {**ERRORS, 502: ERRORS[503]}
QuarantineId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{24}$")]
ADDRESS_PATTERN = r"^[^\s<>@]{1,64}@[^\s<>@]{1,253}$"


class MailOps:
    """The quarantine operations, each with its audit entry, for the API and the pages.

    Built from the settings; the quarantine (the directory, or with ``quarantine="db"`` the
    registry database) opens on first use.
    """

    def __init__(self, settings: Settings, service: ScreeningService) -> None:
        self.settings = settings
        self.service = service
        self.relay = SmtpRelay.parse(settings.release_smtp)
        self.feedback_dir = settings.feedback_dir

    @cached_property
    def quarantine(self) -> Quarantine:
        if self.settings.quarantine == "db":
            from carrierguard.store.quarantine import DbQuarantine

            key = self.settings.resolved_data_key()
            return DbQuarantine(self.service.registry.engine, key)
        return QuarantineStore(self.settings.quarantine_dir)

    @cached_property
    def reputation(self) -> ReputationStore | None:
        if not self.settings.reputation_redis:
            return None
        import redis

        from carrierguard.mail.reputation import RedisReputationStore

        return RedisReputationStore(redis.Redis.from_url(self.settings.reputation_redis))

    def read(self, entry_id: str, actor: str, **context: str) -> bytes:
        """The held bytes; every read of a message body is audited."""
        raw = self.quarantine.get(entry_id)
        self._audit(actor, "quarantine.read", entry_id, {"size": len(raw), **context})
        return raw

    async def release(self, entry_id: str, actor: str, **context: str) -> QuarantineEntry:
        entry = await release(self.quarantine, entry_id, self.relay, actor=actor)
        payload = {"recipients": len(entry.recipients), "reasons": list(entry.reasons)}
        self._audit(actor, "quarantine.released", entry_id, {**payload, **context})
        return entry

    def label(self, entry_id: str, label: str, actor: str, **context: str) -> QuarantineEntry:
        entry = record_feedback(
            self.quarantine,
            entry_id,
            label,
            actor=actor,
            feedback_dir=self.feedback_dir,
            reputation=self.reputation,
        )
        self._audit(actor, "quarantine.feedback", entry_id, {"label": label, **context})
        return entry

    def false_blocks(self, days: int) -> FalseBlockReport:
        """Figures for the messages held in the last ``days`` days."""
        until = datetime.now(UTC)
        return self.quarantine.false_blocks(until - timedelta(days=days), until)

    def _audit(self, actor: str, action: str, entry_id: str, payload: dict[str, Any]) -> None:
        with self.service.registry.write() as tx:
            audit.append(
                tx.conn,
                actor=actor,
                action=action,
                subject=f"quarantine:{entry_id}",
                payload=payload,
                now=datetime.now(UTC),
            )


def get_mail_ops(request: Request) -> MailOps:
    ops: MailOps = request.app.state.mail
    return ops


Ops = Annotated[MailOps, Depends(get_mail_ops)]


class QuarantineOut(BaseModel):
    id: str
    received_at: str
    state: str
    mail_from: str
    recipients: list[str]
    header_from: str
    reasons: list[str]
    size: int
    phishing_probability: float | None
    feedback: str
    released_at: str
    released_by: str


def to_out(entry: QuarantineEntry) -> QuarantineOut:
    data: dict[str, Any] = asdict(entry)
    data["recipients"] = list(entry.recipients)
    data["reasons"] = list(entry.reasons)
    return QuarantineOut.model_validate({k: data[k] for k in QuarantineOut.model_fields})


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Annotated[str, Field(pattern="^(phishing|not_phishing)$")]


class StrengthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strength: Annotated[str, Field(pattern="^(weak|standard|strong)$")] | None


class RecipientOut(BaseModel):
    address: str
    strength: str | None


class UnsetRecipientsOut(BaseModel):
    recipients: list[dict[str, str]]
    next_after: str | None


NEXT_AFTER = "X-Next-After"
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    200: {
        "headers": {
            NEXT_AFTER: {
                "description": "次のページの after / the `after` of the next page "
                "(absent on the last page)",
                "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
            }
        }
    },
}


@router.get("/quarantine", response_model=list[QuarantineOut], responses=LIST_RESPONSES)
def list_quarantine(
    ops: Ops,
    response: Response,
    _: Annotated[Caller, Depends(require(Permission.QUARANTINE_READ))],
    state: Annotated[str, Query(pattern=f"^({'|'.join(STATES)}|all)$")] = "held",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    after: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9a-f]{24}$",
            description="前ページ最後の id / the id of the last entry of the previous page",
        ),
    ] = None,
    order: Annotated[
        str,
        Query(
            pattern="^(oldest|newest)$",
            description="oldest: 受信の古い順 / oldest first; newest: 新しい順 / newest first",
        ),
    ] = "oldest",
) -> list[QuarantineOut]:
    """隔離メール一覧 / Held (or released, deleted, all) messages, one page at a time.

    The order is stable: by received_at, then id (oldest first, or newest first with
    `order=newest`). For the next page pass the id of the last entry as `after` (also
    given in the `X-Next-After` header while the page is full); a shorter page is the
    last. Entries released meanwhile leave the held list without shifting the pages.
    """
    entries = ops.quarantine.list(
        None if state == "all" else state,
        limit=limit,
        after=after,
        newest_first=order == "newest",
    )
    if len(entries) == limit:
        response.headers[NEXT_AFTER] = entries[-1].id
    return [to_out(e) for e in entries]


@router.get("/quarantine/{entry_id}", response_model=QuarantineOut, responses=ERRORS)
def get_quarantined(
    entry_id: QuarantineId,
    ops: Ops,
    _: Annotated[Caller, Depends(require(Permission.QUARANTINE_READ))],
) -> QuarantineOut:
    """One held message's index entry (no content)."""
    return to_out(ops.quarantine.entry(entry_id))


@router.get(
    "/quarantine/{entry_id}/message",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"message/rfc822": {}}}},
)
def get_quarantined_message(
    entry_id: QuarantineId,
    ops: Ops,
    caller: Annotated[Caller, Depends(require(Permission.QUARANTINE_READ))],
) -> Response:
    """The held message itself, as stored (this read is audited)."""
    return Response(ops.read(entry_id, caller.actor), media_type="message/rfc822")


@router.post("/quarantine/{entry_id}/release", response_model=QuarantineOut, responses=MAIL_ERRORS)
async def release_quarantined(
    entry_id: QuarantineId,
    ops: Ops,
    caller: Annotated[Caller, Depends(require(Permission.QUARANTINE_RELEASE))],
) -> QuarantineOut:
    """Deliver a held message to its recipients unchanged (409 if it is not held)."""
    return to_out(await ops.release(entry_id, caller.actor))


@router.post("/quarantine/{entry_id}/feedback", response_model=QuarantineOut, responses=ERRORS)
def feedback_on_quarantined(
    entry_id: QuarantineId,
    body: FeedbackIn,
    ops: Ops,
    caller: Annotated[Caller, Depends(require(Permission.QUARANTINE_RELEASE))],
) -> QuarantineOut:
    """ "phishing" or "not_phishing": feeds the domain reputation and the next training."""
    return to_out(ops.label(entry_id, body.label, caller.actor))


class ReasonFiguresOut(BaseModel):
    code: str
    held: int
    false_blocks: int
    catches: int
    rate_among_reviewed: float | None


class FalseBlocksOut(BaseModel):
    since: datetime
    until: datetime
    held: int
    false_blocks: int
    catches: int
    released: int
    confirmed_rate: float | None
    rate_among_reviewed: float | None
    by_reason: list[ReasonFiguresOut]


@router.get("/false-blocks", response_model=FalseBlocksOut, responses=ERRORS)
def false_blocks(
    ops: Ops,
    _: Annotated[Caller, Depends(require(Permission.MAIL_FIGURES_READ))],
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> FalseBlocksOut:
    """誤遮断の状況 (M4) / held mail later labelled "not phishing", overall and by reason."""
    report = ops.false_blocks(days)
    return FalseBlocksOut(
        since=report.since,
        until=report.until,
        held=report.held,
        false_blocks=report.false_blocks,
        catches=report.catches,
        released=report.released,
        confirmed_rate=report.confirmed_rate,
        rate_among_reviewed=report.rate_among_reviewed,
        by_reason=[
            ReasonFiguresOut(
                code=r.code,
                held=r.held,
                false_blocks=r.false_blocks,
                catches=r.catches,
                rate_among_reviewed=r.rate_among_reviewed,
            )
            for r in report.by_reason
        ],
    )


@router.put("/recipients/{address}", response_model=RecipientOut, responses=ERRORS)
def set_strength(
    address: Annotated[str, PathParam(pattern=ADDRESS_PATTERN, max_length=320)],
    body: StrengthIn,
    service: Service,
    caller: Annotated[Caller, Depends(require(Permission.RECIPIENTS_MANAGE))],
) -> RecipientOut:
    """受信者のフィルター強度 / Set (or with null, clear) one recipient's filter strength."""
    from carrierguard.store.mail_schema import set_recipient_strength

    normal = normalized_address(address)
    now = datetime.now(UTC)
    with service.registry.write() as tx:
        set_recipient_strength(tx.conn, normal, body.strength, now=now, actor=caller.actor)
    return RecipientOut(address=normal, strength=body.strength)


@router.get("/recipients/unset", response_model=UnsetRecipientsOut, responses=ERRORS)
def list_unset(
    service: Service,
    _: Annotated[Caller, Depends(require(Permission.RECIPIENTS_MANAGE))],
    after: Annotated[str, Query(max_length=320)] = "",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> UnsetRecipientsOut:
    """Recipients who never chose a strength: the list for the awareness mail (M3)."""
    from carrierguard.store.mail_schema import unset_recipients

    with service.registry.read() as tx:
        rows = unset_recipients(tx.conn, limit=limit, after=after)
    return UnsetRecipientsOut(
        recipients=[{"address": a, "first_seen": f.isoformat()} for a, f in rows],
        next_after=rows[-1][0] if len(rows) == limit else None,
    )
