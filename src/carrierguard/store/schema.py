"""The registry schema (SQLAlchemy Core). The only place table shapes are declared.

Every row that belongs to a holder carries ``holder_id`` so that screening touches one
holder's rows and the registry can be distributed on that column (Citus) later.
Personal data is never stored in clear: ``holders.identity_key`` is a blind index and
``holders.pii`` a sealed blob (see ``carrierguard.crypto``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: 64-bit keys on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")

holders = Table(
    "holders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("identity_key", String(64), nullable=False, unique=True),
    Column("pii", LargeBinary, nullable=False),
    Column("risk_flags", Text, nullable=False, server_default="[]"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

applications = Table(
    "applications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("holder_id", Id, ForeignKey("holders.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("usage", Text, nullable=False),
    Column("escalate_to_hq", Boolean, nullable=False),
    Column("requires_actual_users", Boolean, nullable=False),
    Column("kyc_method", String(32)),
    Column("submitted_by", Integer),
    Column("applied_on", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("decided_at", DateTime(timezone=True)),
)

lines = Table(
    "lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("holder_id", Id, ForeignKey("holders.id"), nullable=False),
    Column("application_id", Id, ForeignKey("applications.id")),
    Column("sim_type", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("opened_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_lines_holder_id_state", "holder_id", "state"),
    Index("ix_lines_application_id", "application_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("api_key_id", Integer, primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("application_id", Id, ForeignKey("applications.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

# -- exception cases (C2, C3) ------------------------------------------------------------
cases = Table(
    "cases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("application_id", Id, ForeignKey("applications.id"), nullable=False, unique=True),
    Column("holder_id", Id, ForeignKey("holders.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("purpose_category", String(16)),
    Column("purpose_text", LargeBinary),  # sealed: free text may name people
    Column("pledge_signed_by", LargeBinary),  # sealed
    Column("pledge_signed_at", DateTime(timezone=True)),
    Column("requires_actual_users", Boolean, nullable=False),
    Column("lines_beyond_cap", Integer, nullable=False),
    Column("sla_due_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", String(100)),
    Column("decision_code", String(48)),
    Column("decision_comment", LargeBinary),  # sealed
)

actual_users = Table(
    "actual_users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False, index=True),
    Column("holder_id", Id, ForeignKey("holders.id"), nullable=False, index=True),
    Column("pii", LargeBinary, nullable=False),  # sealed name and birth date
    Column("relationship", String(32), nullable=False),
    Column("verification_method", String(32), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

case_events = Table(
    "case_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
)

# -- audit trail: append-only, hash-chained ---------------------------------------------
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(48), nullable=False),
    Column("subject", String(100), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# -- people who sign in to the pages -----------------------------------------------------
web_users = Table(
    "web_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("totp_secret", LargeBinary, nullable=False),  # sealed
    Column("totp_last_step", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("web_users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

#: One row (id 1): the newest entry's seq and hash. Appending locks it; verification
#: compares the chain's end with it, so removing the newest entries is detected too.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Id, nullable=False),
    Column("hash", String(64), nullable=False),
)

#: Every policy that was ever in force, newest last (the audit trail records each change).
policy_versions = Table(
    "policy_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False),
    Column("source", String(400), nullable=False),
    Column("toml", Text, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: What happens to lines after sale (C7): activations, device changes, SIM swaps,
#: port-outs and usage summaries. ``device`` is the handset's 14-digit IMEI prefix.
line_events = Table(
    "line_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("holder_id", Id, ForeignKey("holders.id"), nullable=False),
    Column("line_id", Id, ForeignKey("lines.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("device", String(16)),
    Column("calls", Integer, nullable=False, server_default="0"),
    Column("messages", Integer, nullable=False, server_default="0"),
    Column("holder_contacts", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_line_events_holder_id_at", "holder_id", "at"),
)

#: Candidate keys of individual holders (blind indexes of birth date + phonetic or written
#: name): finds a person written another way without scanning the registry.
holder_blocks = Table(
    "holder_blocks",
    metadata,
    Column("block", String(64), primary_key=True),
    Column("holder_id", Id, ForeignKey("holders.id"), primary_key=True),
)

#: Named values the registry keeps about itself: the identity key version (store.rekey),
#: the cross-carrier publish watermark and lease (store.crosscarrier). Revision 0012.
registry_state = Table(
    "registry_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)
