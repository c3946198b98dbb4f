"""The audit trail's hash chain: each sealed audit row is bound to every row sealed before it.

The database refuses updates and deletes of audit rows (triggers), but a database owner can switch
triggers off. So the rows are also chained: seal *n* holds sha256(seal *n-1* + the row's canonical
text). Changing, removing or inserting a row behind the trigger's back breaks the chain from that
row on, and ``identito audit verify`` names the first row where it breaks (PGSSI-S traceability:
records that cannot be altered without it being seen; issue 16).

One chain for the whole trail, in sealing order (not per identity): a verification is one pass,
and a removed row leaves a hole whichever identity it was about. Pure: the canonical text and the
hash only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # the "previous seal" of the first one

FIELDS = ("id", "identity_id", "at", "actor", "roles", "action", "before", "after", "reason")


def _instant(value: Any) -> str:
    """A timestamp as UTC ISO text (SQLite gives stored UTC instants back without a zone)."""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.isoformat(timespec="microseconds")
    return str(value)


def canonical(row: Mapping[str, Any]) -> str:
    """The text an audit row is sealed as: its fields in a fixed order, JSON with sorted keys."""
    values = {name: row[name] for name in FIELDS}
    values["at"] = _instant(values["at"])
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def seal_hash(previous: str, row: Mapping[str, Any]) -> str:
    """The seal of a row, given the seal before it."""
    return hashlib.sha256((previous + "\n" + canonical(row)).encode("utf-8")).hexdigest()
