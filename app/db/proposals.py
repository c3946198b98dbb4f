"""INSi proposals shown to the desk, bound to the identity version they were made for."""

from __future__ import annotations

from sqlmodel import Session


class ProposalRepository:
    """INSi proposals shown to the desk, bound to the identity version they were made for."""

    def __init__(self, session: Session) -> None:
        self._session = session
