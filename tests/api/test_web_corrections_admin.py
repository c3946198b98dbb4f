"""The cell's corrections, the worklist filters and the integration pages over HTTP (both engines):
forms refused without a reason, a stale form with what changed, filters and paging, roles."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.domain.worklist import WorklistKind
from app.services import identities, subscribers, worklists
from app.services.context import ServiceContext
from tests.api.test_web_pages import _sign_in, _token
from tests.conftest import actor

CELL = actor("identitovigilance")


@pytest.fixture
def qual_id(ctx: ServiceContext) -> int:
    """A validated identity (a strict change needs a reason)."""
    traits = identities.TraitsInput(birth_name="MOREAU", first_names="LUC", birth_date="1975-03-02", sex="M")
    one = identities.create_identity(ctx, actor("admission"), traits)
    from datetime import date

    one, _ = identities.record_document(ctx, actor("admission"), one.id,
                                        identities.DocumentInput("CN", date(2031, 1, 1)),
                                        expected_version=one.version)
    return one.id


def _form(client: TestClient, path: str, form_id: str) -> dict[str, str]:
    """The hidden and text fields of one form of a page, as a browser would send them untouched."""
    html = client.get(path).text
    block = html[html.index(f'id="{form_id}"'):]
    block = block[:block.index("</form>")]
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)" value="([^"]*)"', block))
    fields.update(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', block))
    return {k: v.replace("&#39;", "'").replace("&amp;", "&") for k, v in fields.items()}


def test_a_strict_correction_needs_a_reason_and_a_stale_form_shows_what_changed(
        client: TestClient, ctx: ServiceContext, qual_id: int) -> None:
    _sign_in(client, "identitovigilance")
    path = f"/app/identities/{qual_id}/corrections"
    form = _form(client, path, "traits")
    assert form["read_birth_name"] == "MOREAU" and form["version"]
    refused = client.post(f"{path}/traits", data={**form, "birth_name": "MOREAUX", "sex": "M", "reason": ""})
    assert refused.status_code == 422 and 'value="MOREAUX"' in refused.text
    # Someone else changes the used name meanwhile: the form (read before) is stale.
    now = identities.read_identity(ctx, qual_id)
    identities.update_identity(ctx, CELL, qual_id, {"used_name": "DURAND"}, expected_version=now.version)
    stale = client.post(f"{path}/traits", data={**form, "birth_name": "MOREAUX", "sex": "M",
                                                "reason": "Erreur de saisie"})
    assert stale.status_code == 412 and "Someone else changed this identity" in stale.text
    changed = stale.text[stale.text.index('id="conflict-changes"'):stale.text.index("</table>")]
    assert "Used name" in changed and "DURAND" in changed and "Birth name" not in changed
    assert 'value="MOREAUX"' in stale.text and 'value="DURAND"' in stale.text  # typed kept, others current
    again = {**_form_from(stale.text, "traits"), "sex": "M"}
    done = client.post(f"{path}/traits", data=again, follow_redirects=False)
    assert done.status_code == 303
    after = identities.read_identity(ctx, qual_id)
    shown = (after.traits.birth_name, after.traits.used_name, after.status.value)
    assert shown == ("MOREAUX", "DURAND", "PROV")


def _form_from(html: str, form_id: str) -> dict[str, str]:
    block = html[html.index(f'id="{form_id}"'):]
    block = block[:block.index("</form>")]
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', block))
    reason = re.search(r'name="reason"[^>]*>([^<]*)</textarea>', block)
    fields["reason"] = reason.group(1) if reason else ""
    return fields


def test_an_attribute_is_set_and_cleared_with_a_reason(client: TestClient, ctx: ServiceContext,
                                                        qual_id: int) -> None:
    _sign_in(client, "identitovigilance")
    path = f"/app/identities/{qual_id}/corrections"
    form = _form(client, path, "attributes")
    no_reason = client.post(f"{path}/attributes", data={**form, "action": "set:DOUT"})
    assert no_reason.status_code == 422 and 'id="attr-error"' in no_reason.text
    done = client.post(f"{path}/attributes", data={**form, "action": "set:DOUT", "attribute_reason": "Doute"},
                       follow_redirects=False)
    assert done.status_code == 303
    assert [a.value for a in identities.read_identity(ctx, qual_id).state.attributes] == ["DOUT"]
    form = _form(client, path, "attributes")
    assert "Clear DOUT" in client.get(path).text
    client.post(f"{path}/attributes", data={**form, "action": "remove:DOUT", "attribute_reason": "Levé"})
    assert not identities.read_identity(ctx, qual_id).state.attributes
    # A form read before someone else set HOMA: nothing done, the change shown, the choice kept.
    stale_form = _form(client, path, "attributes")
    identities.set_attribute(ctx, CELL, qual_id, "HOMA", reason="Homonyme")
    stale = client.post(f"{path}/attributes", data={**stale_form, "action": "set:FICT",
                                                    "attribute_reason": "Identité de test"})
    assert stale.status_code == 412 and 'value="set:FICT" selected' in stale.text
    changed = stale.text[stale.text.index('id="conflict-changes"'):stale.text.index("</table>")]
    assert "Attributes" in changed and "HOMA" in changed
    assert [a.value for a in identities.read_identity(ctx, qual_id).state.attributes] == ["HOMA"]


def test_worklist_filters_and_paging(client: TestClient, ctx: ServiceContext, qual_id: int,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    others = [identities.create_identity(ctx, actor("admission"), identities.TraitsInput(
        birth_name=name, first_names="ANNE", birth_date="1980-01-01", sex="F")).id
        for name in ("ABEL", "BRUN")]
    with ctx.unit_of_work(CELL) as uow:
        for identity_id in (qual_id, *others):
            worklists.open_item(uow, WorklistKind.INSI_NOT_FOUND, identity_id, "01")
        uow.commit()
    _sign_in(client, "identitovigilance")
    base = "/app/cell/worklists/insi_not_found"
    assert client.get(base).text.count('class="row-link"') == 3
    assert client.get(f"{base}?identity={others[0]}").text.count('class="row-link"') == 1
    assert client.get(f"{base}?identity={others[1] + 1}").text.count('class="row-link"') == 0
    assert client.get(f"{base}?older=0").text.count('class="row-link"') == 3
    assert client.get(f"{base}?older=2").text.count('class="row-link"') == 0
    bad = client.get(f"{base}?from=31/02/2020&identity=x")
    assert bad.status_code == 200 and bad.text.count('class="error"') == 2
    monkeypatch.setattr("app.web.cell.PAGE", 2)  # paging beyond the first page, two items a page
    first = client.get(f"{base}?older=0")
    assert first.text.count('class="row-link"') == 2 and 'id="page-next"' in first.text
    second = client.get(f"{base}?older=0&page=1")
    assert second.text.count('class="row-link"') == 1 and 'id="page-prev"' in second.text
    assert "/app/cell/worklists/insi_not_found?older=0&amp;page=0" in second.text


def test_integration_pages_follow_the_api_roles(client: TestClient, ctx: ServiceContext) -> None:
    sub = subscribers.create_subscriber(ctx, actor("admin"), subscribers.SubscriberInput(
        name="DPI", host="127.0.0.1", port=9, receiving_application="DPI", receiving_facility="CHU"))
    _sign_in(client, "admission")
    assert client.get("/app/admin").status_code == 403
    assert client.get("/app/admin/quarantine").status_code == 403
    assert 'id="nav-admin"' not in client.get("/app/").text
    client.cookies.clear()
    _sign_in(client, "admin")
    home = client.get("/app/admin")
    assert home.status_code == 200 and "DPI" in home.text and 'id="nav-admin"' in home.text
    page = f"/app/admin/subscribers/{sub.id}"
    token = _token(client, page)
    switched = client.post(f"{page}/ins-ready", data={"csrf_token": token}, follow_redirects=False)
    assert switched.status_code == 303
    fragment = client.get(f"{page}/replay", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'hx-trigger="every 1s"' in fragment.text  # running: polled
    again = client.post(f"{page}/ins-ready", data={"csrf_token": token})
    assert again.status_code == 409
    assert client.post(f"{page}/pause", data={"csrf_token": token}, follow_redirects=True).status_code == 200
    assert subscribers.get_subscriber(ctx, actor("admin"), sub.id).paused
    assert client.get("/app/admin/dead-letters").status_code == 200
    assert client.get("/app/admin/quarantine").status_code == 200
    client.cookies.clear()
    _sign_in(client, "identitovigilance")
    assert client.get("/app/admin").status_code == 403
    assert client.get("/app/admin/quarantine").status_code == 200


def test_a_quarantined_message_is_run_again_as_fixed_and_its_ack_is_shown(
        client: TestClient, ctx: ServiceContext) -> None:
    raw = ("MSH|^~\\&|GAM|CHU|IDENTITO|CHU|20261130101500||ADT^A28^ADT_A05|Q-WEB-1|P|2.5\r"
           "PID|1||Q900002^^^CHU^PI||VERNIERE^ALIX^^^^^L||19841340|F\r")
    with ctx.unit_of_work(actor("admin")) as uow:
        item = uow.inbound.quarantine(sender="GAM", control_id="Q-WEB-1", event="A28", at=ctx.now(),
                                      raw=raw.encode(), error_code="102", error_field="PID-7",
                                      error_text="bad date", ack=None, digest=None)
        uow.commit()
    _sign_in(client, "identitovigilance")
    page = client.get(f"/app/admin/quarantine/{item}")
    assert page.status_code == 200 and "19841340" in page.text
    token = _token(client, f"/app/admin/quarantine/{item}")
    fixed = raw.replace("19841340", "19840229").replace("\r", "\n")
    done = client.post(f"/app/admin/quarantine/{item}/rerun", data={"csrf_token": token, "message": fixed})
    assert done.status_code == 200 and 'id="ack"' in done.text and "MSA|A" in done.text  # the new ACK
    assert "re-run with a fixed message" in done.text  # closed, the fixed version recorded
    again = client.post(f"/app/admin/quarantine/{item}/rerun", data={"csrf_token": token, "message": fixed})
    assert again.status_code == 409 and 'id="q-error"' in again.text
