"""Identity repository benchmark: seed N French identities, then search through the API and in raw SQL.

Run from the repository root:

    python -m bench.identities -n 20000                 # fresh PostgreSQL database identito_bench
    python -m bench.identities -n 1000000 --reuse       # keep an already seeded database
    python -m bench.identities -n 20000 --database-url sqlite:////tmp/bench.db

Query kinds: (a) exact birth name + birth date, (b) birth-name prefix, (c) INS. Each is measured
through the HTTP API (uvicorn subprocess, bearer token, concurrency 8) next to two floors from the
same run: the same SQL run with the bare driver, and a bare endpoint of the same app returning a
constant. Prints only figures, never a trait.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from app.api.auth import issue_dev_token
from app.config import AuthSettings
from app.db.identity_queries import SearchFilters
from app.domain.dates import birth_date_search
from app.domain.traits import name_search_key
from bench.common import (
    RESULTS_DIR,
    Stats,
    api_server,
    http_worker,
    machine,
    run_concurrent,
    worker_pool,
    write_results,
)
from bench.identity_data import SeedReport
from bench.identity_db import database_facts, postgres_backends, prepare_database, sample_rows
from bench.machine_load import CpuShare, descendants, wait_for_quiet
from bench.rawsql import RawDatabase

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/identito_bench"
SECRET = "dev-only-identito-benchmark-secret-key"
SEARCH_LIMIT = 20  # the API's default page; it asks the repository for limit + 1 rows
KINDS = {
    "exact": "(a) exact birth name + birth date",
    "prefix": "(b) birth-name prefix",
    "ins": "(c) INS (active or historic)",
}
TARGETED_P95_MS = {"exact": 15.0, "ins": 15.0}
console = Console()


@dataclass(frozen=True)
class Query:
    """One query of a kind: its API path and the repository filters it turns into."""

    path: str
    filters: SearchFilters


def build_queries(samples: dict[str, list[Any]], prefix_length: int) -> dict[str, list[Query]]:
    """API paths and repository filters, mirroring app.services.queries.search_identities."""
    exact = [
        Query(
            "/identities?" + urlencode({"birth_name": name, "exact": "true", "birth_date": born.isoformat()}),
            SearchFilters(birth_name=name_search_key(name), exact_name=True,
                          birth_dates=birth_date_search(born.isoformat())),
        )
        for name, born in samples["names"]
    ]
    prefix = [
        Query(
            "/identities?" + urlencode({"birth_name": name[:prefix_length]}),
            SearchFilters(birth_name=name_search_key(name[:prefix_length])),
        )
        for name, _ in samples["names"]
    ]
    ins = [
        Query("/identities?" + urlencode({"ins": matricule}), SearchFilters(ins=matricule))
        for matricule in samples["matricules"]
    ]
    return {"exact": exact, "prefix": prefix, "ins": ins}


def _series(items: list[Any], count: int, rng: random.Random) -> list[Any]:
    return [items[rng.randrange(len(items))] for _ in range(count)]


def _server_env(url: str) -> dict[str, str]:
    return {
        "IDENTITO_ENVIRONMENT": "development",
        "IDENTITO_AUTH__SECRET": SECRET,
        "IDENTITO_AUTH__DEV_TOKENS": "true",
        "IDENTITO_DATABASE_URL": url,
        "IDENTITO_LOG_LEVEL": "WARNING",
    }


def _own_pids(database: str | None) -> list[int]:
    """This benchmark's processes: itself, the API server and its workers, its PostgreSQL backends."""
    pids = [os.getpid(), *descendants(os.getpid())]
    if database:
        pids += postgres_backends(database)
    return pids


def measure(url: str, queries: dict[str, list[Query]], args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then measure the bare endpoint, and each kind in raw SQL and through the API."""
    rng = random.Random(7)
    raw = RawDatabase(url)
    statements = {
        kind: raw.prepare([q.filters for q in qs], SEARCH_LIMIT + 1) for kind, qs in queries.items()
    }
    token = issue_dev_token(AuthSettings(secret=SECRET, dev_tokens=True), "bench-agent", ["admission"])
    headers = {"Authorization": f"Bearer {token}"}
    results: dict[str, Any] = {}
    with api_server(_server_env(url), workers=args.workers) as base_url, \
            worker_pool(lambda: http_worker(base_url, headers), args.concurrency) as http, \
            worker_pool(raw.worker, args.concurrency) as sql:
        def both(kind: str, count: int) -> tuple[Stats, Stats]:
            picks = [rng.randrange(len(queries[kind])) for _ in range(count)]
            return (run_concurrent(sql, [statements[kind][i] for i in picks], args.concurrency),
                    run_concurrent(http, [queries[kind][i].path for i in picks], args.concurrency))

        bare = ["/_bench/constant"] * args.requests
        run_concurrent(http, bare[: args.warmup], args.concurrency)
        for kind in queries:
            both(kind, args.warmup)
        wait_for_quiet(args.max_load, args.wait_quiet, console.print)
        share = CpuShare(lambda: _own_pids(raw.database_name))
        console.print("[bold]measuring[/bold] ...")
        share.start()
        results["bare"] = _checked(run_concurrent(http, bare, args.concurrency), "bare endpoint")
        for kind in queries:
            sql_stats, api_stats = both(kind, args.requests)
            results[kind] = {"sql": _checked(sql_stats, f"{kind} sql"),
                             "api": _checked(api_stats, f"{kind} api")}
        results["cpu"] = share.stop()
    return results


def _checked(stats: Stats, what: str) -> Stats:
    if stats.errors:
        console.print(f"[red]{stats.errors} failed calls in {what}[/red]")
    return stats


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with its measured value and whether it was met."""
    bare: Stats = results["bare"]
    targets: list[dict[str, Any]] = []
    for kind in KINDS:
        api: Stats = results[kind]["api"]
        sql: Stats = results[kind]["sql"]
        measured = round(api.p95_ms, 3)
        if kind in TARGETED_P95_MS:
            limit = TARGETED_P95_MS[kind]
            targets.append({"kind": kind, "target": f"API p95 <= {limit:g} ms", "measured_ms": measured,
                            "limit_ms": limit, "met": api.p95_ms <= limit})
        bound = 2 * (sql.p95_ms + bare.p95_ms)
        targets.append({"kind": kind, "target": "API p95 <= 2 x (raw SQL p95 + bare endpoint p95)",
                        "measured_ms": measured, "limit_ms": round(bound, 3), "met": api.p95_ms <= bound})
    return targets


def print_report(seeded: SeedReport | None, results: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    """The table of figures and the targets (no traits)."""
    if seeded is not None:
        console.print(
            f"create rate: {seeded.rate_per_s:,.0f} identities/s overall "
            f"({seeded.database_rate_per_s:,.0f}/s of database time), {seeded.identities:,} identities, "
            f"{seeded.ins_rows:,} INS rows in {seeded.seconds:,.1f} s; {seeded.skipped_names} names skipped"
        )
    table = Table(title="Search latency (ms) and throughput (req/s), concurrency as given")
    for column in ("query", "path", "p50", "p95", "p99", "req/s", "errors"):
        table.add_column(column, justify="left" if column in ("query", "path") else "right")

    def row(label: str, path: str, s: Stats) -> None:
        table.add_row(label, path, f"{s.p50_ms:.2f}", f"{s.p95_ms:.2f}", f"{s.p99_ms:.2f}",
                      f"{s.throughput_per_s:,.0f}", str(s.errors))

    row("bare endpoint (floor)", "api", results["bare"])
    for kind, label in KINDS.items():
        row(label, "raw SQL (floor)", results[kind]["sql"])
        row("", "api", results[kind]["api"])
    console.print(table)
    cpu = results["cpu"]
    console.print(
        f"while measuring: machine {cpu['machine_busy_percent']}% busy, this benchmark "
        f"{cpu['benchmark_percent']}%, other processes {cpu['other_processes_percent']}% "
        f"(load average {cpu['load_average_before']} -> {cpu['load_average_after']})"
    )
    for t in targets:
        mark = "[green]met[/green]" if t["met"] else "[red]MISSED[/red]"
        console.print(f"{t['kind']:>6}: {t['target']}: {t['measured_ms']:.2f} ms "
                      f"vs {t['limit_ms']:.2f} ms {mark}")


def _seed_section(seeded: SeedReport | None, output: Path | None, count: int,
                  started_at: str) -> dict[str, Any] | None:
    """This run's seeding, or (--reuse) the one recorded by the previous run of the same size."""
    if seeded is not None:
        return {"identities": seeded.identities, "ins_rows": seeded.ins_rows,
                "seconds": round(seeded.seconds, 1), "rate_per_s": round(seeded.rate_per_s),
                "database_rate_per_s": round(seeded.database_rate_per_s),
                "skipped_names": seeded.skipped_names, "run_started_at": started_at}
    previous = output or RESULTS_DIR / "identities.json"
    if not previous.exists():
        return None
    data = json.loads(previous.read_text(encoding="utf-8"))
    seed = data.get("seed")
    if not seed or seed.get("identities") != count:
        return None
    seed.setdefault("run_started_at", data.get("started_at"))
    return dict(seed)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None,
                        help=f"default: a fresh PostgreSQL database ({DEFAULT_URL})")
    parser.add_argument("-n", "--identities", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per query kind")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up requests per query kind")
    parser.add_argument("--workers", type=int, default=2,
                        help="uvicorn worker processes (2 on 2 cores: one process is GIL-bound)")
    parser.add_argument("--prefix-length", type=int, default=3, help="letters typed for (b)")
    parser.add_argument("--batch-size", type=int, default=5000, help="identities per seeding commit")
    parser.add_argument("--reuse", action="store_true", help="skip seeding when the database has N rows")
    parser.add_argument("--max-load", type=float, default=1.5,
                        help="before measuring, wait for the 1-minute load average to drop below this")
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="seconds to wait at most for that")
    parser.add_argument("--seed-only", action="store_true", help="prepare the database, measure nothing")
    parser.add_argument("--output", type=Path, default=None, help="default: bench/results/identities.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    args = parse_args(argv)
    url = args.database_url or DEFAULT_URL
    started_at = datetime.now(UTC)
    seeded = prepare_database(url, args.identities, reuse=args.reuse, owned=args.database_url is None,
                              batch_size=args.batch_size, console=console)
    if args.seed_only:
        if seeded is not None:
            console.print(f"create rate: {seeded.rate_per_s:,.0f} identities/s ({seeded.identities:,} in "
                          f"{seeded.seconds:,.1f} s, {seeded.database_rate_per_s:,.0f}/s of database time)")
        return 0
    samples = sample_rows(url, args.requests, seed=11)
    queries = build_queries(samples, args.prefix_length)
    t0 = time.perf_counter()
    results = measure(url, queries, args)
    targets = evaluate(results)
    print_report(seeded, results, targets)
    started = started_at.isoformat(timespec="seconds")
    data = {
        "benchmark": "identities",
        "started_at": started,
        "measure_seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
        "database": database_facts(url),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                    if k != "database_url"},
        "seed": _seed_section(seeded, args.output, args.identities, started),
        "machine_load_while_measuring": results["cpu"],
        "bare_endpoint": results["bare"].as_dict(),
        "queries": {kind: {"label": KINDS[kind], "sql": results[kind]["sql"].as_dict(),
                           "api": results[kind]["api"].as_dict()} for kind in KINDS},
        "targets": targets,
    }
    path = write_results("identities", data, args.output)
    console.print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
