"""Data and message helpers of bench/hl7.py (bulk SQL so that setting up 100,000 identities is quick)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from app.db.outbox import OUTBOX

HEADER = (
    "MSH|^~\\&|GAM|CHU-X|IDENTITO|CHU-X|20260115101010||ADT^A31^ADT_A05|{cid}|P|2.5^FRA^2.11|||||FRA|"
    "UNICODE UTF-8|FR||2.11^IHE_FRANCE-2.11-PAM"
)


def a31(cid: str, ipp: str, used: str) -> bytes:
    """An A31 from the GAM (used name optional)."""
    used_rep = f"~{used}^^^^^^D" if used else ""
    return (
        "\r".join(
            [
                HEADER.format(cid=cid),
                "EVN||20260115101010",
                f"PID|1||{ipp}^^^CHU-X&000897406&N^PI||DUPONT^MARIE^MARIE ANNE^^^^L{used_rep}||19800317|F|||"
                "^^^^^^BDL^^63113|||||||||||||||||||||PROV",
                "PV1|1|N",
            ]
        )
        + "\r"
    ).encode()


def ack_for(message: bytes) -> bytes:
    """A minimal AA for a message (MSA-2 = its MSH-10), without parsing the rest."""
    control_id = message.split(b"\r", 1)[0].split(b"|")[9]
    return b"MSH|^~\\&|SINK|X|IDENTITO|X|20260101000000||ACK|A1|P|2.5\rMSA|AA|" + control_id + b"\r"


def _snapshot(n: int) -> dict:
    return {
        "ipp": f"S{n:09d}",
        "birth_name": "DUPONT",
        "first_names": "MARIE ANNE",
        "first_name": "MARIE",
        "sex": "F",
        "birth_date": "1980-03-17",
        "birth_date_completed": False,
        "birth_place_code": "63113",
        "used_name": None,
        "used_first_name": None,
        "status": "QUAL",
        "attributes": [],
        "ins": {"matricule": "275126322074974", "oid": "1.2.250.1.213.1.4.8"},
        "identity_id": n,
        "identity_mode": "INSI",
        "last_insi_call_date": "2026-01-10",
        "document": {"type": "CN", "expires_on": None},
    }


def fill_outbox(engine: Engine, subscriber_id: int, count: int) -> None:
    """``count`` pending A31 rows, one per identity (no identity rows needed to deliver them)."""
    now = datetime.now(UTC)
    rows = [
        {
            "subscriber_id": subscriber_id,
            "identity_id": 1_000_000 + n,
            "event": "A31",
            "format": "legacy",
            "kind": "live",
            "snapshot": _snapshot(n),
            "state": "pending",
            "attempts": 0,
            "error_attempts": 0,
            "available_at": now,
            "created_at": now,
        }
        for n in range(count)
    ]
    with engine.begin() as conn:
        for start in range(0, count, 5000):
            conn.execute(insert(OUTBOX), rows[start : start + 5000])


def fill_identities(engine: Engine, subscriber_id: int, count: int) -> None:
    """``count`` QUAL identities with an active INS and a document, all already sent to the subscriber."""
    statements = [
        """INSERT INTO identity (ipp, birth_name, first_names, first_name, sex, birth_date,
               birth_date_completed, birth_place_code, status, attributes, source, insi_at, version, active,
               created_at, updated_at)
           SELECT 'B' || lpad(g::text, 9, '0'), 'DUPONT', 'MARIE ANNE', 'MARIE', 'F',
                  date '1950-01-01' + (g % 20000), false, '63113', 'QUAL', '', 'INSI', now(), 1, true,
                  now(), now()
           FROM generate_series(1, :n) g""",
        """INSERT INTO ins (identity_id, matricule, oid, active, source, created_at)
           SELECT id, '1' || lpad(id::text, 12, '0') || '00', '1.2.250.1.213.1.4.8', true, 'INSI', now()
           FROM identity WHERE ipp LIKE 'B%'""",
        """INSERT INTO identity_document (identity_id, type, high_trust, checked_by, checked_at)
           SELECT id, 'CN', true, 'bench', now() FROM identity WHERE ipp LIKE 'B%'""",
        """INSERT INTO outbox_message (subscriber_id, identity_id, event, format, kind, snapshot, state,
               attempts, error_attempts, available_at, created_at, delivered_at)
           SELECT :s, id, 'A28', 'legacy', 'live', '{}'::json, 'done', 1, 0, now(), now(), now()
           FROM identity WHERE ipp LIKE 'B%'""",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), {"n": count, "s": subscriber_id})
        conn.execute(text("ANALYZE"))
