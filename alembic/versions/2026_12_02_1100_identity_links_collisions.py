"""Identity links (PAM FR A24 / A37), and the link events for the subscribers of the identity feed.

Revision ID: 2026_12_02_1100
Revises: 2026_12_02_1000
Create Date: 2026-12-02 11:00

``identity_link`` records each link of two identities kept apart (low id first) and its end; one
standing link per pair. Every subscriber that receives merges (A40) is given A24 and A37 too, at
the end of its list: a link is announced to the same applications as a merge (the API lets an
administrator take them off). The downgrade removes both. Collisions need no table: they are a
worklist kind (``potential_collision``), stored as text.
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_12_02_1100"
down_revision = "2026_12_02_1000"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_OPEN = sa.text("unlinked_at IS NULL")
_EVENT = sa.table("subscriber_event", sa.column("subscriber_id", sa.Integer), sa.column("event", sa.String),
                  sa.column("position", sa.SmallInteger))
_LINK_EVENTS = ("A24", "A37")


def upgrade() -> None:
    op.create_table(
        "identity_link",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("low_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("high_id", sa.Integer, sa.ForeignKey("identity.id"), nullable=False),
        sa.Column("linked_at", _TS, nullable=False),
        sa.Column("linked_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("unlinked_at", _TS, nullable=True),
        sa.Column("unlinked_by", sa.String(200), nullable=True),
        sa.Column("unlink_reason", sa.Text, nullable=True),
        sa.CheckConstraint("low_id < high_id", name="ck_identity_link_order"),
    )
    op.create_index("ix_identity_link_low", "identity_link", ["low_id", "id"])
    op.create_index("ix_identity_link_high", "identity_link", ["high_id", "id"])
    op.create_index("ux_identity_link_open", "identity_link", ["low_id", "high_id"], unique=True,
                    postgresql_where=_OPEN, sqlite_where=_OPEN)
    connection = op.get_bind()
    last = sa.select(_EVENT.c.subscriber_id, sa.func.max(_EVENT.c.position)).group_by(_EVENT.c.subscriber_id)
    positions = {subscriber_id: position for subscriber_id, position in connection.execute(last)}
    merging = connection.execute(sa.select(_EVENT.c.subscriber_id).where(_EVENT.c.event == "A40")).scalars()
    rows = [
        {"subscriber_id": subscriber_id, "event": event, "position": positions[subscriber_id] + 1 + offset}
        for subscriber_id in merging
        for offset, event in enumerate(_LINK_EVENTS)
    ]
    if rows:
        connection.execute(_EVENT.insert(), rows)


def downgrade() -> None:
    op.get_bind().execute(_EVENT.delete().where(_EVENT.c.event.in_(_LINK_EVENTS)))
    op.drop_index("ux_identity_link_open", table_name="identity_link")
    op.drop_index("ix_identity_link_high", table_name="identity_link")
    op.drop_index("ix_identity_link_low", table_name="identity_link")
    op.drop_table("identity_link")
