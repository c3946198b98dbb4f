"""Unit (respx): the client reads the real server's irregular envelopes and maps every fault."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
import respx

from app.config import InsiSettings
from app.domain.insi import (
    CallContext,
    CrCode,
    InsiConfigurationError,
    InsiTechnicalError,
    InsiTimeout,
    InsiTlsError,
    InsiUnavailable,
    TraitsQuery,
)
from app.integrations.insi.client import InsiClient
from app.integrations.insi.wiring import build_credentials

URL = "http://127.0.0.1:9/lps"
S12 = "http://www.w3.org/2003/05/soap-envelope"
RES = "http://www.cnamts.fr/INSiResultat"
QUERY = TraitsQuery("ADRUN", ("ZOE",), "F", date(1975, 12, 31))
ME = CallContext("agent-1")


@pytest.fixture
def client(tmp_path):
    settings = InsiSettings(endpoint=URL, timeout_seconds=2.0)
    c = InsiClient(settings, tmp_path, build_credentials(settings))
    yield c
    c.close()


def _individu(p: str, histo: int = 1) -> str:
    def ins(tag: str, number: str, key: str, dates: str = "") -> str:
        return (
            f"<{p}{tag}><{p}IdIndividu><{p}NumIdentifiant>{number}</{p}NumIdentifiant><{p}Cle>{key}</{p}Cle>"
            f"</{p}IdIndividu><{p}OID>1.2.250.1.213.1.4.8</{p}OID>{dates}</{p}{tag}>"
        )

    history = "".join(
        ins(
            "INSHISTO",
            "2751263220700",
            f"{i:02d}",
            f"<{p}DateDeb>2001-01-01</{p}DateDeb><{p}DateFin>2000-01-01</{p}DateFin>",
        )
        for i in range(histo)
    )
    return (
        f"<{p}INDIVIDU>{ins('INSACTIF', '2751263220749', '74')}{history}<{p}TIQ><{p}NomNaissance>ADRUN</{p}NomNaissance>"  # noqa: E501
        f"<{p}Prenom>ZOE</{p}Prenom><{p}ListePrenom>ZOE MARIE</{p}ListePrenom><{p}Sexe>F</{p}Sexe>"
        f"<{p}DateNaissance>1975-12-31</{p}DateNaissance><{p}LieuNaissance>63220</{p}LieuNaissance></{p}TIQ></{p}INDIVIDU>"
    )


def _cr(p: str, code: str = "00", label: str = "OK") -> str:
    return f"<{p}CR><{p}CodeCR>{code}</{p}CodeCR><{p}LibelleCR>{label}</{p}LibelleCR></{p}CR>"


FOUND_VARIANTS = {
    "soap-and-env-prefixes": (
        f'<soap:Envelope xmlns:soap="{S12}"><soap:Header/><env:Body xmlns:env="{S12}">'
        f'<ins:RESULTAT xmlns:ins="{RES}">{_cr("ins:")}{_individu("ins:")}</ins:RESULTAT></env:Body></soap:Envelope>'  # noqa: E501
    ),
    "S-prefix-default-namespace-unused-declarations": (
        f'<?xml version="1.0"?><soap:Envelope xmlns:soap="{S12}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '  # noqa: E501
        f'xmlns:a="urn:unused"><S:Body xmlns:S="{S12}"><RESULTAT xmlns="{RES}">{_cr("")}{_individu("")}'
        "</RESULTAT></S:Body></soap:Envelope>"
    ),
    "soap-default-namespace": (
        f'<Envelope xmlns="{S12}"><Header></Header><Body><RESULTAT xmlns="{RES}">{_cr("")}{_individu("")}'
        "</RESULTAT></Body></Envelope>"
    ),
    "unqualified-children": (
        f'<e:Envelope xmlns:e="{S12}"><e:Body><r:RESULTAT xmlns:r="{RES}">{_cr("")}{_individu("")}'
        "</r:RESULTAT></e:Body></e:Envelope>"
    ),
    "pretty-printed-with-comments": (
        f'<soap:Envelope xmlns:soap="{S12}">\n  <!-- a comment -->\n  <soap:Body>\n    '
        f'<ins:RESULTAT xmlns:ins="{RES}">\n      {_cr("ins:")}\n      {_individu("ins:")}\n    </ins:RESULTAT>\n'  # noqa: E501
        "  </soap:Body>\n</soap:Envelope>"
    ),
}


def _reply(content: str | bytes, status: int = 200, ctype: str = "application/soap+xml; charset=utf-8"):
    body = content.encode() if isinstance(content, str) else content
    return httpx.Response(status, content=body, headers={"content-type": ctype})


@pytest.mark.parametrize("variant", sorted(FOUND_VARIANTS))
def test_envelope_variants_are_read_by_namespace(client, variant):
    with respx.mock:
        respx.post(URL).mock(return_value=_reply(FOUND_VARIANTS[variant]))
        answer = client.search_by_traits(QUERY, ME)
    assert answer.code is CrCode.FOUND
    assert answer.active.matricule.matricule == "275126322074974"
    assert answer.traits.first_names == "ZOE MARIE" and answer.traits.first_birth_first_name == "ZOE"
    assert len(answer.history) == 1  # a single INSHISTO is still a list
    assert (answer.history[0].start, answer.history[0].end) == ("2001-01-01", "2000-01-01")


def test_several_history_entries(client):
    content = (
        f'<soap:Envelope xmlns:soap="{S12}"><soap:Body><ins:RESULTAT xmlns:ins="{RES}">{_cr("ins:")}'
        f"{_individu('ins:', histo=3)}</ins:RESULTAT></soap:Body></soap:Envelope>"
    )
    with respx.mock:
        respx.post(URL).mock(return_value=_reply(content))
        assert len(client.search_by_traits(QUERY, ME).history) == 3


@pytest.mark.parametrize(
    "content",
    [
        # Right prefix, wrong namespace: a prefix- or regex-based reader would accept it.
        f'<soap:Envelope xmlns:soap="{S12}"><soap:Body><ins:RESULTAT xmlns:ins="urn:other">{_cr("ins:")}'
        "</ins:RESULTAT></soap:Body></soap:Envelope>",
        # SOAP 1.1 envelope.
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<ins:RESULTAT xmlns:ins="{RES}">{_cr("ins:")}</ins:RESULTAT></soap:Body></soap:Envelope>',
        # 00 without INDIVIDU, unknown CodeCR, not XML, empty.
        f'<soap:Envelope xmlns:soap="{S12}"><soap:Body><ins:RESULTAT xmlns:ins="{RES}">{_cr("ins:")}'
        "</ins:RESULTAT></soap:Body></soap:Envelope>",
        f'<soap:Envelope xmlns:soap="{S12}"><soap:Body><ins:RESULTAT xmlns:ins="{RES}">{_cr("ins:", "07", "?")}'  # noqa: E501
        "</ins:RESULTAT></soap:Body></soap:Envelope>",
        "<html><body>Maintenance</body></html",
        "",
    ],
)
def test_unreadable_answers_are_technical_errors_not_answers(client, content):
    with respx.mock:
        respx.post(URL).mock(return_value=_reply(content))
        with pytest.raises(InsiTechnicalError):
            client.search_by_traits(QUERY, ME)


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE soap:Envelope [<!ENTITY a "haha"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]>'
)


@pytest.mark.parametrize(
    "content",
    [
        # Entity expansion (billion laughs), an external entity, a bare DOCTYPE: refused unread.
        f'{LAUGHS}<soap:Envelope xmlns:soap="{S12}"><soap:Body><ins:RESULTAT xmlns:ins="{RES}">'
        f'{_cr("ins:", "01", "&c;")}</ins:RESULTAT></soap:Body></soap:Envelope>',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        f'<soap:Envelope xmlns:soap="{S12}"><soap:Body><ins:RESULTAT xmlns:ins="{RES}">'
        f'{_cr("ins:", "01", "&e;")}</ins:RESULTAT></soap:Body></soap:Envelope>',
        f'<!DOCTYPE soap:Envelope><soap:Envelope xmlns:soap="{S12}"><soap:Body>'
        f'<ins:RESULTAT xmlns:ins="{RES}">{_cr("ins:", "01", "x")}</ins:RESULTAT>'
        "</soap:Body></soap:Envelope>",
        # An entity no DTD declares.
        f'<soap:Envelope xmlns:soap="{S12}"><soap:Body><ins:RESULTAT xmlns:ins="{RES}">'
        f'{_cr("ins:", "01", "&undeclared;")}</ins:RESULTAT></soap:Body></soap:Envelope>',
    ],
)
def test_answers_with_a_dtd_or_entities_are_refused(client, content):
    with respx.mock:
        respx.post(URL).mock(return_value=_reply(content))
        with pytest.raises(InsiTechnicalError) as caught:
            client.search_by_traits(QUERY, ME)
    assert "haha" not in str(caught.value) and "root:" not in str(caught.value)


def test_an_oversized_answer_is_a_technical_error_read_no_further(client):
    head = f'<soap:Envelope xmlns:soap="{S12}"><soap:Body><ins:RESULTAT xmlns:ins="{RES}">'
    filler = "<!--" + "x" * (2 << 20) + "-->"
    content = head + filler + _cr("ins:", "01", "none") + "</ins:RESULTAT></soap:Body></soap:Envelope>"
    with respx.mock:
        respx.post(URL).mock(return_value=_reply(content))
        with pytest.raises(InsiTechnicalError) as caught:
            client.search_by_traits(QUERY, ME)
    assert "larger than" in str(caught.value.params)


@pytest.mark.parametrize(
    "code,label", [("01", "Aucune identite trouvee"), ("02", "Plusieurs identites trouvees")]
)
def test_codes_without_individu(client, code, label):
    content = (
        f'<soap:Envelope xmlns:soap="{S12}"><env:Body xmlns:env="{S12}"><ins:RESULTAT xmlns:ins="{RES}">'
        f"{_cr('ins:', code, label)}</ins:RESULTAT></env:Body></soap:Envelope>"
    )
    with respx.mock:
        respx.post(URL).mock(return_value=_reply(content))
        answer = client.search_by_traits(QUERY, ME)
    assert answer.code.value == code and answer.label == label and answer.active is None


def _fault(
    value: str,
    subcode: str | None,
    detail: str | None,
    severity: str = "fatale",
    lang: str = "fr",
    echo: str | None = None,
    sub_prefix: str = "siram",
) -> str:
    sub = (
        f'<e:Subcode><e:Value xmlns:{sub_prefix}="urn:siram">{sub_prefix}:{subcode}</e:Value></e:Subcode>'
        if subcode
        else ""
    )
    mid = f' messageID="{echo}"' if echo else ""
    det = (
        f'<e:Detail><s:Erreur xmlns:s="urn:siram" code="{detail}" severite="{severity}"{mid}>texte</s:Erreur>'
        "</e:Detail>"
        if detail
        else ""
    )
    return (
        f'<soap:Envelope xmlns:soap="{S12}"><S:Body xmlns:S="{S12}"><e:Fault xmlns:e="{S12}"><e:Code>'
        f'<e:Value>e:{value}</e:Value>{sub}</e:Code><e:Reason><e:Text xml:lang="{lang}">Message</e:Text>'
        f"</e:Reason>{det}</e:Fault></S:Body></soap:Envelope>"
    )


@pytest.mark.parametrize(
    "fault,error,retryable",
    [
        (_fault("Sender", "siram_100", "desir_550"), InsiConfigurationError, False),
        (_fault("Sender", None, "DESIR_560", severity="fatal", lang="en"), InsiConfigurationError, False),
        (_fault("Receiver", "siram_40", "desir_1020", severity="erreur"), InsiUnavailable, True),
        (_fault("Receiver", "siram_40", "insi_102", sub_prefix="x"), InsiTechnicalError, True),
        (_fault("Receiver", "siram_40", None), InsiUnavailable, True),
        (_fault("Receiver", "siram_999", "desir_9999"), InsiTechnicalError, True),
        (_fault("Sender", None, None), InsiTechnicalError, True),
    ],
)
def test_faults_are_typed_errors(client, fault, error, retryable):
    with respx.mock:
        respx.post(URL).mock(return_value=_reply(fault, 500))
        with pytest.raises(error) as caught:
            client.search_by_traits(QUERY, ME)
    assert type(caught.value) is error and caught.value.retryable is retryable
    assert caught.value.message_id.startswith("uuid:")  # the request's, when the server does not echo it


def test_the_echoed_message_id_is_kept(client):
    with respx.mock:
        respx.post(URL).mock(
            return_value=_reply(_fault("Receiver", "siram_40", "desir_1020", echo="uuid:echo"), 500)
        )
        with pytest.raises(InsiUnavailable) as caught:
            client.search_by_traits(QUERY, ME)
    assert caught.value.message_id == "uuid:echo"


@pytest.mark.parametrize(
    "status,error",
    [
        (503, InsiUnavailable),
        (502, InsiUnavailable),
        (404, InsiConfigurationError),
        (500, InsiTechnicalError),
    ],
)
def test_http_errors_without_soap(client, status, error):
    with respx.mock:
        respx.post(URL).mock(return_value=_reply("<html>error</html>", status, "text/html"))
        with pytest.raises(error):
            client.search_by_traits(QUERY, ME)


@pytest.mark.parametrize(
    "exc,error",
    [
        (httpx.ReadTimeout("slow"), InsiTimeout),
        (httpx.ConnectTimeout("slow"), InsiTimeout),
        (httpx.ConnectError("refused"), InsiUnavailable),
        (httpx.ReadError("reset"), InsiUnavailable),
    ],
)
def test_transport_failures(client, exc, error):
    with respx.mock:
        respx.post(URL).mock(side_effect=exc)
        with pytest.raises(error):
            client.search_by_traits(QUERY, ME)


def test_tls_failures_are_tls_errors(client):
    # What httpx raises for a failed handshake: the ssl error's text in a ConnectError.
    failure = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (_ssl.c:1006)")
    with respx.mock:
        respx.post(URL).mock(side_effect=failure)
        with pytest.raises(InsiTlsError):
            client.search_by_traits(QUERY, ME)


def test_the_request_carries_soap12_content_type_and_action(client):
    with respx.mock:
        route = respx.post(URL).mock(return_value=_reply(FOUND_VARIANTS["soap-and-env-prefixes"]))
        client.search_by_traits(QUERY, ME)
    sent = route.calls.last.request
    assert sent.headers["content-type"].startswith("application/soap+xml; charset=utf-8")
    assert (
        'action="urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"'
        in sent.headers["content-type"]
    )
