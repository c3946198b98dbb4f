"""Campaign throughput and rate limiting against the simulator answering in a fixed 50 ms.

Runs, in one go:
  1. floor: N threads calling the simulator through the INSi client, no database (what the wire
     and the client allow), next to the ideal N / 0.05 s;
  2. a campaign with the rate limit off and N concurrent calls: throughput vs the ideal;
  3. a campaign with the rate limit at R calls/s: achieved rate and the most calls seen in any
     one-second window (from the start time of every call).
The simulator runs in its own process. Results: bench/results/campaign.json.

    python bench/campaign.py [--concurrency 8] [--rate 20] [--items 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import InsiSettings, QualificationSettings, development_settings  # noqa: E402
from app.db.migrations import upgrade  # noqa: E402
from app.db.tables import IdentityRow  # noqa: E402
from app.domain.insi import CallContext, CallPurpose, TraitsQuery  # noqa: E402
from app.integrations.insi.client import InsiClient  # noqa: E402
from app.integrations.insi.wiring import build_credentials  # noqa: E402
from app.main import build_context  # noqa: E402
from app.services import campaigns  # noqa: E402
from app.services.campaigns import Selection  # noqa: E402
from app.services.context import Actor  # noqa: E402
from app.services.insi import journal_observer  # noqa: E402
from app.workers.campaigns import CampaignRunner  # noqa: E402

LATENCY = 0.050
console = Console()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_simulator(port: int) -> subprocess.Popen[bytes]:
    code = ("from app.simulator.app import Behaviour; from app.simulator.server import run_simulator; "
            f"run_simulator(host='127.0.0.1', port={port}, behaviour=Behaviour(latency_ms={LATENCY * 1000}))")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("simulator did not start")


class RecordingGateway:
    """Wraps the client to record the start time of every call."""

    def __init__(self, inner: InsiClient) -> None:
        self.inner, self.starts, self.lock = inner, [], threading.Lock()

    def search_by_traits(self, query, context):  # type: ignore[no-untyped-def]
        with self.lock:
            self.starts.append(time.monotonic())
        return self.inner.search_by_traits(query, context)

    def search_by_vitale(self, query, context):  # type: ignore[no-untyped-def]
        return self.inner.search_by_vitale(query, context)


def seed(ctx, count: int, offset: int) -> None:
    now = datetime.now(UTC)
    rows = []
    for i in range(offset, offset + count):
        letters, n = "", i
        for _ in range(6):
            n, r = divmod(n, 26)
            letters += chr(65 + r)
        rows.append({"ipp": f"B{i:09d}", "birth_name": "BENCH" + letters,
                     "first_names": "JEAN", "first_name": "JEAN",
                     "sex": "M", "birth_date": date(1960 + i % 40, 1 + i % 12, 1 + i % 28), "status": "PROV",
                     "attributes": "", "source": "SM", "version": 1, "active": True,
                     "birth_date_completed": False, "created_at": now, "updated_at": now})
    with ctx.engine.begin() as connection:
        connection.execute(insert(IdentityRow), rows)


def floor(client: InsiClient, concurrency: int, seconds: float) -> float:
    query = TraitsQuery("FLOOR", ("JEAN",), "M", date(1980, 1, 1))
    context = CallContext("bench", CallPurpose.UNATTENDED)
    stop, counts = time.monotonic() + seconds, [0] * concurrency

    def loop(k: int) -> None:
        while time.monotonic() < stop:
            client.search_by_traits(query, context)
            counts[k] += 1

    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(loop, range(concurrency)))
    return sum(counts) / (time.monotonic() - start)


def run_campaign(ctx, settings, gateway: RecordingGateway, ids: list[int], rate: float,
                 concurrency: int) -> dict:
    cell = Actor("bench", frozenset({"identitovigilance"}))
    created = campaigns.create_campaign(ctx, cell, name="bench", operation="retrieve",
                                        selection=Selection(ids=tuple(ids)), rate_limit=rate,
                                        concurrency=concurrency)
    gateway.starts.clear()
    start = time.monotonic()
    CampaignRunner(ctx, settings).run_campaign(created.id)
    elapsed = time.monotonic() - start
    starts = sorted(gateway.starts)
    window_max = max(bisect.bisect_left(starts, s + 1.0) - i for i, s in enumerate(starts))
    span = starts[-1] - starts[0]
    return {"items": len(ids), "seconds": round(elapsed, 2), "items_per_second": round(len(ids) / elapsed, 1),
            "call_rate": round((len(starts) - 1) / span, 2) if span else None,
            "max_calls_in_any_1s_window": window_max}


def run_campaign_processes(ctx, url: str, sim_url: str, var_dir: Path, ids: list[int], concurrency: int,
                           processes: int) -> dict:
    """The same campaign run by several worker processes sharing the queue (PostgreSQL SKIP LOCKED)."""
    cell = Actor("bench", frozenset({"identitovigilance"}))
    per_process = max(1, concurrency // processes)
    created = campaigns.create_campaign(ctx, cell, name="bench-processes", operation="retrieve",
                                        selection=Selection(ids=tuple(ids)), rate_limit=0,
                                        concurrency=per_process)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("IDENTITO_")}, "PYTHONPATH": str(ROOT),
           "IDENTITO_ENVIRONMENT": "development", "IDENTITO_DATABASE_URL": url,
           "IDENTITO_AUTH__SECRET": "dev-only-bench", "IDENTITO_INSI__ENDPOINT": sim_url,
           "IDENTITO_INSI__SIMULATOR": "true", "IDENTITO_VAR_DIR": str(var_dir),
           "IDENTITO_LOG_LEVEL": "WARNING"}
    code = "from app.cli import main; main()"
    start = time.monotonic()
    workers = [subprocess.Popen([sys.executable, "-c", code, "worker", "--campaign", str(created.id)],
                                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(processes)]
    try:
        for worker in workers:
            worker.wait(600)
    finally:
        for worker in workers:
            worker.kill()
    elapsed = time.monotonic() - start  # includes the processes' start-up (about 1 s)
    return {"items": len(ids), "processes": processes, "threads_per_process": per_process,
            "seconds": round(elapsed, 2), "items_per_second": round(len(ids) / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--rate-items", type=int, default=400)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--processes", type=int, default=2, help="worker processes for the multi-process run")
    args = parser.parse_args()

    url, name = args.database_url, None
    if url is None:
        name = f"identito_bench_campaign_{os.getpid()}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade(url)
    port = free_port()
    simulator = start_simulator(port)
    var_dir = Path(tempfile.mkdtemp(prefix="identito-bench-"))
    try:
        insi = InsiSettings(endpoint=f"http://127.0.0.1:{port}/lps", simulator=True)
        client = InsiClient(insi, var_dir, build_credentials(insi))
        settings = development_settings(database_url=url, var_dir=var_dir)
        ctx = build_context(settings)
        gateway = RecordingGateway(client)
        ctx.insi_gateway = gateway
        q = QualificationSettings(campaign_backoff_base_seconds=0.01)
        ideal = args.concurrency / LATENCY
        console.print(f"simulator at {LATENCY * 1000:.0f} ms, concurrency {args.concurrency}, "
                      f"ideal {ideal:.0f}/s")
        floor(client, args.concurrency, 2.0)  # warm-up
        bare = floor(client, args.concurrency, 8.0)
        client.observer = journal_observer(ctx)  # the worker journals every call, so does the campaign
        seed(ctx, 2 * args.items + args.rate_items, 0)
        with ctx.engine.connect() as connection:
            ids = [r[0] for r in connection.exec_driver_sql("SELECT id FROM identity ORDER BY id")]
        unlimited = run_campaign(ctx, q, gateway, ids[: args.items], 0, args.concurrency)
        limited = run_campaign(ctx, q, gateway, ids[args.items: args.items + args.rate_items], args.rate,
                               args.concurrency)
        multi = run_campaign_processes(ctx, url, f"http://127.0.0.1:{port}/lps", var_dir,
                                       ids[args.items + args.rate_items:], args.concurrency, args.processes)
    finally:
        simulator.terminate()
        simulator.wait(10)
        if name is not None:  # a database this run created: dropped, not left behind
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    results = {
        "machine": "2 cores / 24 GiB", "database": url.split("@")[-1].split("/")[0],
        "latency_ms": LATENCY * 1000,
        "concurrency": args.concurrency, "ideal_per_second": ideal,
        "floor_bare_client_per_second": round(bare, 1),
        "unlimited": {**unlimited, "share_of_ideal": round(unlimited["items_per_second"] / ideal, 3),
                      "target": ">= 0.90 of ideal"},
        "processes": {**multi, "share_of_ideal": round(multi["items_per_second"] / ideal, 3)},
        "rate_limited": {**limited, "rate_limit": args.rate,
                         "within_5_percent": abs((limited["call_rate"] or 0) - args.rate) <= 0.05 * args.rate,
                         "never_above": limited["max_calls_in_any_1s_window"] <= args.rate},
    }
    table = Table(title="Campaign benchmark")
    for col in ("measure", "value", "reference"):
        table.add_column(col)
    table.add_row("ideal N/0.05 s", f"{ideal:.0f}/s", "")
    table.add_row("floor: bare client loop", f"{bare:.1f}/s", f"{bare / ideal:.0%} of ideal")
    table.add_row("campaign, no rate limit", f"{unlimited['items_per_second']}/s",
                  f"{unlimited['items_per_second'] / ideal:.0%} of ideal (target 90 %)")
    table.add_row(f"campaign, {multi['processes']} worker processes x {multi['threads_per_process']}",
                  f"{multi['items_per_second']}/s", f"{multi['items_per_second'] / ideal:.0%} of ideal")
    table.add_row(f"campaign, limit {args.rate}/s", f"{limited['call_rate']}/s",
                  f"max {limited['max_calls_in_any_1s_window']} calls in any 1 s window")
    console.print(table)
    out = ROOT / "bench" / "results" / "campaign.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"written {out}")


if __name__ == "__main__":
    main()
