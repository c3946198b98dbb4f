"""MSSanté messages and their recipients: ``mss_message`` (the mail and its sending queue state),
``mss_recipient`` (one status per recipient).

Revision ID: 2026_12_03_1000
Revises: 2026_12_02_1300
Create Date: 2026-12-03 10:00
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_12_03_1000"
down_revision = "2026_12_02_1300"
branch_labels = None
depends_on = None

_READY = "state IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_table(
        "mss_message",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tracking_id", sa.String(36), nullable=False, unique=True),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("identity_id", sa.Integer, nullable=False),
        sa.Column("document_unique_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("ins_sent", sa.Boolean, nullable=False),
        sa.Column("cda", sa.Boolean, nullable=False),
        sa.Column("read_receipt", sa.Boolean, nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("mail", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_mss_message_ready", "mss_message", ["available_at"],
                    postgresql_where=sa.text(_READY), sqlite_where=sa.text(_READY))
    op.create_index("ix_mss_message_identity", "mss_message", ["identity_id", "id"])
    op.create_table(
        "mss_recipient",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("mss_message.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mss_recipient_message", "mss_recipient", ["message_id", "position"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_mss_recipient_message", table_name="mss_recipient")
    op.drop_table("mss_recipient")
    op.drop_index("ix_mss_message_identity", table_name="mss_message")
    op.drop_index("ix_mss_message_ready", table_name="mss_message")
    op.drop_table("mss_message")
