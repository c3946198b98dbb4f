"""Identity name search keys: apostrophes, hyphens and spaces ignored, prefix-indexed.

Adds birth_name_key, used_name_key and first_names_key (app.domain.traits.name_search_key and
first_names_search_key), fills them for the existing identities, and indexes the two name keys for
prefix searches (text_pattern_ops on PostgreSQL). The name indexes that only the search used are
replaced by these, and on PostgreSQL the name-order index includes what the prefix search filters
on (an index-only walk in name order).

Revision ID: 2026_11_30_1040
Revises: 2026_11_30_1030
Create Date: 2026-11-30 10:00
"""

import sqlalchemy as sa

from alembic import op
from app.domain.traits import first_names_search_key, name_search_key

revision = "2026_11_30_1040"
down_revision = "2026_11_30_1030"
branch_labels = None
depends_on = None

_BATCH = 5000
_OLD_INDEXES = (
    ("ix_identity_used_name", "used_name", None),
    ("ix_identity_birth_name_prefix", "birth_name", "text_pattern_ops"),
    ("ix_identity_used_name_prefix", "used_name", "text_pattern_ops"),
)
_COVERED = ["first_name", "id", "active", "birth_name_key", "used_name_key"]
_NEW_INDEXES = (
    ("ix_identity_birth_name_key", "birth_name_key"),
    ("ix_identity_used_name_key", "used_name_key"),
)


def upgrade() -> None:
    op.add_column("identity", sa.Column("birth_name_key", sa.String(100), nullable=True))
    op.add_column("identity", sa.Column("used_name_key", sa.String(100), nullable=True))
    op.add_column("identity", sa.Column("first_names_key", sa.Text, nullable=True))
    _fill_keys(op.get_bind())
    for name, column in _NEW_INDEXES:
        op.create_index(name, "identity", [column], postgresql_ops={column: "text_pattern_ops"})
    for name, _, _ in _OLD_INDEXES:
        op.drop_index(name, table_name="identity")
    op.drop_index("ix_identity_birth_name_date", table_name="identity")
    op.create_index("ix_identity_birth_name_date", "identity", ["birth_name", "birth_date"],
                    postgresql_include=_COVERED)


def _fill_keys(connection: sa.engine.Connection) -> None:
    """Compute the keys of the existing identities, in id order, a batch per statement."""
    identity = sa.table(
        "identity", sa.column("id"), sa.column("birth_name"), sa.column("used_name"),
        sa.column("first_names"), sa.column("used_first_name"), sa.column("birth_name_key"),
        sa.column("used_name_key"), sa.column("first_names_key"),
    )
    update = (
        sa.update(identity)
        .where(identity.c.id == sa.bindparam("b_id"))
        .values(birth_name_key=sa.bindparam("b_birth"), used_name_key=sa.bindparam("b_used"),
                first_names_key=sa.bindparam("b_first"))
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(identity.c.id, identity.c.birth_name, identity.c.used_name, identity.c.first_names,
                      identity.c.used_first_name)
            .where(identity.c.id > last).order_by(identity.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(update, [
            {"b_id": row.id, "b_birth": name_search_key(row.birth_name),
             "b_used": name_search_key(row.used_name) if row.used_name else None,
             "b_first": first_names_search_key(row.first_names, row.used_first_name)}
            for row in rows
        ])
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_identity_birth_name_date", table_name="identity")
    op.create_index("ix_identity_birth_name_date", "identity", ["birth_name", "birth_date"])
    for name, column, ops in _OLD_INDEXES:
        op.create_index(name, "identity", [column], postgresql_ops={column: ops} if ops else {})
    for name, _ in _NEW_INDEXES:
        op.drop_index(name, table_name="identity")
    # A plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 has it): no table copy, triggers and
    # constraints untouched.
    for column in ("first_names_key", "used_name_key", "birth_name_key"):
        op.drop_column("identity", column)
