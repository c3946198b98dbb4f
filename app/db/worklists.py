"""Identitovigilance worklist items: open (one per cause), repeat, close, list, count."""

from __future__ import annotations

from sqlmodel import Session


class WorklistRepository:
    """Identitovigilance worklist items: open (one per cause), repeat, close, list, count."""

    def __init__(self, session: Session) -> None:
        self._session = session
