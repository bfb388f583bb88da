"""Headquarters review pages (Jinja2 + htmx): login with TOTP, the queue, the case page.

Every form carries a CSRF token: the session's own after login, a double-submit cookie
before it. Session cookies are HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from carrierguard.auth import Permission, allowed
from carrierguard.contracts.cases import CaseService
from carrierguard.contracts.review import OPEN_STATES, REFUSAL_CODES, CaseState
from carrierguard.contracts.service import ScreeningService
from carrierguard.errors import CarrierGuardError, PermissionDenied
from carrierguard.store.cases import holder_cases
from carrierguard.store.registry import LineRecord
from carrierguard.web.ui.accounts import Accounts, Session
from carrierguard.web.ui.i18n import translator

SESSION_COOKIE = "cg_session"
LOGIN_CSRF_COOKIE = "cg_login_csrf"
LANG_COOKIE = "cg_lang"

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(
    directory=str(resources.files("carrierguard.web.ui").joinpath("templates"))
)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(resources.files("carrierguard.web.ui").joinpath("static")))


def _lang(request: Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "ja"


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def _service(request: Request) -> ScreeningService:
    service: ScreeningService = request.app.state.service
    return service


def _session(request: Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return _accounts(request).session(token, _service(request).clock())


def render(
    request: Request, name: str, session: Session | None, status: int = 200, **ctx: Any
) -> HTMLResponse:
    lang = _lang(request)
    context = {
        "request": request,
        "lang": lang,
        "t": translator(lang),
        "user": session.user if session else None,
        "can": (lambda perm: session is not None and allowed(session.user.role, Permission(perm))),
        "csrf": session.csrf if session else ctx.pop("csrf", ""),
        **ctx,
    }
    return templates.TemplateResponse(request, name, context, status_code=status)


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def _lines_by_pool(
    request: Request, lines: Iterable[LineRecord]
) -> list[tuple[tuple[str, str], int]]:
    """((pool, line state), count) rows for the pages, under the policy in force."""
    policy = _service(request).policy
    return sorted(
        Counter((policy.pool_of(ln.sim_type).name, ln.state.value) for ln in lines).items()
    )


def _check_csrf(session: Session, token: str) -> None:
    if not secrets.compare_digest(session.csrf, token):
        raise PermissionDenied(
            "invalid CSRF token",
            message_ja="フォームの有効期限が切れました。再読み込みしてください。",
        )


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/cases", status_code=303)


@router.get("/lang/{lang}")
def set_lang(lang: str, next: str = "/cases") -> RedirectResponse:
    target = next if next.startswith("/") and not next.startswith("//") else "/cases"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        LANG_COOKIE, "en" if lang == "en" else "ja", samesite="strict", max_age=365 * 86400
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    code: Annotated[str, Form(max_length=12)],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf):
        return render(
            request,
            "login.html",
            None,
            403,
            csrf=csrf,
            error=translator(_lang(request))("login") + ": CSRF",
        )
    try:
        token, _ = _accounts(request).login(username, password, code, _service(request).clock())
    except CarrierGuardError as exc:
        message = exc.message if _lang(request) == "en" else exc.message_ja
        retry = secrets.token_urlsafe(24)
        failed = render(request, "login.html", None, 401, csrf=retry, error=message)
        failed.set_cookie(LOGIN_CSRF_COOKIE, retry, httponly=True, samesite="strict")
        return failed
    signed_in = _accounts(request).session(token, _service(request).clock())
    mail_only = signed_in is not None and allowed(signed_in.user.role, Permission.QUARANTINE_READ)
    home = "/quarantine" if mail_only else "/cases"
    response = RedirectResponse(home, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    session = _session(request)
    if session is not None:
        _check_csrf(session, csrf)
        _accounts(request).logout(request.cookies.get(SESSION_COOKIE, ""))
    response = _to_login()
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/cases", response_class=HTMLResponse)
def queue(request: Request, state: str = "", channel: str = "", overdue: str = "") -> Response:
    session = _session(request)
    if session is None:
        return _to_login()
    if not allowed(session.user.role, Permission.CASES_READ):
        raise PermissionDenied(f"role {session.user.role.value} may not read cases")
    states = [CaseState(state)] if state in {s.value for s in CaseState} else list(OPEN_STATES)
    cases: CaseService = request.app.state.cases
    found = cases.queue(
        states=states,
        channel=channel if channel in ("store", "agency", "online") else None,
        overdue=bool(overdue),
        limit=200,
    )
    now = _service(request).clock().replace(tzinfo=None)
    overdue_ids = {
        c.case_id
        for c in found
        if c.state in OPEN_STATES and c.sla_due_at.replace(tzinfo=None) < now
    }
    return render(
        request,
        "queue.html",
        session,
        cases=found,
        states=[s.value for s in CaseState],
        selected_state=state,
        selected_channel=channel,
        overdue=bool(overdue),
        overdue_ids=overdue_ids,
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: int, flash: str = "") -> Response:
    session = _session(request)
    if session is None:
        return _to_login()
    if not allowed(session.user.role, Permission.CASES_READ):
        raise PermissionDenied(f"role {session.user.role.value} may not read cases")
    cases: CaseService = request.app.state.cases
    view = cases.view(case_id)
    return render(
        request,
        "case.html",
        session,
        view=view,
        pools=_lines_by_pool(request, view.holder.lines),
        refusal_codes=REFUSAL_CODES,
        can_decide=allowed(session.user.role, Permission.CASES_DECIDE),
        flash=translator(_lang(request))("done") if flash else "",
    )


@router.get("/holders/{holder_id}", response_class=HTMLResponse)
def holder_page(request: Request, holder_id: int) -> Response:
    session = _session(request)
    if session is None:
        return _to_login()
    if not allowed(session.user.role, Permission.HOLDERS_READ):
        raise PermissionDenied(f"role {session.user.role.value} may not read holders")
    service = _service(request)
    with service.registry.read() as tx:
        holder = tx.holder(holder_id)
        flags = tx.risk_flags(holder_id)
        cases = holder_cases(tx.conn, holder_id)
    return render(
        request,
        "holder.html",
        session,
        holder=holder,
        pools=_lines_by_pool(request, holder.lines),
        flags=flags,
        cases=cases,
    )


@router.post("/cases/{case_id}/decision")
def decide(
    request: Request,
    case_id: int,
    action: Annotated[str, Form(pattern="^(approve|refuse)$")],
    comment: Annotated[str, Form(max_length=2000)],
    csrf: Annotated[str, Form(max_length=100)],
    reason_code: Annotated[str, Form(max_length=48)] = "",
) -> Response:
    return _act(
        request,
        case_id,
        csrf,
        lambda cases, actor: cases.decide(
            case_id,
            actor=actor,
            approve=action == "approve",
            comment=comment,
            reason_code=reason_code or None,
        ),
    )


@router.post("/cases/{case_id}/request-info")
def request_info(
    request: Request,
    case_id: int,
    note: Annotated[str, Form(max_length=2000)],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    return _act(
        request,
        case_id,
        csrf,
        lambda cases, actor: cases.request_info(case_id, actor=actor, note=note),
    )


def _act(request: Request, case_id: int, csrf: str, do: Any) -> Response:
    session = _session(request)
    if session is None:
        return _to_login()
    _check_csrf(session, csrf)
    if not allowed(session.user.role, Permission.CASES_DECIDE):
        raise PermissionDenied(f"role {session.user.role.value} may not decide cases")
    cases: CaseService = request.app.state.cases
    try:
        do(cases, session.user.actor)
    except CarrierGuardError as exc:
        view = cases.view(case_id)
        message = exc.message if _lang(request) == "en" else exc.message_ja
        return render(
            request,
            "case.html",
            session,
            exc.status,
            view=view,
            pools=_lines_by_pool(request, view.holder.lines),
            refusal_codes=REFUSAL_CODES,
            can_decide=True,
            error=message,
        )
    return RedirectResponse(f"/cases/{case_id}?flash=1", status_code=303)
