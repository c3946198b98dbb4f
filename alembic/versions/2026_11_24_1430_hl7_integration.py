"""HL7 integration: subscriber, outbox_message, inbound_message, quarantine, replay_job.

Revision ID: 2026_11_24_1430
Revises: 2026_11_24_1410
Create Date: 2026-11-24 14:30
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_11_24_1430"
down_revision = "2026_11_24_1410"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_OPEN = "state IN ('pending', 'sending', 'dead')"
_READY = "state IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_table(
        "subscriber",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("tls", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("receiving_application", sa.String(100), nullable=False),
        sa.Column("receiving_facility", sa.String(100), nullable=False),
        sa.Column("charset", sa.String(20), nullable=False, server_default="UNICODE UTF-8"),
        sa.Column("events", sa.String(100), nullable=False, server_default="A28,A31,A40,A47"),
        sa.Column("ins_ready", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscriber.id"), nullable=False),
        sa.Column("identity_id", sa.Integer, nullable=False),
        sa.Column("event", sa.String(3), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False, server_default="live"),
        sa.Column("snapshot", sa.JSON, nullable=False),
        sa.Column("state", sa.String(8), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("available_at", _TS, nullable=False),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("skip_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_outbox_stream", "outbox_message", ["subscriber_id", "identity_id", "id"])
    op.create_index(
        "ix_outbox_open_stream",
        "outbox_message",
        ["subscriber_id", "identity_id", "id"],
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )
    op.create_index(
        "ix_outbox_ready",
        "outbox_message",
        ["id"],
        postgresql_where=sa.text(_READY),
        sqlite_where=sa.text(_READY),
    )
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender", sa.String(200), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(8), nullable=False, server_default=""),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("ack_code", sa.String(2), nullable=False),
        sa.Column("ack", sa.Text, nullable=False),
        sa.Column("identity_id", sa.Integer, nullable=True),
        sa.Column("quarantine_id", sa.Integer, nullable=True),
        sa.UniqueConstraint("sender", "control_id", name="ux_inbound_sender_control_id"),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender", sa.String(200), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("error_code", sa.String(64), nullable=False),
        sa.Column("error_field", sa.String(64), nullable=True),
        sa.Column("error_text", sa.Text, nullable=False),
        sa.Column("state", sa.String(10), nullable=False, server_default="open"),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.create_index("ix_quarantine_state", "quarantine", ["state", "id"])
    op.create_table(
        "replay_job",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscriber.id"), nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False, server_default="running"),
        sa.Column("identity_id", sa.Integer, nullable=True),
        sa.Column("from_at", _TS, nullable=True),
        sa.Column("to_at", _TS, nullable=True),
        sa.Column("cursor", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("enqueued", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rate_per_second", sa.Float, nullable=False, server_default="2000"),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
    )
    op.create_index("ix_replay_job_subscriber_id", "replay_job", ["subscriber_id"])
    op.create_index("ix_replay_job_state", "replay_job", ["state", "id"])


def downgrade() -> None:
    op.drop_table("replay_job")
    op.drop_table("quarantine")
    op.drop_table("inbound_message")
    op.drop_index("ix_outbox_ready", "outbox_message")
    op.drop_index("ix_outbox_open_stream", "outbox_message")
    op.drop_index("ix_outbox_stream", "outbox_message")
    op.drop_table("outbox_message")
    op.drop_table("subscriber")
