"""Repositories: the only place where table rows and domain objects meet. They flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Select, and_, any_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.db.engine import Precompiled
from app.db.errors import DuplicateKey, StaleRow
from app.db.tables import AuditEventRow, IdentityDocumentRow, IdentityRow, InsRow
from app.domain.dates import DateRange
from app.domain.documents import DocumentCheck
from app.domain.identifiers import OWN, Authority
from app.domain.identity import Identity
from app.domain.ins import Ins, InsRecord
from app.domain.status import Attribute, IdentityState, Status
from app.domain.traits import Sex, Traits, first_names_search_key, name_search_key

IppKey = tuple[str, str]  # (IPP, its assigning authority's HD text)


def _attributes_text(attributes: frozenset[Attribute]) -> str:
    return ",".join(sorted(a.value for a in attributes))


def _identity(row: Any, records: tuple[InsRecord, ...]) -> Identity:
    """An identity from its row (ORM object or Core row: same attribute names) and INS records."""
    attributes = frozenset(Attribute(a) for a in row.attributes.split(",") if a)
    traits = Traits(
        birth_name=row.birth_name,
        first_names=row.first_names,
        first_name=row.first_name,
        sex=Sex(row.sex),
        birth_date=row.birth_date,
        birth_date_completed=row.birth_date_completed,
        birth_place_code=row.birth_place_code,
        used_name=row.used_name,
        used_first_name=row.used_first_name,
    )
    return Identity(
        id=row.id or 0,
        ipp=row.ipp or "",
        traits=traits,
        state=IdentityState.of(Status(row.status), attributes),
        version=row.version,
        ins_records=records,
        insi_at=row.insi_at,
        source=row.source,
        active=row.active,
        ipp_authority=_authority(row.ipp_authority),
        merged_into=row.merged_into_id,
    )


def _authority(text: str) -> Authority:
    """The stored HD text as an authority ('' is Identito's own, the common case: no parsing)."""
    return Authority.parse(text) if text else OWN


IDENTITY = IdentityRow.__table__  # type: ignore[attr-defined]
INS = InsRow.__table__  # type: ignore[attr-defined]
AUDIT = AuditEventRow.__table__  # type: ignore[attr-defined]
_INS_COLUMNS = (
    INS.c.id.label("ins_id"),
    INS.c.matricule.label("ins_matricule"),
    INS.c.oid.label("ins_oid"),
    INS.c.active.label("ins_active"),
    INS.c.source.label("ins_source"),
    INS.c.valid_from.label("ins_valid_from"),
    INS.c.valid_to.label("ins_valid_to"),
)


def _joined(where: Any, *, for_update: bool) -> Select[Any]:
    """Identities and their INS records in one round trip: one row per INS, in identity id order.

    The hot paths (HL7 inbound, desk, campaigns) load identities on every change: one joined
    SELECT of plain rows instead of an ORM entity query plus a second query for the INS.
    """
    stmt = (
        select(IDENTITY, *_INS_COLUMNS)
        .outerjoin(INS, INS.c.identity_id == IDENTITY.c.id)
        .where(where)
        .order_by(IDENTITY.c.id, INS.c.active.desc(), INS.c.id.desc())
    )
    return stmt.with_for_update(of=IDENTITY) if for_update else stmt


_BY_IPP = (IDENTITY.c.ipp == bindparam("key")) & (IDENTITY.c.ipp_authority == bindparam("authority"))
_LOAD = {  # one identity, by its id or by (IPP, authority) (built once)
    (column, for_update): Precompiled(_joined(where, for_update=for_update))
    for column, where in (("id", IDENTITY.c.id == bindparam("key")), ("ipp", _BY_IPP))
    for for_update in (False, True)
}
# A group's (IPP, authority) pairs: rows matching an IPP of one pair and the authority of another
# are locked too (harmless: a few more rows, still in id order) and left out of the answers.
_LOCK_BY_IPPS = Precompiled(
    _joined(
        (IDENTITY.c.ipp == any_(bindparam("keys", type_=ARRAY(IDENTITY.c.ipp.type))))
        & (IDENTITY.c.ipp_authority
           == any_(bindparam("authorities", type_=ARRAY(IDENTITY.c.ipp_authority.type)))),
        for_update=True,
    ),
    prepare=False,  # planned for the IPPs given: the unique index, even on a table not analyzed yet
)
_LOAD_INS = Precompiled(
    select(*_INS_COLUMNS)
    .where(INS.c.identity_id == bindparam("key"))
    .order_by(INS.c.active.desc(), INS.c.id.desc())
)
# No RETURNING: pipelined with the COMMIT (engine.commit_with).
_INSERT_AUDIT = Precompiled(insert(AUDIT).inline(), by_keys=True)
_SAVED_COLUMNS = (
    "birth_name", "first_names", "first_name", "sex", "birth_date", "birth_date_completed",
    "birth_place_code", "used_name", "used_first_name", "status", "attributes", "insi_at",
    "source", "active", "merged_into_id", "updated_at", "version",
    "birth_name_key", "used_name_key", "first_names_key",  # see _search_keys
)
_SAVE = Precompiled(
    update(IDENTITY)
    .where(IDENTITY.c.id == bindparam("b_id"), IDENTITY.c.version == bindparam("b_version"))
    .values({name: bindparam(name) for name in _SAVED_COLUMNS})
)


def _identities(rows: Iterable[Any]) -> list[Identity]:
    """Identities from joined identity + INS rows (one row per INS), in the rows' order."""
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.id, []).append(row)
    return [_identity(group[0], _ins_records(group)) for group in grouped.values()]


def _ins_records(rows: Sequence[Any]) -> tuple[InsRecord, ...]:
    """The INS columns of joined rows as records: active first, then newest first."""
    present = sorted((r for r in rows if r.ins_id is not None), key=lambda r: (not r.ins_active, -r.ins_id))
    return tuple(
        InsRecord(
            Ins(r.ins_matricule, r.ins_oid), r.ins_active, r.ins_source, r.ins_valid_from, r.ins_valid_to
        )
        for r in present
    )


def _trait_values(traits: Traits) -> dict[str, Any]:
    return {
        "birth_name": traits.birth_name,
        "first_names": traits.first_names,
        "first_name": traits.first_name,
        "sex": traits.sex.value,
        "birth_date": traits.birth_date,
        "birth_date_completed": traits.birth_date_completed,
        "birth_place_code": traits.birth_place_code,
        "used_name": traits.used_name,
        "used_first_name": traits.used_first_name,
        **_search_keys(traits),
    }


def _search_keys(traits: Traits) -> dict[str, Any]:
    """The name search keys, written with the traits on every insert and update."""
    return {
        "birth_name_key": name_search_key(traits.birth_name),
        "used_name_key": name_search_key(traits.used_name) if traits.used_name else None,
        "first_names_key": first_names_search_key(traits.first_names, traits.used_first_name),
    }


def _ins_values(identity_id: int, record: InsRecord, now: datetime) -> dict[str, Any]:
    return {
        "identity_id": identity_id,
        "matricule": record.ins.matricule,
        "oid": record.ins.oid,
        "active": record.active,
        "source": record.source,
        "valid_from": record.valid_from,
        "valid_to": record.valid_to,
        "created_at": now,
        "deactivated_at": None if record.active else now,
    }


def document_check(row: IdentityDocumentRow) -> DocumentCheck:
    """A document row as a domain value."""
    return DocumentCheck(
        row.id or 0, row.identity_id, row.type, row.high_trust, row.checked_by, row.checked_at,
        row.expires_on, row.withdrawn_at, row.withdrawn_reason, row.no_expiry_printed,
    )


@dataclass(frozen=True)
class SearchFilters:
    """Identity search criteria; names are search keys (app.domain.traits.name_search_key)."""

    birth_name: str | None = None
    exact_name: bool = False
    first_name: str | None = None
    birth_dates: tuple[DateRange, ...] = ()  # any of them (app.domain.dates.birth_date_search)
    sex: str | None = None
    birth_place_code: str | None = None
    ipp: str | None = None
    ins: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class NewIdentity:
    """An identity to insert in bulk (imports, benchmarks), its traits already built by the domain."""

    traits: Traits
    state: IdentityState
    ipp: str | None = None
    source: str = "SM"
    ins_records: tuple[InsRecord, ...] = ()
    insi_at: datetime | None = None


@contextmanager
def _unique_ipp() -> Iterator[None]:
    """An IPP that its authority already gave raises ``DuplicateKey`` (the unique index refused it)."""
    try:
        yield
    except IntegrityError:
        raise DuplicateKey("ipp") from None


def _name_order(identity: Any) -> tuple[Any, ...]:
    return (identity.birth_name, identity.first_name, identity.birth_date, identity.id)


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _birth_dates(dates: DateRange) -> Any:
    """Birth dates in a range (an equality when it is one day), completed ones only if asked."""
    column = col(IdentityRow.birth_date)
    within = column == dates.start if dates.start == dates.end else column.between(dates.start, dates.end)
    return and_(within, col(IdentityRow.birth_date_completed)) if dates.completed_only else within


class IdentityRepository:
    """Identities, their INS, documents and audit trail.

    Rows locked by ``lock_by_ipps`` are saved lazily: their UPDATE runs just before the next
    statement of the transaction (``session`` writes it first, and so does the unit of work's
    ``session``) or with the COMMIT (``write_deferred``, in the unit of work's pipelined commit).
    Code that reaches the connection must therefore go through ``session``, never keep it.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._ins_touched: set[int] = set()
        self._locked_ahead: dict[IppKey, Identity | None] = {}  # see ``lock_by_ipps``
        self._locked: dict[int, int] = {}  # id -> version, of rows ``lock_by_ipps`` locked
        self._deferred: list[dict[str, Any]] = []  # saves of those rows, in order (see ``save``)

    @property
    def session(self) -> Session:
        """The session, the deferred saves written first: every statement sees every save."""
        if self._deferred:
            self.write_deferred()
        return self._session

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

    def _core(self, statement: Any, params: Any = None) -> Any:
        """Run a Core statement (plain rows, no ORM entities) on the session's connection.

        The same transaction as ``session.execute``, without the ORM execution layer, which costs
        as much client CPU as the statement itself on the hot paths. Core statements never
        autoflush anyway.
        """
        connection = self.session.connection()
        if isinstance(statement, Precompiled):
            return statement.execute(connection, params)
        return connection.execute(statement, params)

    # -- identities -------------------------------------------------------------------------
    def get(self, identity_id: int, *, for_update: bool = False) -> Identity | None:
        """Load one identity with its INS records."""
        return self._load("id", identity_id, for_update)

    def get_by_ipp(
        self, ipp: str, authority: Authority = OWN, *, for_update: bool = False
    ) -> Identity | None:
        """Load the identity holding a local id (IPP) of an assigning authority, with its INS records."""
        key = (ipp, authority.text())
        if for_update and key in self._locked_ahead:
            return self._locked_ahead.pop(key)
        found = _identities(self._core(_LOAD["ipp", for_update], {"key": ipp, "authority": key[1]}))
        return found[0] if found else None

    def lock_by_ipps(self, ipps: Sequence[tuple[str, Authority]]) -> None:
        """Lock, in id order, the identities holding these (IPP, authority), in one statement.

        The next ``get_by_ipp(ipp, authority, for_update=True)`` of each pair then answers from
        what this read, once: a pair asked again reads the database (and sees what this
        transaction wrote). Until then the answers stay exact, because every write of this
        repository forgets the identities it may change (``_forget``). The saves of these rows
        are deferred (see ``save``). A group of HL7 messages saves two round trips per message.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return  # each get_by_ipp reads on its own
        unique = list(dict.fromkeys((ipp, authority.text()) for ipp, authority in ipps))
        params = {"keys": list({k[0] for k in unique}), "authorities": list({k[1] for k in unique})}
        rows = _identities(self._core(_LOCK_BY_IPPS, params))
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

    def _load(self, column: str, key: Any, for_update: bool) -> Identity | None:
        found = _identities(self._core(_LOAD[column, for_update], {"key": key}))
        return found[0] if found else None

    def count_by_status(self) -> dict[str, int]:
        """Identities per status."""
        rows = self.session.execute(select(IdentityRow.status, func.count()).group_by(IdentityRow.status))
        return {status: int(count) for status, count in rows}

    def ins_records(self, identity_id: int) -> tuple[InsRecord, ...]:
        """The INS records of an identity, active first then newest first."""
        return _ins_records(list(self._core(_LOAD_INS, {"key": identity_id})))

    def ins_touched(self, identity_id: int) -> bool:
        """Whether this session added or deactivated an INS of the identity."""
        return identity_id in self._ins_touched

    def get_many(self, identity_ids: Sequence[int], *, for_update: bool = False) -> list[Identity]:
        """Load several identities with their INS records, in id order (one joined query)."""
        if not identity_ids:
            return []
        return _identities(self._core(_joined(IDENTITY.c.id.in_(identity_ids), for_update=for_update)))

    def id_by_ipp(self, ipp: str, authority: Authority = OWN) -> int | None:
        """The identity holding a local id (IPP) of an assigning authority."""
        stmt = select(IdentityRow.id).where(
            IdentityRow.ipp == ipp, IdentityRow.ipp_authority == authority.text()
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def ids_by_ipp(self, ipp: str) -> list[int]:
        """The identities holding this local id (IPP) in any assigning authority."""
        stmt = select(IdentityRow.id).where(IdentityRow.ipp == ipp).order_by(IdentityRow.id)
        return list(self.session.execute(stmt).scalars().all())

    def id_by_active_ins(self, matricule: str) -> int | None:
        """The identity whose active INS is this matricule (at most one, enforced by an index)."""
        stmt = select(InsRow.identity_id).where(InsRow.matricule == matricule, col(InsRow.active))
        return self.session.execute(stmt).scalar_one_or_none()

    def ids_by_any_ins(self, matricule: str) -> list[int]:
        """Identities holding this matricule as active or historic INS (ins-rniv §6)."""
        stmt = select(InsRow.identity_id).where(InsRow.matricule == matricule).distinct()
        return list(self.session.execute(stmt).scalars().all())

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
            attributes=_attributes_text(state.attributes),
            source=source,
            created_at=now,
            updated_at=now,
            **_trait_values(traits),
        )
        session = self.session
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
            self.session.execute(update(IdentityRow).where(col(IdentityRow.id) == identity_id).values(**values))

    def save(self, identity: Identity, *, expected_version: int, now: datetime) -> int:
        """Write traits, status and attributes if the version is still the expected one."""
        self._forget(identity_id=identity.id)
        values = _trait_values(identity.traits) | {
            "status": identity.status.value,
            "attributes": _attributes_text(identity.attributes),
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
        elif self._core(_SAVE, values).rowcount != 1:
            raise StaleRow(identity.id)
        if identity.id in self._locked:
            self._locked[identity.id] = expected_version + 1
        return expected_version + 1

    def add_many(self, identities: Sequence[NewIdentity], now: datetime) -> list[int]:
        """Insert identities and their INS in two multi-row statements; return the ids in order."""
        self._forget()
        if not identities:
            return []
        rows = [
            {
                "ipp": new.ipp,
                "status": new.state.status.value,
                "attributes": _attributes_text(new.state.attributes),
                "source": new.source,
                "insi_at": new.insi_at,
                "version": 1,
                "active": True,
                "created_at": now,
                "updated_at": now,
                **_trait_values(new.traits),
            }
            for new in identities
        ]
        # Core inserts on the tables (not the ORM bulk path): half the client CPU per row.
        identity_table, ins_table = IdentityRow.__table__, InsRow.__table__  # type: ignore[attr-defined]
        stmt = insert(identity_table).returning(identity_table.c.id, sort_by_parameter_order=True)
        ids = [int(i) for i in self.session.execute(stmt, rows).scalars()]
        ins_rows = [
            _ins_values(identity_id, record, now)
            for identity_id, new in zip(ids, identities, strict=True)
            for record in new.ins_records
        ]
        if ins_rows:
            self.session.execute(insert(ins_table), ins_rows)
        return ids

    def search(self, filters: SearchFilters, *, limit: int, offset: int) -> list[Identity]:
        """Identities matching every given criterion, ordered by name, with their INS records."""
        return _identities(self._core(self.search_statement(filters, limit=limit, offset=offset)))

    @staticmethod
    def search_statement(filters: SearchFilters, *, limit: int, offset: int) -> Select[Any]:
        """One SELECT: the identities of the page (an id subquery) left-joined to their INS records.

        A single round trip instead of a second query for the INS of the page; the page is chosen
        by ids so that no aliased entity has to be built per call (also compiled as is by the
        benchmark's raw-SQL floor). Plain rows, not ORM entities: a page of 50 identities costs a
        fraction of the client CPU.
        """
        page = select(IdentityRow.id).where(col(IdentityRow.active))
        for condition in IdentityRepository._conditions(filters):
            page = page.where(condition)
        page = page.order_by(*_name_order(IdentityRow)).limit(limit).offset(offset)
        return (
            select(IDENTITY, *_INS_COLUMNS)
            .outerjoin(INS, INS.c.identity_id == IDENTITY.c.id)
            .where(IDENTITY.c.id.in_(page.scalar_subquery()))
            .order_by(*_name_order(IDENTITY.c), INS.c.id)
        )

    @staticmethod
    def _conditions(f: SearchFilters) -> list[Any]:
        conditions: list[Any] = []
        birth_key, used_key = col(IdentityRow.birth_name_key), col(IdentityRow.used_name_key)
        if f.birth_name:
            if f.exact_name:
                conditions.append(or_(birth_key == f.birth_name, used_key == f.birth_name))
            else:
                pattern = _like_prefix(f.birth_name)
                conditions.append(
                    or_(birth_key.like(pattern, escape="\\"), used_key.like(pattern, escape="\\"))
                )
        if f.first_name:
            # The key lists the first names from each one on: a prefix of the key or of a part.
            pattern, first_key = _like_prefix(f.first_name), col(IdentityRow.first_names_key)
            conditions.append(
                or_(first_key.like(pattern, escape="\\"), first_key.like("% " + pattern, escape="\\"))
            )
        if f.birth_dates:
            conditions.append(or_(*(_birth_dates(r) for r in f.birth_dates)))
        simple = {
            "sex": f.sex,
            "birth_place_code": f.birth_place_code,
            "ipp": f.ipp,
            "status": f.status,
        }
        for name, value in simple.items():
            if value is not None:
                conditions.append(getattr(IdentityRow, name) == value)
        if f.ins:
            # An uncorrelated IN: SQLite runs a correlated EXISTS once per identity row.
            holders = select(InsRow.identity_id).where(InsRow.matricule == f.ins)
            conditions.append(col(IdentityRow.id).in_(holders))
        return conditions

    # -- INS --------------------------------------------------------------------------------
    def add_ins(self, identity_id: int, record: InsRecord, now: datetime) -> None:
        """Store an INS (active or historic) for an identity."""
        self._forget(identity_id=identity_id)
        self.session.add(InsRow(**_ins_values(identity_id, record, now)))
        self.session.flush()
        self._ins_touched.add(identity_id)

    def deactivate_ins(self, identity_id: int, now: datetime) -> int:
        """Move the active INS to history (kept, marked inactive)."""
        self._forget(identity_id=identity_id)
        stmt = (
            update(InsRow)
            .where(col(InsRow.identity_id) == identity_id, col(InsRow.active))
            .values(active=False, deactivated_at=now)
        )
        self._ins_touched.add(identity_id)
        return int(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    # -- documents --------------------------------------------------------------------------
    def add_document(
        self, identity_id: int, type_code: str, *, high_trust: bool, checked_by: str, checked_at: datetime,
        expires_on: date | None, no_expiry_printed: bool,
    ) -> DocumentCheck:
        """Record a document check."""
        row = IdentityDocumentRow(
            identity_id=identity_id, type=type_code, high_trust=high_trust, checked_by=checked_by,
            checked_at=checked_at, expires_on=expires_on, no_expiry_printed=no_expiry_printed,
        )
        self.session.add(row)
        self.session.flush()
        return document_check(row)

    def withdraw_document(
        self, identity_id: int, document_id: int, *, at: datetime, by: str, reason: str
    ) -> DocumentCheck | None:
        """Withdraw a standing document check of an identity; None when there is none by that id."""
        row = self.session.get(IdentityDocumentRow, document_id, with_for_update=True)
        if row is None or row.identity_id != identity_id or row.withdrawn_at is not None:
            return None
        row.withdrawn_at, row.withdrawn_by, row.withdrawn_reason = at, by, reason
        self.session.add(row)
        self.session.flush()
        return document_check(row)

    def latest_documents(self, identity_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The latest standing high-trust document check of each identity (type, expiry), one query."""
        if not identity_ids:
            return {}
        rows = self.session.execute(
            select(IdentityDocumentRow)
            .where(
                col(IdentityDocumentRow.identity_id).in_(identity_ids),
                col(IdentityDocumentRow.withdrawn_at).is_(None),
                col(IdentityDocumentRow.high_trust),
            )
            .order_by(col(IdentityDocumentRow.id))
        ).scalars()
        return {
            row.identity_id: {
                "type": row.type,
                "expires_on": row.expires_on.isoformat() if row.expires_on else None,
            }
            for row in rows
        }

    def document_checks(self, identity_id: int) -> list[DocumentCheck]:
        """Every document check of an identity, newest first."""
        stmt = (
            select(IdentityDocumentRow)
            .where(IdentityDocumentRow.identity_id == identity_id)
            .order_by(col(IdentityDocumentRow.id).desc())
        )
        return [document_check(r) for r in self.session.execute(stmt).scalars()]

    def set_aside_documents(self, identity_id: int, actor: str, reason: str, now: datetime) -> None:
        """Withdraw every standing document check (identity marked DOUT/FICT)."""
        stmt = (
            update(IdentityDocumentRow)
            .where(
                col(IdentityDocumentRow.identity_id) == identity_id,
                col(IdentityDocumentRow.withdrawn_at).is_(None),
            )
            .values(withdrawn_at=now, withdrawn_by=actor, withdrawn_reason=reason)
        )
        self.session.execute(stmt)

    # -- audit ------------------------------------------------------------------------------
    def add_audits(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append audit events (column values) in one statement."""
        if rows:
            self._core(_INSERT_AUDIT, list(rows))

    def audit(self, identity_id: int, *, limit: int, offset: int) -> list[AuditEventRow]:
        """The audit trail of an identity, newest first."""
        stmt = (
            select(AuditEventRow)
            .where(AuditEventRow.identity_id == identity_id)
            .order_by(col(AuditEventRow.id).desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self.session.execute(stmt).scalars().all())
