"""Downstream applications (subscribers) and the events each wants."""

from __future__ import annotations

from sqlmodel import Session


class SubscriberRepository:
    """Downstream applications (subscribers) and the events each wants."""

    def __init__(self, session: Session) -> None:
        self._session = session
