"""Identities and their INS in a transaction: loads (with lock-ahead), inserts, versioned saves.

Deferred saves, the one rule: ``lock_by_ipps`` locks a group's identities and reads them in one
statement (PostgreSQL; on SQLite it is a no-op with the same result: each identity is read when
asked, each save runs at once). A save of a row this transaction holds locked at the expected
version cannot fail its version check, so its UPDATE is deferred: ``_statement()``, the step every
method of this repository takes before it reaches the database, writes the deferred UPDATEs
first, so that every statement here sees every save; what is left goes with the COMMIT
(``write_deferred``, called by the unit of work inside its pipelined commit). The other
repositories never read identity rows inside a transaction that used ``lock_by_ipps``; one that
must calls ``UnitOfWork.write_deferred()`` first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, any_, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.db.duplicates import add_keys
from app.db.engine import Precompiled
from app.db.errors import DuplicateKey, StaleRow
from app.db.identity_rows import (
    IDENTITY,
    INS,
    INS_COLUMNS,
    attributes_text,
    identities_of,
    ins_records_of,
    ins_values,
    joined,
    trait_values,
)
from app.db.tables import IdentityRow
from app.domain.duplicates import match_key_hashes
from app.domain.identifiers import OWN, Authority
from app.domain.identity import Identity
from app.domain.ins import InsRecord
from app.domain.matching import MatchRecord, from_traits
from app.domain.status import Attribute, IdentityState
from app.domain.traits import Traits

IppKey = tuple[str, str]  # (IPP, its assigning authority's HD text)

_BY_IPP = (IDENTITY.c.ipp == bindparam("key")) & (IDENTITY.c.ipp_authority == bindparam("authority"))
_LOAD = {  # one identity, by its id or by (IPP, authority) (built once)
    (column, for_update): Precompiled(joined(where, for_update=for_update))
    for column, where in (("id", IDENTITY.c.id == bindparam("key")), ("ipp", _BY_IPP))
    for for_update in (False, True)
}
# A group's (IPP, authority) pairs: rows matching an IPP of one pair and the authority of another
# are locked too (harmless: a few more rows, still in id order) and left out of the answers.
_LOCK_BY_IPPS = Precompiled(
    joined(
        (IDENTITY.c.ipp == any_(bindparam("keys", type_=ARRAY(IDENTITY.c.ipp.type))))
        & (IDENTITY.c.ipp_authority
           == any_(bindparam("authorities", type_=ARRAY(IDENTITY.c.ipp_authority.type)))),
        for_update=True,
    ),
    prepare=False,  # planned for the IPPs given: the unique index, even on a table not analyzed yet
)
_LOAD_INS = Precompiled(
    select(*INS_COLUMNS)
    .where(INS.c.identity_id == bindparam("key"))
    .order_by(INS.c.active.desc(), INS.c.id.desc())
)
_SAVED_COLUMNS = (
    "birth_name", "first_names", "first_name", "sex", "birth_date", "birth_date_completed",
    "birth_place_code", "used_name", "used_first_name", "status", "attributes", "insi_at",
    "source", "active", "merged_into_id", "updated_at", "version",
    "birth_name_key", "used_name_key", "first_names_key",  # see identity_rows.trait_values
)
_SAVE = Precompiled(
    update(IDENTITY)
    .where(IDENTITY.c.id == bindparam("b_id"), IDENTITY.c.version == bindparam("b_version"))
    .values({name: bindparam(name) for name in _SAVED_COLUMNS})
)


@dataclass(frozen=True)
class NewIdentity:
    """An identity to insert in bulk (imports, benchmarks), its traits already built by the domain."""

    traits: Traits
    state: IdentityState
    ipp: str | None = None
    source: str = "SM"
    ins_records: tuple[InsRecord, ...] = ()
    insi_at: datetime | None = None


def _new_record(identity_id: int, new: NewIdentity) -> MatchRecord:
    """What the matcher compares of an identity being inserted (``from_identity`` of it)."""
    blocked = new.state.blocked
    active = next((r.ins.matricule for r in new.ins_records if r.active), None)
    return from_traits(
        new.traits, active_ins=None if blocked else active,
        ins_history=() if blocked else [r.ins.matricule for r in new.ins_records if not r.active],
        homonym=Attribute.HOMA in new.state.attributes, identity_id=identity_id,
    )


@contextmanager
def _unique_ipp() -> Iterator[None]:
    """An IPP that its authority already gave raises ``DuplicateKey`` (the unique index refused it)."""
    try:
        yield
    except IntegrityError:
        raise DuplicateKey("ipp") from None


class IdentityRepository:
    """Identities and their INS records (documents: ``DocumentRepository``; search: ``IdentitySearch``)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._ins_touched: set[int] = set()
        self._locked_ahead: dict[IppKey, Identity | None] = {}  # see ``lock_by_ipps``
        self._locked: dict[int, int] = {}  # id -> version, of rows ``lock_by_ipps`` locked
        self._deferred: list[dict[str, Any]] = []  # saves of those rows, in order (see ``save``)

    def _statement(self) -> Session:
        """The step before any statement here: write the deferred saves (see the module docstring)."""
        if self._deferred:
            self.write_deferred()
        return self._session

    def _connection(self) -> Connection:
        """The transaction's connection, for Core statements (plain rows, no ORM execution layer,
        which costs as much client CPU as the statement itself on the hot paths)."""
        return self._statement().connection()

    def write_deferred(self) -> None:
        """Run the deferred UPDATEs (the unit of work does it with its COMMIT, in one round trip)."""
        deferred, self._deferred = self._deferred, []
        _SAVE.execute(self._session.connection(), deferred)

    def transaction_ended(self) -> None:
        """Forget what belonged to a transaction that committed or rolled back."""
        self._locked_ahead.clear()
        self._locked.clear()
        self._deferred.clear()
        self._ins_touched.clear()

    # -- loads ------------------------------------------------------------------------------
    def get(self, identity_id: int, *, for_update: bool = False) -> Identity | None:
        """Load one identity with its INS records."""
        found = identities_of(_LOAD["id", for_update].execute(self._connection(), {"key": identity_id}))
        return found[0] if found else None

    def get_by_ipp(
        self, ipp: str, authority: Authority = OWN, *, for_update: bool = False
    ) -> Identity | None:
        """Load the identity holding a local id (IPP) of an assigning authority, with its INS records."""
        key = (ipp, authority.text())
        if for_update and key in self._locked_ahead:
            return self._locked_ahead.pop(key)
        params = {"key": ipp, "authority": key[1]}
        found = identities_of(_LOAD["ipp", for_update].execute(self._connection(), params))
        return found[0] if found else None

    def lock_by_ipps(self, ipps: Sequence[tuple[str, Authority]]) -> None:
        """Lock, in id order, the identities holding these (IPP, authority), in one statement.

        The next ``get_by_ipp(ipp, authority, for_update=True)`` of each pair then answers from
        what this read, once: a pair asked again reads the database (and sees what this
        transaction wrote). Until then the answers stay exact, because every write of this
        repository forgets the identities it may change (``_forget``). The saves of these rows
        are deferred (see ``save``). A group of HL7 messages saves two round trips per message.
        """
        if self._session.get_bind().dialect.name != "postgresql":
            return  # each get_by_ipp reads on its own
        unique = list(dict.fromkeys((ipp, authority.text()) for ipp, authority in ipps))
        params = {"keys": list({k[0] for k in unique}), "authorities": list({k[1] for k in unique})}
        rows = identities_of(_LOCK_BY_IPPS.execute(self._connection(), params))
        found = {(i.ipp, i.ipp_authority.text()): i for i in rows}
        self._locked_ahead = {key: found.get(key) for key in unique}
        self._locked.update((identity.id, identity.version) for identity in rows)

    def _forget(self, *, identity_id: int | None = None, ipp: str | None = None) -> None:
        """Drop what ``lock_by_ipps`` read that a write may have changed (everything if unsure)."""
        if not self._locked_ahead:
            return
        if identity_id is None and ipp is None:
            self._locked_ahead.clear()
            return
        for key, identity in list(self._locked_ahead.items()):
            if key[0] == ipp or (identity is not None and identity.id == identity_id):
                del self._locked_ahead[key]

    def get_many(self, identity_ids: Sequence[int], *, for_update: bool = False) -> list[Identity]:
        """Load several identities with their INS records, in id order (one joined query)."""
        if not identity_ids:
            return []
        statement = joined(IDENTITY.c.id.in_(identity_ids), for_update=for_update)
        return identities_of(self._connection().execute(statement))

    def ins_records(self, identity_id: int) -> tuple[InsRecord, ...]:
        """The INS records of an identity, active first then newest first."""
        return ins_records_of(list(_LOAD_INS.execute(self._connection(), {"key": identity_id})))

    def ins_touched(self, identity_id: int) -> bool:
        """Whether this transaction added or deactivated an INS of the identity."""
        return identity_id in self._ins_touched

    # -- keys -------------------------------------------------------------------------------
    def id_by_ipp(self, ipp: str, authority: Authority = OWN) -> int | None:
        """The identity holding a local id (IPP) of an assigning authority."""
        stmt = select(IDENTITY.c.id).where(
            IDENTITY.c.ipp == ipp, IDENTITY.c.ipp_authority == authority.text()
        )
        found: int | None = self._statement().execute(stmt).scalar_one_or_none()
        return found

    def ids_by_ipp(self, ipp: str) -> list[int]:
        """The identities holding this local id (IPP) in any assigning authority."""
        stmt = select(IDENTITY.c.id).where(IDENTITY.c.ipp == ipp).order_by(IDENTITY.c.id)
        return [int(i) for i in self._statement().execute(stmt).scalars()]

    def id_by_active_ins(self, matricule: str) -> int | None:
        """The identity whose active INS is this matricule (at most one, enforced by an index)."""
        stmt = select(INS.c.identity_id).where(INS.c.matricule == matricule, INS.c.active)
        found: int | None = self._statement().execute(stmt).scalar_one_or_none()
        return found

    def ids_by_any_ins(self, matricule: str) -> list[int]:
        """Identities holding this matricule as active or historic INS (ins-rniv §6)."""
        stmt = select(INS.c.identity_id).where(INS.c.matricule == matricule).distinct()
        return [int(i) for i in self._statement().execute(stmt).scalars()]

    # -- writes -----------------------------------------------------------------------------
    def add(
        self, traits: Traits, state: IdentityState, ipp: str | None, source: str, now: datetime,
        authority: Authority = OWN,
    ) -> int:
        """Insert a new identity (its IPP of ``authority``) and return its id."""
        self._forget(ipp=ipp or "")
        row = IdentityRow(
            ipp=ipp,
            ipp_authority=authority.text(),
            status=state.status.value,
            attributes=attributes_text(state.attributes),
            source=source,
            created_at=now,
            updated_at=now,
            **trait_values(traits),
        )
        session = self._statement()
        session.add(row)
        with _unique_ipp():
            session.flush()
        assert row.id is not None
        return row.id

    def set_ipp(self, identity_id: int, ipp: str, authority: Authority | None = None) -> None:
        """Give an identity another IPP (generated for a new identity; A47), of ``authority`` when given."""
        self._forget()
        values: dict[str, str] = {"ipp": ipp}
        if authority is not None:
            values["ipp_authority"] = authority.text()
        with _unique_ipp():
            self._statement().execute(update(IDENTITY).where(IDENTITY.c.id == identity_id).values(**values))

    def save(self, identity: Identity, *, expected_version: int, now: datetime) -> int:
        """Write traits, status and attributes if the version is still the expected one."""
        self._forget(identity_id=identity.id)
        values = trait_values(identity.traits) | {
            "status": identity.status.value,
            "attributes": attributes_text(identity.attributes),
            "insi_at": identity.insi_at,
            "source": identity.source,
            "active": identity.active,
            "merged_into_id": identity.merged_into,
            "updated_at": now,
            "version": expected_version + 1,
            "b_id": identity.id,
            "b_version": expected_version,
        }
        if self._locked.get(identity.id) == expected_version:
            # This transaction holds the row, at that version: the version check cannot fail, so
            # the UPDATE waits for the next statement or goes with the COMMIT (one round trip).
            self._deferred.append(values)
        elif _SAVE.execute(self._connection(), values).rowcount != 1:
            raise StaleRow(identity.id)
        if identity.id in self._locked:
            self._locked[identity.id] = expected_version + 1
        return expected_version + 1

    def add_many(
        self, identities: Sequence[NewIdentity], now: datetime, *, match_keys: bool = True
    ) -> list[int]:
        """Insert identities and their INS in two multi-row statements; return the ids in order.

        With ``match_keys``, their duplicate match keys too (one more multi-row statement), so that
        the desk's candidate check sees them at once; a bulk load is not checked for duplicates
        one by one: run a full scan after it (docs/duplicates.md).
        """
        self._forget()
        if not identities:
            return []
        rows = [
            {
                "ipp": new.ipp,
                "status": new.state.status.value,
                "attributes": attributes_text(new.state.attributes),
                "source": new.source,
                "insi_at": new.insi_at,
                "version": 1,
                "active": True,
                "created_at": now,
                "updated_at": now,
                **trait_values(new.traits),
            }
            for new in identities
        ]
        # Core inserts on the tables (not the ORM bulk path): half the client CPU per row.
        session = self._statement()
        stmt = insert(IDENTITY).returning(IDENTITY.c.id, sort_by_parameter_order=True)
        ids = [int(i) for i in session.execute(stmt, rows).scalars()]
        ins_rows = [
            ins_values(identity_id, record, now)
            for identity_id, new in zip(ids, identities, strict=True)
            for record in new.ins_records
        ]
        if ins_rows:
            session.execute(insert(INS), ins_rows)
        if match_keys:
            add_keys(session.connection(), {
                identity_id: match_key_hashes(_new_record(identity_id, new))
                for identity_id, new in zip(ids, identities, strict=True)
            })
        return ids

    def add_ins(self, identity_id: int, record: InsRecord, now: datetime) -> None:
        """Store an INS (active or historic) for an identity."""
        self._forget(identity_id=identity_id)
        self._statement().execute(insert(INS), ins_values(identity_id, record, now))
        self._ins_touched.add(identity_id)

    def deactivate_ins(self, identity_id: int, now: datetime) -> int:
        """Move the active INS to history (kept, marked inactive)."""
        self._forget(identity_id=identity_id)
        stmt = (
            update(INS)
            .where(INS.c.identity_id == identity_id, INS.c.active)
            .values(active=False, deactivated_at=now)
        )
        self._ins_touched.add(identity_id)
        return int(self._statement().execute(stmt).rowcount)  # type: ignore[attr-defined]

    def active_ins_id(self, identity_id: int) -> int | None:
        """The row id of the identity's active INS (what a merge sets inactive and an unmerge restores)."""
        stmt = select(INS.c.id).where(INS.c.identity_id == identity_id, INS.c.active)
        return self._statement().execute(stmt).scalar_one_or_none()

    def reactivate_ins(self, identity_id: int, ins_id: int) -> bool:
        """Make one of the identity's INS rows active again, unless another active identity holds its
        matricule now (ins-rniv §6: one active matricule per identity); whether it was."""
        held = select(INS.c.id).where(INS.c.active, INS.c.matricule == select(INS.c.matricule).where(
            INS.c.id == ins_id).scalar_subquery())
        if self._statement().execute(held).first() is not None:
            return False
        self._forget(identity_id=identity_id)
        stmt = update(INS).where(INS.c.id == ins_id, INS.c.identity_id == identity_id).values(
            active=True, deactivated_at=None)
        self._ins_touched.add(identity_id)
        return bool(self._statement().execute(stmt).rowcount)  # type: ignore[attr-defined]
