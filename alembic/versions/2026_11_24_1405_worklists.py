"""Identitovigilance worklist items.

Revision ID: 2026_11_24_1405
Revises: 2026_11_24_1400
Create Date: 2026-11-24 14:05
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_24_1405"
down_revision = "2026_11_24_1400"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worklist_item",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("other_identity_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("hint", sa.String(64), nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
        sa.Column("source", sa.String(64), nullable=False, server_default="desk"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("resolution", sa.String(32), nullable=True),
        sa.Column("resolution_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_worklist_kind_open", "worklist_item", ["kind", "resolved_at", "id"])
    op.create_index("ix_worklist_identity", "worklist_item", ["identity_id"])


def downgrade() -> None:
    op.drop_table("worklist_item")
