"""Batch INSi campaigns and their items (claims, leases, outcomes)."""

from __future__ import annotations

from sqlmodel import Session


class CampaignRepository:
    """Batch INSi campaigns and their items (claims, leases, outcomes)."""

    def __init__(self, session: Session) -> None:
        self._session = session
