"""Worklist items: one open item per cause (open_key), occurrences, the event that closed an item.

Revision ID: 2026_11_30_1030
Revises: 2026_11_30_1020
Create Date: 2026-11-30 10:10

Existing open items get their key (the newest one when a cause was opened several times; older
duplicates stay open without a key, for the cell to resolve).
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_11_30_1030"
down_revision = "2026_11_30_1020"
branch_labels = None
depends_on = None

_NEWEST = ("SELECT max(id) FROM worklist_item WHERE resolved_at IS NULL AND kind {op} 'document_expired' "
           "GROUP BY {group}")


def upgrade() -> None:
    with op.batch_alter_table("worklist_item") as batch:
        batch.add_column(sa.Column("occurrences", sa.Integer, nullable=False, server_default=sa.text("1")))
        batch.add_column(sa.Column("last_occurred_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("closing_event", sa.String(32), nullable=True))
        batch.add_column(sa.Column("open_key", sa.String(100), nullable=True))
    op.execute("UPDATE worklist_item SET last_occurred_at = created_at")
    op.execute("UPDATE worklist_item SET open_key = kind || ':' || CAST(identity_id AS VARCHAR) "
               f"WHERE id IN ({_NEWEST.format(op='<>', group='kind, identity_id')})")
    op.execute("UPDATE worklist_item SET open_key = kind || ':' || CAST(identity_id AS VARCHAR) || ':' || outcome "
               f"WHERE id IN ({_NEWEST.format(op='=', group='identity_id, outcome')})")
    op.create_index("ux_worklist_open_key", "worklist_item", ["open_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_worklist_open_key", table_name="worklist_item")
    with op.batch_alter_table("worklist_item") as batch:
        batch.drop_column("open_key")
        batch.drop_column("closing_event")
        batch.drop_column("last_occurred_at")
        batch.drop_column("occurrences")
