"""Search page JSON and per-route metrics, through the whole application."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from app.services import queries
from app.services.context import ServiceContext
from tests.conftest import auth


def _create(client: TestClient, headers: dict[str, str], name: str, first: str) -> int:
    body = {"birth_name": name, "first_names": first, "birth_date": "1980-05-17", "sex": "F"}
    response = client.post("/identities", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_search_returns_a_page_with_has_more(client: TestClient, settings: Settings) -> None:
    headers = auth(settings, "admission")
    ids = [_create(client, headers, "Dupont", first) for first in ("Anne", "Berthe", "Claire")]

    response = client.get("/identities", params={"birth_name": "dup", "limit": 2}, headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    page = response.json()
    assert [i["id"] for i in page["items"]] == ids[:2]
    assert (page["limit"], page["offset"], page["has_more"]) == (2, 0, True)
    assert page["items"][0]["birth_name"] == "DUPONT" and page["items"][0]["ins"] is None
    last = client.get("/identities", params={"birth_name": "dup", "limit": 2, "offset": 2}, headers=headers)
    assert [i["id"] for i in last.json()["items"]] == ids[2:] and last.json()["has_more"] is False


def test_metrics_count_requests_by_route_template_and_status(client: TestClient, settings: Settings) -> None:
    headers = auth(settings, "admission")
    assert client.get("/identities/987654", headers=headers).status_code == 404
    assert client.get("/identities/987655", headers=headers).status_code == 404

    text = client.get("/metrics").text

    assert ('identito_http_requests_total{method="GET",route="/identities/{identity_id}",status="404"} 2'
            in text)
    assert "987654" not in text


def test_the_name_count_fold_backlog_is_a_metric(
        client: TestClient, settings: Settings, ctx: ServiceContext) -> None:
    """Deltas written by the triggers wait for the worker's fold; the gauge shows them, then 0."""
    headers = auth(settings, "admission")
    before = _gauge(client.get("/metrics").text, "identito_name_count_deltas_pending")
    _create(client, headers, "Lebrun", "Anne")
    ident = _create(client, headers, "Garnier", "Berthe")
    assert client.patch(f"/identities/{ident}", json={"used_name": "Lefort"},
                        headers={**headers, "If-Match": '"1"'}).status_code == 200
    after = _gauge(client.get("/metrics").text, "identito_name_count_deltas_pending")
    assert after >= before + 3  # two births, one used name under another head
    while queries.fold_name_counts(ctx, batch=2):
        pass
    assert _gauge(client.get("/metrics").text, "identito_name_count_deltas_pending") == 0


def _gauge(text: str, name: str) -> int:
    values = [line.split()[1] for line in text.splitlines() if line.startswith(f"{name} ")]
    assert len(values) == 1, values
    return int(values[0])
