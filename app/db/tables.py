"""SQLModel table rows. Rows are storage only: repositories map them to domain objects."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Float, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

_STATUSES = "('PROV','RECUP','VALI','QUAL')"
_HEAD = String(3).with_variant(String(3, collation="C"), "postgresql")


class IdentityRow(SQLModel, table=True):
    """One patient identity of the repository, with its RNIV status and attributes."""

    __tablename__ = "identity"
    __table_args__ = (
        CheckConstraint(f"status IN {_STATUSES}", name="ck_identity_status"),
        # RNIV EXI SI 09, enforced by the database too: DOUT/FICT identities stay PROV.
        CheckConstraint(
            "NOT ((attributes LIKE '%DOUT%' OR attributes LIKE '%FICT%') AND status <> 'PROV')",
            name="ck_identity_blocked_prov",
        ),
        CheckConstraint(
            "NOT (attributes LIKE '%DOUT%' AND attributes LIKE '%FICT%')",
            name="ck_identity_dout_fict",
        ),
        CheckConstraint("sex IN ('M','F','U')", name="ck_identity_sex"),
        # A local identifier is unique within its assigning authority ('' = Identito's own IPPs).
        Index("ux_identity_ipp", "ipp", "ipp_authority", unique=True),
        # In the search's name order; on PostgreSQL it also covers the prefix search's filter, so
        # that the walk in name order reads this index only (no row fetched per name passed).
        Index(
            "ix_identity_birth_name_date",
            "birth_name",
            "birth_date",
            postgresql_include=["first_name", "id", "active", "birth_name_key", "used_name_key"],
        ),
        Index("ix_identity_birth_date", "birth_date"),
        Index("ix_identity_status", "status"),
        # Name searches use the search keys (app.domain.traits), written by the repository.
        Index(
            "ix_identity_birth_name_key",
            "birth_name_key",
            postgresql_ops={"birth_name_key": "text_pattern_ops"},
        ),
        Index(
            "ix_identity_used_name_key",
            "used_name_key",
            postgresql_ops={"used_name_key": "text_pattern_ops"},
        ),
        # Name-prefix search (app.db.identity_queries, migration 2026_12_02_1300): the rows of one
        # key head are one range, in the search's name order, read index-only up to the page.
        Index(
            "ix_identity_birth_name_key_head",
            text("substr(birth_name_key, 1, 3)"),
            "active", "birth_name", "first_name", "birth_date", "id", "birth_name_key",
        ),
        # Its birth-name key (migration 2026_12_04_0900) lets the count skip, index-only, the
        # identities that the birth-name range finds already.
        Index(
            "ix_identity_used_name_key_head",
            text("substr(used_name_key, 1, 3)"),
            "active", "birth_name", "first_name", "birth_date", "id", "used_name_key", "birth_name_key",
            postgresql_where=text("used_name_key IS NOT NULL"),
            sqlite_where=text("used_name_key IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    ipp: str | None = Field(default=None, max_length=64)
    ipp_authority: str = Field(default="", max_length=200)  # HL7 HD text; '' = Identito's own
    birth_name: str = Field(max_length=100)
    first_names: str = Field(max_length=100)
    first_name: str = Field(max_length=100)
    sex: str = Field(max_length=1)
    birth_date: date
    birth_date_completed: bool = False
    birth_place_code: str | None = Field(default=None, max_length=5)
    used_name: str | None = Field(default=None, max_length=100)
    used_first_name: str | None = Field(default=None, max_length=100)
    status: str = Field(default="PROV", max_length=5)
    attributes: str = Field(default="", max_length=64)
    source: str = Field(default="SM", max_length=8)
    insi_at: datetime | None = None
    version: int = 1
    active: bool = True
    merged_into_id: int | None = Field(default=None, foreign_key="identity.id")
    created_at: datetime
    updated_at: datetime
    # Name search keys: accents, case, apostrophes, hyphens and spaces ignored (repository-maintained).
    birth_name_key: str | None = Field(default=None, max_length=100)
    used_name_key: str | None = Field(default=None, max_length=100)
    first_names_key: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class InsRow(SQLModel, table=True):
    """An INS held by an identity: at most one active, the others kept as history."""

    __tablename__ = "ins"
    __table_args__ = (
        # An active matricule belongs to at most one identity (ins-rniv §6).
        Index(
            "ux_ins_active_matricule",
            "matricule",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
        Index(
            "ux_ins_active_per_identity",
            "identity_id",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
        Index("ix_ins_matricule", "matricule"),
    )

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="identity.id", index=True)
    matricule: str = Field(max_length=15)
    oid: str = Field(max_length=32)
    active: bool = True
    source: str = Field(default="INSI", max_length=16)
    valid_from: date | None = None
    valid_to: date | None = None
    created_at: datetime
    deactivated_at: datetime | None = None


class IdentityDocumentRow(SQLModel, table=True):
    """A recorded check of an identity document (RNIV EXI SI 10)."""

    __tablename__ = "identity_document"

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="identity.id", index=True)
    type: str = Field(max_length=4)
    high_trust: bool
    checked_by: str = Field(max_length=200)
    checked_at: datetime
    expires_on: date | None = None
    no_expiry_printed: bool = False  # the agent said the document prints no expiry date
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = Field(default=None, max_length=200)
    withdrawn_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AuditEventRow(SQLModel, table=True):
    """Append-only audit trail: who did what to which identity, with the before/after diff."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_identity_at", "identity_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int | None = Field(default=None, foreign_key="identity.id")
    at: datetime
    actor: str = Field(max_length=200)
    roles: str = Field(default="", max_length=200)
    action: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WorklistItemRow(SQLModel, table=True):
    """An identitovigilance worklist item: what happened, to which identity, and its resolution."""

    __tablename__ = "worklist_item"
    __table_args__ = (
        Index("ix_worklist_kind_open", "kind", "resolved_at", "id"),
        Index("ix_worklist_identity", "identity_id"),
        # One open item per cause (app.domain.worklist.open_key): set while open, NULL once closed.
        Index("ux_worklist_open_key", "open_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    identity_id: int = Field(foreign_key="identity.id")
    other_identity_id: int | None = Field(default=None, foreign_key="identity.id")
    outcome: str = Field(max_length=64)
    hint: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    source: str = Field(default="desk", max_length=64)
    created_at: datetime
    created_by: str = Field(max_length=200)
    resolved_at: datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=200)
    resolution: str | None = Field(default=None, max_length=32)
    resolution_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    occurrences: int = Field(default=1, sa_column_kwargs={"server_default": text("1")})
    last_occurred_at: datetime | None = None
    closing_event: str | None = Field(default=None, max_length=32)
    open_key: str | None = Field(default=None, max_length=100)


class InsiProposalRow(SQLModel, table=True):
    """An INSi answer proposed to the desk, bound to the identity version it was made for."""

    __tablename__ = "insi_proposal"

    id: str = Field(primary_key=True, max_length=36)
    identity_id: int = Field(foreign_key="identity.id", index=True)
    identity_version: int
    status: str = Field(default="open", max_length=10)
    answer: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=200)
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = None
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CampaignRow(SQLModel, table=True):
    """A batch qualification or verification campaign over a selection of identities."""

    __tablename__ = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    operation: str = Field(max_length=10)
    selection: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    auto_apply: bool = False
    rate_limit: float | None = None
    concurrency: int = 4
    status: str = Field(default="running", max_length=10)
    total: int = 0
    created_by: str = Field(max_length=200)
    created_at: datetime
    finished_at: datetime | None = None


class CampaignItemRow(SQLModel, table=True):
    """One identity of a campaign: pending, in flight (claimed), or done with one outcome."""

    __tablename__ = "campaign_item"
    __table_args__ = (
        Index("ux_campaign_item", "campaign_id", "identity_id", unique=True),
        Index("ix_campaign_item_state", "campaign_id", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    identity_id: int = Field(foreign_key="identity.id")
    state: str = Field(default="pending", max_length=10)
    outcome: str | None = Field(default=None, max_length=32)
    code: str | None = Field(default=None, max_length=32)
    attempts: int = 0
    claimed_at: datetime | None = None
    finished_at: datetime | None = None
    worklist_item_id: int | None = None
class InsiCallRow(SQLModel, table=True):
    """The INSi call journal: one row per wire call (ins-rniv §7). No traits in clear, only a keyed hash."""

    __tablename__ = "insi_call"
    __table_args__ = (
        Index("ix_insi_call_at", "at"),
        Index("ix_insi_call_identity", "identity_id", "at"),
        Index("ix_insi_call_requested_by", "requested_by", "at"),
        Index("ix_insi_call_outcome", "outcome", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    operation: str = Field(max_length=40)
    credential_mode: str = Field(max_length=24)
    emitter: str = Field(max_length=200)
    requested_by: str = Field(max_length=200)
    purpose: str = Field(max_length=12)
    identity_id: int | None = None  # no foreign key: the journal outlives any identity change
    outcome: str = Field(max_length=40)
    error_category: str | None = Field(default=None, max_length=16)
    duration_ms: float
    message_id: str = Field(max_length=64)
    traits_hash: str | None = Field(default=None, max_length=64)


class IdentityMatchKeyRow(SQLModel, table=True):
    """A blocking key of an identity (``app.domain.duplicates.match_key_hashes``), as a 64-bit hash:
    the candidates of a set of traits are the identities sharing one of its keys.

    The primary key (key_hash, identity_id) is the lookup's index. No foreign key: the rows are
    rebuilt from the identities (five or so per identity, written in bulk), never the other way.
    """

    __tablename__ = "identity_match_key"
    __table_args__ = (Index("ix_identity_match_key_identity", "identity_id"),)

    key_hash: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    identity_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))


class DuplicateCheckRow(SQLModel, table=True):
    """An identity change waiting for the duplicate detection job (written with the change's commit)."""

    __tablename__ = "duplicate_check"

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int  # no foreign key: one more lookup on the ingest path for nothing
    queued_at: datetime


_PAIR_STATUSES = "('open','dismissed','merged','linked')"
_GRADES = "('certain','probable','possible','no_match')"


class DuplicatePairRow(SQLModel, table=True):
    """Two identities that may be one person, their score and explanation, and the cell's decision."""

    __tablename__ = "duplicate_pair"
    __table_args__ = (
        CheckConstraint("low_id < high_id", name="ck_duplicate_pair_order"),
        CheckConstraint(f"status IN {_PAIR_STATUSES}", name="ck_duplicate_pair_status"),
        CheckConstraint(f"grade IN {_GRADES}", name="ck_duplicate_pair_grade"),
        Index("ux_duplicate_pair", "low_id", "high_id", unique=True),
        Index("ix_duplicate_pair_high", "high_id"),
        Index("ix_duplicate_pair_list", "status", "grade", "score", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    low_id: int = Field(foreign_key="identity.id")
    high_id: int = Field(foreign_key="identity.id")
    score: float = Field(sa_column=Column(Float, nullable=False))
    grade: str = Field(max_length=10)
    explanation: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))  # no trait value
    rules: list[str] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="open", max_length=10)
    found_by: str = Field(max_length=8)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = None
    decided_digest: str | None = Field(default=None, max_length=64)  # strict traits of both, at decision
    created_at: datetime
    updated_at: datetime


class DuplicateScanRow(SQLModel, table=True):
    """A full duplicate scan: its progress, its resume point, its figures."""

    __tablename__ = "duplicate_scan"
    __table_args__ = (Index("ix_duplicate_scan_status", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="queued", max_length=10)
    created_by: str = Field(max_length=200)
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    runner: str | None = Field(default=None, max_length=200)  # host:pid of the process running it
    heartbeat_at: datetime | None = None
    cursor_id: int = 0  # the pairs of identities up to this id are recorded: a resumed scan goes on after it
    identities_total: int = 0
    identities_done: int = 0
    comparisons: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    pairs_found: int = 0  # at least possible
    pairs_alert: int = 0  # probable or certain
    figures: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = Field(default=None, max_length=200)


class IdentityMergeRow(SQLModel, table=True):
    """One merge: the absorbed identity closed into the survivor, who did it and why, and what an
    unmerge restores (the absorbed identity's INS row that the merge set inactive)."""

    __tablename__ = "identity_merge"
    __table_args__ = (
        CheckConstraint("survivor_id <> absorbed_id", name="ck_identity_merge_two"),
        Index("ix_identity_merge_survivor", "survivor_id", "id"),
        Index("ix_identity_merge_absorbed", "absorbed_id", "id"),
        # An identity is absorbed by at most one merge that is not undone.
        Index("ux_identity_merge_absorbed_open", "absorbed_id", unique=True,
              postgresql_where=text("unmerged_at IS NULL"), sqlite_where=text("unmerged_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    survivor_id: int = Field(foreign_key="identity.id")
    absorbed_id: int = Field(foreign_key="identity.id")
    merged_at: datetime
    merged_by: str = Field(max_length=200)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(max_length=8)  # api | hl7
    ins_id: int | None = None  # the absorbed identity's INS row the merge set inactive
    pair_id: int | None = None  # the duplicate pair the merge decided, when there was one
    unmerged_at: datetime | None = None
    unmerged_by: str | None = Field(default=None, max_length=200)
    unmerge_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class IdentityLinkRow(SQLModel, table=True):
    """A link of two identities kept apart (PAM FR A24), and its end (A37): who, when, why."""

    __tablename__ = "identity_link"
    __table_args__ = (
        CheckConstraint("low_id < high_id", name="ck_identity_link_order"),
        Index("ix_identity_link_low", "low_id", "id"),
        Index("ix_identity_link_high", "high_id", "id"),
        # One standing link per pair.
        Index("ux_identity_link_open", "low_id", "high_id", unique=True,
              postgresql_where=text("unlinked_at IS NULL"), sqlite_where=text("unlinked_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    low_id: int = Field(foreign_key="identity.id")
    high_id: int = Field(foreign_key="identity.id")
    linked_at: datetime
    linked_by: str = Field(max_length=200)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(max_length=8)  # api | hl7 | split
    unlinked_at: datetime | None = None
    unlinked_by: str | None = Field(default=None, max_length=200)
    unlink_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AuditSealRow(SQLModel, table=True):
    """The hash chain over the audit trail (``app.domain.audit_chain``): one seal per audit row, in
    sealing order. Append-only like the trail (triggers). No foreign key: a seal whose row was
    removed behind the triggers' back must stay, to say so."""

    __tablename__ = "audit_seal"

    seq: int | None = Field(default=None, primary_key=True)
    audit_id: int = Field(sa_column=Column(Integer, nullable=False, unique=True))
    hash: str = Field(max_length=64)
    sealed_at: datetime


class NameHeadCountRow(SQLModel, table=True):
    """A term of the counts of active identities by name-key head, as of the last fold of the deltas
    below (what is counted: ``app.db.name_heads``, migration 2026_12_05_0900). ``head`` compares
    bytewise (collation C on PostgreSQL): a prefix's heads are one range."""

    __tablename__ = "identity_name_head_count"

    head: str = Field(sa_column=Column(_HEAD, primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class NameHeadDeltaRow(SQLModel, table=True):
    """A change of a head's term not folded yet, written by the triggers on ``identity`` in the
    transaction of the change."""

    __tablename__ = "identity_name_head_delta"
    __table_args__ = (Index("ix_identity_name_head_delta_head", "head", "d"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"),
                                                          primary_key=True))
    head: str = Field(sa_column=Column(_HEAD, nullable=False))
    d: int = Field(sa_column=Column(BigInteger, nullable=False))


class WebSessionRow(SQLModel, table=True):
    """A session of the browser application (``app.web.sessions``), shared by every API process.

    The cookie holds the signed session id; the row is found by the id's SHA-256 (``id_hash``), so a
    copy of the table cannot be turned into cookies. Times are Unix seconds (wall clock: every
    process reads the same)."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_seen_at", "seen_at"),)

    id_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    csrf_token: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: float = Field(sa_column=Column(Float, nullable=False))
    seen_at: float = Field(sa_column=Column(Float, nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(String(128)))
    display_name: str | None = Field(default=None, sa_column=Column(String(200)))
    roles: str = Field(default="", sa_column=Column(String(400), nullable=False))
    flash: str | None = Field(default=None, sa_column=Column(Text))
    pending_login: str | None = Field(default=None, sa_column=Column(Text))
