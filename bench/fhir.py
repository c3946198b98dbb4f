"""FHIR benchmark: ITI-78 search against the REST search for the same queries, and $match (ITI-119).

Run from the repository root (same database options as bench.identities):

    python -m bench.fhir -n 1000000 --reuse        # the PostgreSQL database identito_bench
    python -m bench.fhir -n 20000 --database-url sqlite:////tmp/bench.db

Query kinds, each sent as REST and as FHIR in the same run, interleaved by kind: (a) exact birth
name + birth date (``family:exact`` + ``birthdate``), (b) birth-name prefix (``family``), (c) INS
(``identifier`` with the INS system); (b) again with ``_total=none`` (no count of every match,
which PDQm's required ``Bundle.total`` costs and the REST page does not). Then ``$match`` with the
traits of sampled identities. Targets (issue 15): FHIR p95 <= 1.5 x REST p95 for the same query;
``$match`` p95 <= 100 ms. Prints figures only, never a trait.

Like for like: both sides ask for their default page, 20 identities (REST ``limit``, FHIR
``_count``), and read the same identities in the same order. The REST page tells ``has_more``,
never a total: (b) with ``Bundle.total`` is the FHIR page plus a count that REST never makes (FHIR
skips it only on a last page, which tells the total); (b) with ``_total=none`` is the same work on
both sides but the format. The server is ``bench.serve`` (``app.main:create_served_app``, as
``identito serve`` runs it).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from rich.console import Console
from sqlalchemy import func, make_url, select
from sqlmodel import Session, col

from app.api.auth import issue_dev_token
from app.config import AuthSettings
from app.db.engine import make_engine
from app.db.tables import IdentityRow, InsRow
from bench.common import Stats, api_server, http_worker, machine, run_concurrent, worker_pool, write_results
from bench.identities import SECRET, build_queries
from bench.identity_db import database_facts, postgres_backends, prepare_database, sample_rows
from bench.machine_load import CpuShare, descendants

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/identito_bench"
RATIO, MATCH_P95_MS = 1.5, 100.0
KINDS = ("exact", "prefix", "prefix_no_total", "ins")
console = Console()


def fhir_paths(samples: dict[str, list[Any]], prefix_length: int,
               oids: dict[str, str]) -> dict[str, list[str]]:
    """The FHIR search of each REST query of bench.identities.build_queries, in the same order (the INS
    with its system, as the REST ``ins`` asks for an INS only)."""
    exact = [
        "/fhir/Patient?" + urlencode({"family:exact": name, "birthdate": born.isoformat()})
        for name, born in samples["names"]
    ]
    prefix = ["/fhir/Patient?" + urlencode({"family": name[:prefix_length]}) for name, _ in samples["names"]]
    ins = ["/fhir/Patient?" + urlencode({"identifier": f"urn:oid:{oids[matricule]}|{matricule}"})
           for matricule in samples["matricules"]]
    untold = [path + "&_total=none" for path in prefix]
    return {"exact": exact, "prefix": prefix, "prefix_no_total": untold, "ins": ins}


def ins_oids(database_url: str, matricules: list[str]) -> dict[str, str]:
    """The OID of each sampled matricule."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with Session(engine) as session:
            statement = select(InsRow.matricule, InsRow.oid).where(col(InsRow.matricule).in_(matricules))
            rows = session.execute(statement)
            return {matricule: oid for matricule, oid in rows}
    finally:
        engine.dispose()


def match_bodies(database_url: str, count: int, seed: int) -> list[bytes]:
    """$match Patients with the traits of sampled identities (JSON bodies)."""
    rng = random.Random(seed)
    engine = make_engine(database_url, pool_size=1)
    try:
        with Session(engine) as session:
            top = int(session.execute(select(func.max(IdentityRow.id))).scalar_one() or 0)
            ids = sorted({rng.randint(1, top) for _ in range(count)})
            rows = session.execute(
                select(IdentityRow.birth_name, IdentityRow.first_names, IdentityRow.birth_date,
                       IdentityRow.sex).where(col(IdentityRow.id).in_(ids))
            ).all()
    finally:
        engine.dispose()
    gender = {"M": "male", "F": "female", "U": "unknown"}
    return [httpx.Request("POST", "/", json={
        "resourceType": "Patient", "birthDate": born.isoformat(), "gender": gender[sex],
        "name": [{"use": "official", "family": name, "given": first.split()}],
    }).read() for name, first, born, sex in rows]


def _post_worker(base_url: str, headers: dict[str, str]) -> tuple[Any, Any]:
    client = httpx.Client(base_url=base_url, headers={**headers, "Content-Type": "application/fhir+json"},
                          timeout=httpx.Timeout(30.0))

    def call(body: bytes) -> bool:
        return client.post("/fhir/Patient/$match", content=body).status_code == 200

    return call, client.close


def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then REST and FHIR for each kind (same picks), then $match."""
    database = make_url(url).database or ""
    samples = sample_rows(url, args.requests, seed=11)
    rest = {kind: [q.path for q in qs] for kind, qs in build_queries(samples, args.prefix_length).items()}
    rest["prefix_no_total"] = rest["prefix"]
    fhir = fhir_paths(samples, args.prefix_length, ins_oids(url, samples["matricules"]))
    bodies = match_bodies(url, args.requests, seed=13)
    token = issue_dev_token(AuthSettings(secret=SECRET, dev_tokens=True), "bench-agent", ["admission"])
    headers = {"Authorization": f"Bearer {token}"}
    env = {"IDENTITO_ENVIRONMENT": "development", "IDENTITO_AUTH__SECRET": SECRET,
           "IDENTITO_AUTH__DEV_TOKENS": "true", "IDENTITO_DATABASE_URL": url, "IDENTITO_LOG_LEVEL": "WARNING"}
    rng = random.Random(7)
    results: dict[str, Any] = {}
    with api_server(env, workers=args.workers) as base, \
            worker_pool(lambda: http_worker(base, headers), args.concurrency) as http, \
            worker_pool(lambda: _post_worker(base, headers), args.concurrency) as post:
        for kind in rest:  # warm-up
            run_concurrent(http, rest[kind][: args.warmup] + fhir[kind][: args.warmup], args.concurrency)
        run_concurrent(post, bodies[: args.warmup], args.concurrency)
        share = CpuShare(lambda: [os.getpid(), *descendants(os.getpid()), *postgres_backends(database)])
        share.start()
        for kind in rest:
            picks = [rng.randrange(len(rest[kind])) for _ in range(args.requests)]
            results[kind] = {
                "rest": run_concurrent(http, [rest[kind][i] for i in picks], args.concurrency),
                "fhir": run_concurrent(http, [fhir[kind][i] for i in picks], args.concurrency),
            }
        matches = [bodies[rng.randrange(len(bodies))] for _ in range(args.requests)]
        results["match"] = run_concurrent(post, matches, args.concurrency)
        results["cpu"] = share.stop()
    return results


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets with the measured values."""
    targets = []
    for kind in KINDS:
        rest, fhir = results[kind]["rest"], results[kind]["fhir"]
        targets.append({"kind": kind, "target": f"FHIR p95 <= {RATIO} x REST p95",
                        "measured_ms": round(fhir.p95_ms, 2), "limit_ms": round(RATIO * rest.p95_ms, 2),
                        "met": fhir.p95_ms <= RATIO * rest.p95_ms})
    match: Stats = results["match"]
    targets.append({"kind": "match", "target": f"$match p95 <= {MATCH_P95_MS:g} ms",
                    "measured_ms": round(match.p95_ms, 2), "limit_ms": MATCH_P95_MS,
                    "met": match.p95_ms <= MATCH_P95_MS})
    return targets


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help=f"default: {DEFAULT_URL}")
    parser.add_argument("-n", "--identities", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="skip seeding when the database has N rows")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per kind")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prefix-length", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--output", type=Path, default=None, help="default: bench/results/fhir.json")
    args = parser.parse_args(argv)
    url = args.database_url or DEFAULT_URL
    started = datetime.now(UTC).isoformat(timespec="seconds")
    prepare_database(url, args.identities, reuse=args.reuse, owned=args.database_url is None,
                     batch_size=args.batch_size, console=console)
    t0 = time.perf_counter()
    results = measure(url, args)
    targets = evaluate(results)
    for kind in KINDS:
        for side in ("rest", "fhir"):
            s: Stats = results[kind][side]
            console.print(f"{kind:>6} {side:>4}: p50 {s.p50_ms:7.2f}  p95 {s.p95_ms:7.2f}  "
                          f"p99 {s.p99_ms:7.2f} ms  {s.throughput_per_s:7.0f} req/s  errors {s.errors}")
    m: Stats = results["match"]
    console.print(f" match     : p50 {m.p50_ms:7.2f}  p95 {m.p95_ms:7.2f}  p99 {m.p99_ms:7.2f} ms  "
                  f"{m.throughput_per_s:7.0f} req/s  errors {m.errors}")
    cpu = results["cpu"]
    console.print(f"while measuring: machine {cpu['machine_busy_percent']} % busy, this benchmark "
                  f"{cpu['benchmark_percent']} %, other processes {cpu['other_processes_percent']} %")
    for t in targets:
        console.print(f"{t['kind']:>6}: {t['target']}: {t['measured_ms']} ms vs {t['limit_ms']} ms "
                      + ("[green]met[/green]" if t["met"] else "[red]MISSED[/red]"))
    data = {"benchmark": "fhir", "started_at": started, "measure_seconds": round(time.perf_counter() - t0, 1),
            "machine": machine(), "machine_load_while_measuring": cpu,
            "database": database_facts(url), "identities": args.identities,
            "options": {k: str(v) for k, v in vars(args).items() if k != "database_url"},
            "queries": {k: {side: results[k][side].as_dict() for side in ("rest", "fhir")}
                        for k in KINDS},
            "match": results["match"].as_dict(), "targets": targets}
    console.print(f"results written to {write_results('fhir', data, args.output)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
