"""Identity documents: the explicit "no expiry date printed" answer (RNIV EXI SI 10).

Revision ID: 2026_11_30_1010
Revises: 2026_11_30_1000
Create Date: 2026-11-30 10:10
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_11_30_1010"
down_revision = "2026_11_30_1000"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "identity_document",
        sa.Column("no_expiry_printed", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("identity_document") as batch:
        batch.drop_column("no_expiry_printed")
