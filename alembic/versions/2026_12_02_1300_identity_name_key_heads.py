"""Name-prefix search by key head: one ordered index range per name key.

Search as you type (a birth or used name prefix of 3 letters or more) used to walk the name-order
index from its start, testing both keys of every active identity until it had a page: a prefix
whose names sort late (or match few identities) read most of the index (p95 88 ms in SQL at 1M).
These two indexes put the first three letters of each name key first, then the search's order
(birth_name, first_name, birth_date, id) and the key itself: the rows of one prefix are one range
of the index, already in page order, read index-only until the page is full. The search takes the
first page of each key's range and merges the two (app.db.identity_queries).

The used-name index is partial (most identities have no used name). Creating an index fills it from
the rows already there: an upgraded database needs no backfill (the keys themselves were filled by
2026_11_30_1040). On PostgreSQL a plain CREATE INDEX blocks writes to identity while it builds (a
few seconds at 1M identities); run ``VACUUM (ANALYZE) identity`` after it so that the planner has
the statistics of the new expressions and the scans stay index-only.

Revision ID: 2026_12_02_1300
Revises: 2026_12_02_1200
Create Date: 2026-12-02 13:00
"""

from alembic import op

revision = "2026_12_02_1300"
down_revision = "2026_12_02_1200"
branch_labels = None
depends_on = None

# The expressions must read exactly as the search writes them (app.db.identity_queries.KEY_HEAD).
_INDEXES = (
    ("ix_identity_birth_name_key_head", "birth_name_key", ""),
    ("ix_identity_used_name_key_head", "used_name_key", " WHERE used_name_key IS NOT NULL"),
)


def upgrade() -> None:
    for name, key, where in _INDEXES:
        op.execute(f"CREATE INDEX {name} ON identity (substr({key}, 1, 3), active, birth_name, first_name, "
                   f"birth_date, id, {key}){where}")


def downgrade() -> None:
    for name, _, _ in _INDEXES:
        op.drop_index(name, table_name="identity")
