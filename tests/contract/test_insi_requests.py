"""Contract: the requests the client produces validate against the project's own XSDs."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from lxml import etree

from app.config import InsiSettings
from app.domain.insi import CallContext, CrCode, InsiConfigurationError, Matricule, TraitsQuery, VitaleQuery
from app.integrations.insi.client import InsiClient
from app.integrations.insi.wiring import build_credentials
from tests.insi_support import *  # noqa: F403
from tests.insi_support import WSDL_DIR, desk_assertion, make_client, request_schema, settings_for

ME = CallContext("agent-42")
SOAP = "{http://www.w3.org/2003/05/soap-envelope}"
LPS, BAM, WSA = "{urn:siram:lps:ctxlps}", "{urn:siram:bam:ctxbam}", "{http://www.w3.org/2005/08/addressing}"


@pytest.fixture
def client(sim_http, insi_pki, tmp_path):
    c = make_client(settings_for(sim_http.url, insi_pki), tmp_path / "var")
    yield c
    c.close()


def _last(sim) -> etree._Element:
    return etree.fromstring(sim.behaviour.received[-1])


def test_traits_request_validates_and_carries_the_four_headers(client, sim_http):
    query = TraitsQuery(
        "D'ARTAGNAN DE L'HERAULT", ("PIERRE-ALAIN", "GUNTHER"), "M", date(2001, 6, 17), "63220"
    )
    assert client.search_by_traits(query, ME).code is CrCode.FOUND
    request = _last(sim_http)
    schema = request_schema()
    assert schema.validate(request), schema.error_log
    header = request.find(f"{SOAP}Header")
    assert [e.tag for e in header] == [
        f"{LPS}ContexteLPS",
        f"{BAM}ContexteBAM",
        f"{WSA}Action",
        f"{WSA}MessageID",
    ]
    lps = header.find(f"{LPS}ContexteLPS")
    assert (lps.get("Nature"), lps.get("Version")) == ("CTXLPS", "01_00")
    assert lps.find(f"{LPS}LPS/{LPS}IDAM").get("R") == "4"
    assert lps.findtext(f"{LPS}LPS/{LPS}Nom") == "urn:lps:identito:0.1.0"
    bam = header.find(f"{BAM}ContexteBAM")
    assert (bam.get("Nature"), bam.get("Version")) == ("CTXBAM", "01_02")
    couverture = bam.find(f"{BAM}COUVERTURE")
    assert couverture is not None and len(couverture) == 0 and not (couverture.text or "").strip()
    names = [e.text for e in request.iter("{http://www.cnamts.fr/INSiRecSans}Prenom")]
    assert names == ["PIERRE-ALAIN", "GUNTHER"]
    assert (
        header.find(
            "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}Security"
        )
        is None
    )


def test_the_installation_instance_is_kept_across_restarts(sim_http, insi_pki, tmp_path):
    instances = []
    for _ in range(2):
        c = make_client(settings_for(sim_http.url, insi_pki), tmp_path / "var")
        c.search_by_traits(TraitsQuery("ADRUN", ("ZOE",), "F", date(1975, 12, 31)), ME)
        instances.append(_last(sim_http).findtext(f".//{LPS}Instance"))
        c.close()
    assert instances[0] == instances[1] and len(instances[0]) == 36
    assert (tmp_path / "var" / "insi-instance-id").read_text().strip() == instances[0]


def test_vitale_request_validates_and_places_both_assertions(client, sim_http, insi_pki):
    vitale_assertion = desk_assertion(insi_pki.auto)  # stands for the card-reader middleware's assertion
    desk = desk_assertion(insi_pki.manu)
    query = VitaleQuery(
        Matricule("2751263220749", "74"), "ADRUN", "1975-12-31", 1, vitale_assertion=vitale_assertion
    )
    answer = client.search_by_vitale(query, CallContext("agent-42", relayed_assertion=desk))
    assert answer.code is CrCode.FOUND and answer.active.matricule.matricule == "275126322074974"
    request = _last(sim_http)
    schema = request_schema()
    assert schema.validate(request), schema.error_log
    assertions = list(request.iter("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"))
    assert [etree.tostring(a, method="c14n", exclusive=True) for a in assertions] == [
        etree.tostring(etree.fromstring(x), method="c14n", exclusive=True) for x in (desk, vitale_assertion)
    ]
    action = request.findtext(f".//{WSA}Action")
    assert action == "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
    assert request.find(f".//{BAM}COUVERTURE/{BAM}ASSURE/{BAM}NumIdentifiant").text == "2751263220749"


def test_vitale_search_by_an_unknown_card_is_01(client, insi_pki):
    query = VitaleQuery(
        Matricule("1700175056099", "33"),
        "INCONNU",
        "1970-01-01",
        vitale_assertion=desk_assertion(insi_pki.auto),
    )
    assert client.search_by_vitale(query, ME).code is CrCode.NOT_FOUND


def test_an_operator_can_point_at_other_wsdl_files_but_never_a_url(sim_http, insi_pki, tmp_path):
    copy = tmp_path / "official"
    shutil.copytree(WSDL_DIR, copy)
    settings = settings_for(sim_http.url, insi_pki, wsdl_path=copy / "insi.wsdl")
    c = make_client(settings, tmp_path / "var")
    assert (
        c.search_by_traits(TraitsQuery("ADRUN", ("ZOE",), "F", date(1975, 12, 31)), ME).code is CrCode.FOUND
    )
    c.close()
    remote = InsiSettings(endpoint=sim_http.url, wsdl_path="https://example.invalid/insi.wsdl")  # type: ignore[arg-type]
    with pytest.raises(InsiConfigurationError):
        InsiClient(remote, tmp_path / "var", build_credentials(remote))
    broken = tmp_path / "broken.wsdl"
    broken.write_text("<definitions>not a wsdl")
    bad = InsiSettings(endpoint=sim_http.url, wsdl_path=broken)
    with pytest.raises(InsiConfigurationError):
        InsiClient(bad, tmp_path / "var", build_credentials(bad))
