"""IdentityRepository.add_many: bulk insert of identities with their INS, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.db.engine import make_engine
from app.db.identities import IdentityRepository, NewIdentity
from app.db.identity_queries import IdentitySearch, SearchFilters
from app.domain.dates import birth_date_search
from app.domain.ins import OID_NIA, OID_NIR, Ins, InsRecord, nir_key
from app.domain.status import IdentityState, Status
from app.domain.traits import build_traits

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _matricule(nir13: str) -> str:
    return f"{nir13}{nir_key(nir13):02d}"


def _new(name: str, first: str, born: str, sex: str, *, ipp: str, ins: tuple[InsRecord, ...] = (),
         used_name: str | None = None) -> NewIdentity:
    traits = build_traits(birth_name=name, first_names=first, birth_date=born, sex=sex,
                          used_name=used_name, today=NOW.date())
    state = IdentityState(insi=bool(ins), document=bool(ins))
    return NewIdentity(traits, state, ipp=ipp, ins_records=ins, insi_at=NOW if ins else None)


@pytest.fixture
def repo_session(database_url: str):
    engine = make_engine(database_url, pool_size=1)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def test_add_many_returns_ids_in_order_and_stores_ins_with_history(repo_session: Session) -> None:
    nir = _matricule("2880363113042")
    nia = _matricule("7880363113042")
    batch = [
        _new("Lefèvre", "Zoé Marie", "1988-03-05", "F", ipp="P1", used_name="Dubois",
             ins=(InsRecord(Ins.of(nir, OID_NIR), True, "INSI"),
                  InsRecord(Ins.of(nia, OID_NIA), False, "INSI"))),
        _new("Martin", "Jean-Pierre Paul", "1950-11-02", "M", ipp="P2"),
    ]
    repo = IdentityRepository(repo_session)
    ids = repo.add_many(batch, NOW)
    repo_session.commit()

    assert len(ids) == 2 and ids[0] < ids[1]
    first, second = repo.get(ids[0]), repo.get(ids[1])
    assert first is not None and second is not None
    assert (first.ipp, first.traits.birth_name, first.traits.used_name) == ("P1", "LEFEVRE", "DUBOIS")
    assert first.status is Status.QUAL and first.active_ins == Ins(nir, OID_NIR)
    assert [r.ins.matricule for r in first.ins_history] == [nia]
    assert (second.ipp, second.traits.first_name, second.status) == ("P2", "JEAN-PIERRE", Status.PROV)
    assert second.ins_records == ()
    # Searches see bulk-inserted rows like any other: by INS (active or historic) and exact name/date.
    assert [
        i.id for i in IdentitySearch(repo_session).search(SearchFilters(ins=nia), limit=5, offset=0)
    ] == [ids[0]]
    filters = SearchFilters(birth_name="DUBOIS", exact_name=True, birth_dates=birth_date_search("1988-03-05"))
    found = IdentitySearch(repo_session).search(filters, limit=5, offset=0)
    assert [i.id for i in found] == [ids[0]]


def test_add_many_keeps_one_active_owner_per_matricule(repo_session: Session) -> None:
    ins = (InsRecord(Ins.of(_matricule("1500163113001"), OID_NIR), True, "INSI"),)
    repo = IdentityRepository(repo_session)
    repo.add_many([_new("Durand", "Luc", "1950-01-01", "M", ipp="A1", ins=ins)], NOW)
    repo_session.commit()
    with pytest.raises(IntegrityError):
        repo.add_many([_new("Durand", "Marc", "1950-01-01", "M", ipp="A2", ins=ins)], NOW)
        repo_session.commit()


def test_add_many_of_nothing_writes_nothing(repo_session: Session) -> None:
    assert IdentityRepository(repo_session).add_many([], NOW) == []
