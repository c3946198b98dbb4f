"""The identitovigilance indicators counted on known data, on SQLite and PostgreSQL: identities per
status and attribute, per month INSi outcomes, worklist items opened/closed and their age, duplicate
pairs found and set aside, merges and unmerges, corrections. Back-dated rows are inserted as the
journal and the worklists would hold them; the rest is made through the use cases (this month)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from app.db.tables import DuplicatePairRow, InsiCallRow, WorklistItemRow
from app.domain.errors import InvalidTrait, NotAllowed
from app.services import identities, merges
from app.services.context import ServiceContext
from app.services.identities import DocumentInput, TraitsInput
from app.services.indicators import indicators
from tests.conftest import actor

CELL = actor("identitovigilance", sub="cell-1")
DESK = actor("admission", sub="desk-1")


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _call(when: datetime, outcome: str) -> dict[str, object]:
    return {"at": when, "operation": "search_traits", "credential_mode": "cps", "emitter": "test",
            "requested_by": "desk-1", "purpose": "desk", "identity_id": None, "outcome": outcome,
            "error_category": None, "duration_ms": 12.0, "message_id": "m", "traits_hash": None}


def _item(identity_id: int, created: datetime, resolved: datetime | None) -> dict[str, object]:
    return {"kind": "insi_not_found", "identity_id": identity_id, "outcome": "01", "source": "desk",
            "created_at": created, "created_by": "desk-1", "resolved_at": resolved,
            "resolved_by": "cell-1" if resolved else None, "resolution": "corrected" if resolved else None,
            "occurrences": 1}


def _seed(ctx: ServiceContext) -> dict[str, int]:
    """Five identities (one merged away), attributes, a document, and back-dated journal rows."""
    traits = TraitsInput(birth_name="INDICAT", first_names="PAUL", birth_date="1970-02-03", sex="M")
    a = identities.create_identity(ctx, DESK, traits)
    b = identities.create_identity(ctx, DESK, TraitsInput(birth_name="MESURE", first_names="ANNE",
                                                          birth_date="1980-05-06", sex="F"))
    c = identities.create_identity(ctx, DESK, TraitsInput(birth_name="COMPTAGE", first_names="LEA",
                                                          birth_date="1990-07-08", sex="F"))
    identities.record_document(ctx, DESK, b.id, DocumentInput("CN", date(2031, 1, 1)),
                               expected_version=b.version)
    identities.set_attribute(ctx, CELL, c.id, "HOMA", reason="Homonyme confirmé")
    identities.set_attribute(ctx, CELL, a.id, "DOUT", reason="Justificatif douteux")
    identities.remove_attribute(ctx, CELL, a.id, "DOUT", reason="Doute levé")
    twin = identities.create_identity(ctx, DESK, traits, confirm_new=True)  # a pair found at the desk
    a = identities.read_identity(ctx, a.id)
    merges.merge_identities(ctx, CELL, a.id, twin.id, reason="Doublon", survivor_version=a.version,
                            absorbed_version=twin.version)
    with ctx.engine.begin() as connection:
        connection.execute(insert(InsiCallRow), [
            _call(at("2026-03-02"), "00"), _call(at("2026-03-15"), "00"), _call(at("2026-03-31", 23), "01"),
            _call(at("2026-04-01", 0), "02"), _call(at("2026-04-20"), "unavailable"),
            _call(at("2025-12-31"), "00"),  # before the period
        ])
        now = datetime.now(UTC)
        connection.execute(insert(WorklistItemRow), [
            _item(b.id, at("2026-03-01"), at("2026-03-11")),  # closed in March after 10 days
            _item(b.id, at("2026-03-05"), at("2026-04-05")),  # closed in April after 31 days
            _item(c.id, at("2026-04-10"), None),  # open, 90 days old or more
            _item(c.id, now - timedelta(days=2), None),  # open, under 7 days
            _item(c.id, now - timedelta(days=10), None),  # open, 7 to 30 days
        ])
        connection.execute(insert(DuplicatePairRow), [{
            "low_id": b.id, "high_id": c.id, "score": 0.4, "grade": "possible", "explanation": [],
            "rules": [],
            "status": "dismissed", "found_by": "scan", "reason": "Deux personnes", "decided_by": "cell-1",
            "decided_at": at("2026-04-03"), "created_at": at("2026-03-20"), "updated_at": at("2026-04-03")}])
    return {"a": a.id, "b": b.id, "c": c.id}


def _rows(report: object, name: str) -> dict[str, dict[str, float]]:
    table = report.table(name)  # type: ignore[attr-defined]
    return {label: dict(zip(table.columns, values, strict=True)) for label, values in table.rows}


def test_indicator_counts(ctx: ServiceContext) -> None:
    _seed(ctx)
    this_month = datetime.now(UTC).strftime("%Y-%m")
    report = indicators(ctx, CELL, "2026-03", this_month)
    assert report.months[0] == "2026-03" and report.months[-1] == this_month

    status = _rows(report, "identities")  # the merged identity is no longer active
    assert status["PROV"] == {"total": 2, "DOUT": 0, "FICT": 0, "HOMA": 1}
    assert status["VALI"] == {"total": 1, "DOUT": 0, "FICT": 0, "HOMA": 0}
    assert status["QUAL"]["total"] == 0 and status["RECUP"]["total"] == 0

    created = _rows(report, "identities_created")
    assert created[this_month]["PROV"] == 3 and created[this_month]["VALI"] == 1
    assert sum(created["2026-03"].values()) == 0

    insi = _rows(report, "insi_outcomes")
    assert insi["2026-03"] == {"00": 2, "01": 1, "02": 0, "unavailable": 0}
    assert insi["2026-04"] == {"00": 0, "01": 0, "02": 1, "unavailable": 1}

    worklist = _rows(report, "worklist")
    assert worklist["2026-03"] == {"opened": 2, "closed": 1, "mean_days_to_close": 10.0}
    assert worklist["2026-04"] == {"opened": 1, "closed": 1, "mean_days_to_close": 31.0}
    ages = _rows(report, "worklist_age")
    assert {k: v["open"] for k, v in ages.items()} == {"<7": 1, "7-30": 1, "30-90": 0, ">=90": 1}

    duplicates = _rows(report, "duplicates")
    assert duplicates["2026-03"]["found"] == 1
    assert duplicates["2026-04"]["dismissed"] == 1
    assert duplicates[this_month]["found"] == 1 and duplicates[this_month]["merged"] == 1
    assert duplicates[this_month]["unmerged"] == 0

    corrections = _rows(report, "corrections")
    assert corrections[this_month]["attribute.set"] == 2
    assert corrections[this_month]["attribute.removed"] == 1


def test_period_checked_and_roles(ctx: ServiceContext) -> None:
    with pytest.raises(InvalidTrait) as bad:
        indicators(ctx, CELL, "2026-13", "2026-12")
    assert bad.value.message("fr") == "Mois invalide 2026-13 : attendu AAAA-MM."
    with pytest.raises(InvalidTrait):
        indicators(ctx, CELL, "2026-05", "2026-04")
    with pytest.raises(NotAllowed):
        indicators(ctx, DESK)
    assert len(indicators(ctx, actor("admin")).months) == 12


def test_indicators_endpoint(ctx: ServiceContext, client: object, settings: object) -> None:
    from tests.conftest import auth

    _seed(ctx)
    got = client.get("/indicators?from=2026-03&to=2026-04", headers=auth(settings, "identitovigilance"))  # type: ignore[attr-defined]
    assert got.status_code == 200
    tables = {t["name"]: t for t in got.json()["tables"]}
    insi = tables["insi_outcomes"]
    assert insi["columns"] == ["00", "01", "02", "unavailable"]
    assert insi["rows"] == [{"label": "2026-03", "values": [2, 1, 0, 0]},
                            {"label": "2026-04", "values": [0, 0, 1, 1]}]
    assert client.get("/indicators", headers=auth(settings, "admission")).status_code == 403  # type: ignore[attr-defined]
    bad = client.get("/indicators?from=2026-05&to=2026-04", headers=auth(settings, "admin"))  # type: ignore[attr-defined]
    assert bad.status_code == 422 and "The period must go" in bad.text
