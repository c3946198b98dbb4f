"""The duplicate benchmark's database side: a fresh PostgreSQL database per size, the population loaded
as real identities through the product's bulk path, the product's own commands run and measured.

- ``load_population``: every record becomes an identity through ``IdentityRepository.add_many``
  (5,000 per commit, the bulk path of imports and of ``bench/identities.py``), without match keys;
- ``run_cli``: an ``identito ...`` command (``duplicates keys``, ``duplicates scan``) in a child process,
  exactly what an operator runs, with its wall time, its CPU and its children's (the scan's forked
  scoring processes), its peak resident memory, and the CPU of the PostgreSQL backends serving it;
- ``read_pairs``: the pairs the scan stored, back as record ids for ``bench.dup_eval``.

Nothing here prints or logs a trait.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.db.engine import make_engine
from app.db.identities import IdentityRepository, NewIdentity
from app.db.migrations import upgrade
from app.domain.errors import InvalidTrait
from app.domain.ins import Ins, InsRecord
from app.domain.status import IdentityState
from bench.common import ROOT
from bench.dup_eval import Prediction
from bench.identity_db import postgres_backends
from bench.machine_load import TICKS, _process_ticks, _system_ticks
from bench.population import Record, read_records, to_traits

SECRET = "dev-only-identito-benchmark-secret-key"  # development tokens for the benchmark's API server
TODAY = date(2026, 1, 1)  # bench.population's DEFAULT_TODAY: the population's ages are relative to it
# Runs an ``identito`` command and writes its own and its children's resource usage to $BENCH_RUSAGE at
# exit (the scan's scoring processes are forked, waited for, and so counted in RUSAGE_CHILDREN).
_CLI_WRAPPER = """
import atexit, json, os, resource, sys
def _usage():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.environ["BENCH_RUSAGE"], "w") as out:
        json.dump({"self_cpu_s": me.ru_utime + me.ru_stime, "children_cpu_s": kids.ru_utime + kids.ru_stime,
                   "peak_rss_mib": me.ru_maxrss / 1024, "children_peak_rss_mib": kids.ru_maxrss / 1024}, out)
atexit.register(_usage)
_os_exit = os._exit
def _exit(code):  # a command that leaves with os._exit (identito duplicates scan) skips atexit
    _usage()
    _os_exit(code)
os._exit = _exit
sys.argv = ["identito", *sys.argv[1:]]
from app.cli import main
main()
"""


def db_url(base: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``base``."""
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def _admin(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    return admin, str(parsed.database)


def create_database(url: str) -> None:
    """Drop (if left by an earlier run) and create the database, then migrate it to the current schema."""
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(url)


def drop_database(url: str) -> None:
    """Drop the database (its connections are closed by force)."""
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def vacuum_analyse(url: str, tables: tuple[str, ...], *, checkpoint: bool = False) -> None:
    """Planner statistics and visibility map after a bulk load (what autovacuum would do later);
    with ``checkpoint``, the load's dirty pages written out too, so that the next measured step
    does not pay for them."""
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        for table in tables:
            conn.execute(f"VACUUM (ANALYZE) {table}")
        if checkpoint:
            conn.execute("CHECKPOINT")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class LoadReport:
    """The population as identities: the id map, what was left out, how long it took."""

    identity_to_record: array  # type: ignore[type-arg]  # index: identity id, value: record id (0: none)
    identities: int = 0
    ins_rows: int = 0
    skipped: int = 0  # records the domain refused (InvalidTrait)
    ins_kept_off: int = 0  # second holders of a shared matricule: the INS is left off them
    seconds: float = 0.0
    database_seconds: float = 0.0

    def record_id(self, identity_id: int) -> int:
        """The population record an identity was loaded from."""
        return self.identity_to_record[identity_id] if identity_id < len(self.identity_to_record) else 0


def _new_identity(record: Record, now: datetime, matricules: set[str], report: LoadReport) -> NewIdentity:
    """A record as the bulk path takes it: an INSi-qualified identity when it holds an INS."""
    ins: tuple[InsRecord, ...] = ()
    if record.ins_matricule and record.ins_oid:
        if record.ins_matricule in matricules:
            report.ins_kept_off += 1  # Identito refuses a second active holder (shared_nir negatives)
        else:
            matricules.add(record.ins_matricule)
            ins = (InsRecord(Ins.of(record.ins_matricule, record.ins_oid), True, "INSI"),)
    state = IdentityState(insi=bool(ins), document=bool(ins))
    return NewIdentity(to_traits(record, TODAY), state, ipp=record.ipp, source="SM", ins_records=ins,
                       insi_at=now if ins else None)


def load_population(url: str, path: Path, *, batch_size: int = 5000) -> LoadReport:
    """Insert every record through ``IdentityRepository.add_many`` (one commit per batch), without
    match keys (``identito duplicates keys`` builds them next, timed on its own)."""
    report = LoadReport(array("l"))
    matricules: set[str] = set()
    engine = make_engine(url, pool_size=1)
    started = time.perf_counter()
    try:
        with Session(engine) as session:
            repo = IdentityRepository(session)
            batch: list[tuple[int, NewIdentity]] = []
            for record in read_records(path):
                try:
                    new = _new_identity(record, datetime.now(UTC), matricules, report)
                    batch.append((record.record_id, new))
                except InvalidTrait:
                    report.skipped += 1
                if len(batch) == batch_size:
                    _flush(repo, session, batch, report)
            _flush(repo, session, batch, report)
    finally:
        engine.dispose()
    report.seconds = time.perf_counter() - started
    return report


def _flush(repo: IdentityRepository, session: Session, batch: list[tuple[int, NewIdentity]],
           report: LoadReport) -> None:
    if not batch:
        return
    begun = time.perf_counter()
    ids = repo.add_many([new for _, new in batch], datetime.now(UTC), match_keys=False)
    session.commit()
    report.database_seconds += time.perf_counter() - begun
    mapping = report.identity_to_record
    for identity_id, (record_id, new) in zip(ids, batch, strict=True):
        if identity_id >= len(mapping):
            mapping.extend([0] * (identity_id + 1 - len(mapping)))
        mapping[identity_id] = record_id
        report.ins_rows += len(new.ins_records)
    report.identities += len(batch)
    batch.clear()


@dataclass
class Measured:
    """One command or step: wall and CPU seconds, peak memory, the machine's load meanwhile."""

    wall_s: float
    cpu_s: float  # the process and its children (client side)
    database_cpu_s: float = 0.0  # the PostgreSQL backends serving the database (sampled)
    peak_rss_mib: float = 0.0  # the main process
    children_peak_rss_mib: float = 0.0  # its largest child (the scan's scoring processes)
    others_cpu_percent: float = 0.0  # CPU used by everyone else, share of the machine's capacity
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute, before and after
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Rounded values for the JSON results."""
        out = {k: round(v, 2) if isinstance(v, float) else v
               for k, v in self.__dict__.items() if k != "extra"}
        out["load_average"] = [round(x, 2) for x in self.load_average]
        return {**out, **self.extra}


class _BackendSampler(threading.Thread):
    """Samples the CPU ticks of the PostgreSQL backends of one database while a command runs (a
    backend's last sample before it exits is what is counted)."""

    def __init__(self, database: str, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.database, self.interval = database, interval
        # Backends already there count from now; those started later, from their start.
        self.first: dict[int, int] = {pid: _process_ticks(pid) for pid in postgres_backends(database)}
        self.last: dict[int, int] = dict(self.first)
        self.done = threading.Event()

    def sample(self) -> None:
        for pid in postgres_backends(self.database):
            self.first.setdefault(pid, 0)
            self.last[pid] = max(_process_ticks(pid), self.last.get(pid, 0))

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()

    def stop(self) -> float:
        self.done.set()
        self.join()
        self.sample()
        return sum(self.last[p] - self.first[p] for p in self.last) / TICKS


class Span:
    """Wall time, the machine's busy ticks and the load average over a span; ``finish`` turns the
    span's own CPU into the share everybody else took."""

    def __init__(self) -> None:
        self.load_before = os.getloadavg()[0]
        self.busy, self.total = _system_ticks()
        self.started = time.perf_counter()

    def finish(self, own_cpu_s: float, *, cpu_s: float, **values: Any) -> Measured:
        """A measurement whose own CPU (client, children and database) was ``own_cpu_s``."""
        wall = time.perf_counter() - self.started
        busy, total = _system_ticks()
        busy_s, capacity_s = (busy - self.busy) / TICKS, max(1e-9, (total - self.total) / TICKS)
        others = max(0.0, busy_s - own_cpu_s) / capacity_s
        return Measured(wall_s=wall, cpu_s=cpu_s, others_cpu_percent=100 * others,
                        load_average=(self.load_before, os.getloadavg()[0]), **values)


def cli_env(url: str) -> dict[str, str]:
    """The environment of an ``identito`` command (and of the API server) on the database."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "IDENTITO_ENVIRONMENT": "development",
        "IDENTITO_DATABASE_URL": url,
        "IDENTITO_LOG_LEVEL": "WARNING",
        "IDENTITO_AUTH__SECRET": SECRET,
        "IDENTITO_AUTH__DEV_TOKENS": "true",
    }


def run_cli(url: str, args: list[str], log_path: Path) -> Measured:
    """Run ``identito ARGS`` in a child process on the database; its output goes to ``log_path``."""
    usage_path = log_path.with_suffix(".rusage.json")
    env = {**cli_env(url), "BENCH_RUSAGE": str(usage_path)}
    sampler = _BackendSampler(str(make_url(url).database))
    sampler.start()
    span = Span()
    with log_path.open("w", encoding="utf-8") as log:
        completed = subprocess.run([sys.executable, "-c", _CLI_WRAPPER, *args], cwd=ROOT, env=env,  # noqa: S603
                                   stdout=log, stderr=subprocess.STDOUT, check=False)
    database_cpu = sampler.stop()
    if completed.returncode != 0:
        raise RuntimeError(f"identito {' '.join(args)} exited with {completed.returncode} (see {log_path})")
    usage = json.loads(usage_path.read_text(encoding="utf-8"))
    cpu = usage["self_cpu_s"] + usage["children_cpu_s"]
    return span.finish(cpu + database_cpu, cpu_s=cpu, database_cpu_s=database_cpu,
                       peak_rss_mib=usage["peak_rss_mib"],
                       children_peak_rss_mib=usage["children_peak_rss_mib"])


def own_rusage() -> tuple[float, float]:
    """This process's CPU seconds and peak resident memory (MiB)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime, me.ru_maxrss / 1024


def loaded_map(url: str) -> LoadReport:
    """The id map of a database loaded by an earlier run (``--keep-databases``): the IPP of an identity
    is its record id on 10 digits (``bench.population.Record.ipp``)."""
    report = LoadReport(array("l"))
    with psycopg.connect(_libpq(url)) as conn:
        top = conn.execute("SELECT max(id) FROM identity").fetchone()
        report.identity_to_record.extend([0] * (int(top[0] or 0) + 1 if top else 1))
        for identity_id, ipp in conn.execute("SELECT id, ipp FROM identity"):
            report.identity_to_record[identity_id] = int(ipp)
            report.identities += 1
    return report


def last_scan(url: str) -> dict[str, Any]:
    """The latest scan's stored state: counters, figures, start and end (run by the product)."""
    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute(
            "SELECT id, status, identities_total, comparisons, pairs_found, pairs_alert, figures, "
            "started_at, finished_at FROM duplicate_scan ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        raise RuntimeError("no scan recorded")
    figures = row[6] if isinstance(row[6], dict) else json.loads(row[6] or "{}")
    seconds = (row[8] - row[7]).total_seconds() if row[7] and row[8] else None
    return {"id": row[0], "status": row[1], "identities": row[2], "comparisons": row[3],
            "pairs_found": row[4], "pairs_alert": row[5], "job_seconds": seconds, "figures": figures}


def read_pairs(url: str, load: LoadReport) -> list[Prediction]:
    """Every pair the scan stored, as population record ids with the product's score and grade."""
    out: list[Prediction] = []
    with psycopg.connect(_libpq(url)) as conn, conn.cursor(name="pairs") as cursor:
        cursor.itersize = 50_000
        cursor.execute("SELECT low_id, high_id, score, grade FROM duplicate_pair")
        for low, high, score, grade in cursor:
            left, right = load.record_id(low), load.record_id(high)
            if left and right:
                out.append(Prediction(left, right, float(score), grade))
    return out


def table_sizes(url: str) -> dict[str, str]:
    """Sizes of the tables the scan reads and writes (with their indexes)."""
    with psycopg.connect(_libpq(url)) as conn:
        return {name: conn.execute("SELECT pg_size_pretty(pg_total_relation_size(%s))", (name,)).fetchone()[0]  # type: ignore[index]
                for name in ("identity", "ins", "identity_match_key", "duplicate_pair", "worklist_item")}
