"""Round trip: build -> read gives back the same INS, IPP, traits, hash, size and document."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.datamatrix import InsPayload
from app.domain.ins import Ins, InsRecord
from app.domain.status import Status
from app.domain.traits import Sex, Traits
from app.integrations.mssante.metadata import ins_cx
from app.integrations.mssante.reader import read_xdm
from tests.mssante.support import IPP, IPP_OID, PDF, identity, package
from tests.strategies_ins import names, payloads


@settings(max_examples=40)
@given(payloads(), st.none() | names(), st.booleans())
def test_a_qual_package_reads_back_to_the_same_patient_and_document(
    payload: InsPayload, used_name: str | None, cda: bool
) -> None:
    traits = Traits(
        birth_name=payload.birth_name,
        first_names=payload.first_names,
        first_name=payload.first_names.split(" ")[0],
        sex=Sex(payload.sex),
        birth_date=payload.birth_date,
        birth_place_code=payload.birth_place_code,
        used_name=used_name,
    )
    ins = Ins.of(payload.matricule, payload.oid)
    the_identity = replace(
        identity(Status.QUAL, the_traits=traits), ins_records=(InsRecord(ins, True, "INSI"),)
    )
    built = package(the_identity, cda=cda, seed=None)
    entry = read_xdm(built.archive).entry
    assert entry.patient_id == ins_cx(ins)
    assert entry.source_patient_id == f"{IPP}^^^&{IPP_OID}&ISO^PI"
    read = entry.traits
    assert (read.birth_name, read.first_names, read.first_name) == (
        traits.birth_name,
        traits.first_names,
        traits.first_name,
    )
    assert read.used_name == (used_name or "")
    assert read.birth_date == traits.birth_date.strftime("%Y%m%d") and read.sex == traits.sex.value
    assert read.birth_place_code == (traits.birth_place_code or "")
    assert entry.hash == hashlib.sha1(built.document).hexdigest() and entry.size == len(built.document)  # noqa: S324
    assert entry.pdf == PDF
    if cda:
        assert entry.cda_ids == ((ins.oid, ins.matricule), (IPP_OID, IPP))
        assert entry.cda_traits == replace(read, used_name=used_name or traits.birth_name)
