"""Benchmark of MSSanté sending: packaging + submission, next to bare smtplib in the same run.

    python bench/mss.py [--docs 400] [--workers 2] [--pages 2]

The server is the contract tests' real aiosmtpd server on loopback (STARTTLS required, client
certificate checked, DSN offered, every mail parsed and stored in memory), in this process.
- pipeline: in each of N worker processes, one persistent STARTTLS connection (SmtpSubmitter,
  organisation certificate); per document: the PDF check, IHE_XDM.ZIP (metadata, README, index),
  the MIME mail, MAIL (RET, ENVID) / RCPT (NOTIFY) / DATA;
- floor: the same N processes and connections with bare smtplib (STARTTLS, the same certificate),
  sending the same mail bytes, already built, with plain MAIL / RCPT / DATA.
The database queue (claim, marks) is not in this figure: see docs/mssante.md.
Target: >= 50 documents/s with 2 workers. Writes bench/results/mss.json.
"""

from __future__ import annotations

import argparse
import smtplib
import ssl
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.domain.mssante import MssPolicy  # noqa: E402
from app.domain.xds import DEFAULT_DOCUMENT_KINDS  # noqa: E402
from app.integrations.mssante.mail import MailParts, build_mail  # noqa: E402
from app.integrations.mssante.smtp import SmtpConfig, SmtpSubmitter, tls_context  # noqa: E402
from app.integrations.mssante.xdm import build_xdm  # noqa: E402
from bench.common import machine, write_results  # noqa: E402
from tests.documents_support import sample_pdf  # noqa: E402
from tests.mssante.smtp_server import Pki, SmtpServer, make_pki  # noqa: E402
from tests.mssante.support import ESTABLISHMENT, identity, metadata  # noqa: E402

SENDER = "identito@ch-demo.mssante.fr"
TO = ("dr.martin@medecin.mssante.fr",)
POLICY = MssPolicy.of(["mssante.fr"])


def _config(port: int, pki: Pki) -> SmtpConfig:
    return SmtpConfig(
        "127.0.0.1", port, "certificate", pki.ca, pki.client_cert, pki.client_key, timeout_seconds=30
    )


def _mail(pdf: bytes, tracking: str) -> bytes:
    now = datetime.now(UTC)
    package = build_xdm(
        pdf,
        identity(),
        metadata(),
        establishment=ESTABLISHMENT,
        policy=POLICY,
        kinds=DEFAULT_DOCUMENT_KINDS,
        submitted_at=now,
    )
    parts = MailParts(
        SENDER, TO, "Lettre de liaison de sortie", "Bonjour,", f"<{tracking}@ch-demo.mssante.fr>", now
    )
    return build_mail(package, parts)


def pipeline(job: tuple[int, Pki, int, bytes]) -> float:
    """Package and send ``count`` documents over one connection; seconds taken."""
    port, pki, count, pdf = job
    submitter = SmtpSubmitter(_config(port, pki))
    start = time.perf_counter()
    for _ in range(count):
        tracking = str(uuid.uuid4())
        submitter.submit(SENDER, TO, _mail(pdf, tracking), tracking)
    submitter.close()
    return time.perf_counter() - start


def floor(job: tuple[int, Pki, int, bytes]) -> float:
    """Bare smtplib: the same bytes, one STARTTLS connection, plain MAIL / RCPT / DATA."""
    port, pki, count, mail = job
    context: ssl.SSLContext = tls_context(_config(port, pki))
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
    smtp.starttls(context=context)
    start = time.perf_counter()
    for _ in range(count):
        smtp.sendmail(SENDER, list(TO), mail)
    smtp.quit()
    return time.perf_counter() - start


def _run(kind: Any, port: int, pki: Pki, docs: int, workers: int, payload: bytes) -> dict[str, float]:
    per_worker = docs // workers
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(kind, [(port, pki, 5, payload)] * workers))  # warm: imports, connections
        start = time.perf_counter()
        list(pool.map(kind, [(port, pki, per_worker, payload)] * workers))
        wall = time.perf_counter() - start
    return {
        "documents": per_worker * workers,
        "seconds": round(wall, 3),
        "documents_per_second": round(per_worker * workers / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pages", type=int, default=2)
    args = parser.parse_args()
    pdf = sample_pdf(args.pages, title="Lettre de liaison")
    with tempfile.TemporaryDirectory() as folder:
        pki = make_pki(Path(folder) / "pki")
        with SmtpServer(Path(folder) / "smtp", pki) as server:
            server.handler.store_files = False
            measured = _run(pipeline, server.port, pki, args.docs, args.workers, pdf)
            bare = _run(floor, server.port, pki, args.docs, args.workers, _mail(pdf, str(uuid.uuid4())))
            received = len(server.received)
    results = {
        "machine": machine(),
        "workers": args.workers,
        "pdf_pages": args.pages,
        "pdf_bytes": len(pdf),
        "pipeline": measured,
        "floor_bare_smtplib": bare,
        "mails_received": received,
        "pipeline_vs_floor": round(measured["documents_per_second"] / bare["documents_per_second"], 2),
        "target_documents_per_second": 50,
    }
    path = write_results("mss", results)
    print(
        f"pipeline {measured['documents_per_second']} docs/s, bare smtplib {bare['documents_per_second']} "
        f"docs/s ({args.workers} workers, {received} mails received) -> {path}"
    )


if __name__ == "__main__":
    main()
