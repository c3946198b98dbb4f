"""The creation form and the cell's pages over HTTP (both engines, English settings): the live
check answers the API's message for one field, a refused form keeps every field's message, what
each role is offered and refused."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.services import duplicates, identities
from app.services.context import ServiceContext
from tests.api.test_web_pages import _sign_in, _token
from tests.conftest import actor, auth

_BAD = {"birth_name": "DUPONT", "first_names": "JEAN", "birth_date": "1975-13-40", "sex": "X"}


def test_the_live_check_answers_the_api_message_for_one_field(client: TestClient, settings: object) -> None:
    _sign_in(client, "admission")
    token = _token(client, "/app/identities/new")
    api = client.post("/identities", headers=auth(settings, "admission"),  # type: ignore[arg-type]
                      json={**_BAD, "birth_date": "1975-01-01", "sex": "M", "first_names": "JEAN2"})
    checked = client.post("/app/identities/check", headers={"HX-Request": "true"},
                          data={"csrf_token": token, "check": "first_names", **_BAD, "first_names": "JEAN2"})
    assert checked.status_code == 200 and "<html" not in checked.text
    assert api.status_code == 422 and api.json()["detail"] in checked.text
    fine = client.post("/app/identities/check", data={"csrf_token": token, "check": "birth_name", **_BAD})
    assert fine.text.strip() == ""  # the other fields' errors are not this field's
    empty = client.post("/app/identities/check", data={"csrf_token": token, "check": "birth_name"})
    assert empty.text.strip() == ""  # an empty field is not nagged while typing
    assert client.post("/app/identities/check", data={"check": "birth_name"}).status_code == 403


def test_a_refused_form_shows_each_field_message_and_keeps_what_was_typed(client: TestClient) -> None:
    _sign_in(client, "admission")
    token = _token(client, "/app/identities/new")
    refused = client.post("/app/identities", data={"csrf_token": token, **_BAD})
    assert refused.status_code == 422
    messages = re.findall(r'<p class="error" id="m-(\w+)">', refused.text)
    assert messages == ["birth_date", "sex"]
    assert 'value="DUPONT"' in refused.text
    assert 'id="c-birth_date" name="birth_date" value="1975-13-40"' in refused.text
    assert 'aria-invalid="true"' in refused.text


def test_what_each_role_is_offered_and_refused(client: TestClient) -> None:
    _sign_in(client, "documents")
    home = client.get("/app/")
    assert "/app/identities/new" not in home.text and "/app/cell" not in home.text
    refused = client.get("/app/identities/new")
    assert refused.status_code == 403 and "Access denied" in refused.text


def test_an_administrator_sees_the_worklists_but_not_the_pairs(client: TestClient) -> None:
    _sign_in(client, "admin")
    cell = client.get("/app/cell")
    assert cell.status_code == 200 and "Potential duplicate" in cell.text
    assert "/app/cell/pairs" not in cell.text
    assert client.get("/app/cell/pairs").status_code == 403


@pytest.fixture
def pair_id(ctx: ServiceContext) -> int:
    """An open pair found at the desk."""
    traits = identities.TraitsInput(birth_name="MOREAU", first_names="LUC", birth_date="1975-03-02", sex="M")
    identities.create_identity(ctx, actor("admission"), traits)
    identities.create_identity(ctx, actor("admission"), traits, confirm_new=True)
    return duplicates.list_pairs(ctx, actor("identitovigilance"))[0].pair.id


def test_a_merge_names_one_of_the_pair_and_a_dismissal_needs_a_reason(
        client: TestClient, pair_id: int) -> None:
    _sign_in(client, "identitovigilance")
    token = _token(client, f"/app/cell/pairs/{pair_id}")
    other = client.post(f"/app/cell/pairs/{pair_id}/merge", data={
        "csrf_token": token, "survivor": "999999", "low_version": "1", "high_version": "1", "reason": "x"})
    assert other.status_code == 422
    dismissed = client.post(f"/app/cell/pairs/{pair_id}/dismiss", data={"csrf_token": token, "reason": " "})
    assert dismissed.status_code == 422 and "A reason is required for this change" in dismissed.text
    done = client.post(f"/app/cell/pairs/{pair_id}/dismiss", data={"csrf_token": token, "reason": "Twins"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/app/cell/pairs"
    page = client.get(f"/app/cell/pairs/{pair_id}")
    assert "dismissed" in page.text and 'id="merge-form"' not in page.text and "Twins" in page.text
