"""HL7 settings refuse combinations that cannot work."""

from __future__ import annotations

import pytest


def test_lease_must_leave_time_to_send():
    from pydantic import ValidationError

    from app.config import Hl7Settings

    with pytest.raises(ValidationError):
        Hl7Settings(lease_seconds=5, ack_timeout_seconds=5, connect_timeout_seconds=1)
    assert Hl7Settings().lease_seconds == 60
