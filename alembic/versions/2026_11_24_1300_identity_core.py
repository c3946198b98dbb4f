"""Identity core: identity, ins, identity_document, append-only audit_event.

Revision ID: 2026_11_24_1300
Revises:
Create Date: 2026-11-24 13:00
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_24_1300"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY_PG = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_event is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "identity",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ipp", sa.String(64), nullable=True, unique=True),
        sa.Column("birth_name", sa.String(100), nullable=False),
        sa.Column("first_names", sa.String(100), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("birth_date_completed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("birth_place_code", sa.String(5), nullable=True),
        sa.Column("used_name", sa.String(100), nullable=True),
        sa.Column("used_first_name", sa.String(100), nullable=True),
        sa.Column("status", sa.String(5), nullable=False, server_default="PROV"),
        sa.Column("attributes", sa.String(64), nullable=False, server_default=""),
        sa.Column("source", sa.String(8), nullable=False, server_default="SM"),
        sa.Column("insi_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("merged_into_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('PROV','RECUP','VALI','QUAL')", name="ck_identity_status"),
        sa.CheckConstraint(
            "NOT ((attributes LIKE '%DOUT%' OR attributes LIKE '%FICT%') AND status <> 'PROV')",
            name="ck_identity_blocked_prov",
        ),
        sa.CheckConstraint(
            "NOT (attributes LIKE '%DOUT%' AND attributes LIKE '%FICT%')", name="ck_identity_dout_fict"
        ),
        sa.CheckConstraint("sex IN ('M','F','U')", name="ck_identity_sex"),
    )
    op.create_index("ix_identity_birth_name_date", "identity", ["birth_name", "birth_date"])
    op.create_index("ix_identity_used_name", "identity", ["used_name"])
    op.create_index("ix_identity_birth_date", "identity", ["birth_date"])
    op.create_index("ix_identity_status", "identity", ["status"])
    op.create_index(
        "ix_identity_birth_name_prefix", "identity", ["birth_name"],
        postgresql_ops={"birth_name": "text_pattern_ops"},
    )
    op.create_index(
        "ix_identity_used_name_prefix", "identity", ["used_name"],
        postgresql_ops={"used_name": "text_pattern_ops"},
    )

    op.create_table(
        "ins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("matricule", sa.String(15), nullable=False),
        sa.Column("oid", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("source", sa.String(16), nullable=False, server_default="INSI"),
        sa.Column("valid_from", sa.Date, nullable=True),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_ins_identity_id", "ins", ["identity_id"])
    op.create_index("ix_ins_matricule", "ins", ["matricule"])
    op.create_index(
        "ux_ins_active_matricule", "ins", ["matricule"], unique=True,
        postgresql_where=sa.text("active"), sqlite_where=sa.text("active"),
    )
    op.create_index(
        "ux_ins_active_per_identity", "ins", ["identity_id"], unique=True,
        postgresql_where=sa.text("active"), sqlite_where=sa.text("active"),
    )

    op.create_table(
        "identity_document",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("type", sa.String(4), nullable=False),
        sa.Column("high_trust", sa.Boolean, nullable=False),
        sa.Column("checked_by", sa.String(200), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_on", sa.Date, nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(200), nullable=True),
        sa.Column("withdrawn_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_identity_document_identity_id", "identity_document", ["identity_id"])

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False, server_default=""),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_identity_at", "audit_event", ["identity_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_PG)
    else:
        op.execute(
            "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    op.drop_table("audit_event")
    op.drop_table("identity_document")
    op.drop_table("ins")
    op.drop_table("identity")
