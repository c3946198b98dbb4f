"""The used-name key-head index carries the birth-name key too: FHIR's Bundle.total counts a name
prefix without de-duplicating.

The count of a name-prefix search (app.db.identity_queries.count_statement) was the UNION of the two
key-head ranges, de-duplicated in a hash of every id found (19 ms for a common three-letter prefix at
1M identities, three quarters of it the hash). It is now the identities of the birth-name range plus
those of the used-name range whose birth-name key does not match (the others are in the first range
already): two index-only counts, no hash, once this index holds the birth-name key. The page search
reads the same columns as before, in the same order (the new column comes last).

On PostgreSQL the index is built again (CREATE INDEX blocks writes to identity while it builds, a
second or two at 1M identities: most identities have no used name); run ``VACUUM (ANALYZE) identity``
after it so that the counts stay index-only.

Revision ID: 2026_12_04_0900
Revises: 2026_12_03_1000
Create Date: 2026-12-04 09:00
"""

from alembic import op

revision = "2026_12_04_0900"
down_revision = "2026_12_03_1000"
branch_labels = None
depends_on = None

_NAME = "ix_identity_used_name_key_head"
# The expression must read exactly as the search writes it (app.db.identity_queries.KEY_HEAD).
_COLUMNS = "substr(used_name_key, 1, 3), active, birth_name, first_name, birth_date, id, used_name_key"
_WHERE = " WHERE used_name_key IS NOT NULL"


def upgrade() -> None:
    op.drop_index(_NAME, table_name="identity")
    op.execute(f"CREATE INDEX {_NAME} ON identity ({_COLUMNS}, birth_name_key){_WHERE}")


def downgrade() -> None:
    op.drop_index(_NAME, table_name="identity")
    op.execute(f"CREATE INDEX {_NAME} ON identity ({_COLUMNS}){_WHERE}")
