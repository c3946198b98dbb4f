"""MSSanté settings: trust domains, exemption, code table overrides (IDENTITO_MSSANTE__*)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from app.config import MssanteSettings, development_settings


def test_the_defaults_trust_mssante_fr_refuse_the_exemption_and_know_a_discharge_letter() -> None:
    settings = development_settings()
    policy = settings.mssante.policy()
    assert policy.trust_domains == ("mssante.fr",) and policy.trust_space_only
    assert not policy.unqualified_exemption
    assert settings.mssante.kinds()["discharge-letter"].type.code == "11490-0"
    establishment = settings.mss_establishment
    assert (
        establishment.ipp_oid == settings.ipp_oid and establishment.source_oid == settings.mssante.source_oid
    )


def test_kinds_and_domains_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITO_MSSANTE__TRUST_DOMAINS", '["mssante.fr", "ch-exemple.fr"]')
    monkeypatch.setenv("IDENTITO_MSSANTE__UNQUALIFIED_EXEMPTION", "true")
    monkeypatch.setenv(
        "IDENTITO_MSSANTE__DOCUMENT_KINDS",
        json.dumps(
            {
                "discharge-letter": {
                    "type": "11490-0|2.16.840.1.113883.6.1|Lettre de liaison",
                    "class_code": "10|1.2.250.1.213.1.1.4.1|Compte rendu",
                    "facility_type": "SA05|1.2.250.1.71.4.2.4|Centre hospitalier",
                },
                "anesthesia-report": {
                    "type": "11504-8|2.16.840.1.113883.6.1|CR d'anesthésie",
                    "class_code": "10|1.2.250.1.213.1.1.4.1|Compte rendu",
                },
            }
        ),
    )
    mss = development_settings().mssante
    assert (
        mss.policy().trust_domains == ("ch-exemple.fr", "mssante.fr") and mss.policy().unqualified_exemption
    )
    kinds = mss.kinds()
    assert kinds["discharge-letter"].facility_type.code == "SA05"
    assert kinds["anesthesia-report"].type.display == "CR d'anesthésie"
    assert kinds["prescription"].type.code == "57833-6"  # the defaults stay


def test_a_malformed_code_or_an_empty_trust_space_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="code\\|scheme OID\\|display name"):
        MssanteSettings(document_kinds={"x": {"type": "11490-0", "class_code": "10|1.2|CR"}})
    with pytest.raises(ValidationError, match="trust_domains is empty"):
        MssanteSettings(trust_domains=[])
    assert MssanteSettings(trust_domains=[], trust_space_only=False).policy().trust_domains == ()
