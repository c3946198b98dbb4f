"""Requests built from a cached envelope are byte-for-byte the fully rendered ones."""

from __future__ import annotations

import tempfile
import uuid
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from app.config import InsiSettings
from app.domain.errors import InvalidTrait
from app.domain.insi import CallContext, CredentialMode, InsiOperation, TraitsQuery
from app.integrations.insi.client import InsiClient
from app.integrations.insi.templates import RequestTemplates, Slots
from app.integrations.insi.wiring import build_credentials
from tests.insi_support import request_schema


class ServerCertificate:
    """A credential without assertion, as the INSI-AUTO / INSI-MANU ones are."""

    mode, channel, emitter = CredentialMode.SERVER_CERTIFICATE, "server-auth", "ESTAB & <CO>"

    def assertions(self):
        return []


@pytest.fixture(scope="module")
def client():
    settings = InsiSettings()
    c = InsiClient(settings, Path(tempfile.mkdtemp()), build_credentials(settings))
    yield c
    c.close()


BODIES = [
    {"NomNaissance": "ADRUN", "Prenom": ["ZOE"], "Sexe": "F", "DateNaissance": "1975-12-31"},
    {
        "NomNaissance": "D'ARTAGNAN DE L'HERAULT",
        "Prenom": ["PIERRE-ALAIN", "GUNTHER", "JEAN"],
        "Sexe": "M",
        "DateNaissance": "2001-06-17",
        "LieuNaissance": "63220",
    },
    {"NomNaissance": "A&B <C>", "Prenom": [], "Sexe": "M", "DateNaissance": "2001-00-00"},
    {"NomNaissance": "ÉLODIE ÇA", "Sexe": "F", "DateNaissance": "1990-01-01"},
]


@pytest.mark.parametrize("body", BODIES)
def test_a_templated_request_is_the_rendered_one(client, body):
    slots = Slots("uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427", "2026-11-24T10:00:00.123Z", "id-1", "id-2")
    emitter = ServerCertificate.emitter
    templated = client._templates.request(InsiOperation.TRAITS, body, emitter, slots)
    assert templated is not None
    assert templated == client.render_request(InsiOperation.TRAITS, body, emitter, slots)
    # The second call of the same shape comes from the cache and still matches, with other values.
    other = Slots("uuid:00000000-0000-4000-8000-000000000000", "2027-01-01T00:00:00.000Z", "a", "b")
    again = client._templates.request(InsiOperation.TRAITS, body, emitter, other)
    assert again == client.render_request(InsiOperation.TRAITS, body, emitter, other)
    assert again != templated


def test_requests_built_by_the_client_validate_and_carry_their_own_ids(client):
    schema = request_schema()
    seen = set()
    for body in BODIES[:2] * 2:
        message_id = f"uuid:{uuid.uuid4()}"
        content = client.build_request(InsiOperation.TRAITS, body, ServerCertificate(), message_id)
        root = etree.fromstring(content)
        schema.assertValid(root)
        ids = tuple(e.text for e in root.iter("{urn:siram:lps:ctxlps}Id", "{urn:siram:bam:ctxbam}Id"))
        assert len(set(ids)) == 2 and ids not in seen
        seen.add(ids)


def test_values_lxml_refuses_are_not_templated():
    rendered = []

    def render(operation, body, emitter, slots):
        rendered.append(body)
        raise ValueError("All strings must be XML compatible")

    templates = RequestTemplates(render)
    slots = Slots("m", "t", "a", "b")
    assert templates.request(InsiOperation.TRAITS, {"NomNaissance": "A\x01B"}, "E", slots) is None
    assert rendered == []  # the caller renders it in full, and lxml refuses it there


def test_a_renderer_that_does_not_echo_the_markers_disables_the_template():
    templates = RequestTemplates(lambda operation, body, emitter, slots: b"<x>fixed</x>")
    slots = Slots("m", "t", "a", "b")
    assert templates.request(InsiOperation.TRAITS, {"NomNaissance": "A"}, "E", slots) is None


def test_a_search_through_the_template_still_checks_the_traits_first(client):
    with pytest.raises(InvalidTrait):
        client.search_by_traits(TraitsQuery("ADRUN", ("ZOE",), "X", date(1975, 12, 31)), CallContext("t"))
