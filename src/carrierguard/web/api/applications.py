"""``/v1`` routes of Pillar C: applications, holders, lines."""

from __future__ import annotations

import asyncio
import hashlib
import time
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from carrierguard.auth import Permission, Role
from carrierguard.contracts.assurance import AssuranceEvidence
from carrierguard.contracts.corporate import EmploymentRecord
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import Application, Channel, HolderIdentity, LineRequest
from carrierguard.contracts.service import ScreeningResult, ScreeningService
from carrierguard.errors import PermissionDenied
from carrierguard.web.api.schemas import ApplicationIn, ApplicationOut, ErrorOut, HolderOut, LineOut
from carrierguard.web.deps import Caller, get_service, require

router = APIRouter(prefix="/v1", tags=["screening"])
MAX_ID = 2**63 - 1
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorOut} for status in (401, 403, 404, 409, 422, 503)
}
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retried POST return the first answer instead of a second application.",
    ),
]
Service = Annotated[ScreeningService, Depends(get_service)]


def to_evidence(body: ApplicationIn) -> AssuranceEvidence:
    """What the application brings for the assurance rules (tokens, records, data use)."""
    emp = body.employment
    return AssuranceEvidence(
        id_token=body.mfa.id_token if body.mfa else None,
        idp_subject=body.mfa.idp_subject if body.mfa else None,
        relied_assertion=body.kyc.assertion if body.kyc else None,
        employment=EmploymentRecord(
            check=emp.check, reference=emp.reference, verified_by=emp.verified_by
        )
        if emp
        else None,
        data_use=body.data_use,
    )


def to_application(body: ApplicationIn, service: ScreeningService) -> Application:
    h = body.holder
    return Application(
        channel=body.channel,
        holder=HolderIdentity(
            kind=h.kind,
            name=h.name,
            name_kana=h.name_kana,
            birth_date=h.birth_date,
            address=h.address,
            postal_code=h.postal_code,
            corporate_number=h.corporate_number,
        ),
        lines=tuple(LineRequest(SimType(ln.sim_type)) for ln in body.lines),
        applied_on=service.today(),
        kyc_method=body.kyc.method.value if body.kyc else None,
    )


async def screen(
    service: ScreeningService,
    application: Application,
    *,
    evidence: AssuranceEvidence,
    submitted_by: int,
    actor: str,
    idempotency_key: str | None,
    request_hash: str,
) -> ScreeningResult:
    """``service.screen`` from the event loop: queued for the next PostgreSQL group when
    nothing on the way waits on I/O (no worker thread per request), else in a thread."""
    loop = asyncio.get_running_loop()
    finished = loop.create_future()

    def done() -> None:  # from the group's thread
        loop.call_soon_threadsafe(_settle, finished)

    job = service.queue_screening(
        application,
        evidence=evidence,
        submitted_by=submitted_by,
        actor=actor,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        done=done,
    )
    if job is None:
        return await run_in_threadpool(
            partial(
                service.screen,
                application,
                evidence=evidence,
                submitted_by=submitted_by,
                actor=actor,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
        )
    await finished
    return service.finish_queued(job)


def _settle(finished: asyncio.Future[None]) -> None:
    if not finished.done():
        finished.set_result(None)


@router.post("/applications", status_code=201, response_model=ApplicationOut, responses=ERRORS)
async def create_application(
    body: ApplicationIn,
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.APPLICATIONS_CREATE))],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Screen an application: approve, review or refuse, with reasons (審査)."""
    service: ScreeningService = request.app.state.service  # one dependency less to solve
    if caller.role is Role.AGENCY_CLERK and body.channel is not Channel.AGENCY:
        raise PermissionDenied(
            "an agency key may only submit applications with channel 'agency'",
            message_ja="代理店の API キーでは channel='agency' の申込みのみ送信できます。",
        )
    started = time.perf_counter()
    request_hash = ""
    if idempotency_key is not None:  # only a retry is compared with the first request
        request_hash = hashlib.sha256(body.model_dump_json().encode("utf-8")).hexdigest()
    result = await screen(
        service,
        to_application(body, service),
        evidence=to_evidence(body),
        submitted_by=caller.key_id,
        actor=caller.actor,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    headers = {}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        metrics = request.app.state.metrics
        metrics.decisions.labels(result.record.outcome.value, body.channel.value).inc()
        metrics.screening_seconds.observe(time.perf_counter() - started)
    # Serialised once here (FastAPI would validate the model again against response_model).
    return Response(
        ApplicationOut.of(result.record).model_dump_json(),
        status_code=201,
        headers=headers,
        media_type="application/json",
    )


@router.get("/applications/{application_id}", response_model=ApplicationOut, responses=ERRORS)
def get_application(
    application_id: IdPath,
    service: Service,
    _: Annotated[Caller, Depends(require(Permission.APPLICATIONS_READ))],
) -> ApplicationOut:
    """The application as first answered, with its lines' current states."""
    return ApplicationOut.of(service.application(application_id))


@router.get("/holders/{holder_id}", response_model=HolderOut, responses=ERRORS)
def get_holder(
    holder_id: IdPath,
    service: Service,
    _: Annotated[Caller, Depends(require(Permission.HOLDERS_READ))],
) -> HolderOut:
    """A holder's kind and lines (no personal data)."""
    return HolderOut.of(service.holder(holder_id))


@router.post("/lines/{line_id}/terminate", response_model=LineOut, responses=ERRORS)
def terminate_line(
    line_id: IdPath,
    service: Service,
    caller: Annotated[Caller, Depends(require(Permission.LINES_TERMINATE))],
) -> LineOut:
    """Terminate a line (解約); a reserved line's reservation lapses."""
    return LineOut.of(service.terminate_line(line_id, actor=caller.actor))
