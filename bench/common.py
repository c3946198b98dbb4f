"""Shared benchmark tools: a concurrent load runner, latency statistics, the API server, results.

Every benchmark prints its figures next to a floor measured in the same run and writes JSON to
``bench/results/<name>.json``. Servers bind 127.0.0.1 only, on a port the kernel picks.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
T = TypeVar("T")
S = TypeVar("S")


@dataclass(frozen=True)
class Stats:
    """Latency percentiles (milliseconds) and throughput of one measured series."""

    requests: int
    errors: int
    seconds: float
    throughput_per_s: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain values for the JSON results."""
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(1, int(round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarise(latencies: list[float], errors: int, seconds: float) -> Stats:
    """Stats from per-call latencies in seconds."""
    values = sorted(x * 1000.0 for x in latencies)
    count = len(values)
    return Stats(
        requests=count,
        errors=errors,
        seconds=seconds,
        throughput_per_s=count / seconds if seconds > 0 else 0.0,
        mean_ms=sum(values) / count if count else 0.0,
        p50_ms=percentile(values, 0.50),
        p95_ms=percentile(values, 0.95),
        p99_ms=percentile(values, 0.99),
        max_ms=values[-1] if values else 0.0,
    )


def run_concurrent(
    make_worker: Callable[[], tuple[Callable[[T], bool], Callable[[], None]]],
    items: Sequence[T],
    concurrency: int,
) -> Stats:
    """Run every item once over `concurrency` threads; each thread gets its own (call, close) pair.

    `call(item)` returns True on success; only its duration is timed.
    """
    lock = threading.Lock()
    cursor = iter(items)
    latencies: list[float] = []
    errors = [0]
    workers = [make_worker() for _ in range(concurrency)]
    barrier = threading.Barrier(concurrency + 1)

    def loop(call: Callable[[T], bool]) -> None:
        mine: list[float] = []
        failed = 0
        barrier.wait()
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            start = time.perf_counter()
            ok = call(item)
            mine.append(time.perf_counter() - start)
            failed += 0 if ok else 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=loop, args=(call,), daemon=True) for call, _ in workers]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for _, close in workers:
        close()
    return summarise(latencies, errors[0], elapsed)


@contextmanager
def worker_pool(
    make_worker: Callable[[], tuple[Callable[[T], bool], Callable[[], None]]], size: int
) -> Iterator[Callable[[], tuple[Callable[[T], bool], Callable[[], None]]]]:
    """Workers made once and handed out in turn (kept connections), closed at the end."""
    workers = [make_worker() for _ in range(size)]
    handout = itertools.cycle(workers)

    def lend() -> tuple[Callable[[T], bool], Callable[[], None]]:
        return next(handout)[0], lambda: None

    try:
        yield lend
    finally:
        for _, close in workers:
            close()


def http_worker(base_url: str, headers: dict[str, str]) -> tuple[Callable[[str], bool], Callable[[], None]]:
    """A keep-alive HTTP client for one load thread; items are paths with their query string."""
    client = httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(30.0))

    def call(path: str) -> bool:
        return client.get(path).status_code == 200

    return call, client.close


@contextmanager
def api_server(env: dict[str, str], *, workers: int = 1, ready_path: str = "/health",
               timeout: float = 60.0) -> Iterator[str]:
    """Run the API (bench.serve: app.main:create_served_app) under uvicorn on 127.0.0.1 (kernel-chosen
    port); yield its URL.

    Access logs are off: they would print query strings, which hold patient traits.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    command = [sys.executable, "-m", "bench.serve", str(sock.fileno()), str(workers)]
    process = subprocess.Popen(  # noqa: S603 - fixed command line
        command, cwd=ROOT, env={**os.environ, **env}, pass_fds=(sock.fileno(),)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url + ready_path, process, timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        sock.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API server exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API server did not answer {url} within {timeout:.0f} s")


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_results(name: str, data: dict[str, Any], path: Path | None = None) -> Path:
    """Write results JSON to bench/results/<name>.json (or the given path)."""
    target = path or RESULTS_DIR / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return target
