"""Seal the audit trail into its hash chain, and verify the chain (``app.domain.audit_chain``).

``seal`` runs in the worker (and ``identito audit seal``): it appends a seal for each audit row not
sealed yet, in id order, under the sealer's lock. ``verify`` (``identito audit verify``) walks the
chain from its start: each seal must match the row it seals as it is now and the seal before it.
The first seal that does not names the row where the trail was changed (``changed``), removed
(``missing``), or the seal itself altered. Rows not sealed yet are counted, with the oldest: a row
inserted behind the triggers' back below the sealed rows shows as an old unsealed row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.db.audit import SEAL_WINDOW
from app.db.unit_of_work import Reader
from app.domain.audit_chain import GENESIS, seal_hash
from app.domain.roles import Actor
from app.services.context import ServiceContext

SEALER = Actor("job:audit-sealer", frozenset({"admin"}), kind="job")
VERIFY_BATCH = 5000


@dataclass(frozen=True)
class Break:
    """Where the chain breaks: the seal's position, the audit row, what is wrong with it."""

    seq: int
    audit_id: int
    kind: str  # changed (the row or its seal differs from what was sealed) | missing (the row is gone)


@dataclass(frozen=True)
class ChainReport:
    """What a verification found."""

    sealed: int  # seals checked (up to the first break)
    broken: Break | None
    unsealed: int
    oldest_unsealed_id: int | None
    oldest_unsealed_at: datetime | None

    @property
    def intact(self) -> bool:
        """Whether every sealed row is as it was sealed."""
        return self.broken is None


def seal(ctx: ServiceContext, *, batch: int = 5000) -> int:
    """Seal up to ``batch`` audit rows not sealed yet (one transaction); how many were sealed."""
    with ctx.unit_of_work(SEALER) as uow:
        trail = uow.audit_log
        trail.lock_chain()
        head = trail.seal_head()
        previous = head.hash if head is not None else GENESIS
        above = max(0, head.audit_id - SEAL_WINDOW) if head is not None else 0
        rows = trail.unsealed(above, batch)
        seals: list[tuple[int, str]] = []
        for row in rows:
            previous = seal_hash(previous, row)
            seals.append((row["id"], previous))
        trail.add_seals(seals, uow.now())
        uow.commit()
    return len(seals)


def seal_all(ctx: ServiceContext, *, batch: int = 5000) -> int:
    """Seal until nothing is left to seal; how many were sealed."""
    total = 0
    while done := seal(ctx, batch=batch):
        total += done
    return total


def verify(ctx: ServiceContext) -> ChainReport:
    """Walk the whole chain; stop at the first break."""
    previous, after, checked = GENESIS, 0, 0
    with ctx.reading() as reader:
        while sealed := reader.audit_log.chain(after, VERIFY_BATCH):
            for item in sealed:
                if item.row is None:
                    return _report(reader, checked, Break(item.seq, item.audit_id, "missing"))
                expected = seal_hash(previous, item.row)
                if expected != item.hash:
                    return _report(reader, checked, Break(item.seq, item.audit_id, "changed"))
                previous, after, checked = item.hash, item.seq, checked + 1
        return _report(reader, checked, None)


def _report(reader: Reader, checked: int, broken: Break | None) -> ChainReport:
    count, lowest, oldest = reader.audit_log.unsealed_summary()
    return ChainReport(checked, broken, count, lowest, oldest)
