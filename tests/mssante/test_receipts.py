"""Receipts: DSN and MDN parsing (pure), then applying them to each recipient's status (both
engines): delivered, failed, read, an identity integration error (904) opening an
identitovigilance worklist item, duplicate and late receipts ignored."""

from __future__ import annotations

from app.domain.mssante import RecipientOutcome, status_after
from app.integrations.mssante.receipts import parse_report
from app.services import mss
from app.services.mss import ReceiptLine
from tests.api.test_documents_api import create
from tests.conftest import auth
from tests.mssante.test_send_api import TO, send


def dsn(
    envid: str, message_id: str, lines: list[tuple[str, str, str]], report_id: str = "<dsn-1@mx>"
) -> bytes:
    blocks = "".join(
        f"\r\nFinal-Recipient: rfc822; {address}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {'250 2.0.0 OK' if action == 'delivered' else '550 5.1.1 no such user'}\r\n"
        for address, action, status in lines
    )
    return (
        "From: MAILER-DAEMON@mx.mssante.fr\r\nTo: identito@ch-demo.mssante.fr\r\n"
        f"Subject: Delivery Status Notification\r\nMessage-ID: {report_id}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message was handled.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.mssante.fr\r\nOriginal-Envelope-Id: {envid}\r\n{blocks}\r\n"
        f"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message_id}\r\nSubject: x\r\n\r\n"
        "--b1--\r\n"
    ).encode()


def mdn(
    message_id: str,
    address: str,
    disposition: str,
    subject: str = "Accusé de lecture",
    report_id: str = "<mdn-1@ua>",
) -> bytes:
    return (
        f"From: {address}\r\nTo: identito@ch-demo.mssante.fr\r\nSubject: {subject}\r\n"
        f"Message-ID: {report_id}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="b2"\r\n\r\n'
        "--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNotification.\r\n"
        "--b2\r\nContent-Type: message/disposition-notification\r\n\r\n"
        f"Reporting-UA: dpi.ch-autre.fr\r\nFinal-Recipient: rfc822; {address}\r\n"
        f"Original-Message-ID: {message_id}\r\nDisposition: {disposition}\r\n\r\n--b2--\r\n"
    ).encode()


KO = "automatic-action/MDN-sent-automatically; processed/Error: 904^INS ou traits différents"


def test_a_dsn_reads_the_envelope_id_and_each_recipient() -> None:
    raw = dsn(
        "abc+2Bdef",
        "<m1@ch>",
        [
            (TO[0], "delivered", "2.0.0"),
            (TO[1], "failed", "5.1.1"),
            ("other@x.mssante.fr", "delayed", "4.4.7"),
        ],
    )
    report = parse_report(raw)
    assert report is not None and report.kind == "dsn"
    assert report.envelope_id == "abc+def" and report.original_message_id == "<m1@ch>"
    assert [(r.address, r.outcome) for r in report.recipients] == [
        (TO[0], RecipientOutcome.DELIVERED),
        (TO[1], RecipientOutcome.FAILED),
    ]
    assert report.recipients[1].reason.startswith("5.1.1 smtp; 550")


def test_mdns_read_and_integration_error() -> None:
    read = parse_report(mdn("<m1@ch>", TO[0], "manual-action/MDN-sent-manually; displayed"))
    assert read is not None and read.kind == "mdn" and read.original_message_id == "<m1@ch>"
    assert [(r.address, r.outcome) for r in read.recipients] == [(TO[0], RecipientOutcome.READ)]
    error = parse_report(mdn("<m1@ch>", TO[0], KO, subject="[KO Intégration système !][904] Lettre"))
    assert error is not None
    line = error.recipients[0]
    assert line.outcome is RecipientOutcome.INTEGRATION_ERROR and line.error_code == "904"
    assert line.reason == "904 INS ou traits différents"
    deleted = parse_report(mdn("<m1@ch>", TO[0], "manual-action/MDN-sent-manually; deleted"))
    assert deleted is not None and deleted.recipients == ()
    assert parse_report(b"From: a@b.fr\r\nSubject: bonjour\r\n\r\ntexte\r\n") is None


def test_statuses_only_move_forward() -> None:
    assert status_after("sent", RecipientOutcome.DELIVERED) == "delivered"
    assert status_after("delivered", RecipientOutcome.DELIVERED) is None  # duplicate
    assert status_after("read", RecipientOutcome.DELIVERED) is None  # late
    assert status_after("failed", RecipientOutcome.READ) is None
    assert status_after("read", RecipientOutcome.INTEGRATION_ERROR) == "integration_error"


def _lines(raw: bytes) -> tuple[str | None, str | None, list[ReceiptLine]]:
    report = parse_report(raw)
    assert report is not None
    return (
        report.envelope_id,
        report.original_message_id,
        [ReceiptLine(r.address, r.outcome, r.reason, r.error_code) for r in report.recipients],
    )


def test_receipts_update_recipients_and_a_904_reaches_the_worklist(client, settings) -> None:
    identity_id = create(client, settings, "QUAL")
    queued = send(client, settings, identity_id=identity_id).json()
    ctx = client.app.state.ctx
    (claimed,) = mss.claim(ctx, "w", 5, 60)
    mss.record_sent(ctx, "w", claimed, {})
    delivery = dsn(
        queued["tracking_id"],
        queued["message_id"],
        [(TO[0], "delivered", "2.0.0"), (TO[1], "failed", "5.1.1")],
    )

    first = mss.apply_receipt(ctx, *_lines(delivery))
    again = mss.apply_receipt(ctx, *_lines(delivery))  # the same DSN twice
    assert (first.tracking_id, first.changed, again.changed) == (queued["tracking_id"], 2, 0)
    read = mss.apply_receipt(ctx, *_lines(mdn(queued["message_id"], TO[0], "x; displayed")))
    assert read.changed == 1
    ko = mss.apply_receipt(ctx, *_lines(mdn(queued["message_id"], TO[0], KO, report_id="<ko@ua>")))
    ko_again = mss.apply_receipt(ctx, *_lines(mdn(queued["message_id"], TO[0], KO, report_id="<ko2@ua>")))
    assert len(ko.worklist_items) == 1 and ko_again.changed == 0 and ko_again.worklist_items == ()
    assert mss.apply_receipt(ctx, "unknown-tracking", None, []).tracking_id is None

    shown = client.get(
        f"/documents/messages/{queued['tracking_id']}", headers=auth(settings, "documents")
    ).json()
    assert [(r["status"], (r["reason"] or "")[:3]) for r in shown["recipients"]] == [
        ("integration_error", "904"),
        ("failed", "5.1"),
    ]
    items = client.get("/worklists/mss_integration_error", headers=auth(settings, "identitovigilance")).json()
    assert [(i["identity_id"], i["kind"], i["occurrences"]) for i in items["items"]] == [
        (identity_id, "mss_integration_error", 1)
    ]
    assert items["items"][0]["details"]["code"] == "904"
