"""Case service: drives exception cases through ``review``'s state table, with audit entries.

Every action runs in one transaction with its audit entry. Approval activates the
application's reserved lines; refusal lets them lapse and records the reason code
and its legal basis.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from carrierguard.contracts.applications import ApplicationState
from carrierguard.contracts.lines import LineState
from carrierguard.contracts.model import Decision, Reason
from carrierguard.contracts.reasons import ART_121
from carrierguard.contracts.review import (
    OPEN_STATES,
    REFUSAL_CODES,
    SLA_HOURS,
    ActualUser,
    CaseAction,
    CaseFacts,
    CaseState,
    PurposeCategory,
    approval_blockers,
    initial_case_state,
    next_case_state,
)
from carrierguard.crypto import DataProtector
from carrierguard.errors import Conflict, InvalidInput
from carrierguard.store import audit
from carrierguard.store import cases as sql
from carrierguard.store.cases import CaseEventRecord, CaseRecord
from carrierguard.store.registry import HolderRecord, Registry, RegistryTx

log = structlog.get_logger("carrierguard.cases")


def lines_beyond_cap(decision: Decision) -> int:
    return sum(max(0, u.total - u.cap) for u in decision.usage if u.cap is not None)


def open_case(
    conn: Any,
    *,
    application_id: int,
    holder_id: int,
    channel: str,
    decision: Decision,
    actor: str,
    now: datetime,
) -> int:
    """Open the exception case of a review decision (inside the screening transaction)."""
    state = initial_case_state(decision.escalate_to_hq)
    case_id = sql.insert_case(
        conn,
        **_case_values(application_id, holder_id, channel, decision, state, now),
    )
    sql.insert_event(
        conn, case_id=case_id, actor=actor, action="open", from_state=None, to_state=state, now=now
    )
    return case_id


def pg_open_case(
    tx: RegistryTx,
    *,
    application_id: int,
    holder_id: int,
    channel: str,
    decision: Decision,
    actor: str,
    now: datetime,
) -> int:
    """``open_case`` on PostgreSQL: the case and its event go with the writes the screening
    held back (its application among them) in one round trip."""
    state = initial_case_state(decision.escalate_to_hq)
    return sql.pg_open_case(
        tx,
        actor=actor,
        action="open",
        now=now,
        **_case_values(application_id, holder_id, channel, decision, state, now),
    )


def _case_values(
    application_id: int,
    holder_id: int,
    channel: str,
    decision: Decision,
    state: CaseState,
    now: datetime,
) -> dict[str, Any]:
    """The columns of a new case."""
    return {
        "application_id": application_id,
        "holder_id": holder_id,
        "channel": channel,
        "state": state.value,
        "requires_actual_users": decision.requires_actual_users,
        "lines_beyond_cap": lines_beyond_cap(decision),
        "sla_due_at": now + timedelta(hours=SLA_HOURS),
        "created_at": now,
        "updated_at": now,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class ActualUserView:
    name: str
    birth_date: str
    relationship: str
    verification_method: str
    verified: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseView:
    """Everything the case page shows, decrypted for an authorised reader."""

    case: CaseRecord
    purpose_text: str | None
    pledge_signed_by: str | None
    decision_comment: str | None
    actual_users: list[ActualUserView]
    holder: HolderRecord
    earlier_cases: list[CaseRecord]
    history: list[CaseEventRecord]
    risk_flags: list[str]
    blockers: list[tuple[str, str]] = field(default_factory=list)
    reasons: tuple[Reason, ...] = ()

    @property
    def identity_candidates(self) -> list[str]:
        """Holder ids that screening found may be the same person (IDENTITY_AMBIGUOUS)."""
        rule = next((r for r in self.reasons if r.code == "IDENTITY_AMBIGUOUS"), None)
        if rule is None:
            return []
        return re.findall(r"#(\d+)", rule.message_en)


class CaseService:
    def __init__(
        self, registry: Registry, protector: DataProtector, clock: Callable[[], datetime]
    ) -> None:
        self.registry = registry
        self.protector = protector
        self.clock = clock

    # -- reading ---------------------------------------------------------------------
    def queue(
        self,
        *,
        states: Sequence[CaseState] | None = None,
        channel: str | None = None,
        overdue: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CaseRecord]:
        with self.registry.read() as tx:
            return sql.list_cases(
                tx.conn,
                states=list(states) if states else None,
                channel=channel,
                overdue_at=self.clock() if overdue else None,
                limit=limit,
                offset=offset,
            )

    def view(self, case_id: int) -> CaseView:
        with self.registry.read() as tx:
            case = sql.get_case(tx.conn, case_id)
            users = sql.case_actual_users(tx.conn, case_id)
            holder = tx.holder(case.holder_id)
            earlier = [c for c in sql.holder_cases(tx.conn, case.holder_id) if c.case_id != case_id]
            history = sql.case_history(tx.conn, case_id)
            flags = tx.risk_flags(case.holder_id)
            reasons = tx.application(case.application_id).reasons
        opened = [self.protector.open(u.pii) for u in users]
        return CaseView(
            case=case,
            purpose_text=self._open_text(case.purpose_text),
            pledge_signed_by=self._open_text(case.pledge_signed_by),
            decision_comment=self._open_text(case.decision_comment),
            actual_users=[
                ActualUserView(
                    name=o.get("name", ""),
                    birth_date=o.get("birth_date", ""),
                    relationship=u.relationship.value,
                    verification_method=u.verification_method,
                    verified=u.verified,
                )
                for u, o in zip(users, opened, strict=True)
            ],
            holder=holder,
            earlier_cases=earlier,
            history=history,
            risk_flags=flags,
            blockers=approval_blockers(self._facts(case, sum(u.verified for u in users))),
            reasons=reasons,
        )

    def _open_text(self, blob: bytes | None) -> str | None:
        return self.protector.open(blob).get("text") if blob else None

    def _seal_text(self, text: str) -> bytes:
        return self.protector.seal({"text": text})

    @staticmethod
    def _facts(case: CaseRecord, verified: int) -> CaseFacts:
        return CaseFacts(
            state=case.state,
            pledge_signed=case.pledge_signed_at is not None,
            purpose_given=case.purpose_category is not None,
            requires_actual_users=case.requires_actual_users,
            lines_beyond_cap=case.lines_beyond_cap,
            verified_actual_users=verified,
        )

    # -- acting ----------------------------------------------------------------------
    def _transition(
        self,
        conn: Any,
        case: CaseRecord,
        action: CaseAction,
        actor: str,
        now: datetime,
        payload: dict[str, Any],
        **values: Any,
    ) -> CaseState:
        to = next_case_state(case.state, action)
        sql.update_case(conn, case.case_id, state=to.value, updated_at=now, **values)
        sql.insert_event(
            conn,
            case_id=case.case_id,
            actor=actor,
            action=action.value,
            from_state=case.state,
            to_state=to,
            now=now,
        )
        audit.append(
            conn,
            actor=actor,
            action=f"case.{action.value}",
            subject=f"case:{case.case_id}",
            payload={"from": case.state.value, "to": to.value, **payload},
            now=now,
        )
        log.info("case.action", case_id=case.case_id, action=action.value, to=to.value)
        return to

    def supply_info(
        self,
        case_id: int,
        *,
        actor: str,
        purpose: PurposeCategory | None = None,
        purpose_text: str | None = None,
        pledge_signed_by: str | None = None,
        actual_users: Sequence[ActualUser] = (),
    ) -> CaseState:
        """Add the purpose, the signed pledge and actual users (any of them)."""
        now = self.clock()
        values: dict[str, Any] = {}
        if purpose is not None:
            values["purpose_category"] = purpose.value
            values["purpose_text"] = self._seal_text(purpose_text or "")
        if pledge_signed_by:
            values["pledge_signed_by"] = self._seal_text(pledge_signed_by)
            values["pledge_signed_at"] = now
        with self.registry.write() as tx:
            case = sql.lock_case(tx.conn, case_id)
            for user in actual_users:
                sql.insert_actual_user(
                    tx.conn,
                    case_id=case_id,
                    holder_id=case.holder_id,
                    pii=self.protector.seal(
                        {"name": user.name, "birth_date": user.birth_date.isoformat()}
                    ),
                    relationship=user.relationship,
                    verification_method=user.verification_method,
                    verified=user.verified,
                    now=now,
                )
            payload = {
                "purpose": purpose.value if purpose else None,
                "pledge": bool(pledge_signed_by),
                "actual_users": len(actual_users),
                "verified_actual_users": sum(u.verified for u in actual_users),
            }
            return self._transition(
                tx.conn, case, CaseAction.SUPPLY_INFO, actor, now, payload, **values
            )

    def request_info(self, case_id: int, *, actor: str, note: str) -> CaseState:
        return self._simple(case_id, CaseAction.REQUEST_INFO, actor, {"note_given": bool(note)})

    def escalate(self, case_id: int, *, actor: str) -> CaseState:
        return self._simple(case_id, CaseAction.ESCALATE, actor, {})

    def withdraw(self, case_id: int, *, actor: str) -> CaseState:
        now = self.clock()
        with self.registry.write() as tx:
            case = sql.lock_case(tx.conn, case_id)
            to = self._transition(tx.conn, case, CaseAction.WITHDRAW, actor, now, {})
            sql.settle_application(
                tx.conn,
                application_id=case.application_id,
                state=ApplicationState.WITHDRAWN,
                lines_to=LineState.TERMINATED,
                now=now,
            )
            return to

    def _simple(
        self, case_id: int, action: CaseAction, actor: str, payload: dict[str, Any]
    ) -> CaseState:
        now = self.clock()
        with self.registry.write() as tx:
            case = sql.lock_case(tx.conn, case_id)
            return self._transition(tx.conn, case, action, actor, now, payload)

    def decide(
        self,
        case_id: int,
        *,
        actor: str,
        approve: bool,
        comment: str,
        reason_code: str | None = None,
    ) -> CaseState:
        """Approve (activates the lines) or refuse (they lapse), with a mandatory reason."""
        if not comment.strip():
            raise InvalidInput(
                "a reason (comment) is mandatory", message_ja="判断理由の入力は必須です。"
            )
        if not approve and reason_code not in REFUSAL_CODES:
            raise InvalidInput(
                f"refusal needs a reason_code, one of {', '.join(REFUSAL_CODES)}",
                message_ja="拒否には理由コードが必要です。",
            )
        now = self.clock()
        with self.registry.write() as tx:
            case = sql.lock_case(tx.conn, case_id)
            if approve:
                blockers = approval_blockers(
                    self._facts(case, sql.verified_actual_users(tx.conn, case_id))
                )
                if blockers and case.state in OPEN_STATES:
                    raise Conflict(
                        "the case cannot be approved yet: " + " ".join(en for _, en in blockers),
                        message_ja="承認できません: " + "".join(ja for ja, _ in blockers),
                    )
            action = CaseAction.APPROVE if approve else CaseAction.REFUSE
            code = "EXCEPTION_GRANTED" if approve else str(reason_code)
            payload = {"code": code, "legal_basis": "" if approve else ART_121}
            to = self._transition(
                tx.conn,
                case,
                action,
                actor,
                now,
                payload,
                decided_at=now,
                decided_by=actor,
                decision_code=code,
                decision_comment=self._seal_text(comment),
            )
            sql.settle_application(
                tx.conn,
                application_id=case.application_id,
                state=ApplicationState.APPROVED if approve else ApplicationState.REFUSED,
                lines_to=LineState.ACTIVE if approve else LineState.TERMINATED,
                now=now,
            )
            return to
