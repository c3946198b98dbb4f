"""Web pages and name-prefix search (issue 14): render time of the desk's pages and the API's prefix search.

Run from the repository root:

    python -m bench.ui -n 1000000 --reuse          # the identities benchmark's database (identito_bench)
    python -m bench.ui -n 100000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/other

Two real uvicorn servers (bench/serve.py, 2 workers each) on the same database: the code as it is,
and the same code with the identity search's former statement (the walk in name order,
``IDENTITO_BENCH_SEARCH=walk``), for an A/B in the same run. Both add a ``Server-Timing`` header: the
time from the request's arrival in the application to the start of its response (a page is
rendered whole before it starts), the server-side figure; the client's latency is measured too.

Series, each measured in every round, rounds interleaved (the order rotates) and figures reported
as the median over rounds of each round's percentiles:

- web, signed in with the development sign-in (admission role), kept connections:
  the search page (``GET /app/``), the search results for a 3-letter name prefix as htmx posts them
  while typing (``POST /app/search``, ``HX-Request``), an identity page (``GET /app/identities/{id}``);
- API: ``GET /identities?birth_name=<3 letters>`` (bearer token);
- floors: the bare endpoint ``/_bench/constant`` (same server, no auth, no database), and the
  prefix statement itself in raw SQL (psycopg, the very statement compiled by the repository), old
  and new;
- the prefix statement alone, serially: ``EXPLAIN ANALYZE`` execution time, old and new alternating.

Targets (issue 14): page render p95 <= 50 ms server-side; API 3-letter prefix p95 <= 30 ms. Prints
only figures, never a trait (prefixes and identity ids stay in memory).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from app.api.auth import issue_dev_token
from app.config import AuthSettings
from app.db.engine import make_engine
from app.db.identity_queries import SearchFilters, search_statement
from app.domain.traits import name_search_key
from bench.common import api_server, machine, run_concurrent, summarise, write_results
from bench.identities import DEFAULT_URL, SECRET, _own_pids, _server_env
from bench.identity_db import database_facts, prepare_database, sample_rows
from bench.machine_load import CpuShare, wait_for_quiet
from bench.rawsql import RawDatabase, Statement

PAGE_P95_TARGET_MS = 50.0
API_P95_TARGET_MS = 30.0
API_LIMIT = 20  # the API's default page (it asks the repository for limit + 1 rows)
# Connections kept between series (httpx closes idle ones after 5 s by default): a web session lives
# in the memory of the worker that signed it in (docs/web.md), a new connection may reach the other.
KEEP = httpx.Limits(keepalive_expiry=600.0)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
console = Console(width=150)
Worker = tuple[Callable[[Any], bool], Callable[[], None]]


@dataclass(frozen=True)
class Call:
    """One HTTP request of a series."""

    method: str
    path: str
    form: dict[str, str] | None = None


@dataclass
class Timings:
    """Server-side durations (Server-Timing) collected by the workers of one series."""

    server_ms: list[float] = field(default_factory=list)
    failures: Counter[int] = field(default_factory=Counter)  # status codes other than 200
    lock: threading.Lock = field(default_factory=threading.Lock)


def _signed_in_client(base_url: str) -> tuple[httpx.Client, str]:
    """A client holding a web session of the admission role (development sign-in) and its CSRF token."""
    client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30.0), limits=KEEP)
    page = client.get("/app/signin")
    token = CSRF.search(page.text)
    if page.status_code != 200 or token is None:
        raise SystemExit(f"the sign-in page answered {page.status_code} without a CSRF token")
    signed = client.post("/app/signin/dev", data={"csrf_token": token.group(1), "user": "bench-agent",
                                                   "roles": "admission"})
    if signed.status_code != 303:
        raise SystemExit(f"the development sign-in answered {signed.status_code}")
    home = client.get("/app/")
    token = CSRF.search(home.text)
    if home.status_code != 200 or token is None:
        raise SystemExit(f"the search page answered {home.status_code} without a CSRF token")
    return client, token.group(1)


def web_worker(base_url: str, timings: Callable[[], Timings], *, web: bool,
               headers: dict[str, str]) -> tuple[Callable[[Call], bool], Callable[[], None]]:
    """A keep-alive client for one load thread (signed in to the web application if `web`)."""
    if web:
        client, csrf = _signed_in_client(base_url)
    else:
        client = httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(30.0), limits=KEEP)
        csrf = ""

    def call(item: Call) -> bool:
        if item.form is not None:
            response = client.post(item.path, data={**item.form, "csrf_token": csrf},
                                   headers={"HX-Request": "true"})
        else:
            response = client.get(item.path)
        spent = response.headers.get("server-timing", "")
        if spent.startswith("app;dur="):
            sink = timings()
            with sink.lock:
                sink.server_ms.append(float(spent.removeprefix("app;dur=")))
        if response.status_code != 200:
            sink = timings()
            with sink.lock:
                sink.failures[response.status_code] += 1
        return response.status_code == 200

    return call, client.close


class Pool:
    """Workers made once per (server, kind) and lent to each series (kept connections, sessions)."""

    def __init__(self, make: Callable[[], Worker], size: int) -> None:
        self.workers = [make() for _ in range(size)]
        self.index = 0

    def lend(self) -> Worker:
        call = self.workers[self.index % len(self.workers)][0]
        self.index += 1
        return call, lambda: None

    def close(self) -> None:
        for _, close in self.workers:
            close()


def sample_identity_ids(url: str, count: int, seed: int) -> list[int]:
    """Random active identity ids (the identity page's address holds only the id)."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            top = int(connection.execute(text("SELECT max(id) FROM identity")).scalar_one())
            rng = random.Random(seed)
            wanted = sorted({rng.randint(1, top) for _ in range(count * 2)})
            rows = connection.execute(text("SELECT id FROM identity WHERE active AND id = ANY(:ids)")
                                      if engine.dialect.name == "postgresql" else
                                      text(f"SELECT id FROM identity WHERE active AND id IN "
                                           f"({', '.join(str(i) for i in wanted)})"),
                                      {"ids": wanted} if engine.dialect.name == "postgresql" else {})
            return [int(r[0]) for r in rows][:count]
    finally:
        engine.dispose()


def serial_statement_ab(raw: RawDatabase, prefixes: list[str], rounds: int) -> dict[str, Any]:
    """EXPLAIN ANALYZE execution time of the prefix statement, old and new alternating, one at a time."""
    times: dict[str, list[float]] = {"old": [], "new": []}
    plans: dict[str, str] = {}
    if raw.is_sqlite:
        return {}
    with psycopg.connect(raw.target, autocommit=True) as connection:
        for turn in range(rounds):
            for prefix in prefixes:
                order = ("old", "new") if turn % 2 == 0 else ("new", "old")
                for which in order:
                    sql, params = raw.compile(search_statement(SearchFilters(birth_name=prefix),
                                                               limit=API_LIMIT + 1, offset=0,
                                                               by_key_head=which == "new"))
                    explained = connection.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql, params)
                    lines = [r[0] for r in explained]
                    spent = next(line for line in lines if line.startswith("Execution Time"))
                    times[which].append(float(spent.split(":")[1].split()[0]))
                    plans.setdefault(which, "\n".join(line for line in lines if "Scan" in line))
    result: dict[str, Any] = {}
    for which, values in times.items():
        s = summarise([v / 1000.0 for v in values], 0, 1.0)
        result[which] = {"statements": s.requests, "p50_ms": round(s.p50_ms, 3),
                         "p95_ms": round(s.p95_ms, 3), "p99_ms": round(s.p99_ms, 3),
                         "max_ms": round(s.max_ms, 3)}
    result["scans"] = plans  # index names and node kinds only: no parameter value
    return result


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else 0.0


def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then the interleaved rounds of every series; medians over rounds."""
    rng = random.Random(14)
    samples = sample_rows(url, args.requests * 4, seed=11)
    prefixes = [name_search_key(name)[: args.prefix_length] for name, _ in samples["names"]]
    prefixes = [p for p in prefixes if len(p) == args.prefix_length]
    ids = sample_identity_ids(url, args.requests * 4, seed=12)
    raw = RawDatabase(url)

    def pick(items: list[Any]) -> list[Any]:
        return [items[rng.randrange(len(items))] for _ in range(args.requests)]

    def statements(new: bool, chosen: list[str]) -> list[Statement]:
        return [raw.compile(search_statement(SearchFilters(birth_name=p), limit=API_LIMIT + 1, offset=0,
                                             by_key_head=new)) for p in chosen]

    token = issue_dev_token(AuthSettings(secret=SECRET, dev_tokens=True), "bench-agent", ["admission"])
    bearer = {"Authorization": f"Bearer {token}"}
    env = {**_server_env(url), "IDENTITO_BENCH_SERVER_TIMING": "1"}
    current: dict[str, Timings] = {"series": Timings()}
    results: dict[str, Any] = {"rounds": []}
    # Quiet first: the sessions signed in below idle out after 30 minutes and the kept connections
    # after 600 s; a wait after the warm-up once measured redirects to the sign-in page instead.
    wait_for_quiet(args.max_load, args.wait_quiet, console.print)
    with api_server(env, workers=args.workers) as new_url, \
            api_server({**env, "IDENTITO_BENCH_SEARCH": "walk"}, workers=args.workers) as old_url:
        pools = {
            (server, kind): Pool(lambda base=base, kind=kind: web_worker(  # type: ignore[misc]
                base, lambda: current["series"], web=kind == "web", headers=bearer), args.concurrency)
            for server, base in (("new", new_url), ("old", old_url)) for kind in ("web", "api")
        }
        sql_pool = Pool(raw.worker, args.concurrency)

        def series() -> dict[str, Callable[[], tuple[Any, list[Any]]]]:
            """Each series: its pool and a fresh sample of items (the same draw for old and new)."""
            chosen_prefixes, chosen_ids = pick(prefixes), pick(ids)
            found = {}
            for server in ("new", "old"):
                found[f"{server}:web results (POST /app/search, htmx)"] = (
                    pools[(server, "web")],
                    [Call("POST", "/app/search", {"name": p}) for p in chosen_prefixes])
                found[f"{server}:api prefix (GET /identities?birth_name=)"] = (
                    pools[(server, "api")],
                    [Call("GET", "/identities?" + urlencode({"birth_name": p})) for p in chosen_prefixes])
                found[f"{server}:sql prefix statement (raw SQL floor)"] = (
                    sql_pool, statements(server == "new", chosen_prefixes))
            found["new:web search page (GET /app/)"] = (
                pools[("new", "web")], [Call("GET", "/app/")] * args.requests)
            found["new:web identity page (GET /app/identities/{id})"] = (
                pools[("new", "web")], [Call("GET", f"/app/identities/{i}") for i in chosen_ids])
            found["new:bare endpoint (floor)"] = (
                pools[("new", "api")], [Call("GET", "/_bench/constant")] * args.requests)
            return {name: (lambda v=value: v) for name, value in found.items()}

        console.print("warming up ...")
        warm = series()
        for make in warm.values():
            pool, items = make()
            current["series"] = Timings()
            run_concurrent(pool.lend, items[: args.warmup], args.concurrency)
        share = CpuShare(lambda: _own_pids(raw.database_name))
        console.print(f"[bold]measuring[/bold] {args.rounds} rounds ...")
        share.start()
        for turn in range(args.rounds):
            planned = list(series().items())
            shift = turn % len(planned)
            one: dict[str, Any] = {}
            for name, make in planned[shift:] + planned[:shift]:
                pool, items = make()
                current["series"] = Timings()
                stats = run_concurrent(pool.lend, items, args.concurrency)
                if stats.errors:
                    statuses = dict(current["series"].failures)
                    console.print(f"[red]{stats.errors} failed calls in {name} (statuses {statuses})[/red]")
                server_side = summarise([v / 1000.0 for v in current["series"].server_ms], 0, stats.seconds)
                one[name] = {"client": stats.as_dict(),
                             "server": server_side.as_dict() if current["series"].server_ms else None}
            results["rounds"].append(one)
            console.print(f"round {turn + 1}/{args.rounds} done")
        results["cpu"] = share.stop()
        for pool in [*pools.values(), sql_pool]:
            pool.close()
    results["serial"] = serial_statement_ab(raw, sorted(set(prefixes))[:: max(1, len(set(prefixes)) // 150)],
                                            rounds=2)
    return results


def medians(rounds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per series: the median over rounds of p50, p95, p99 (client and server side) and errors."""
    summary: dict[str, dict[str, Any]] = {}
    for name in rounds[0]:
        row: dict[str, Any] = {"errors": sum(r[name]["client"]["errors"] for r in rounds)}
        for side in ("client", "server"):
            if rounds[0][name][side] is None:
                continue
            for q in ("p50_ms", "p95_ms", "p99_ms"):
                row[f"{side}_{q}"] = _median([r[name][side][q] for r in rounds])
            row[f"{side}_p95_per_round"] = [r[name][side]["p95_ms"] for r in rounds]
        row["throughput_per_s"] = _median([r[name]["client"]["throughput_per_s"] for r in rounds])
        summary[name] = row
    return summary


def evaluate(summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 14's speed targets against the medians of the code as it is."""
    targets = []
    for name, row in summary.items():
        if name.startswith("new:web"):
            targets.append({"target": f"{name.removeprefix('new:')}: server-side p95 <= 50 ms",
                            "measured_ms": row["server_p95_ms"], "limit_ms": PAGE_P95_TARGET_MS,
                            "met": row["server_p95_ms"] <= PAGE_P95_TARGET_MS and not row["errors"],
                            "errors": row["errors"]})
    api = summary["new:api prefix (GET /identities?birth_name=)"]
    targets.append({"target": "API 3-letter prefix: p95 <= 30 ms (client side)",
                    "measured_ms": api["client_p95_ms"], "limit_ms": API_P95_TARGET_MS,
                    "met": api["client_p95_ms"] <= API_P95_TARGET_MS and not api["errors"],
                    "errors": api["errors"]})
    return targets


def print_report(summary: dict[str, dict[str, Any]], serial: dict[str, Any], cpu: dict[str, float],
                 targets: list[dict[str, Any]]) -> None:
    """The medians, the serial A/B of the statement and the targets."""
    table = Table(title="median over rounds, ms (server side = Server-Timing)")
    columns = ("code", "series", "client p50", "client p95", "server p50", "server p95", "req/s", "errors")
    for column in columns:
        table.add_column(column, justify="left" if column in ("code", "series") else "right")
    for name, row in summary.items():
        code, label = name.split(":", 1)
        table.add_row(code, label, f"{row['client_p50_ms']:.2f}", f"{row['client_p95_ms']:.2f}",
                      f"{row.get('server_p50_ms', 0):.2f}" if "server_p50_ms" in row else "",
                      f"{row.get('server_p95_ms', 0):.2f}" if "server_p95_ms" in row else "",
                      f"{row['throughput_per_s']:,.0f}", str(row["errors"]))
    console.print(table)
    for which in ("old", "new"):
        if which in serial:
            s = serial[which]
            console.print(f"prefix statement alone, serially ({which}): {s['statements']} statements, "
                          f"p50 {s['p50_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms, max {s['max_ms']:.2f} ms")
    console.print(f"CPU while measuring: this benchmark {cpu['benchmark_percent']} %, other processes "
                  f"{cpu['other_processes_percent']} %")
    for t in targets:
        failed = f" ({t['errors']} failed calls: not a valid measure)" if t.get("errors") else ""
        verdict = "met" if t["met"] else "MISSED"
        console.print(f"{t['target']}: {t['measured_ms']:.2f} ms -> {verdict}{failed}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", default=None,
                        help=f"default: the identities benchmark's PostgreSQL database ({DEFAULT_URL})")
    parser.add_argument("-n", "--identities", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="skip seeding when the database has N rows")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400, help="requests per series and round")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per series")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes per server")
    parser.add_argument("--prefix-length", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=5000, help="identities per seeding commit")
    parser.add_argument("--max-load", type=float, default=1.5,
                        help="before measuring, wait for the 1-minute load average to drop below this")
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="seconds to wait at most for that")
    parser.add_argument("--output", type=Path, default=None, help="default: bench/results/ui.json")
    return parser.parse_args(argv)


def _vacuum(url: str) -> None:
    """Statistics of the key-head expressions and a fresh visibility map (index-only scans)."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
                autocommit.execute(text("VACUUM (ANALYZE) identity"))
            else:
                connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    args = parse_args(argv)
    url = args.database_url or DEFAULT_URL
    started_at = datetime.now(UTC)
    seeded = prepare_database(url, args.identities, reuse=args.reuse, owned=args.database_url is None,
                              batch_size=args.batch_size, console=console)
    if seeded is None:  # reused (maybe just migrated): as after a seeding
        console.print("vacuum (analyse) ...")
        _vacuum(url)
    t0 = time.perf_counter()
    results = measure(url, args)
    summary = medians(results["rounds"])
    targets = evaluate(summary)
    print_report(summary, results["serial"], results["cpu"], targets)
    data = {
        "benchmark": "ui",
        "started_at": started_at.isoformat(timespec="seconds"),
        "measure_seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
        "database": database_facts(url),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                    if k != "database_url"},
        "machine_load_while_measuring": results["cpu"],
        "medians": summary,
        "serial_statement": results["serial"],
        "targets": targets,
        "rounds": results["rounds"],
    }
    path = write_results("ui", data, args.output)
    console.print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
