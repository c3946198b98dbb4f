"""A non-QUAL identity never puts its INS anywhere; hostile inputs are refused or escaped."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from app.domain.cover_page import DocumentRejected, DocumentTooLarge
from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.status import Status
from app.domain.traits import Sex, Traits
from app.domain.xds import Author
from app.integrations.mssante.reader import XdmInvalid, read_xdm
from app.integrations.mssante.xdm import XdmPackage, zip_entries
from tests.mssante.support import IPP, MATRICULE, PDF, SUBMITTED, identity, package


def _every_byte(built: XdmPackage) -> bytes:
    """The archive, every entry decompressed, the mail's document, and the PDF inside a CDA."""
    parts = [built.archive, built.document]
    with zipfile.ZipFile(io.BytesIO(built.archive)) as z:
        parts += [z.read(name) for name in z.namelist()]
    if built.document_name.endswith(".XML"):
        text = etree.fromstring(built.document).find(".//{urn:hl7-org:v3}nonXMLBody/{urn:hl7-org:v3}text")
        parts.append(base64.b64decode(text.text))
    return b"\n".join(parts)


@pytest.mark.parametrize("status", [Status.PROV, Status.VALI, Status.RECUP])
@pytest.mark.parametrize("cda", [False, True])
def test_a_non_qual_identity_never_puts_its_ins_anywhere(status: Status, cda: bool) -> None:
    the_identity = identity(status)
    if status is Status.RECUP:
        assert the_identity.active_ins is not None  # it holds one: it must still not leave
    built = package(the_identity, exemption=True, cda=cda)
    everything = _every_byte(built)
    assert MATRICULE.encode() not in everything
    assert b"1.2.250.1.213.1.4." not in everything  # no INS OID either
    assert built.ins_flag.value == "N"
    read = read_xdm(built.archive)
    assert read.entry.patient_id == read.entry.source_patient_id == f"{IPP}^^^&1.2.250.1.71.4.2.2.999&ISO^PI"
    if cda:
        assert [root for root, _ in read.entry.cda_ids] == ["1.2.250.1.71.4.2.2.999"]


@given(st.sampled_from(list(Status)), st.booleans(), st.booleans())
def test_the_matricule_appears_in_the_package_if_and_only_if_the_identity_is_qual(
    status: Status, cda: bool, exemption: bool
) -> None:
    try:
        built = package(identity(status), exemption=exemption, cda=cda)
    except RuleViolation:
        assert status is not Status.QUAL and not exemption
        return
    assert (MATRICULE.encode() in _every_byte(built)) == (status is Status.QUAL)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(DocumentRejected) as caught:
        package(pdf=b"")
    assert caught.value.message("fr") == "Le fichier ne peut pas être utilisé : fichier vide."


def test_a_file_that_is_not_a_pdf_is_refused() -> None:
    with pytest.raises(DocumentRejected) as caught:
        package(pdf=b"PK\x03\x04 this is a zip, not a PDF")
    assert caught.value.message("fr") == "Le fichier ne peut pas être utilisé : ce n'est pas un fichier PDF."


def test_a_broken_pdf_is_refused() -> None:
    with pytest.raises(DocumentRejected) as caught:
        package(pdf=b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    assert "PDF endommagé" in caught.value.message("fr")


def test_a_pdf_the_caller_already_parsed_is_not_walked_again_but_still_checked() -> None:
    broken = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
    assert package(pdf=broken, pdf_parsed=True).document == broken
    with pytest.raises(DocumentRejected):
        package(pdf=b"", pdf_parsed=True)
    with pytest.raises(DocumentRejected):
        package(pdf=b"GIF89a", pdf_parsed=True)
    with pytest.raises(DocumentTooLarge):
        package(pdf=PDF, pdf_parsed=True, max_bytes=10)


def test_a_file_over_the_documents_size_limit_is_refused() -> None:
    with pytest.raises(DocumentTooLarge) as caught:
        package(pdf=PDF, max_bytes=len(PDF) - 1)
    assert caught.value.message("fr") == f"Le fichier dépasse {len(PDF) - 1} octets."
    assert package(pdf=PDF, max_bytes=len(PDF)).document == PDF


HOSTILE = Traits(
    birth_name='O\'<NEIL>&"CO"',
    first_names="A^B|C~D\\E&F",
    first_name="A^B|C~D\\E&F",
    sex=Sex.M,
    birth_date=date(1980, 2, 29),
    birth_place_code="2A004",
    used_name='</name><id root="x"/>',
)


@pytest.mark.parametrize("cda", [False, True])
def test_traits_with_xml_and_hl7_special_characters_are_escaped(cda: bool) -> None:
    built = package(identity(the_traits=HOSTILE), cda=cda)
    read = read_xdm(built.archive)
    info = read.entry.source_patient_info
    assert (
        'PID-5|O\'<NEIL>\\T\\"CO"^A\\S\\B\\F\\C\\R\\D\\E\\E\\T\\F^A\\S\\B\\F\\C\\R\\D\\E\\E\\T\\F^^^^L'
        in info
    )
    assert 'PID-5|</name><id root="x"/>^^^^^^D' in info
    assert "PID-7|19800229" in info and "PID-11|^^^^^^BDL^^2A004" in info
    if cda:
        name = etree.fromstring(built.document).find(".//{urn:hl7-org:v3}patient/{urn:hl7-org:v3}name")
        assert [(e.get("qualifier"), e.text) for e in name] == [
            ("BR", HOSTILE.birth_name),
            (None, HOSTILE.first_names),
            ("BR", HOSTILE.first_name),
            ("CL", HOSTILE.used_name),
        ]
        assert (
            len(etree.fromstring(built.document).findall(".//{urn:hl7-org:v3}patientRole/{urn:hl7-org:v3}id"))
            == 2
        )


def test_a_title_with_markup_is_escaped_in_the_index_and_kept_in_the_metadata() -> None:
    title = "<script>alert('x')</script> & co"
    built = package(title=title, author=Author(family="D'<AUTHOR>", given="A&B"))
    with zipfile.ZipFile(io.BytesIO(built.archive)) as z:
        index = z.read("INDEX.HTM").decode()
    assert "<script>" not in index and "&lt;script&gt;" in index
    entry = read_xdm(built.archive).entry
    assert (
        entry.title == title
        and entry.author_person is not None
        and "D'<AUTHOR>^A\\T\\B" in entry.author_person
    )


@pytest.mark.parametrize("title", ["", "   ", "line\nbreak\x00", "x" * 251])
def test_an_empty_overlong_or_control_character_title_is_refused(title: str) -> None:
    with pytest.raises(InvalidTrait) as caught:
        package(title=title)
    assert caught.value.message("fr").startswith("Le titre du document est vide, trop long")


def test_an_unknown_document_kind_is_refused() -> None:
    with pytest.raises(InvalidTrait, match="Unknown document kind"):
        package(kind="novel")


def _tampered(name: str, change: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package().archive)) as z:
        entries = [(n, z.read(n)) for n in z.namelist()]
    entries = [(n, data + change if n.endswith(name) else data) for n, data in entries]
    return zip_entries(entries, SUBMITTED)


def test_the_reader_refuses_a_document_that_differs_from_its_hash() -> None:
    with zipfile.ZipFile(io.BytesIO(package().archive)) as z:
        entries = [(n, z.read(n)) for n in z.namelist()]
    entries[3] = (entries[3][0], entries[3][1][:-1] + b"X")  # same size, other bytes
    with pytest.raises(XdmInvalid) as caught:
        read_xdm(zip_entries(entries, SUBMITTED))
    assert (
        caught.value.message("fr")
        == "L'archive IHE XDM est inutilisable : l'empreinte diffère des métadonnées."
    )


def test_the_reader_refuses_a_broken_archive_or_metadata() -> None:
    with pytest.raises(XdmInvalid, match="not a zip file"):
        read_xdm(b"not a zip")
    with pytest.raises(XdmInvalid, match="METADATA.XML unreadable"):
        read_xdm(_tampered("METADATA.XML", b"<trailing/>"))
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><x>&a;</x>'
    with pytest.raises(XdmInvalid, match="METADATA.XML unreadable"):
        read_xdm(zip_entries([("IHE_XDM/SUBSET01/METADATA.XML", bomb)], SUBMITTED))
    with pytest.raises(XdmInvalid, match="METADATA.XML missing"):
        read_xdm(zip_entries([("README.TXT", b"x")], SUBMITTED))
