"""SQL for line events and the holder's stored resale assessment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from carrierguard.contracts.resale import ActivityKind, LineActivity, ResaleAssessment, RiskFlag
from carrierguard.store.schema import holders, line_events


def insert_event(conn: Connection, *, holder_id: int, event: LineActivity, now: datetime) -> None:
    conn.execute(
        line_events.insert().values(
            holder_id=holder_id,
            line_id=int(event.line_id),
            kind=event.kind.value,
            at=event.at,
            device=event.imei[:14] if event.imei else None,
            calls=event.calls,
            messages=event.messages,
            holder_contacts=event.holder_contacts,
            created_at=now,
        )
    )


def holder_events(conn: Connection, holder_id: int, since: datetime) -> list[LineActivity]:
    rows = conn.execute(
        select(line_events)
        .where(line_events.c.holder_id == holder_id, line_events.c.at >= since)
        .order_by(line_events.c.at, line_events.c.id)
    )
    return [
        LineActivity(
            line_id=str(r.line_id),
            kind=ActivityKind(r.kind),
            at=_aware(r.at),
            imei=r.device,
            calls=r.calls,
            messages=r.messages,
            holder_contacts=r.holder_contacts,
        )
        for r in rows
    ]


def known_devices(conn: Connection, holder_id: int, before: datetime) -> list[str]:
    """Devices seen with the holder's lines before ``before`` (moving to them is no signal)."""
    rows = conn.execute(
        select(line_events.c.device)
        .distinct()
        .where(
            line_events.c.holder_id == holder_id,
            line_events.c.at < before,
            line_events.c.device.is_not(None),
        )
    )
    return [r.device for r in rows]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def store_assessment(conn: Connection, holder_id: int, assessment: ResaleAssessment) -> None:
    body: dict[str, Any] = {
        "resale": {
            "score": assessment.score,
            "resale_risk": assessment.resale_risk,
            "flags": [
                {
                    "code": f.code,
                    "points": f.points,
                    "lines": list(f.lines),
                    "message_ja": f.message_ja,
                    "message_en": f.message_en,
                }
                for f in assessment.flags
            ],
        }
    }
    conn.execute(
        update(holders)
        .where(holders.c.id == holder_id)
        .values(risk_flags=json.dumps(body, ensure_ascii=False))
    )


def parse_assessment(raw: str | None) -> ResaleAssessment | None:
    """The stored assessment (None when the holder was never assessed)."""
    data = json.loads(raw) if raw else None
    if not isinstance(data, dict) or "resale" not in data:
        return None
    r = data["resale"]
    return ResaleAssessment(
        score=int(r["score"]),
        resale_risk=bool(r["resale_risk"]),
        flags=tuple(
            RiskFlag(
                code=f["code"],
                points=int(f["points"]),
                lines=tuple(f["lines"]),
                message_ja=f["message_ja"],
                message_en=f["message_en"],
            )
            for f in r["flags"]
        ),
    )
