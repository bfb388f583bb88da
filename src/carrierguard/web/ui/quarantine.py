"""Quarantine pages for mail operators: the held list, one message, release and feedback.

The body of a held message is shown only when asked for, and each showing is audited
(通信の秘密); releases and labels go through the same functions as ``/v1/mail``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from carrierguard.auth import Permission, allowed
from carrierguard.errors import CarrierGuardError, MailUnreadable, PermissionDenied
from carrierguard.mail.content.extract import read_message
from carrierguard.mail.quarantine import STATES
from carrierguard.web.api.mail import MailOps
from carrierguard.web.ui.accounts import Session
from carrierguard.web.ui.i18n import translator
from carrierguard.web.ui.pages import _check_csrf, _lang, _session, _to_login, render

router = APIRouter(include_in_schema=False)
PREVIEW_CHARS = 4000
FIGURE_DAYS = 30
PAGE_SIZE = 100


def _operator(request: Request, permission: Permission) -> Session | None:
    session = _session(request)
    if session is not None and not allowed(session.user.role, permission):
        raise PermissionDenied(
            f"role {session.user.role.value} may not {permission.value}",
            message_ja="隔離メールを扱う権限がありません (mail_operator のみ)。",
        )
    return session


def _ops(request: Request) -> MailOps:
    ops: MailOps = request.app.state.mail
    return ops


@router.get("/quarantine", response_class=HTMLResponse)
def held_list(request: Request, state: str = "held", after: str = "") -> Response:
    """The newest page of held mail (``after``: the pages behind it), with the figures."""
    session = _operator(request, Permission.QUARANTINE_READ)
    if session is None:
        return _to_login()
    chosen = state if state in (*STATES, "all") else "held"
    ops = _ops(request)
    entries = ops.quarantine.list(
        None if chosen == "all" else chosen,
        limit=PAGE_SIZE,
        after=after if after.isalnum() else None,
        newest_first=True,
    )
    return render(
        request,
        "quarantine.html",
        session,
        entries=entries,
        next_after=entries[-1].id if len(entries) == PAGE_SIZE else "",
        states=STATES,
        selected_state=chosen,
        figures=ops.false_blocks(FIGURE_DAYS),
        figure_days=FIGURE_DAYS,
    )


@router.get("/quarantine/{entry_id}", response_class=HTMLResponse)
def held_item(request: Request, entry_id: str, body: str = "", flash: str = "") -> Response:
    session = _operator(request, Permission.QUARANTINE_READ)
    if session is None:
        return _to_login()
    ops = _ops(request)
    entry = ops.quarantine.entry(entry_id)
    subject, preview = "", None
    if body:
        raw = ops.read(entry.id, session.user.actor, via="page")
        try:
            text = read_message(raw)
            subject, preview = text.subject, text.body[:PREVIEW_CHARS]
        except MailUnreadable as exc:
            preview = exc.message_ja if _lang(request) == "ja" else exc.message
    t = translator(_lang(request))
    return render(
        request,
        "quarantine_item.html",
        session,
        entry=entry,
        subject=subject,
        preview=preview,
        flash=t(flash) if flash in ("q_released", "q_feedback_saved") else "",
    )


@router.post("/quarantine/{entry_id}/release")
async def release_item(
    request: Request, entry_id: str, csrf: Annotated[str, Form(max_length=100)]
) -> Response:
    session = _operator(request, Permission.QUARANTINE_RELEASE)
    if session is None:
        return _to_login()
    _check_csrf(session, csrf)
    try:
        entry = await _ops(request).release(entry_id, session.user.actor, via="page")
    except CarrierGuardError as exc:
        return _failed(request, session, entry_id, exc)
    return RedirectResponse(f"/quarantine/{entry.id}?flash=q_released", status_code=303)


@router.post("/quarantine/{entry_id}/feedback")
def feedback_item(
    request: Request,
    entry_id: str,
    label: Annotated[str, Form(pattern="^(phishing|not_phishing)$")],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    session = _operator(request, Permission.QUARANTINE_RELEASE)
    if session is None:
        return _to_login()
    _check_csrf(session, csrf)
    entry = _ops(request).label(entry_id, label, session.user.actor, via="page")
    return RedirectResponse(f"/quarantine/{entry.id}?flash=q_feedback_saved", status_code=303)


def _failed(request: Request, session: Session, entry_id: str, exc: CarrierGuardError) -> Response:
    entry = _ops(request).quarantine.entry(entry_id)
    message = exc.message if _lang(request) == "en" else exc.message_ja
    return render(
        request,
        "quarantine_item.html",
        session,
        exc.status,
        entry=entry,
        subject="",
        preview=None,
        error=message,
    )
