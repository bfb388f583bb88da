"""The FastAPI application factory: API routes, health, metrics and error mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from carrierguard import __version__
from carrierguard.auth import Permission
from carrierguard.config import Settings
from carrierguard.contracts.cases import CaseService
from carrierguard.contracts.policy import load_policy
from carrierguard.contracts.service import ScreeningService
from carrierguard.crosscarrier.client import HubClient, HubSettings
from carrierguard.crypto import DataProtector
from carrierguard.errors import CarrierGuardError, FieldProblem, InvalidInput, RateLimited
from carrierguard.logs import configure_logging
from carrierguard.store.engine import create_store_engine
from carrierguard.store.registry import Registry
from carrierguard.web.api.admin import router as admin_router
from carrierguard.web.api.applications import router as applications_router
from carrierguard.web.api.cases import router as cases_router
from carrierguard.web.api.crosscarrier import evaluator_from_env, limits_from_env
from carrierguard.web.api.crosscarrier import router as crosscarrier_router
from carrierguard.web.api.events import router as events_router
from carrierguard.web.api.mail import MailOps
from carrierguard.web.api.mail import router as mail_router
from carrierguard.web.deps import Caller, KeyCache, require
from carrierguard.web.limits import BodyLimit, max_body_from_env
from carrierguard.web.ui.accounts import Accounts
from carrierguard.web.ui.hub import router as hub_pages_router
from carrierguard.web.ui.pages import router as pages_router
from carrierguard.web.ui.pages import static_files
from carrierguard.web.ui.quarantine import router as quarantine_pages_router
from carrierguard.web.ui.reports import router as reports_router

log = structlog.get_logger("carrierguard.web")


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    decisions: Counter
    screening_seconds: Histogram


def _metrics() -> Metrics:
    reg = CollectorRegistry()
    return Metrics(
        registry=reg,
        decisions=Counter(
            "carrierguard_decisions", "Screening decisions", ["outcome", "channel"], registry=reg
        ),
        screening_seconds=Histogram(
            "carrierguard_screening_seconds",
            "Time to screen one application",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=reg,
        ),
    )


def build_service(settings: Settings) -> ScreeningService:
    engine = create_store_engine(settings.db_url)
    hub = HubSettings.from_env()  # CARRIERGUARD_XC_*: the cross-carrier hub, if any
    return ScreeningService(
        Registry(engine),
        load_policy(settings.policy_path),
        DataProtector(settings.resolved_data_key()),
        explicit_policy=settings.policy_path is not None,
        cross_carrier=HubClient(hub) if hub is not None else None,
    )


def create_app(
    settings: Settings | None = None, *, service: ScreeningService | None = None
) -> FastAPI:
    """The web application; pass ``service`` to share one with the caller (tests, CLI)."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="CarrierGuard",
        version=__version__,
        description="契約審査とフィッシング対策 / Contract screening and phishing-mail defence.",
    )
    app.state.service = service or build_service(settings)
    svc: ScreeningService = app.state.service
    app.state.cases = CaseService(svc.registry, svc.protector, svc.clock)
    app.state.key_cache = KeyCache()
    app.state.metrics = _metrics()
    app.include_router(applications_router)
    app.include_router(cases_router)
    app.include_router(admin_router)
    app.include_router(events_router)
    app.state.xc_evaluator = evaluator_from_env()  # this server as the hub's evaluator
    app.state.xc_limits = limits_from_env()  # each carrier's daily allowance at the hub
    app.include_router(crosscarrier_router)
    app.state.mail = MailOps(settings, svc)
    app.include_router(mail_router)
    app.state.accounts = Accounts(svc.registry, svc.protector)
    app.include_router(pages_router)
    app.include_router(reports_router)
    app.include_router(quarantine_pages_router)
    app.include_router(hub_pages_router)
    app.mount("/static", static_files(), name="static")
    app.add_middleware(BodyLimit, max_bytes=max_body_from_env())
    _install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    def healthz(request: Request) -> JSONResponse:
        """Liveness and database reachability; carries no data, so it needs no key."""
        ok = request.app.state.service.registry.ping()
        return JSONResponse(
            {"status": "ok" if ok else "degraded", "database": ok}, status_code=200 if ok else 503
        )

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics(
        request: Request, _: Annotated[Caller, Depends(require(Permission.METRICS_READ))]
    ) -> PlainTextResponse:
        """Prometheus metrics (role monitor or admin)."""
        body = generate_latest(request.app.state.metrics.registry)
        return PlainTextResponse(body.decode("utf-8"), media_type=CONTENT_TYPE_LATEST)

    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CarrierGuardError)
    async def _domain_error(_: Request, exc: CarrierGuardError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        if exc.status >= 500:
            log.error("request.failed", code=exc.code, error=exc.message)
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = tuple(
            FieldProblem(".".join(str(p) for p in err["loc"] if p != "body") or "body", err["msg"])
            for err in exc.errors()
        )
        err = InvalidInput("the request is invalid; see fields", problems=problems)
        return JSONResponse({"error": err.to_dict()}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("request.crashed", error_type=exc.__class__.__name__)
        body = CarrierGuardError("internal error").to_dict()
        return JSONResponse({"error": body}, status_code=500)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (used by ``carrierguard serve``)."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)
