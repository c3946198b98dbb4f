"""How busy the machine was while a benchmark measured: our CPU versus everybody else's.

On a shared 2-core machine other processes (test suites, other benchmarks) compete with the load
generator, the API and the database; the results record that share so figures can be judged.
Linux only (/proc).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK")


def _system_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _process_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def descendants(pid: int) -> list[int]:
    """Every process whose ancestry leads to pid (the API server and its workers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [p for p, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


@dataclass
class CpuShare:
    """CPU used during a span: by the whole machine, and by the processes of this benchmark."""

    own_pids: Callable[[], Iterable[int]]
    _start: tuple[int, int] = (0, 0)
    _own_start: dict[int, int] | None = None
    load_before: float = 0.0

    def start(self) -> None:
        """Begin the span."""
        self.load_before = os.getloadavg()[0]
        self._own_start = {pid: _process_ticks(pid) for pid in self.own_pids()}
        self._start = _system_ticks()

    def stop(self) -> dict[str, float]:
        """End the span: machine busy %, this benchmark's %, everybody else's %, load averages."""
        busy, total = _system_ticks()
        own_start = self._own_start or {}
        own = sum(_process_ticks(pid) - own_start.get(pid, 0) for pid in self.own_pids())
        span_total = max(1, total - self._start[1])
        busy_share = (busy - self._start[0]) / span_total
        own_share = min(busy_share, own / span_total)
        return {
            "machine_busy_percent": round(100 * busy_share, 1),
            "benchmark_percent": round(100 * own_share, 1),
            "other_processes_percent": round(100 * (busy_share - own_share), 1),
            "load_average_before": round(self.load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
        }


def wait_for_quiet(max_load: float, timeout: float, report: Callable[[str], None]) -> float:
    """Wait (up to timeout seconds) until the 1-minute load average drops below max_load."""
    deadline = time.monotonic() + timeout
    load = os.getloadavg()[0]
    while load >= max_load and time.monotonic() < deadline:
        report(f"machine busy (load average {load:.1f} >= {max_load:g}), waiting ...")
        time.sleep(15)
        load = os.getloadavg()[0]
    return load
