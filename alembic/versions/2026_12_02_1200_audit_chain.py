"""The audit trail's hash chain: ``audit_seal``, append-only like ``audit_event``.

Revision ID: 2026_12_02_1200
Revises: 2026_12_02_1100
Create Date: 2026-12-02 12:00

Existing audit rows are sealed by the worker (or ``identito audit seal``) after the upgrade, in id
order: the chain vouches for them from then on.
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_12_02_1200"
down_revision = "2026_12_02_1100"
branch_labels = None
depends_on = None

_APPEND_ONLY_PG = """
CREATE OR REPLACE FUNCTION audit_seal_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_seal is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_seal_no_update BEFORE UPDATE OR DELETE ON audit_seal
  FOR EACH ROW EXECUTE FUNCTION audit_seal_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "audit_seal",
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("audit_id", sa.Integer, nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_PG)
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_seal_no_{event.lower()} BEFORE {event} ON audit_seal "
                       "BEGIN SELECT RAISE(ABORT, 'audit_seal is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_seal_no_update ON audit_seal")
        op.execute("DROP FUNCTION IF EXISTS audit_seal_append_only()")
    op.drop_table("audit_seal")
