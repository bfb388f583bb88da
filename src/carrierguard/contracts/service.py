"""Screening service: drives the registry and the pure ``decide`` in one transaction.

Order inside the transaction is fixed (idempotency key, then holder row) so that two
transactions never wait on each other in opposite orders. The clock is injected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import structlog

from carrierguard.contracts.applications import INITIAL_STATE, ApplicationState, Outcome
from carrierguard.contracts.assurance import (
    AssuranceEvidence,
    AssuranceKeys,
    assess_assurance,
    with_findings,
)
from carrierguard.contracts.assurance_jwks import AssuranceKeyring, needs_key_refresh
from carrierguard.contracts.assurance_reasons import Finding
from carrierguard.contracts.cases import open_case, pg_open_case
from carrierguard.contracts.cross_carrier import (
    CrossCarrierLookup,
    Elsewhere,
    Unanswered,
    applies,
    cross_carrier_findings,
)
from carrierguard.contracts.decide import decide
from carrierguard.contracts.identity_link import (
    IdentityVerdict,
    candidate_strings,
    resolve,
)
from carrierguard.contracts.identity_link import (
    identity_string as identity_string,
)
from carrierguard.contracts.lines import LineEvent, LineState, next_line_state
from carrierguard.contracts.model import (
    Application,
    Decision,
    HolderIdentity,
    Holding,
    PoolUsage,
)
from carrierguard.contracts.policy import Policy
from carrierguard.contracts.policy_keeper import PolicyKeeper
from carrierguard.contracts.resale import LineActivity, ResaleAssessment, assess_resale
from carrierguard.crypto import DataProtector
from carrierguard.errors import IdempotencyKeyReused, StoreUnavailable
from carrierguard.store import audit
from carrierguard.store import events as events_sql
from carrierguard.store.events import parse_assessment
from carrierguard.store.registry import (
    ApplicationRecord,
    HolderRecord,
    LineRecord,
    NewApplication,
    PgAsk,
    PgLookup,
    Registry,
    RegistryTx,
)

JST = timezone(timedelta(hours=9), "JST")
log = structlog.get_logger("carrierguard.screening")


UTC = UTC


def utc_now() -> datetime:
    return datetime.now(UTC)


def sealed_fields(holder: HolderIdentity) -> dict[str, str | None]:
    """The personal fields kept (sealed) for the review pages and identity checks."""
    return {
        "name": holder.name,
        "name_kana": holder.name_kana,
        "birth_date": holder.birth_date.isoformat() if holder.birth_date else None,
        "address": holder.address,
        "postal_code": holder.postal_code,
        "corporate_number": holder.corporate_number,
    }


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    record: ApplicationRecord
    replayed: bool


class ScreeningService:
    """What the API and the CLI call to screen applications and manage lines."""

    def __init__(
        self,
        registry: Registry,
        policy: Policy,
        protector: DataProtector,
        *,
        clock: Callable[[], datetime] = utc_now,
        explicit_policy: bool = True,
        cross_carrier: CrossCarrierLookup | None = None,
    ) -> None:
        self.registry = registry
        self.cross_carrier = cross_carrier
        self.protector = protector
        self.clock = clock
        self.policies = PolicyKeeper(registry, policy, explicit=explicit_policy, clock=clock)
        self._keyrings: dict[str, AssuranceKeyring] = {}
        self._last_keyring: tuple[Policy, AssuranceKeyring] | None = None
        self._group = _GroupCommit()
        self._queued = _QueuedGroups(self._screen_pg_batch)

    @property
    def policy(self) -> Policy:
        """The policy in force (shared by every process through the registry)."""
        return self.policies.current()

    def today(self) -> date:
        """The business date in Japan."""
        return self.clock().astimezone(JST).date()

    def holder_key(self, holder: HolderIdentity) -> str:
        return self.protector.blind_index(identity_string(holder))

    def screen(
        self,
        application: Application,
        *,
        evidence: AssuranceEvidence | None = None,
        submitted_by: int | None = None,
        actor: str = "cli",
        idempotency_key: str | None = None,
        request_hash: str = "",
    ) -> ScreeningResult:
        """Decide ``application`` and store the decision, its lines and its reasons atomically."""
        screening = self._prepare(
            application,
            evidence=evidence,
            submitted_by=submitted_by,
            actor=actor,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        if self.registry.dialect == "postgresql":
            result = self._group.run(_Job(screening), self._screen_pg_batch)
        else:
            result = self._screen_generic(screening)
        _log_decided(application, result)
        return result

    def queue_screening(
        self,
        application: Application,
        *,
        evidence: AssuranceEvidence | None = None,
        submitted_by: int | None = None,
        actor: str = "cli",
        idempotency_key: str | None = None,
        request_hash: str = "",
        done: Callable[[], None],
    ) -> _Job | None:
        """``screen`` without a thread waiting for it, for a caller on an event loop.

        On PostgreSQL, when nothing on the way may wait on the network or the registry (no
        ID token or relied assertion to check against a JWKS, no cross-carrier lookup, no
        policy check due), the screening is prepared here and queued for the next group,
        which one thread of this service runs; ``done()`` is then called from that thread
        once the job has its result or error, and ``finish_queued`` gives the answer. Returns
        None when the caller must call ``screen`` (in a thread) instead.
        """
        if self.registry.dialect != "postgresql":
            return None
        policy = self.policies.current_if_fresh()
        evidence = evidence or AssuranceEvidence()
        if (
            policy is None
            or evidence.id_token
            or evidence.relied_assertion
            or applies(application, policy)
        ):
            return None
        screening = self._prepare(
            application,
            evidence=evidence,
            submitted_by=submitted_by,
            actor=actor,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            policy=policy,
        )
        job = _Job(screening, done=done)
        self._queued.put(job)
        return job

    @staticmethod
    def finish_queued(job: _Job) -> ScreeningResult:
        """The answer of a job from ``queue_screening`` once it is done (``screen``'s)."""
        if job.error is not None:
            raise job.error
        assert job.result is not None
        _log_decided(job.screening.application, job.result)
        return job.result

    def _prepare(
        self,
        application: Application,
        *,
        evidence: AssuranceEvidence | None,
        submitted_by: int | None,
        actor: str,
        idempotency_key: str | None,
        request_hash: str,
        policy: Policy | None = None,
    ) -> _Screening:
        """What a screening needs before its transaction (keys, policy, identity keys)."""
        if policy is None:  # before the transaction: the first use records it in its own
            policy = self.policy
        evidence = evidence or AssuranceEvidence()
        keyring = self._keyring(policy)
        identity = identity_string(application.holder)
        heard: Elsewhere | Unanswered | None = None
        if applies(application, policy):  # the hub is asked outside the transaction too
            if self.cross_carrier is None:
                heard = Unanswered("照会基盤が未設定 / no cross-carrier hub is configured")
            else:
                heard = self.cross_carrier.lookup(identity)
        return _Screening(
            application=application,
            evidence=evidence,
            policy=policy,
            keys=keyring.keys_for(evidence),  # network I/O stays outside the transaction
            keyring=keyring,
            now=self.clock(),
            actor=actor,
            submitted_by=submitted_by,
            key_owner=submitted_by if submitted_by is not None else 0,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            identity_key=self.protector.blind_index(identity),
            heard=heard,
            blocks=[self.protector.blind_index(b) for b in candidate_strings(application.holder)],
        )

    def _screen_generic(self, s: _Screening) -> ScreeningResult:
        """One transaction through SQLAlchemy (SQLite: ``BEGIN IMMEDIATE`` serialises it)."""
        application = s.application
        with self.registry.write() as tx:
            if s.idempotency_key is not None:
                earlier = tx.claim_idempotency_key(
                    s.key_owner, s.idempotency_key, s.request_hash, s.now
                )
                if earlier is not None:
                    return self._replay(tx, earlier, s.request_hash)
            holder_id, identity, _ = self._resolve_holder(
                tx, application.holder, s.now, s.identity_key, s.blocks
            )
            tx.insert_blocks(holder_id, s.blocks)
            holdings = tx.holdings(holder_id)
            decision = self._decide(s, holdings, tx.resale_assessment(holder_id), identity)
            state = INITIAL_STATE[decision.outcome]
            application_id = tx.insert_application(
                _new_application(s, holder_id, decision, state), s.now
            )
            new_lines: list[LineRecord] = []
            case_id: int | None = None
            if decision.outcome is not Outcome.REFUSE:
                new_lines = tx.insert_lines(
                    holder_id=holder_id,
                    application_id=application_id,
                    sim_types=[r.sim_type for r in application.lines],
                    state=_line_state(decision),
                    opened_on=application.applied_on,
                    now=s.now,
                )
            if decision.outcome is Outcome.REVIEW:
                case_id = self._open_case(tx, s, application_id, holder_id, decision)
            if s.idempotency_key is not None:
                tx.complete_idempotency_key(s.key_owner, s.idempotency_key, application_id)
            record = _record(s, application_id, holder_id, decision, state, new_lines, case_id)
            # Last, so that the chain's lock is held as briefly as possible.
            audit.append(tx.conn, **_audit_entry(s, record, decision))
        return ScreeningResult(record, replayed=False)

    def _screen_pg(self, s: _Screening) -> ScreeningResult:
        """One screening in its own transaction (the group commit's fallback)."""
        with self.registry.write() as tx:
            result, entry = self._screen_pg_in(tx, s)
            tx.pg_commit([] if entry is None else [entry])
        return result

    def _screen_pg_batch(self, batch: list[_Job]) -> None:
        """Several screenings in one transaction: one COMMIT (one WAL flush) for all.

        Their lookups go together in one round trip, except that a screening sharing a
        holder, a candidate key or an Idempotency-Key with an earlier one waits for the
        next round trip, so that it sees what the earlier one wrote. The audit entries
        go last, in order, with the COMMIT; nobody hears an answer before it returned.
        If any screening fails, the transaction is rolled back and each one runs alone,
        so that an error reaches only the request that caused it. A COMMIT whose outcome
        is unknown (the connection failed while it was sent) is not run again: every
        request of the group hears STORE_UNAVAILABLE, as a single screening's would.
        """
        done: list[ScreeningResult] = []
        committing = False
        try:
            with self.registry.write() as tx:
                entries = []
                for round_ in _rounds([job.screening for job in batch]):
                    found = tx.pg_lookups([_ask(s) for s in round_])
                    for s, lookup in zip(round_, found, strict=True):
                        result, entry = self._screen_pg_found(tx, s, lookup)
                        done.append(result)
                        if entry is not None:
                            entries.append(entry)
                committing = True
                tx.pg_commit(entries)
        except StoreUnavailable as exc:
            if committing:
                for job in batch:
                    job.error = exc
                return
            self._screen_alone(batch)
            return
        except Exception:
            self._screen_alone(batch)
            return
        for job, result in zip(batch, done, strict=True):
            job.result = result

    def _screen_alone(self, batch: list[_Job]) -> None:
        for job in batch:
            try:
                job.result = self._screen_pg(job.screening)
            except Exception as exc:
                job.error = exc

    def _screen_pg_in(
        self, tx: RegistryTx, s: _Screening
    ) -> tuple[ScreeningResult, dict[str, Any] | None]:
        """Look up (one round trip), decide, and hold the writes back for the next round
        trip (a new holder or a review takes more). Returns the result and its audit
        entry, which the caller appends with the COMMIT."""
        return self._screen_pg_found(tx, s, tx.pg_lookups([_ask(s)])[0])

    def _screen_pg_found(
        self, tx: RegistryTx, s: _Screening, found: PgLookup
    ) -> tuple[ScreeningResult, dict[str, Any] | None]:
        """``_screen_pg_in`` once the lookups are back."""
        application = s.application
        if found.earlier is not None:
            return self._replay(tx, found.earlier, s.request_hash), None
        identity = IdentityVerdict(None, ())
        if found.holder_id is not None:
            holder_id = found.holder_id
            holdings = found.holdings
            resale = parse_assessment(found.risk_flags)
        else:  # a new person, or one written another way: the candidate keys decide
            holder_id, identity, created = self._resolve_holder(
                tx, application.holder, s.now, s.identity_key, s.blocks, exact=False
            )
            holdings, resale = [], None
            if not created:  # a new holder has neither lines nor an assessment yet
                holdings = tx.holdings(holder_id)
                resale = tx.resale_assessment(holder_id)
        decision = self._decide(s, holdings, resale, identity)
        state = INITIAL_STATE[decision.outcome]
        new_lines: list[LineRecord] = []
        if decision.outcome is not Outcome.REFUSE:
            line_state = _line_state(decision)
            new_lines = [
                LineRecord(line_id=i, sim_type=r.sim_type, state=line_state)
                for i, r in zip(found.line_ids, application.lines, strict=True)
            ]
        # Held back: sent with the next screening's lookups or with the COMMIT.
        tx.pg_insert_decision(
            application_id=found.application_id,
            new=_new_application(s, holder_id, decision, state),
            blocks=s.blocks,
            new_lines=new_lines,
            now=s.now,
        )
        if s.idempotency_key is not None:
            tx.pg_complete_idempotency_key(s.key_owner, s.idempotency_key, found.application_id)
        case_id = None
        if decision.outcome is Outcome.REVIEW:  # sent now, after the application it refers to
            case_id = pg_open_case(
                tx,
                application_id=found.application_id,
                holder_id=holder_id,
                channel=application.channel.value,
                decision=decision,
                actor=s.actor,
                now=s.now,
            )
        record = _record(s, found.application_id, holder_id, decision, state, new_lines, case_id)
        return ScreeningResult(record, replayed=False), _audit_entry(s, record, decision)

    @staticmethod
    def _replay(
        tx: RegistryTx, earlier: tuple[str, int | None], request_hash: str
    ) -> ScreeningResult:
        first_hash, first_id = earlier
        if first_hash != request_hash or first_id is None:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request"
            )
        return ScreeningResult(tx.application(first_id), replayed=True)

    @staticmethod
    def _open_case(
        tx: RegistryTx, s: _Screening, application_id: int, holder_id: int, decision: Decision
    ) -> int:
        return open_case(
            tx.conn,
            application_id=application_id,
            holder_id=holder_id,
            channel=s.application.channel.value,
            decision=decision,
            actor=s.actor,
            now=s.now,
        )

    def _resolve_holder(
        self,
        tx: RegistryTx,
        holder: HolderIdentity,
        now: datetime,
        identity_key: str,
        blocks: list[str],
        *,
        exact: bool = True,
    ) -> tuple[int, IdentityVerdict, bool]:
        """The applicant's holder id (found, matched or new, its row locked), the verdict,
        and whether the holder was created here.

        Screenings that share a candidate key are serialised first, so two spellings of
        one person sent at once cannot both be taken for new people. ``exact=False``: the
        caller already took those locks and found no holder with the exact key.
        """
        verdict = IdentityVerdict(None, ())
        holder_id = None
        created = False
        if exact:
            tx.lock_blocks(blocks)
            holder_id = tx.find_holder(identity_key)
        if holder_id is None and blocks:
            found = tx.block_candidates(blocks)
            verdict = resolve(holder, [(h, self.protector.open(pii)) for h, pii in found])
            holder_id = verdict.same
            if holder_id is not None:
                tx.lock_holder(holder_id)
        if holder_id is None:
            holder_id, created = tx.lock_or_create_holder_created(
                identity_key=identity_key,
                kind=holder.kind,
                pii=self.protector.seal(sealed_fields(holder)),
                now=now,
            )
        return holder_id, verdict, created

    def _keyring(self, policy: Policy) -> AssuranceKeyring:
        last = self._last_keyring  # the same policy object as last time: no digest to hash
        if last is not None and last[0] is policy:
            return last[1]
        digest = policy.digest
        if self._keyrings.get(digest) is None:
            base = Path(policy.source).parent if Path(policy.source).is_file() else None
            self._keyrings = {digest: AssuranceKeyring(policy.assurance, base=base)}
        keyring = self._keyrings[digest]
        self._last_keyring = (policy, keyring)
        return keyring

    def _decide(
        self,
        s: _Screening,
        holdings: list[Holding],
        resale: ResaleAssessment | None,
        identity: IdentityVerdict,
    ) -> Decision:
        """The cap decision with the assurance findings (KYC, MFA, corporate, resale) and an
        ambiguous identity folded in."""
        application, policy = s.application, s.policy
        decision = decide(application, holdings, policy)

        def findings_with(keys: AssuranceKeys) -> tuple[Finding, ...]:
            return assess_assurance(
                application, holdings, s.evidence, policy.assurance, keys, now=s.now, resale=resale
            )

        findings = findings_with(s.keys)
        if needs_key_refresh(findings):  # the IdP may have rotated its keys
            findings = findings_with(s.keyring.keys_for(s.evidence, refresh=True))
        ambiguous = identity.finding()
        if ambiguous is not None:
            findings = (*findings, ambiguous)
        findings = (*findings, *cross_carrier_findings(application, holdings, s.heard, policy))
        return with_findings(
            decision,
            findings,
            channel=application.channel,
            agency_may_approve=policy.agency_may_approve,
        )

    def record_event(self, event: LineActivity, *, actor: str = "cli") -> ResaleAssessment:
        """Store a line event and re-assess the holder's resale signals (C7)."""
        now = self.clock()
        rules = self.policy.assurance.resale
        with self.registry.write() as tx:
            holder_id, _ = tx.lock_line(int(event.line_id))
            events_sql.insert_event(tx.conn, holder_id=holder_id, event=event, now=now)
            window_start = now - timedelta(days=max(rules.window_days, rules.early_port_out_days))
            assessment = assess_resale(
                events_sql.holder_events(tx.conn, holder_id, window_start),
                rules,
                events_sql.known_devices(tx.conn, holder_id, window_start),
            )
            before = tx.resale_assessment(holder_id)
            events_sql.store_assessment(tx.conn, holder_id, assessment)
            if before is None or before.score != assessment.score:
                audit.append(
                    tx.conn,
                    actor=actor,
                    action="holder.risk_assessed",
                    subject=f"holder:{holder_id}",
                    payload={
                        "score": assessment.score,
                        "resale_risk": assessment.resale_risk,
                        "flags": sorted(assessment.codes),
                    },
                    now=now,
                )
        return assessment

    def application(self, application_id: int) -> ApplicationRecord:
        with self.registry.read() as tx:
            return tx.application(application_id)

    def holder(self, holder_id: int) -> HolderRecord:
        with self.registry.read() as tx:
            return tx.holder(holder_id)

    def terminate_line(self, line_id: int, *, actor: str = "cli") -> LineRecord:
        """Terminate a line (a reserved line's reservation lapses instead)."""
        now = self.clock()
        with self.registry.write() as tx:
            _, state = tx.lock_line(line_id)
            event = LineEvent.REFUSE if state is LineState.RESERVED else LineEvent.TERMINATE
            tx.set_line_state(line_id, next_line_state(state, event), now)
            record = tx.line(line_id)
            audit.append(
                tx.conn,
                actor=actor,
                action="line.terminated",
                subject=f"line:{line_id}",
                payload={"from": state.value, "to": record.state.value},
                now=now,
            )
        log.info("line.terminated", line_id=line_id)
        return record


@dataclass(frozen=True, slots=True, kw_only=True)
class _Screening:
    """One screening's inputs, prepared before its transaction."""

    application: Application
    evidence: AssuranceEvidence
    policy: Policy
    keys: AssuranceKeys
    keyring: AssuranceKeyring
    now: datetime
    actor: str
    submitted_by: int | None
    key_owner: int
    idempotency_key: str | None
    request_hash: str
    identity_key: str
    blocks: list[str]
    heard: Elsewhere | Unanswered | None = None  # the cross-carrier hub's answer


def _ask(s: _Screening) -> PgAsk:
    claim = None
    if s.idempotency_key is not None:
        claim = (s.key_owner, s.idempotency_key, s.request_hash, s.now)
    return PgAsk(
        identity_key=s.identity_key,
        blocks=s.blocks,
        line_count=len(s.application.lines),
        claim=claim,
    )


def _rounds(screenings: list[_Screening]) -> list[list[_Screening]]:
    """Consecutive runs of screenings that share no holder key, candidate key or
    Idempotency-Key, in order: each run's lookups can go in one round trip."""
    rounds: list[list[_Screening]] = []
    seen: set[str] = set()
    for s in screenings:
        keys = {f"h:{s.identity_key}", *(f"b:{b}" for b in s.blocks)}
        if s.idempotency_key is not None:
            keys.add(f"i:{s.key_owner}:{s.idempotency_key}")
        if not rounds or seen & keys:
            rounds.append([])
            seen = set()
        rounds[-1].append(s)
        seen |= keys
    return rounds


#: ``dataclasses.asdict`` of a ``PoolUsage`` without its deep copies (its fields are plain values).
_USAGE_FIELDS = tuple(f.name for f in fields(PoolUsage))


def _line_state(decision: Decision) -> LineState:
    return LineState.ACTIVE if decision.outcome is Outcome.APPROVE else LineState.RESERVED


def _new_application(
    s: _Screening, holder_id: int, decision: Decision, state: ApplicationState
) -> NewApplication:
    return NewApplication(
        holder_id=holder_id,
        channel=s.application.channel,
        outcome=decision.outcome,
        state=state,
        reasons=decision.reasons,
        usage=[{name: getattr(u, name) for name in _USAGE_FIELDS} for u in decision.usage],
        escalate_to_hq=decision.escalate_to_hq,
        requires_actual_users=decision.requires_actual_users,
        kyc_method=s.application.kyc_method,
        submitted_by=s.submitted_by,
        applied_on=s.application.applied_on,
    )


def _record(
    s: _Screening,
    application_id: int,
    holder_id: int,
    decision: Decision,
    state: ApplicationState,
    new_lines: list[LineRecord],
    case_id: int | None,
) -> ApplicationRecord:
    """The record as written (the same as reading it back, without the queries)."""
    return ApplicationRecord(
        application_id=application_id,
        holder_id=holder_id,
        channel=s.application.channel,
        state=state,
        outcome=decision.outcome,
        reasons=decision.reasons,
        lines=tuple(new_lines),
        escalate_to_hq=decision.escalate_to_hq,
        requires_actual_users=decision.requires_actual_users,
        created_at=s.now,
        case_id=case_id,
    )


def _audit_entry(s: _Screening, record: ApplicationRecord, decision: Decision) -> dict[str, Any]:
    return {
        "actor": s.actor,
        "action": "application.decided",
        "subject": f"application:{record.application_id}",
        "payload": {
            "holder_id": record.holder_id,
            "channel": s.application.channel.value,
            "outcome": decision.outcome.value,
            "codes": sorted(decision.codes),
            "lines": [ln.line_id for ln in record.lines],
        },
        "now": s.now,
    }


def _log_decided(application: Application, result: ScreeningResult) -> None:
    if not result.replayed:
        record = result.record
        log.info(
            "application.decided",
            application_id=record.application_id,
            holder_id=record.holder_id,
            channel=application.channel.value,
            outcome=record.outcome.value,
            codes=sorted({r.code for r in record.reasons}),
        )


@dataclass(slots=True)
class _Job:
    """One screening waiting for its group's COMMIT."""

    screening: _Screening
    result: ScreeningResult | None = None
    error: Exception | None = None
    lead: bool = False  # asked to lead the next group
    finished: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    done: Callable[[], None] | None = None  # queued jobs: called once finished


class _QueuedGroups:
    """Screenings queued from an event loop (PostgreSQL): one thread, started on first
    use, runs whatever is waiting as one group (up to ``_GroupCommit.MAX``), then the
    next, and calls each job's ``done`` after its group's COMMIT (or failure)."""

    IDLE_SECONDS = 10.0

    def __init__(self, execute: Callable[[list[_Job]], None]) -> None:
        self._execute = execute
        self._cond = threading.Condition()
        self._waiting: list[_Job] = []
        self._thread: threading.Thread | None = None

    def put(self, job: _Job) -> None:
        with self._cond:
            self._waiting.append(job)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="carrierguard-screening-groups", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting:
                    if not self._cond.wait(timeout=self.IDLE_SECONDS) and not self._waiting:
                        self._thread = None  # idle: the next ``put`` starts another
                        return
                batch = self._waiting[: _GroupCommit.MAX]
                self._waiting = self._waiting[_GroupCommit.MAX :]
            try:
                self._execute(batch)  # sets each job's result or error
            except BaseException as exc:  # every request of the group must hear
                for job in batch:
                    if job.result is None and job.error is None:
                        job.error = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
            for job in batch:
                job.finished.set()
                if job.done is not None:
                    try:
                        job.done()
                    except Exception as exc:  # a caller gone must not stop the others
                        log.error("screening.notify_failed", error_type=exc.__class__.__name__)


class _GroupCommit:
    """Screenings that arrive together share one transaction (PostgreSQL).

    Each COMMIT waits for a WAL flush while it holds the audit chain's head row, so
    transactions that each append to the chain commit one at a time, one flush each.
    Here a thread that finds fewer than ``LEADERS`` groups running leads one: it takes
    every screening waiting (up to ``MAX``), runs them in one transaction and wakes
    their threads after the COMMIT; then it hands the lead to the first screening still
    waiting, if any. (More than one group per process measured slower on two cores:
    the groups only got smaller.)
    """

    MAX = 32
    LEADERS = 1

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[_Job] = []
        self._leaders = 0

    def run(self, job: _Job, execute: Callable[[list[_Job]], None]) -> ScreeningResult:
        with self._lock:
            self._waiting.append(job)
            lead = self._leaders < self.LEADERS
            if lead:
                self._leaders += 1
        while True:
            if lead:
                self._lead(execute)
            if job.finished.is_set():
                break
            job.wake.wait()  # its group committed, or it was asked to lead the next one
            with self._lock:
                job.wake.clear()
                lead, job.lead = job.lead, False
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _lead(self, execute: Callable[[list[_Job]], None]) -> None:
        """Run one group; the caller holds a leader's place, which this passes on."""
        with self._lock:
            batch, self._waiting = self._waiting[: self.MAX], self._waiting[self.MAX :]
        try:
            if batch:
                execute(batch)  # sets each job's result or error
        except BaseException as exc:
            for job in batch:
                if job.result is None and job.error is None:
                    job.error = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
            raise
        finally:
            with self._lock:
                nxt = self._waiting[0] if self._waiting else None
                if nxt is None:
                    self._leaders -= 1
                else:
                    nxt.lead = True
            for job in batch:
                job.finished.set()
                job.wake.set()
            if nxt is not None:
                nxt.wake.set()
