"""Document pipeline API: DataMatrix, cover page, stamping and scanning (both engines)."""

from __future__ import annotations

import dataclasses
import io
import subprocess

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image
from sqlmodel import Session

from app.db.identities import IdentityRepository
from app.db.tables import IdentityRow
from app.domain.datamatrix import GS
from app.domain.ins import OID_NIR, Ins, InsRecord
from tests.conftest import auth
from tests.documents_support import sample_pdf, zxing_bytes

DUPONT = {
    "birth_name": "Dupont",
    "first_names": "Jean Pierre",
    "birth_date": "1980-05-17",
    "sex": "M",
    "birth_place_code": "63113",
}
MATRICULE = "275126322074974"
PAYLOAD = (
    f"IS010000000000000000000000S1{MATRICULE}S2{OID_NIR}{GS}S3JEAN PIERRE{GS}S4DUPONT{GS}"
    "S5MS617-05-1980S763113"
)


def create(
    client,
    settings,
    status: str | None = "QUAL",
    attributes: str = "",
    matricule: str = MATRICULE,
    body: dict | None = None,
) -> int:
    """An identity in the given status, with an active INS unless status is None or PROV."""
    response = client.post("/identities", json=body or DUPONT, headers=auth(settings, "admission"))
    assert response.status_code == 201, response.text
    identity_id = response.json()["id"]
    ctx = client.app.state.ctx
    with Session(ctx.engine) as session:
        if status in ("RECUP", "QUAL"):
            IdentityRepository(session).add_ins(
                identity_id, InsRecord(Ins(matricule, OID_NIR), True, "INSI"), ctx.now()
            )
        row = session.get(IdentityRow, identity_id)
        row.status, row.attributes = status or "PROV", attributes
        session.add(row)
        session.commit()
    return identity_id


def docs(settings, *roles: str) -> dict[str, str]:
    return auth(settings, *(roles or ("documents",)))


def upload(content: bytes, name: str = "report.pdf", kind: str = "application/pdf") -> dict:
    return {"file": (name, content, kind)}


def test_datamatrix_png_svg_txt_of_a_qual_identity(client, settings) -> None:
    identity_id = create(client, settings)
    png = client.get(f"/identities/{identity_id}/datamatrix.png?module_px=6", headers=docs(settings))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"] == "no-store"
    assert zxing_bytes(Image.open(io.BytesIO(png.content))) == [PAYLOAD.encode()]
    svg = client.get(f"/identities/{identity_id}/datamatrix.svg", headers=docs(settings, "identitovigilance"))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<path" in svg.text
    txt = client.get(f"/identities/{identity_id}/datamatrix.txt", headers=docs(settings))
    assert txt.text == PAYLOAD.replace(GS, "<GS>")


def test_cover_page_pdf(client, settings, tmp_path) -> None:
    identity_id = create(client, settings)
    response = client.get(
        f"/identities/{identity_id}/cover-page.pdf",
        params={"title": "Compte rendu", "document_date": "2026-11-20", "author": "Dr Martin"},
        headers=docs(settings),
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    path = tmp_path / "cover.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout.decode()
    assert "2 75 12 63 220 749 74" in text and "DUPONT" in text and "Compte rendu" in text
    assert "Établissement de démonstration" in text  # the establishment's name from the settings


NOT_QUAL = [
    ("PROV", "", "ins-not-qualified", ["insi", "document", "ins"]),
    ("RECUP", "", "ins-not-qualified", ["document"]),
    ("VALI", "", "ins-not-qualified", ["insi", "ins"]),
    ("PROV", "DOUT", "ins-blocked-attribute", None),
    ("PROV", "FICT", "ins-blocked-attribute", None),
]


@pytest.mark.parametrize(("status", "attributes", "code", "missing"), NOT_QUAL)
def test_non_qual_identity_gets_409_on_every_path(
    client, settings, status, attributes, code, missing
) -> None:
    identity_id = create(client, settings, status, attributes)
    responses = [
        client.get(f"/identities/{identity_id}/datamatrix.{ext}", headers=docs(settings))
        for ext in ("png", "svg", "txt")
    ]
    responses.append(client.get(f"/identities/{identity_id}/cover-page.pdf", headers=docs(settings)))
    responses.append(
        client.post(
            "/documents/cover-page",
            data={"identity_id": str(identity_id)},
            files=upload(sample_pdf(2)),
            headers=docs(settings),
        )
    )
    for response in responses:
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["type"] == f"urn:identito:problem:{code}" and body["rule"] == "RNIV EXI SI 08"
        if missing is not None:
            assert body["identity_status"] == status and body["missing"] == missing
        else:
            assert attributes in body["detail"]


def test_roles(client, settings) -> None:
    identity_id = create(client, settings)
    url = f"/identities/{identity_id}/datamatrix.txt"
    assert client.get(url, headers=auth(settings, "admission")).status_code == 403
    assert client.get(url).status_code == 401
    scan = client.post("/documents/scan", files=upload(b"x"), headers=auth(settings, "admission"))
    assert scan.status_code == 403


@pytest.mark.parametrize("by", ["identity_id", "ipp", "ins", "historic_ins"])
def test_stamp_uploaded_pdf(client, settings, by) -> None:
    identity_id = create(client, settings)
    ipp = client.get(f"/identities/{identity_id}", headers=auth(settings, "admission")).json()["ipp"]
    ctx = client.app.state.ctx
    with Session(ctx.engine) as session:
        IdentityRepository(session).add_ins(
            identity_id, InsRecord(Ins("297022A02077878", OID_NIR), False, "INSI"), ctx.now()
        )
        session.commit()
    ref = {"identity_id": str(identity_id), "ipp": ipp, "ins": MATRICULE, "historic_ins": "297022A02077878"}[
        by
    ]
    original = sample_pdf(3)
    response = client.post(
        "/documents/cover-page",
        files=upload(original),
        headers=docs(settings),
        data={"ins" if "ins" in by else by: ref, "title": "Lettre", "first_page": "true"},
    )
    assert response.status_code == 200, response.text
    assert response.content.startswith(original)
    assert response.headers["x-identito-first-page-stamped"] == "true"
    scan = client.post("/documents/scan", files=upload(response.content), headers=docs(settings)).json()
    assert scan["found"] == 1 and scan["symbols"][0]["identity"]["id"] == identity_id


def test_stamp_needs_exactly_one_identity_reference(client, settings) -> None:
    identity_id = create(client, settings)
    none = client.post("/documents/cover-page", files=upload(sample_pdf(1)), headers=docs(settings))
    both = client.post(
        "/documents/cover-page",
        files=upload(sample_pdf(1)),
        headers=docs(settings),
        data={"identity_id": str(identity_id), "ins": MATRICULE},
    )
    unknown = client.post(
        "/documents/cover-page",
        files=upload(sample_pdf(1)),
        headers=docs(settings),
        data={"ipp": "NO-SUCH-IPP"},
    )
    assert none.status_code == both.status_code == 422 and none.json()["field"] == "identity"
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"hello, not a pdf", "not a PDF"),
        (sample_pdf(2)[:900], "broken PDF"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 100, "broken PDF"),
    ],
)
def test_unusable_upload_is_422_with_a_clear_message(client, settings, content, reason) -> None:
    identity_id = create(client, settings)
    response = client.post(
        "/documents/cover-page",
        files=upload(content),
        headers=docs(settings),
        data={"identity_id": str(identity_id)},
    )
    assert response.status_code == 422
    assert (
        response.json()["type"] == "urn:identito:problem:document-rejected"
        and reason in response.json()["detail"]
    )


def test_upload_over_the_limit_is_413(client, settings) -> None:
    identity_id = create(client, settings)
    client.app.state.documents = dataclasses.replace(client.app.state.documents, max_upload_bytes=2000)
    big = sample_pdf(40)
    assert len(big) > 2000
    stamp = client.post(
        "/documents/cover-page",
        files=upload(big),
        headers=docs(settings),
        data={"identity_id": str(identity_id)},
    )
    scan = client.post("/documents/scan", files=upload(big), headers=docs(settings))
    assert stamp.status_code == scan.status_code == 413
    assert stamp.json()["type"] == "urn:identito:problem:document-too-large"


def _png_of(client, settings, identity_id: int) -> bytes:
    return client.get(f"/identities/{identity_id}/datamatrix.png", headers=docs(settings)).content


def test_scan_compares_printed_traits_with_the_repository(client, settings, ctx) -> None:
    identity_id = create(client, settings)
    png = _png_of(client, settings, identity_id)
    same = client.post("/documents/scan", files=upload(png, "scan.png", "image/png"), headers=docs(settings))
    symbol = same.json()["symbols"][0]
    assert symbol["valid"] and symbol["comparison"] == "same" and symbol["differences"] == []
    assert symbol["identity"] == {
        "id": identity_id,
        "ipp": symbol["identity"]["ipp"],
        "status": "QUAL",
        "found_by": "active",
    }
    assert symbol["printed"]["birth_date"] == "1980-05-17" and symbol["payload"].startswith("IS01")
    with Session(ctx.engine) as session:  # the repository's traits changed since printing
        row = session.get(IdentityRow, identity_id)
        row.birth_name, row.sex = "DUPONT-MARTIN", "F"
        session.add(row)
        session.commit()
    differs = client.post("/documents/scan", files=upload(png, "scan.png"), headers=docs(settings)).json()
    assert differs["symbols"][0]["comparison"] == "differs"
    assert differs["symbols"][0]["differences"] == ["birth_name", "sex"]


def test_scan_of_unknown_ins_and_of_foreign_symbols(client, settings) -> None:
    create(client, settings)
    renderer = client.app.state.documents.renderer
    png = renderer.datamatrix_png(PAYLOAD.replace(MATRICULE, "297022A02077878"))
    unknown = client.post("/documents/scan", files=upload(png), headers=docs(settings)).json()
    assert unknown["symbols"][0]["comparison"] == "unknown_ins" and unknown["symbols"][0]["identity"] is None
    foreign = renderer.datamatrix_png("HELLO WORLD")
    other = client.post("/documents/scan", files=upload(foreign, "x.png"), headers=docs(settings)).json()
    assert other["found"] == 1 and other["symbols"][0]["valid"] is False
    assert "header" in other["symbols"][0]["error"]
    blank = client.post("/documents/scan", files=upload(sample_pdf(1)), headers=docs(settings)).json()
    assert blank == {"found": 0, "symbols": []}


PREFIXES = st.sampled_from(
    [b"", b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00", b"GIF89a"]
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@given(prefix=PREFIXES, body=st.binary(max_size=3000), cut=st.integers(0, 100))
@hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_uploads_never_crash(client, settings, prefix, body, cut) -> None:
    if not hasattr(client.app.state, "fuzz_identity"):  # one QUAL identity for all examples
        client.app.state.fuzz_identity = create(client, settings)
    valid = sample_pdf(1)
    content = prefix + body if cut == 0 else valid[: len(valid) * cut // 100] + body
    stamp = client.post(
        "/documents/cover-page",
        files=upload(content),
        headers=docs(settings),
        data={"identity_id": str(client.app.state.fuzz_identity)},
    )
    scan = client.post("/documents/scan", files=upload(content), headers=docs(settings))
    assert stamp.status_code in (200, 422) and scan.status_code in (200, 422)
    assert stamp.status_code == 422 or stamp.content.startswith(content)
