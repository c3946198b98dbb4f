"""Campaign runners as real processes (`identito worker`, `identito campaign run`) and their simulators.

Shared by the campaign tests that start runner processes: seed identities the simulator does not
know (INSi answers 01), start a runner with its settings given as IDENTITO_ variables, count the
calls a simulator received per identity, and read back what the journal and the worklists hold.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
from lxml import etree
from sqlalchemy import insert, text

from app.db.tables import IdentityRow
from app.simulator.app import Behaviour
from app.simulator.server import SimulatorServer

ROOT = Path(__file__).resolve().parents[1]
RECSANS = "http://www.cnamts.fr/INSiRecSans"
ANSWERED = ("00", "01", "02")  # journal outcomes of a call INSi answered (not a fault)


def name_of(i: int) -> str:
    """A birth name the simulator's personas never match."""
    letters = ""
    for _ in range(5):
        i, r = divmod(i, 26)
        letters += chr(65 + r)
    return "CRASH" + letters


def seed(ctx, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Insert ``count`` PROV identities (INSi answers 01 for each); returns their ids."""
    now = datetime.now(UTC)
    rows = [{"ipp": f"C{i:08d}", "birth_name": name_of(i), "first_names": "JEAN", "first_name": "JEAN",
             "sex": "M", "birth_date": date(1950 + i % 50, 1 + i % 12, 1 + i % 28), "status": "PROV",
             "attributes": "", "source": "SM", "version": 1, "active": True, "birth_date_completed": False,
             "created_at": now, "updated_at": now} for i in range(count)]
    with ctx.engine.begin() as connection:
        connection.execute(insert(IdentityRow), rows)
        return list(connection.execute(text("SELECT id FROM identity ORDER BY id")).scalars())


def simulator(fault_rate: float = 0.0, latency_ms: float = 0.0) -> SimulatorServer:
    """A simulator answering transient faults at ``fault_rate``, keeping every request it receives."""
    behaviour = Behaviour(fault_rate=fault_rate, fault_kind="unavailable", keep_requests=1, seed=7,
                          received=deque(), latency_ms=latency_ms)
    return SimulatorServer(behaviour=behaviour).start()


def runner_env(database_url: str, sim_url: str, var_dir: Path, extra: dict[str, str] | None = None,
               **qualification: object) -> dict[str, str]:
    """Environment of a runner process; ``qualification`` are IDENTITO_QUALIFICATION__ settings."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDENTITO_")},
        "PYTHONPATH": str(ROOT),
        "IDENTITO_ENVIRONMENT": "development",
        "IDENTITO_DATABASE_URL": database_url,
        "IDENTITO_AUTH__SECRET": "dev-only-campaign-test",
        "IDENTITO_INSI__ENDPOINT": sim_url,
        "IDENTITO_INSI__SIMULATOR": "true",
        "IDENTITO_VAR_DIR": str(var_dir),
        "IDENTITO_LOG_LEVEL": "WARNING",
    }
    env.update({f"IDENTITO_QUALIFICATION__{k.upper()}": str(v) for k, v in qualification.items()})
    env.update(extra or {})
    return env


def start_runner(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """``identito <args>`` in its own process, output and errors together on stdout."""
    code = "from app.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def calls_by_name(server: SimulatorServer) -> Counter[str]:
    """How many requests the simulator received for each birth name."""
    names: Counter[str] = Counter()
    for raw in list(server.behaviour.received):
        names[etree.fromstring(raw).findtext(f".//{{{RECSANS}}}NomNaissance")] += 1
    return names


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``condition`` until true; fail with ``what`` (and the process output if it died)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            printed = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"{what}: the runner exited\n{printed[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        time.sleep(0.05)


def wait_breaker_open(server: SimulatorServer, at_least: int, process: subprocess.Popen[bytes],
                      quiet: float = 1.0, timeout: float = 30.0) -> int:
    """Wait for ``at_least`` requests then ``quiet`` seconds without any (the breaker is open)."""
    wait_until(lambda: len(server.behaviour.received) >= at_least, timeout, "first calls", process)
    seen, since = len(server.behaviour.received), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.05)
        if len(server.behaviour.received) != seen:
            seen, since = len(server.behaviour.received), time.monotonic()
    return seen


def output(process: subprocess.Popen[bytes], timeout: float) -> str:
    """Wait for the process to exit and return what it printed."""
    try:
        return process.communicate(timeout=timeout)[0].decode()
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"the runner did not exit within {timeout} s:\n"
                             f"{process.communicate()[0].decode()[-3000:]}") from None


def freeze(process: subprocess.Popen[bytes], database_url: str) -> None:
    """SIGSTOP the process at a moment it holds no lock on campaign items (so others can proceed)."""
    for _ in range(200):
        process.send_signal(signal.SIGSTOP)
        if not _items_locked(database_url):
            return
        process.send_signal(signal.SIGCONT)
        time.sleep(0.02)
    raise AssertionError("the runner always held a lock")


def _items_locked(database_url: str) -> bool:
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        connection = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            connection.close()
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        try:
            connection.execute("SELECT id FROM campaign_item FOR UPDATE NOWAIT")
            return False
        except psycopg.errors.LockNotAvailable:
            return True
        finally:
            connection.rollback()


def journal(ctx) -> tuple[Counter[int], Counter[int]]:  # type: ignore[no-untyped-def]
    """Calls per identity in the insi_call journal: (all calls, calls INSi answered)."""
    with ctx.engine.connect() as connection:
        rows = connection.execute(text("SELECT identity_id, outcome FROM insi_call")).all()
    return Counter(int(i) for i, _ in rows), Counter(int(i) for i, o in rows if o in ANSWERED)


def worklist_items(ctx) -> Counter[int]:  # type: ignore[no-untyped-def]
    """Worklist items per identity."""
    with ctx.engine.connect() as connection:
        identities = connection.execute(text("SELECT identity_id FROM worklist_item")).scalars()
        return Counter(int(i) for i in identities)


def stop_all(processes: list[subprocess.Popen[bytes]], servers: Iterable[SimulatorServer]) -> None:
    """Kill the runners still alive (thawed first) and stop the simulators."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait(10)
    for server in servers:
        server.stop()
