"""Browser sessions in the database (``web_session``): every API process serves every session, and
a restart no longer signs everyone out.

Revision ID: 2026_12_06_0900
Revises: 2026_12_05_0900
Create Date: 2026-12-06 09:00
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_12_06_0900"
down_revision = "2026_12_05_0900"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False),
        sa.Column("subject", sa.String(128), nullable=True),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("roles", sa.String(400), nullable=False, server_default=""),
        sa.Column("flash", sa.Text, nullable=True),
        sa.Column("pending_login", sa.Text, nullable=True),
    )
    op.create_index("ix_web_session_seen_at", "web_session", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_web_session_seen_at", table_name="web_session")
    op.drop_table("web_session")
