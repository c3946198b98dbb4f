"""IdentityRepository.search: one row per identity with all its INS, name order, paging by identity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from app.db.engine import make_engine
from app.db.identities import IdentityRepository, NewIdentity
from app.db.identity_queries import IdentitySearch, SearchFilters
from app.domain.dates import birth_date_search
from app.domain.ins import OID_NIA, OID_NIR, Ins, InsRecord, nir_key
from app.domain.status import IdentityState
from app.domain.traits import build_traits

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _ins(nir13: str, oid: str, active: bool) -> InsRecord:
    return InsRecord(Ins.of(f"{nir13}{nir_key(nir13):02d}", oid), active, "INSI")


def _new(name: str, first: str, ipp: str, *ins: InsRecord) -> NewIdentity:
    traits = build_traits(birth_name=name, first_names=first, birth_date="1970-01-01", sex="F",
                          today=NOW.date())
    return NewIdentity(traits, IdentityState(insi=any(r.active for r in ins)), ipp=ipp, ins_records=ins)


@pytest.fixture
def repo(database_url: str):
    engine = make_engine(database_url, pool_size=1)
    with Session(engine, expire_on_commit=False) as session:
        repository = IdentityRepository(session)
        repository.add_many([
            _new("Morel", "Anne", "M3"),
            _new("Moreau", "Claire", "M2", _ins("2700175056001", OID_NIR, True),
                 _ins("7700175056001", OID_NIA, False), _ins("8700175056001", OID_NIA, False)),
            _new("Moreau", "Berthe", "M1", _ins("2700175056002", OID_NIR, True)),
            _new("Durand", "Anne", "D1"),
        ], NOW)
        session.commit()
        yield IdentitySearch(session)
    engine.dispose()


def test_search_gives_each_identity_once_with_all_its_ins_in_name_order(repo: IdentitySearch) -> None:
    found = repo.search(SearchFilters(birth_name="MOR"), limit=10, offset=0)

    assert [(i.traits.birth_name, i.traits.first_name) for i in found] == [
        ("MOREAU", "BERTHE"), ("MOREAU", "CLAIRE"), ("MOREL", "ANNE")]
    claire = found[1]
    assert claire.active_ins is not None and claire.active_ins.matricule.startswith("2700175056001")
    assert sorted(r.ins.matricule[:13] for r in claire.ins_history) == ["7700175056001", "8700175056001"]
    assert found[2].ins_records == ()


def test_search_pages_count_identities_not_joined_rows(repo: IdentitySearch) -> None:
    first = repo.search(SearchFilters(birth_name="MOR"), limit=2, offset=0)
    second = repo.search(SearchFilters(birth_name="MOR"), limit=2, offset=2)

    assert [i.ipp for i in first] == ["M1", "M2"]
    assert len(first[1].ins_records) == 3
    assert [i.ipp for i in second] == ["M3"]


def test_search_by_historic_ins_finds_its_holder(repo: IdentitySearch) -> None:
    matricule = f"8700175056001{nir_key('8700175056001'):02d}"
    filters = SearchFilters(ins=matricule, birth_dates=birth_date_search("1970-01-01"))
    found = repo.search(filters, limit=5, offset=0)

    assert [i.ipp for i in found] == ["M2"]
