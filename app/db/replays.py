"""Replay jobs: resumable re-sends of current identity states to one subscriber."""

from __future__ import annotations

from sqlmodel import Session


class ReplayRepository:
    """Replay jobs: resumable re-sends of current identity states to one subscriber."""

    def __init__(self, session: Session) -> None:
        self._session = session
