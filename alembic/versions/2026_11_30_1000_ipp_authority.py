"""Local identifiers per assigning authority: identity.ipp is unique within identity.ipp_authority.

Before, ``identity.ipp`` was unique on its own, so a GAM's IPP ``000000012`` and Identito's own
``000000012`` were the same key. ``ipp_authority`` holds the assigning authority (HL7 HD text
``namespace&universal id&type``) of a sender's identifier, '' for Identito's own IPPs: existing
identities are taken as Identito's own (the authority of identifiers received before this
revision was not kept; see docs/integration.md, "Identifier domains").

Revision ID: 2026_11_30_1000
Revises: 2026_11_24_1430
Create Date: 2026-11-30 10:00
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_11_30_1000"
down_revision = "2026_11_24_1430"
branch_labels = None
depends_on = None

# SQLite names an inline UNIQUE nothing: batch mode names it by this convention to drop it.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    column = sa.Column("ipp_authority", sa.String(200), nullable=False, server_default="")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("identity", naming_convention=_NAMING, recreate="always") as batch:
            batch.drop_constraint("uq_identity_ipp", type_="unique")
            batch.add_column(column)
    else:
        op.drop_constraint("identity_ipp_key", "identity", type_="unique")
        op.add_column("identity", column)
    op.create_index("ux_identity_ipp", "identity", ["ipp", "ipp_authority"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_identity_ipp", table_name="identity")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("identity", naming_convention=_NAMING, recreate="always") as batch:
            batch.drop_column("ipp_authority")
            batch.create_unique_constraint("uq_identity_ipp", ["ipp"])
    else:
        op.drop_column("identity", "ipp_authority")
        op.create_unique_constraint("identity_ipp_key", "identity", ["ipp"])
