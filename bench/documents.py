"""Benchmark of the document pipelines, next to their floors measured in the same run.

    python bench/documents.py [--docs 400] [--workers 2]

- DataMatrix encode (payload -> module grid -> PNG) vs bare pylibdmtx C40 encoding (the floor);
- cover page render (A4 PDF) p50 / p95;
- stamping throughput of a 10-page PDF (cover page rendered + incremental update), with N worker
  processes, vs bare pypdf concatenation of a ready cover page and the same 10 pages (the floor).

Targets: >= 50 stamped documents/s with 2 workers, cover page render <= 20 ms p95.
Writes bench/results/documents.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pylibdmtx import pylibdmtx  # noqa: E402
from pypdf import PdfReader, PdfWriter  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402

from app.domain.cover_page import CoverPageData, DocumentInfo, cover_page_data  # noqa: E402
from app.domain.ins import OID_NIR, Ins  # noqa: E402
from app.domain.status import IdentityState, Status  # noqa: E402
from app.domain.traits import build_traits  # noqa: E402
from app.integrations.documents.renderer import DocumentRenderer  # noqa: E402
from app.integrations.documents.symbol import encode_symbol, render_png, render_svg  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "documents.json"


def sample_data() -> CoverPageData:
    """A QUAL identity with long-ish names and a described document."""
    traits = build_traits(
        birth_name="GARCIA-HAMMADI",
        first_names="SARAH-LOU ANNA MARIE",
        birth_date="1977-01-21",
        sex="F",
        birth_place_code="01154",
        used_name="MARTIN",
        today=date(2026, 1, 1),
    )
    return cover_page_data(
        IdentityState.of(Status.QUAL),
        Ins.of("277010115400329", OID_NIR),
        traits,
        establishment_name="Centre hospitalier de démonstration",
        document=DocumentInfo(
            "Compte rendu opératoire", date(2026, 11, 20), "Dr Durand, chirurgie", "Site Nord"
        ),
    )


def ten_page_pdf() -> bytes:
    """A 10-page text PDF of a usual medical report's size."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    for page in range(10):
        text = canvas.beginText(60, 780)
        for line in range(50):
            text.textLine(f"Page {page + 1}, ligne {line + 1}: observation clinique et conduite à tenir.")
        canvas.drawText(text)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def timings(action: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of each run, after two warm-up runs."""
    action()
    action()
    spent = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        spent.append(time.perf_counter() - start)
    return spent


def summary(spent: list[float]) -> dict[str, float]:
    """p50 / p95 / mean in milliseconds."""
    ordered = sorted(spent)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


_state: dict[str, object] = {}


def _worker_init() -> None:
    _state.update(renderer=DocumentRenderer(), data=sample_data(), pdf=ten_page_pdf())
    _state["cover"] = _state["renderer"].cover_page(_state["data"])  # type: ignore[attr-defined]


def _stamp_one(_: int) -> int:
    renderer: DocumentRenderer = _state["renderer"]  # type: ignore[assignment]
    return len(renderer.stamp(_state["pdf"], _state["data"]).pdf)  # type: ignore[arg-type]


def _concat_one(_: int) -> int:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_state["cover"])))  # type: ignore[arg-type]
    writer.append(PdfReader(io.BytesIO(_state["pdf"])))  # type: ignore[arg-type]
    out = io.BytesIO()
    writer.write(out)
    return len(out.getvalue())


def throughput(job: Callable[[int], int], docs: int, workers: int) -> float:
    """Documents per second over `docs` jobs in `workers` processes (pool start-up excluded)."""
    with ProcessPoolExecutor(workers, initializer=_worker_init) as pool:
        list(pool.map(job, range(workers * 4)))  # warm every worker
        start = time.perf_counter()
        list(pool.map(job, range(docs), chunksize=8))
        return docs / (time.perf_counter() - start)


def main() -> None:
    """Run, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    data, renderer = sample_data(), DocumentRenderer()
    raw = data.payload.encode("ascii")
    results = {
        "floor_pylibdmtx_encode": summary(
            timings(lambda: pylibdmtx.encode(raw, scheme="C40", size="SquareAuto"), args.runs)
        ),
        "datamatrix_png": summary(timings(lambda: render_png(encode_symbol(data.payload)), args.runs)),
        "datamatrix_svg": summary(timings(lambda: render_svg(encode_symbol(data.payload)), args.runs)),
        "cover_page_render": summary(timings(lambda: renderer.cover_page(data), args.runs)),
    }
    _worker_init()
    results["stamp_one_10_pages"] = summary(timings(lambda: _stamp_one(0), args.runs))
    results["floor_pypdf_concat_one_10_pages"] = summary(timings(lambda: _concat_one(0), args.runs))
    rates = {
        "stamped_docs_per_s": round(throughput(_stamp_one, args.docs, args.workers), 1),
        "floor_pypdf_concat_docs_per_s": round(throughput(_concat_one, args.docs, args.workers), 1),
        "workers": args.workers,
        "docs": args.docs,
    }
    targets = {
        "stamped_docs_per_s_min": 50,
        "cover_page_p95_ms_max": 20,
        "met": rates["stamped_docs_per_s"] >= 50 and results["cover_page_render"]["p95_ms"] <= 20,
    }
    report = {
        "timings": results,
        "throughput": rates,
        "targets": targets,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    print(f"{'measure':38} {'p50 ms':>9} {'p95 ms':>9}")
    for name, values in results.items():
        print(f"{name:38} {values['p50_ms']:9.2f} {values['p95_ms']:9.2f}")
    print(
        f"stamping, {args.workers} workers: {rates['stamped_docs_per_s']} docs/s "
        f"(floor, bare pypdf concatenation: {rates['floor_pypdf_concat_docs_per_s']} docs/s)"
    )
    print(f"targets met: {targets['met']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
