"""INSi call journal: insi_call.

Revision ID: 2026_11_24_1400
Revises: 2026_11_24_1300
Create Date: 2026-11-24 14:00
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_11_24_1400"
down_revision = "2026_11_24_1300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insi_call",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("credential_mode", sa.String(24), nullable=False),
        sa.Column("emitter", sa.String(200), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(12), nullable=False),
        sa.Column("identity_id", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("error_category", sa.String(16), nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("traits_hash", sa.String(64), nullable=True),
    )
    op.create_index("ix_insi_call_at", "insi_call", ["at"])
    op.create_index("ix_insi_call_identity", "insi_call", ["identity_id", "at"])
    op.create_index("ix_insi_call_requested_by", "insi_call", ["requested_by", "at"])
    op.create_index("ix_insi_call_outcome", "insi_call", ["outcome", "at"])


def downgrade() -> None:
    op.drop_index("ix_insi_call_outcome", table_name="insi_call")
    op.drop_index("ix_insi_call_requested_by", table_name="insi_call")
    op.drop_index("ix_insi_call_identity", table_name="insi_call")
    op.drop_index("ix_insi_call_at", table_name="insi_call")
    op.drop_table("insi_call")
