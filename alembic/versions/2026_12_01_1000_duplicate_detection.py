"""Duplicate detection: identity match keys, the detection queue, duplicate pairs, full scans.

Revision ID: 2026_12_01_1000
Revises: 2026_11_30_1200
Create Date: 2026-12-01 10:00

``identity_match_key`` starts empty: keys are computed in Python (Phonex), not in SQL. On a
database that already holds identities, run ``identito duplicates keys`` once after the upgrade
so that the desk's candidate check sees them (the detection job keys every identity that
changes from then on; docs/duplicates.md).
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_12_01_1000"
down_revision = "2026_11_30_1200"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "identity_match_key",
        sa.Column("key_hash", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("identity_id", sa.Integer, primary_key=True, autoincrement=False),
    )
    op.create_index("ix_identity_match_key_identity", "identity_match_key", ["identity_id"])
    op.create_table(
        "duplicate_check",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("identity_id", sa.Integer, nullable=False),
        sa.Column("queued_at", _TS, nullable=False),
    )
    op.create_table(
        "duplicate_pair",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("low_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("high_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("grade", sa.String(10), nullable=False),
        sa.Column("explanation", sa.JSON, nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="open"),
        sa.Column("found_by", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("decided_digest", sa.String(64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint("low_id < high_id", name="ck_duplicate_pair_order"),
        sa.CheckConstraint("status IN ('open','dismissed','merged','linked')", name="ck_duplicate_pair_status"),
        sa.CheckConstraint("grade IN ('certain','probable','possible','no_match')",
                           name="ck_duplicate_pair_grade"),
    )
    op.create_index("ux_duplicate_pair", "duplicate_pair", ["low_id", "high_id"], unique=True)
    op.create_index("ix_duplicate_pair_high", "duplicate_pair", ["high_id"])
    op.create_index("ix_duplicate_pair_list", "duplicate_pair", ["status", "grade", "score", "id"])
    op.create_table(
        "duplicate_scan",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(10), nullable=False, server_default="queued"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("started_at", _TS, nullable=True),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("runner", sa.String(200), nullable=True),
        sa.Column("heartbeat_at", _TS, nullable=True),
        sa.Column("cursor_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("identities_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("identities_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("comparisons", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("pairs_found", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pairs_alert", sa.Integer, nullable=False, server_default="0"),
        sa.Column("figures", sa.JSON, nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
    )
    op.create_index("ix_duplicate_scan_status", "duplicate_scan", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_duplicate_scan_status", table_name="duplicate_scan")
    op.drop_table("duplicate_scan")
    op.drop_index("ix_duplicate_pair_list", table_name="duplicate_pair")
    op.drop_index("ix_duplicate_pair_high", table_name="duplicate_pair")
    op.drop_index("ux_duplicate_pair", table_name="duplicate_pair")
    op.drop_table("duplicate_pair")
    op.drop_table("duplicate_check")
    op.drop_index("ix_identity_match_key_identity", table_name="identity_match_key")
    op.drop_table("identity_match_key")
