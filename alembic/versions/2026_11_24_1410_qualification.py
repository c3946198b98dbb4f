"""INSi proposals, campaigns and campaign items.

Revision ID: 2026_11_24_1410
Revises: 2026_11_24_1405
Create Date: 2026-11-24 14:10
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_24_1410"
down_revision = "2026_11_24_1405"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insi_proposal",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("identity_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="open"),
        sa.Column("answer", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_index("ix_insi_proposal_identity_id", "insi_proposal", ["identity_id"])
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("operation", sa.String(10), nullable=False),
        sa.Column("selection", sa.JSON, nullable=False),
        sa.Column("auto_apply", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("rate_limit", sa.Float, nullable=True),
        sa.Column("concurrency", sa.Integer, nullable=False, server_default="4"),
        sa.Column("status", sa.String(10), nullable=False, server_default="running"),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "campaign_item",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("state", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worklist_item_id", sa.Integer, nullable=True),
    )
    op.create_index("ux_campaign_item", "campaign_item", ["campaign_id", "identity_id"], unique=True)
    op.create_index("ix_campaign_item_state", "campaign_item", ["campaign_id", "state", "id"])


def downgrade() -> None:
    op.drop_table("campaign_item")
    op.drop_table("campaign")
    op.drop_table("insi_proposal")
