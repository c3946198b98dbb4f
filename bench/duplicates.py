"""Duplicate detection benchmark (issue 13): Identito's full scan through PostgreSQL next to Splink 5.

Run from the repository root (about 25 minutes for the default sizes on 2 cores)::

    python -m bench.duplicates                                  # 100k, 300k and 1M records
    python -m bench.duplicates --sizes 10000,100000 --requests 500

For each size, in one run:

1. the synthetic French population of ``bench/population.py`` (seed 13), generated once and cached
   under ``--data-dir``, with its truth;
2. setup (not part of the scan): a fresh PostgreSQL database ``identito_bench_dup_<n>``, the records
   inserted as identities through the product's bulk path (``IdentityRepository.add_many``, 5,000
   per commit), ``VACUUM (ANALYZE)``, then the match keys built by ``identito duplicates keys`` (the
   desk's candidate check needs them; the scan does not), ``VACUUM (ANALYZE)`` and a ``CHECKPOINT``;
3. the product's full scan, ``identito duplicates scan`` in a child process: wall time, CPU (the
   command, its forked scoring processes, and the PostgreSQL backends serving it), peak memory;
4. the pairs stored in ``duplicate_pair`` evaluated against the truth (``bench/dup_eval.py``):
   precision, recall and F1 at grade probable or better, at the best score threshold, per error
   type, and the hard negatives flagged;
5. Splink 5 on DuckDB (``bench/splink_reference.py``'s ``run``, 2 threads) on the same file, right
   after Identito, in a child process: wall and CPU time, F1 at its best threshold and at 0.5.

Then the growth curve (time per 100,000 records, exponent of a log-log fit) and, at the largest size,
``POST /identities/candidates`` through a real API server (uvicorn, 2 workers) with a concurrent
client, next to two floors (``bench/dup_api.py``). The databases it created are dropped at the end.

Targets (issue 13, at the largest size, 2 cores, PostgreSQL): F1 >= 0.95 at grade probable or
better, and >= Splink's best F1; full scan <= 2 min and no slower than Splink's run;
candidate check p95 <= 50 ms through the API; near-linear growth (log-log exponent of the scan
job's time, as the product records it, <= 1.15: the cost per record grows by at most 40 % from 100k
to 1M; the command's wall time adds about 3 s of process start and imports).

Options: ``--sizes 100000,300000,1000000``, ``--data-dir /tmp/identito-dup-bench``,
``--database-url postgresql+psycopg://postgres@127.0.0.1:5432`` (server; databases
``identito_bench_dup_<n>`` are created and dropped on it), ``--skip-splink``, ``--requests 2000``,
``--warmup 300``, ``--concurrency 6``, ``--max-load 1.5 --wait-quiet SECONDS`` (before each timed
step, wait up to SECONDS for the 1-minute load average to fall below the threshold),
``--keep-databases`` (debugging), ``--output bench/results/duplicates.json``; ``--api-only``: the
candidate check alone, on the database of the largest size kept by an earlier run
(``--keep-databases``), results to ``bench/results/duplicates-api.json``.
Nothing printed names a trait.
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console

from bench.common import ROOT, machine, write_results
from bench.dup_api import measure_candidates
from bench.dup_db import (
    LoadReport,
    Span,
    create_database,
    db_url,
    drop_database,
    last_scan,
    load_population,
    loaded_map,
    read_pairs,
    run_cli,
    table_sizes,
    vacuum_analyse,
)
from bench.dup_eval import Evaluation, Prediction, best_threshold, evaluate, evaluate_grades
from bench.dup_report import growth, print_api, print_report, targets
from bench.machine_load import wait_for_quiet
from bench.population import read_truth, truth_path_for

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
SEED = 13
console = Console(width=150)


def ensure_population(n: int, data_dir: Path) -> tuple[Path, float | None]:
    """The population file of ``n`` records (seed 13), generated unless cached; generation seconds."""
    path = data_dir / f"population-{n}-{SEED}.parquet"
    if path.exists() and truth_path_for(path).exists() and _rows(path) == n:
        return path, None
    data_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"generating the population of {n:,} records ...")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench.population", "-n", str(n), "--seed", str(SEED),  # noqa: S603
                    "--out", str(path)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return path, time.perf_counter() - started


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def setup_database(url: str, population: Path) -> tuple[LoadReport, dict[str, Any]]:
    """A fresh database holding the population as identities, analysed and keyed (setup, timed)."""
    begun = time.perf_counter()
    create_database(url)
    created = time.perf_counter() - begun
    console.print("loading the identities (IdentityRepository.add_many) ...")
    load = load_population(url, population)
    begun = time.perf_counter()
    vacuum_analyse(url, ("identity", "ins"))
    analysed = time.perf_counter() - begun
    console.print("building the match keys (identito duplicates keys) ...")
    keys = run_cli(url, ["duplicates", "keys"], population.with_suffix(".keys.log"))
    begun = time.perf_counter()
    vacuum_analyse(url, ("identity_match_key",), checkpoint=True)
    keys_analysed = time.perf_counter() - begun
    setup = {
        "create_and_migrate_s": round(created, 2),
        "load": {"identities": load.identities, "ins_rows": load.ins_rows, "skipped": load.skipped,
                 "ins_kept_off_second_holder": load.ins_kept_off, "seconds": round(load.seconds, 1),
                 "database_seconds": round(load.database_seconds, 1),
                 "rate_per_s": round(load.identities / load.seconds) if load.seconds else 0},
        "vacuum_analyse_s": round(analysed, 2),
        "match_keys": keys.as_dict(),
        "vacuum_analyse_keys_and_checkpoint_s": round(keys_analysed, 2),
    }
    return load, setup


def _evaluations(truth_path: Path, predictions: list[Prediction]) -> dict[str, Evaluation]:
    truth = read_truth(truth_path)
    grades = evaluate_grades(truth, predictions)
    threshold, best = best_threshold(truth, predictions)
    best.extras["threshold"] = threshold
    return {"certain": grades[0], "probable_or_better": grades[1], "possible_or_better": grades[2],
            "best_threshold": best}


def run_identito(n: int, url: str, population: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Setup, the product's full scan measured, its pairs evaluated."""
    load, setup = setup_database(url, population)
    wait_for_quiet(args.max_load, args.wait_quiet, console.print)
    console.print(f"[bold]identito duplicates scan[/bold] on {load.identities:,} identities ...")
    scan = run_cli(url, ["duplicates", "scan"], population.with_suffix(".scan.log"))
    job = last_scan(url)
    if job["status"] != "done":
        raise RuntimeError(f"the scan ended {job['status']}")
    predictions = read_pairs(url, load)
    evaluations = _evaluations(truth_path_for(population), predictions)
    result = {"records": n, "setup": setup, "scan": scan.as_dict(), "job": job,
              "pairs_stored": len(predictions), "tables": table_sizes(url),
              "evaluation": {k: v.as_dict() for k, v in evaluations.items()}, "_eval": evaluations,
              "_load": load}
    p = evaluations["probable_or_better"].overall
    console.print(f"identito {n:,}: scan {scan.wall_s:.1f} s wall, {scan.cpu_s:.1f} s CPU "
                  f"(+{scan.database_cpu_s:.1f} s database); F1 {p.f1:.4f} at probable or better")
    return result


def _splink_child(population: str) -> dict[str, Any]:
    """In a child process: Splink's run, its pairs, its timings and this process's resources."""
    import resource

    from bench.splink_reference import run

    predictions, timer, _model = run(Path(population), threads=2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"pairs": [(p.left_id, p.right_id, p.score) for p in predictions], "steps": timer.steps,
            "total": timer.total(), "process_cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib": usage.ru_maxrss / 1024}


def run_splink(n: int, population: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Splink 5 (DuckDB, 2 threads) on the same file, in a child process, evaluated the same way."""
    wait_for_quiet(args.max_load, args.wait_quiet, console.print)
    console.print(f"[bold]Splink[/bold] on {n:,} records ...")
    span = Span()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.apply(_splink_child, (str(population),))
    measured = span.finish(child["process_cpu_s"], cpu_s=child["total"]["cpu_s"],
                           peak_rss_mib=child["peak_rss_mib"])
    predictions = [Prediction(a, b, p) for a, b, p in child["pairs"]]
    truth = read_truth(truth_path_for(population))
    threshold, best = best_threshold(truth, predictions)
    best.extras["threshold"] = threshold
    half = evaluate(truth, predictions, threshold=0.5)
    run_s = child["total"]
    console.print(f"splink {n:,}: run {run_s['wall_s']:.1f} s wall, {run_s['cpu_s']:.1f} s CPU; "
                  f"best F1 {best.overall.f1:.4f}")
    return {"records": n, "run": run_s, "steps": child["steps"], "process": measured.as_dict(),
            "pairs_kept": len(predictions), "evaluation": {"best_threshold": best.as_dict(),
                                                            "at_0.5": half.as_dict()},
            "_eval": {"best_threshold": best, "at_0.5": half}}


def run_size(n: int, largest: bool, args: argparse.Namespace) -> dict[str, Any]:
    """One size: Identito (setup, scan, evaluation), then Splink; at the largest, the API latency."""
    population, generated = ensure_population(n, args.data_dir)
    url = db_url(args.database_url, f"identito_bench_dup_{n}")
    out: dict[str, Any] = {"population": population.name, "generated_s": generated}
    try:
        out["identito"] = run_identito(n, url, population, args)
        if not args.skip_splink:
            out["splink"] = run_splink(n, population, args)
        if largest and args.requests > 0:
            out["api"] = measure_candidates(url, population, n, out["identito"]["_load"], args, console.print)
    finally:
        if not args.keep_databases:
            drop_database(url)
    return out


def api_only(args: argparse.Namespace) -> int:
    """``--api-only``: the candidate check alone, on the database of the largest size left by an
    earlier run with ``--keep-databases`` (dropped at the end unless ``--keep-databases``)."""
    n = args.sizes[-1]
    population, _ = ensure_population(n, args.data_dir)
    url = db_url(args.database_url, f"identito_bench_dup_{n}")
    load = loaded_map(url)
    if load.identities != n:
        raise SystemExit(f"identito_bench_dup_{n} holds {load.identities:,} identities, not {n:,}")
    started = datetime.now(UTC)
    try:
        api = measure_candidates(url, population, n, load, args, console.print)
    finally:
        if not args.keep_databases:
            drop_database(url)
    print_api(console, api)
    data = {"benchmark": "duplicates-api", "started_at": started.isoformat(timespec="seconds"),
            "machine": machine(), "records": n, "api": _public(api),
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    path = write_results("duplicates-api", data, args.output)
    console.print(f"results written to {path}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000",
                        type=lambda s: sorted({int(x) for x in s.split(",") if x.strip()}))
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/identito-dup-bench"))
    parser.add_argument("--database-url", default=DEFAULT_SERVER,
                        help="PostgreSQL server; databases identito_bench_dup_<n> are created and dropped")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--requests", type=int, default=2000, help="measured candidate checks (0: none)")
    parser.add_argument("--warmup", type=int, default=300, help="warm-up requests per series")
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--max-load", type=float, default=1.5,
                        help="before each timed step, wait for the 1-minute load average to drop below this")
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="seconds to wait at most for that")
    parser.add_argument("--keep-databases", action="store_true", help="do not drop the databases (debugging)")
    parser.add_argument("--api-only", action="store_true",
                        help="only the candidate check, on the database of the largest size kept by an "
                             "earlier run (--keep-databases); results to bench/results/duplicates-api.json")
    parser.add_argument("--output", type=Path, default=None, help="default: bench/results/duplicates.json")
    return parser.parse_args(argv)


def _public(value: Any) -> Any:
    """The results without the in-memory objects kept for the report (keys starting with _)."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not str(k).startswith("_")}
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    args = parse_args(argv)
    if args.api_only:
        return api_only(args)
    started = datetime.now(UTC)
    runs = {n: run_size(n, n == args.sizes[-1], args) for n in args.sizes}
    curve = growth(runs)
    checks = targets(runs, curve)
    print_report(console, runs, curve, checks)
    data = {
        "benchmark": "duplicates",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "sizes": {str(n): _public(r) for n, r in runs.items()},
        "growth": curve,
        "targets": checks,
    }
    path = write_results("duplicates", data, args.output)
    console.print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
