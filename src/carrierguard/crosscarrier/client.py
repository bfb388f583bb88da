"""What a carrier runs against the industry hub: tokens, the lookup at screening, publishing.

``HubClient`` speaks HTTP (httpx) to the hub's evaluator and registry with the carrier's API
key, pins the evaluator's VOPRF public key, and translates every failure into
``CrossCarrierUnavailable``. ``lookup`` never raises: a screening must decide even when the
hub is down, so it returns ``Unanswered`` and the policy says what that means.
"""

from __future__ import annotations

import base64
import concurrent.futures
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import structlog

from carrierguard.contracts.cross_carrier import Elsewhere, Unanswered
from carrierguard.contracts.lines import SimType
from carrierguard.crosscarrier import oprf
from carrierguard.errors import CarrierGuardError, CrossCarrierUnavailable
from carrierguard.identity import KEY_VERSION
from carrierguard.store.crosscarrier import Counts

log = structlog.get_logger("carrierguard.cross_carrier")

#: Threads that run lookups, so that a screening can stop waiting at the deadline.
_LOOKUPS = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="xc-lookup")
DEFAULT_TIMEOUT = 0.5  # seconds per request: the hub sits on a screening's critical path
MAX_PUBLISH = 5000  # rows per publish request (the registry's limit)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise CrossCarrierUnavailable(f"the hub sent {what} that is not base64") from exc


@dataclass(frozen=True, slots=True)
class HubSettings:
    """Where the hub is and how we prove who we are (environment ``CARRIERGUARD_XC_*``)."""

    evaluator_url: str
    registry_url: str
    api_key: str
    public_key: bytes
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HubSettings | None:
        """``CARRIERGUARD_XC_EVALUATOR`` (URL), ``CARRIERGUARD_XC_REGISTRY`` (URL, default:
        the evaluator's), ``CARRIERGUARD_XC_API_KEY``, ``CARRIERGUARD_XC_PUBLIC_KEY``
        (base64, printed by ``carrierguard xc keygen`` at the hub). None when unset."""
        env = os.environ if env is None else env
        evaluator = env.get("CARRIERGUARD_XC_EVALUATOR", "").rstrip("/")
        if not evaluator:
            return None
        missing = [
            name
            for name in ("CARRIERGUARD_XC_API_KEY", "CARRIERGUARD_XC_PUBLIC_KEY")
            if not env.get(name)
        ]
        if missing:
            raise ValueError(f"CARRIERGUARD_XC_EVALUATOR is set but {', '.join(missing)} is not")
        try:
            public_key = base64.b64decode(env["CARRIERGUARD_XC_PUBLIC_KEY"], validate=True)
        except ValueError as exc:
            raise ValueError("CARRIERGUARD_XC_PUBLIC_KEY must be base64") from exc
        timeout_text = env.get("CARRIERGUARD_XC_TIMEOUT", "")
        try:
            timeout = float(timeout_text) if timeout_text else DEFAULT_TIMEOUT
        except ValueError:
            timeout = -1.0
        if not 0 < timeout < float("inf"):
            raise ValueError(
                f"CARRIERGUARD_XC_TIMEOUT must be a number of seconds, got {timeout_text!r}"
            )
        return cls(
            evaluator_url=evaluator,
            registry_url=env.get("CARRIERGUARD_XC_REGISTRY", evaluator).rstrip("/"),
            api_key=env["CARRIERGUARD_XC_API_KEY"],
            public_key=public_key,
            timeout=timeout,
        )


def _error_code(response: HttpResponse) -> str:
    """The error code of one of our JSON error bodies, or "" for anything else."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""


class HttpResponse(Protocol):
    @property
    def status_code(self) -> int: ...

    def json(self) -> Any: ...


class HttpSession(Protocol):
    """What the client needs of an HTTP session: httpx.Client, or an in-process TestClient
    (which Starlette builds on its own copy of httpx)."""

    def request(
        self, method: str, url: str, *, json: Any, headers: Mapping[str, str]
    ) -> HttpResponse: ...

    def close(self) -> None: ...


class HubClient:
    """A carrier's connection to the hub. ``http`` may be given (tests pass an in-process one)."""

    def __init__(self, settings: HubSettings, http: HttpSession | None = None) -> None:
        self.settings = settings
        self._http = http or httpx.Client(timeout=settings.timeout)
        self._headers = {
            "Authorization": f"Bearer {settings.api_key}",
            # The hub refuses another normaliser version: its tokens would never match.
            "X-CarrierGuard-Key-Version": str(KEY_VERSION),
        }

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, url: str, body: Mapping[str, Any]) -> Any:
        try:
            response = self._http.request(method, url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise CrossCarrierUnavailable(
                f"the hub at {url} did not answer: {type(exc).__name__}"
            ) from exc
        if response.status_code >= 300:
            raise CrossCarrierUnavailable(
                f"the hub at {url} answered {response.status_code} {_error_code(response)}".rstrip()
            )
        try:
            return response.json()
        except ValueError as exc:
            raise CrossCarrierUnavailable(f"the hub at {url} answered no JSON") from exc

    def tokens(self, identities: Sequence[str]) -> list[str]:
        """The registry token of each identity key (one evaluator round trip per batch)."""
        out: list[str] = []
        for start in range(0, len(identities), oprf.MAX_BATCH):
            blinded = oprf.blind(identities[start : start + oprf.MAX_BATCH])
            answer = self._call(
                "POST",
                f"{self.settings.evaluator_url}/v1/xc/evaluate",
                {"blinded": [b64(e) for e in blinded.elements]},
            )
            if not isinstance(answer, dict) or not isinstance(answer.get("evaluated"), str):
                raise CrossCarrierUnavailable("the evaluator's answer has no 'evaluated'")
            evaluated = unb64(answer["evaluated"], "an evaluation")
            out += oprf.finalize(blinded, evaluated, self.settings.public_key)
        return out

    def elsewhere(self, tokens: Sequence[str]) -> dict[str, Elsewhere]:
        """Lines held at other carriers per token (a token nobody else holds is absent)."""
        answer = self._call(
            "POST", f"{self.settings.registry_url}/v1/xc/holdings/query", {"tokens": list(tokens)}
        )
        found: dict[str, Elsewhere] = {}
        try:
            for row in answer["holdings"]:
                found[str(row["token"])] = Elsewhere(
                    lines={sim: int(row[sim.value]) for sim in SimType},
                    carriers=int(row["carriers"]),
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise CrossCarrierUnavailable("the registry's answer is malformed") from exc
        return found

    def publish(self, rows: Sequence[tuple[str, Counts]]) -> int:
        """Tell the registry our lines per token (zeros remove them); returns rows sent."""
        for start in range(0, len(rows), MAX_PUBLISH):
            chunk = rows[start : start + MAX_PUBLISH]
            self._call(
                "PUT",
                f"{self.settings.registry_url}/v1/xc/holdings",
                {"holdings": [{"token": t, **c.as_dict()} for t, c in chunk]},
            )
        return len(rows)

    def lookup(self, identity: str) -> Elsewhere | Unanswered:
        """What other carriers hold for one person; ``Unanswered`` instead of raising.

        The whole exchange (two round trips) has a deadline of twice the per-request
        timeout: httpx times each read, so a hub that answers a byte at a time could
        otherwise hold a screening for much longer.
        """
        future = _LOOKUPS.submit(self._lookup, identity)
        try:
            return future.result(timeout=2 * self.settings.timeout)
        except concurrent.futures.TimeoutError:
            log.warning("cross_carrier.unavailable", error="deadline passed")
            return Unanswered(f"no answer within {2 * self.settings.timeout:g} s")

    def _lookup(self, identity: str) -> Elsewhere | Unanswered:
        try:
            (token,) = self.tokens([identity])
            return self.elsewhere([token]).get(token, Elsewhere())
        except CarrierGuardError as exc:
            log.warning("cross_carrier.unavailable", error=exc.message)
            return Unanswered(exc.message)
        except Exception as exc:  # a screening must decide whatever the hub does
            log.error("cross_carrier.failed", error=type(exc).__name__)
            return Unanswered(f"internal error ({type(exc).__name__})")
