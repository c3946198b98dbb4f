"""Inbound messages: the digest of the content answered for each (sender, MSH-10).

A resend (same content) gets the stored ACK again; the same control id with other content is
refused and quarantined instead of being dropped as a duplicate.

Revision ID: 2026_11_30_1020
Revises: 2026_11_30_1010
Create Date: 2026-11-30 10:20
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_11_30_1020"
down_revision = "2026_11_30_1010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbound_message", sa.Column("content_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.drop_column("content_digest")
