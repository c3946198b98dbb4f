"""Bad input never yields a 500 nor a partial write (hypothesis on the API schemas)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import Session

from app.db.tables import AuditEventRow, IdentityDocumentRow, IdentityRow
from tests.conftest import auth

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=5,
)
TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["Dupont", "JEAN", "Œ", "1980", "1980-02-30", "2A020", "M", "", " ", "--", "9" * 300]),
)
FIELD = st.one_of(TEXTS, ANY_JSON)
IDENTITY_BODY = st.fixed_dictionaries(
    {},
    optional={
        "birth_name": FIELD, "first_names": FIELD, "first_name": FIELD, "used_name": FIELD,
        "used_first_name": FIELD, "birth_date": FIELD, "sex": FIELD, "birth_place_code": FIELD, "ipp": FIELD,
    },
)
HEADER = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=20)
FUZZ = hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def _counts(ctx) -> tuple[int, int, int]:
    with Session(ctx.engine) as session:
        return tuple(session.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (IdentityRow, AuditEventRow, IdentityDocumentRow))


def test_create_never_500_and_rejections_write_nothing(client: TestClient, settings, ctx) -> None:
    headers = auth(settings, "admission")

    @FUZZ
    @given(IDENTITY_BODY)
    def check(body: dict) -> None:
        before = _counts(ctx)
        response = client.post("/identities", json=body, headers=headers)
        assert response.status_code in (201, 409, 422), response.text
        if response.status_code != 201:
            assert response.headers["content-type"] == "application/problem+json"
            assert _counts(ctx) == before
        else:
            assert _counts(ctx)[0] == before[0] + 1

    check()


def test_patch_and_documents_never_500(client: TestClient, settings, ctx) -> None:
    cell = auth(settings, "identitovigilance", "admission")
    created = client.post("/identities", json={"birth_name": "A", "first_names": "B", "birth_date": "1990",
                                               "sex": "F"}, headers=cell).json()
    url = f"/identities/{created['id']}"

    @FUZZ
    @given(IDENTITY_BODY, st.one_of(st.none(), st.just('"1"'), HEADER), st.one_of(FIELD, st.just("CN")))
    def check(body: dict, if_match: str | None, doc_type: object) -> None:
        version = client.get(url, headers=cell).json()["version"]
        headers = dict(cell)
        if if_match is not None:
            headers["If-Match"] = if_match
        before = _counts(ctx)
        response = client.patch(url, json={k: v for k, v in body.items() if k != "ipp"}, headers=headers)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert _counts(ctx) == before
            assert client.get(url, headers=cell).json()["version"] == version
        current = client.get(url, headers=cell).headers["ETag"]
        doc = client.post(f"{url}/documents", json={"type": doc_type, "no_expiry_printed": True},
                          headers={**cell, "If-Match": current})
        assert doc.status_code in (201, 409, 422), doc.text

    check()


def test_control_characters_in_a_search_are_refused(client: TestClient, settings) -> None:
    response = client.get("/identities", params={"birth_name": "\x00"}, headers=auth(settings, "admission"))
    assert response.status_code == 422 and response.json()["field"] == "birth_name"


def test_query_parameters_never_500(client: TestClient, settings) -> None:
    headers = auth(settings, "admission")

    @FUZZ
    @given(st.dictionaries(st.sampled_from(["birth_name", "first_name", "birth_date", "sex",
                                            "birth_place_code", "ipp", "ins", "status", "limit", "offset",
                                            "exact"]),
                           st.text(max_size=20), max_size=4))
    def check(params: dict) -> None:
        response = client.get("/identities", params=params, headers=headers)
        assert response.status_code in (200, 422), response.text

    check()


def test_values_the_database_cannot_store_are_422(client: TestClient, settings, ctx) -> None:
    headers = auth(settings, "admission", "identitovigilance")
    assert client.get("/identities/99999999999999", headers=headers).status_code in (404, 422)
    created = client.post("/identities", json={"birth_name": "A", "first_names": "B", "birth_date": "1990",
                                               "sex": "F"}, headers=headers).json()
    before = _counts(ctx)
    response = client.patch(f"/identities/{created['id']}", json={"birth_name": "C", "reason": "x\x00y"},
                            headers={**headers, "If-Match": '"1"'})
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        assert _counts(ctx) == before
