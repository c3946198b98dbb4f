"""Identity merges: who merged which identity into which, why, and what an unmerge restores.

Revision ID: 2026_12_02_1000
Revises: 2026_12_01_1000
Create Date: 2026-12-02 10:00

Merges applied before this revision (HL7 A40) have no row: they cannot be undone with
``POST /identities/{id}/unmerge``; the audit trail still tells who merged them and when.
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_12_02_1000"
down_revision = "2026_12_01_1000"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_OPEN = sa.text("unmerged_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "identity_merge",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("survivor_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("absorbed_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("merged_at", _TS, nullable=False),
        sa.Column("merged_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("ins_id", sa.Integer, nullable=True),
        sa.Column("pair_id", sa.Integer, nullable=True),
        sa.Column("unmerged_at", _TS, nullable=True),
        sa.Column("unmerged_by", sa.String(200), nullable=True),
        sa.Column("unmerge_reason", sa.Text, nullable=True),
        sa.CheckConstraint("survivor_id <> absorbed_id", name="ck_identity_merge_two"),
    )
    op.create_index("ix_identity_merge_survivor", "identity_merge", ["survivor_id", "id"])
    op.create_index("ix_identity_merge_absorbed", "identity_merge", ["absorbed_id", "id"])
    op.create_index("ux_identity_merge_absorbed_open", "identity_merge", ["absorbed_id"], unique=True,
                    postgresql_where=_OPEN, sqlite_where=_OPEN)


def downgrade() -> None:
    op.drop_index("ux_identity_merge_absorbed_open", table_name="identity_merge")
    op.drop_index("ix_identity_merge_absorbed", table_name="identity_merge")
    op.drop_index("ix_identity_merge_survivor", table_name="identity_merge")
    op.drop_table("identity_merge")
