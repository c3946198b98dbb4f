"""Identity search takes what creation takes: partial birth dates, codes in any case, names whatever
their apostrophes, hyphens and spaces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.config import Settings
from app.db.engine import make_engine
from app.db.migrations import downgrade, upgrade
from app.main import create_app
from tests.conftest import auth


def _create(client: TestClient, settings: Settings, birth_name: str, birth_date: str = "1980-05-17",
            **traits: str) -> int:
    body = {"birth_name": birth_name, "first_names": "Anne", "birth_date": birth_date, "sex": "F", **traits,
            "confirm_new": True}  # homonyms on purpose: created despite their resemblance
    response = client.post("/identities", json=body, headers=auth(settings, "admission"))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _found(client: TestClient, settings: Settings, **query: str) -> set[int]:
    response = client.get("/identities", params=query, headers=auth(settings, "admission"))
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def test_partial_birth_dates_search_a_year_or_a_month(client, settings) -> None:
    born = {date: _create(client, settings, "Martin", date)
            for date in ("1988-05-17", "1988-11-02", "1988-05", "1988", "1988-00-17", "1989-05-17")}
    completed = {date: born[date] for date in ("1988-05", "1988", "1988-00-17")}

    assert _found(client, settings, birth_date="1988") == {born[d] for d in born if d.startswith("1988")}
    # a month finds the dates in it, and those completed from a partial date that may be in it
    assert _found(client, settings, birth_date="1988-05") == {born["1988-05-17"], *completed.values()}
    assert _found(client, settings, birth_date="1988-05-17") == {born["1988-05-17"], *completed.values()}
    assert _found(client, settings, birth_date="1988-11-02") == {born["1988-11-02"], completed["1988"]}
    assert _found(client, settings, birth_date="1989-05") == {born["1989-05-17"]}
    in_1988 = {born["1988-05-17"], born["1988-11-02"], *completed.values()}
    assert _found(client, settings, birth_name="martin", exact="true", birth_date="1988") == in_1988


@pytest.mark.parametrize(("birth_date", "english"), [("1988-5", "YYYY-MM-DD, YYYY-MM or YYYY"),
                                                     ("1988-13", "does not exist")])
def test_a_wrong_birth_date_in_a_search_is_refused_as_at_creation(client, settings, birth_date, english):
    response = client.get("/identities", params={"birth_date": birth_date},
                          headers=auth(settings, "admission"))

    assert response.status_code == 422 and response.json()["field"] == "birth_date"
    assert english in response.json()["detail"]


def test_code_filters_ignore_case(client, settings) -> None:
    ajaccio = _create(client, settings, "Martin", birth_place_code="2a004", sex="f")
    man = _create(client, settings, "Martin", sex="M")
    checked = _create(client, settings, "Martin")
    document = client.post(f"/identities/{checked}/documents",
                           json={"type": "cn", "expires_on": "2099-01-01"},
                           headers={**auth(settings, "admission"), "If-Match": '"1"'})
    assert document.status_code == 201 and document.json()["identity"]["status"] == "VALI"

    assert _found(client, settings, status="vali") == _found(client, settings, status="VALI") == {checked}
    assert _found(client, settings, status="Prov") == {ajaccio, man}
    assert _found(client, settings, status="qual") == set()
    assert _found(client, settings, sex="f") == {ajaccio, checked}
    assert _found(client, settings, birth_place_code="2a004") == {ajaccio}
    unknown = client.get("/identities", params={"status": "QUALIF"}, headers=auth(settings, "admission"))
    assert unknown.status_code == 422 and "PROV, RECUP, VALI, QUAL" in unknown.json()["detail"]


def test_names_ignore_apostrophes_hyphens_and_spaces(client, settings) -> None:
    musketeer = _create(client, settings, "D'Artagnan", first_names="Jean-Pierre Marie", used_name="Le Goff")
    dupont = _create(client, settings, "Dupont", first_names="Jean Pierre", used_first_name="Jean-Luc")
    _create(client, settings, "Dartois", first_names="Pierre")

    for typed in ("DARTAGNAN", "d'artagnan", "D ARTAGNAN", "dartag", "D-Arta"):
        assert _found(client, settings, birth_name=typed) == {musketeer}, typed
    assert _found(client, settings, birth_name="DARTAGNAN", exact="true") == {musketeer}
    assert _found(client, settings, birth_name="legoff") == {musketeer}
    assert _found(client, settings, birth_name="LE-GOFF") == {musketeer}
    for typed in ("JEANPIERRE", "JEAN PIERRE", "jean-pierre", "Jean Pi"):
        assert _found(client, settings, first_name=typed) == {musketeer, dupont}, typed
    assert _found(client, settings, first_name="MARIE") == {musketeer}
    assert _found(client, settings, first_name="PIERREMARIE") == set()  # JEAN-PIERRE is one first name
    assert _found(client, settings, first_name="jeanluc") == {dupont}  # the used first name


def test_search_keys_follow_every_change_of_the_names(client, settings) -> None:
    created = _create(client, settings, "Martin")
    headers = {**auth(settings, "admission"), "If-Match": '"1"'}
    changes = {"birth_name": "Saint-Martin", "used_name": "O'Neil", "first_names": "Marie-Claire"}
    changed = client.patch(f"/identities/{created}", json=changes, headers=headers)
    assert changed.status_code == 200, changed.text

    assert _found(client, settings, birth_name="SAINTMARTIN") == {created}
    assert _found(client, settings, birth_name="MARTIN") == set()
    assert _found(client, settings, birth_name="oneil") == {created}
    assert _found(client, settings, first_name="MARIECLAIRE") == {created}
    assert _found(client, settings, first_name="ANNE") == set()


def test_identities_stored_before_the_search_keys_are_found(database_url, settings) -> None:
    downgrade(database_url, "2026_11_24_1430")
    engine = make_engine(database_url, pool_size=1)
    columns = ("ipp, birth_name, first_names, first_name, sex, birth_date, birth_date_completed, used_name, "
               "used_first_name, status, attributes, source, version, active, created_at, updated_at")
    with engine.begin() as connection:
        for ipp, name, first_names, used_name in (("1", "D'ARTAGNAN", "JEAN-PIERRE MARIE", "LE GOFF"),
                                                  ("2", "DUPONT", "ANNE", None)):
            connection.execute(text(
                f"INSERT INTO identity ({columns}) VALUES (:ipp, :name, :first_names, :first_name, 'M', "
                "'1988-12-31', :completed, :used_name, NULL, 'PROV', '', 'SM', 1, :active, :now, :now)"
            ), {"ipp": ipp, "name": name, "first_names": first_names, "first_name": first_names.split()[0],
                "completed": True, "used_name": used_name, "active": True, "now": datetime.now(UTC)})
    engine.dispose()
    upgrade(database_url)

    desk = auth(settings, "admission")
    with TestClient(create_app(settings)) as client:
        for query in ({"birth_name": "DARTAGNAN"}, {"birth_name": "legoff"}, {"first_name": "jean pierre"},
                      {"first_name": "marie", "birth_date": "1988-05"}):
            found = client.get("/identities", params=query, headers=desk).json()["items"]
            assert [item["ipp"] for item in found] == ["1"], query
