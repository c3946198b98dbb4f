"""IHE_XDM.ZIP packaging: layout byte by byte, ebRIM 3.0 metadata, ids, replace and delete."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
from dataclasses import replace

import pytest
from lxml import etree

from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.identifiers import Authority
from app.domain.ins import OID_NIA, OID_NIR, OID_NIR_DEMO, OID_NIR_TEST
from app.domain.mssante import Action, InsFlag
from app.domain.status import Status
from app.integrations.mssante import metadata as md
from app.integrations.mssante.ids import entry_uuid
from app.integrations.mssante.reader import read_xdm
from tests.mssante.support import IPP, IPP_OID, MATRICULE, PDF, SUBMITTED, identity, package

NAMES = ["INDEX.HTM", "README.TXT", "IHE_XDM/SUBSET01/METADATA.XML", "IHE_XDM/SUBSET01/DOC0001.PDF"]
ISO9660 = re.compile(r"^[A-Z0-9_]{1,8}(?:\.[A-Z0-9_]{1,3})?$")
NS = {"rim": md.RIM, "lcm": md.LCM}


def _metadata_xml(archive: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return etree.fromstring(z.read("IHE_XDM/SUBSET01/METADATA.XML"))


def _local_headers(archive: bytes) -> list[str]:
    """File names from the local file headers, walking the bytes (not the central directory)."""
    names, offset = [], 0
    while archive[offset : offset + 4] == b"PK\x03\x04":
        size, name_length, extra_length = struct.unpack(
            "<I2H", archive[offset + 18 : offset + 22] + archive[offset + 26 : offset + 30]
        )
        names.append(archive[offset + 30 : offset + 30 + name_length].decode("ascii"))
        offset += 30 + name_length + extra_length + size
    return names


def test_the_archive_holds_the_four_entries_in_order_with_8_3_upper_case_names() -> None:
    archive = package().archive
    assert _local_headers(archive) == NAMES
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        assert z.namelist() == NAMES
        assert all(ISO9660.fullmatch(part) for name in z.namelist() for part in name.split("/"))
        assert all(info.date_time == (2026, 11, 30, 9, 20, 42) for info in z.infolist())
        assert z.read(NAMES[3]) == PDF
        assert z.testzip() is None


def test_with_cda_the_document_is_an_xml_file_and_the_pdf_is_inside_it() -> None:
    built = package(cda=True)
    assert built.document_name == "DOC0001.XML" and built.cda_code == "11490-0"
    with zipfile.ZipFile(io.BytesIO(built.archive)) as z:
        assert z.namelist()[3] == "IHE_XDM/SUBSET01/DOC0001.XML"
        assert z.read(z.namelist()[3]) == built.document
    assert read_xdm(built.archive).entry.pdf == PDF


def test_the_same_seed_gives_the_same_bytes_and_no_seed_gives_fresh_ids() -> None:
    assert package(seed="a").archive == package(seed="a").archive
    assert package(seed="a").unique_id != package(seed="b").unique_id
    first, second = package(seed=None), package(seed=None)
    assert first.unique_id != second.unique_id and first.submission_set_id != second.submission_set_id
    assert re.fullmatch(r"2\.25\.\d{1,39}", first.unique_id) and len(first.unique_id) <= 64


def test_metadata_is_an_ebrim_3_submit_objects_request_with_the_slots_the_spec_names() -> None:
    root = _metadata_xml(package().archive)
    assert root.tag == f"{{{md.LCM}}}SubmitObjectsRequest"
    assert root.nsmap["rim"] == md.RIM and root.nsmap["lcm"] == md.LCM
    objects = root.find("rim:RegistryObjectList", NS)
    assert [etree.QName(child).localname for child in objects] == [
        "ExtrinsicObject",
        "RegistryPackage",
        "Classification",
        "Association",
    ]
    entry, package_set, node, member = list(objects)
    assert entry.get("objectType") == md.DOCUMENT_ENTRY_TYPE and entry.get("mimeType") == "application/pdf"
    slots = {s.get("name") for s in entry.iterfind("rim:Slot", NS)}
    assert {
        "creationTime",
        "languageCode",
        "sourcePatientId",
        "sourcePatientInfo",
        "hash",
        "size",
        "URI",
    } <= slots
    schemes = {c.get("classificationScheme") for c in entry.iterfind("rim:Classification", NS)}
    assert {
        md.DE_AUTHOR,
        md.DE_CLASS,
        md.DE_TYPE,
        md.DE_FORMAT,
        md.DE_CONFIDENTIALITY,
        md.DE_FACILITY,
        md.DE_PRACTICE,
    } <= schemes
    externals = {
        x.get("identificationScheme"): x.get("value") for x in entry.iterfind("rim:ExternalIdentifier", NS)
    }
    assert set(externals) == {md.DE_PATIENT_ID, md.DE_UNIQUE_ID}
    assert {s.get("name") for s in package_set.iterfind("rim:Slot", NS)} == {"submissionTime"}
    ss_schemes = {c.get("classificationScheme") for c in package_set.iterfind("rim:Classification", NS)}
    assert ss_schemes == {md.SS_AUTHOR, md.SS_CONTENT_TYPE}
    ss_externals = {
        x.get("identificationScheme"): x.get("value")
        for x in package_set.iterfind("rim:ExternalIdentifier", NS)
    }
    assert set(ss_externals) == {md.SS_UNIQUE_ID, md.SS_SOURCE_ID, md.SS_PATIENT_ID}
    assert ss_externals[md.SS_PATIENT_ID] == externals[md.DE_PATIENT_ID]  # same value (mssante.md)
    assert ss_externals[md.SS_SOURCE_ID] == "1.2.250.1.71.4.2.2.999.1"
    assert node.get("classificationNode") == md.SUBMISSION_SET_NODE and node.get(
        "classifiedObject"
    ) == package_set.get("id")
    assert (member.get("associationType"), member.get("sourceObject"), member.get("targetObject")) == (
        md.HAS_MEMBER,
        package_set.get("id"),
        entry.get("id"),
    )
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)) and all(i.startswith("urn:uuid:") for i in ids)


def test_every_reference_in_the_metadata_points_to_an_object_of_the_archive() -> None:
    root = _metadata_xml(package().archive)
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    references = {
        e.get(a)
        for e in root.iter()
        for a in ("classifiedObject", "registryObject", "sourceObject", "targetObject")
        if e.get(a)
    }
    assert references <= ids


@pytest.mark.parametrize("oid", [OID_NIR, OID_NIA, OID_NIR_TEST, OID_NIR_DEMO])
def test_a_qual_identity_is_indexed_on_its_ins_with_the_oid_of_its_authority(oid: str) -> None:
    built = package(identity(oid=oid))
    read = read_xdm(built.archive)
    assert read.entry.patient_id == f"{MATRICULE}^^^&{oid}&ISO^NH" == read.submission_patient_id
    assert read.entry.source_patient_id == f"{IPP}^^^&{IPP_OID}&ISO^PI"
    assert built.ins_flag is InsFlag.YES


def test_an_ipp_of_another_authority_is_sent_under_that_authority() -> None:
    built = package(identity(authority=Authority("GAM", "1.2.250.1.71.4.2.2.42", "ISO")))
    assert read_xdm(built.archive).entry.source_patient_id == f"{IPP}^^^&1.2.250.1.71.4.2.2.42&ISO^PI"


def test_codes_author_and_establishment_come_from_the_table_and_settings() -> None:
    entry = read_xdm(package().archive).entry
    assert (
        entry.codes["type"][0].code == "11490-0" and entry.codes["type"][0].scheme == "2.16.840.1.113883.6.1"
    )
    assert entry.codes["class"][0].code == "10"
    assert entry.codes["format"][0].code == "urn:ihe:iti:xds:2017:mimeTypeSufficient"
    assert entry.codes["confidentiality"][0].code == "N"
    assert entry.author_person == "810001234567^DOCTEUR^Jean^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"
    assert entry.author_institution == "CH de Démonstration^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1010000024"
    assert entry.creation_time == "20261130091500" and entry.action is None
    assert read_xdm(package(cda=True).archive).entry.codes["format"][0].code == "urn:ihe:iti:xds-sd:pdf:2008"


def test_replacing_a_document_sent_earlier_adds_action_c_and_the_rplc_association() -> None:
    first = package(seed="first")
    second = package(
        seed="second", action=Action.REPLACE, previous_unique_id=first.unique_id, version=2, cda=True
    )
    read = read_xdm(second.archive)
    assert read.entry.action == "C" and read.entry.unique_id == second.unique_id != first.unique_id
    entry_id = entry_uuid(second.unique_id)
    assert (md.RPLC, entry_id, entry_uuid(first.unique_id)) in read.associations
    cda = etree.fromstring(second.document)
    parent = cda.find("{urn:hl7-org:v3}relatedDocument/{urn:hl7-org:v3}parentDocument/{urn:hl7-org:v3}id")
    assert parent is not None and parent.get("root") == first.unique_id
    assert cda.find("{urn:hl7-org:v3}versionNumber").get("value") == "2"


def test_deleting_a_document_names_it_with_action_d() -> None:
    first = package(seed="first")
    gone = package(seed="delete", action=Action.DELETE, previous_unique_id=first.unique_id)
    read = read_xdm(gone.archive)
    assert read.entry.action == "D" and read.entry.unique_id == first.unique_id == gone.unique_id
    assert not [a for a in read.associations if a[0] == md.RPLC]


@pytest.mark.parametrize("action", [Action.REPLACE, Action.DELETE])
def test_replace_or_delete_without_the_previous_id_is_refused(action: Action) -> None:
    with pytest.raises(InvalidTrait) as caught:
        package(action=action)
    assert caught.value.message("fr") == (
        "Remplacer ou supprimer un document nécessite l'identifiant unique du document déjà envoyé."
    )


def test_a_non_qual_identity_without_the_exemption_builds_nothing() -> None:
    with pytest.raises(RuleViolation) as caught:
        package(identity(Status.RECUP))
    assert caught.value.code == "mss-ins-not-qualified"


def test_a_merged_identity_is_closed_and_builds_nothing() -> None:
    merged = replace(identity(), active=False, merged_into=8)
    with pytest.raises(RuleViolation) as caught:
        package(merged)
    assert caught.value.code == "identity-merged" and "identité 8" in caught.value.message("fr")


def test_the_readme_and_index_name_the_sender_not_the_patient() -> None:
    with zipfile.ZipFile(io.BytesIO(package(cda=True).archive)) as z:
        readme, index = z.read("README.TXT").decode(), z.read("INDEX.HTM").decode()
    assert "CH de Démonstration" in readme and "Identito 1.0" in readme and "dsi@ch-demo.mssante.fr" in readme
    assert "2026-11-30T09:20:42Z" in readme
    assert 'href="IHE_XDM/SUBSET01/DOC0001.XML"' in index and "Lettre de liaison de sortie" in index
    for text in (readme, index):
        assert "GARCIA" not in text and IPP not in text and MATRICULE not in text


def test_submitted_at_is_written_in_utc() -> None:
    root = _metadata_xml(package().archive)
    value = root.find(".//rim:RegistryPackage/rim:Slot[@name='submissionTime']/rim:ValueList/rim:Value", NS)
    assert value is not None and value.text == SUBMITTED.strftime("%Y%m%d%H%M%S")


def test_the_hash_is_the_sha1_of_the_file_in_the_archive() -> None:
    built = package(cda=True)
    entry = read_xdm(built.archive).entry
    assert entry.hash == hashlib.sha1(built.document).hexdigest() and entry.size == len(built.document)  # noqa: S324
