"""Subscriber events as rows: subscriber_event (subscriber_id, event, position) replaces subscriber.events.

Revision ID: 2026_11_30_1200
Revises: 2026_11_30_1040
Create Date: 2026-11-30 12:00

The outbox fan-out matched the comma list with LIKE; it now joins on subscriber_event, whose key
(subscriber_id, event) holds each event once. Existing lists are converted as the API reads them
(trimmed, upper case, each event once, in their order); the downgrade writes the lists back.
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_11_30_1200"
down_revision = "2026_11_30_1040"
branch_labels = None
depends_on = None

_DEFAULT = "A28,A31,A40,A47"
_EVENT = sa.table("subscriber_event", sa.column("subscriber_id", sa.Integer), sa.column("event", sa.String),
                  sa.column("position", sa.SmallInteger))
_SUBSCRIBER = sa.table("subscriber", sa.column("id", sa.Integer), sa.column("events", sa.String))


def _events(text: str) -> list[str]:
    """The events of a stored list (an event code is 3 characters: a longer item matched nothing)."""
    items = [item.strip().upper() for item in text.split(",")]
    return list(dict.fromkeys(item for item in items if len(item) == 3))


def upgrade() -> None:
    op.create_table(
        "subscriber_event",
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscriber.id"), primary_key=True),
        sa.Column("event", sa.String(3), primary_key=True),
        sa.Column("position", sa.SmallInteger, nullable=False),
    )
    connection = op.get_bind()
    rows = [
        {"subscriber_id": subscriber_id, "event": event, "position": position}
        for subscriber_id, events in connection.execute(sa.select(_SUBSCRIBER.c.id, _SUBSCRIBER.c.events))
        for position, event in enumerate(_events(events or ""))
    ]
    if rows:
        connection.execute(_EVENT.insert(), rows)
    with op.batch_alter_table("subscriber") as batch:
        batch.drop_column("events")


def downgrade() -> None:
    with op.batch_alter_table("subscriber") as batch:
        batch.add_column(sa.Column("events", sa.String(100), nullable=False, server_default=_DEFAULT))
    connection = op.get_bind()
    connection.execute(_SUBSCRIBER.update().values(events=""))  # none wanted, unless listed below
    lists: dict[int, list[str]] = {}
    stored = sa.select(_EVENT.c.subscriber_id, _EVENT.c.event).order_by(
        _EVENT.c.subscriber_id, _EVENT.c.position
    )
    for subscriber_id, event in connection.execute(stored):
        lists.setdefault(subscriber_id, []).append(event)
    for subscriber_id, events in lists.items():
        connection.execute(
            _SUBSCRIBER.update().where(_SUBSCRIBER.c.id == subscriber_id).values(events=",".join(events))
        )
    op.drop_table("subscriber_event")
