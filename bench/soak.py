"""Soak: the whole service under a steady mixed load for a long time, on PostgreSQL (issue 16).

Run from the repository root:

    python -m bench.soak                       # 15 minutes (1 of warm-up), about 20 requests/s
    python -m bench.soak --minutes 3 --rate 10 # a short run

It creates a fresh database (``identito_soak``), seeds it (with the match keys a production
repository has), and starts the real processes as a deployment runs them: the API under uvicorn (2
workers, bench/serve.py), ``identito mllp-listen``, ``identito relay``, ``identito worker`` (INSi
campaigns and the duplicate detection after every change) and ``identito insi-simulator`` (answering
in 50 ms from a persona file of its own: the identities it knows are seeded PROV), plus a downstream
MLLP receiver of its own that acknowledges every message with AA. Then, at a fixed rate (open
schedule per kind, not flat-out), it sends REST creates, searches (exact name + birth date, and a
3-letter prefix), reads, updates with If-Match, desk INSi qualification (retrieve by traits, then
accept with If-Match), the web search page (``POST /app/search`` with a development session), PAM
A28/A31 over a real MLLP socket to the listener, and the bare endpoint ``/_bench/constant`` (the
floor: a machine-load swing shows in it too). A retrieve campaign (auto-apply, rate-limited) over
other known identities is created through the API when the warm-up ends and runs in the worker
during the measured minutes; it must finish with every item found and applied.

Every 10 s it samples the RSS of each service process (/proc/<pid>/status VmRSS), the outbox
backlog, the messages the receiver got and the errors so far. At the end it prints and writes
bench/results/soak.json: per-kind latency p50/p95/p99 per minute, errors (any unexpected status,
any AE/AR ACK, any exception), the p99 of the last minute against the first minute after warm-up
(target <= 1.3), the RSS growth of each process after warm-up (target <= 10 %), the floor per
minute, and the other processes' CPU share during the run. Traits are random letters; only
figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import string
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psycopg
from sqlalchemy import text

from app.api.auth import issue_dev_token
from app.config import AuthSettings, development_settings
from app.domain.ins import nir_key
from app.integrations.hl7.mllp import MllpServer
from app.main import build_context
from app.services import duplicates
from app.services.context import Actor
from app.services.identities import TraitsInput, create_identity
from app.services.subscribers import SubscriberInput, create_subscriber
from bench.common import ROOT, api_server, machine, percentile, write_results
from bench.hl7_data import ack_for
from bench.identity_data import seed
from bench.identity_db import postgres_backends
from bench.machine_load import CpuShare, descendants

DATABASE = "identito_soak"
SECRET = "dev-only-identito-soak-secret-key-0123"
CSRF_MARK = 'name="csrf_token" value="'
KEEP = httpx.Limits(keepalive_expiry=600.0)
# Requests per second of each kind at --rate 20 (scaled linearly for another rate).
MIX = {"create": 2.0, "search_exact": 3.0, "search_prefix": 3.0, "read": 3.0, "update": 1.5,
       "insi": 0.5, "web_search": 2.0, "hl7": 3.5, "floor": 2.0}
INSI_LATENCY_MS = 50.0
CAMPAIGN_RATE = 2.0  # INSi calls/s of the campaign (the worker's rate limit)
NIR_OID = "1.2.250.1.213.1.4.8"
SAMPLE_SECONDS = 10.0
P99_RATIO_TARGET = 1.3
RSS_GROWTH_TARGET = 10.0


Worker = tuple[Callable[[], tuple[bool, str]], Callable[[], None]]  # (call, close) of one load thread


@dataclass
class Record:
    """What the load threads measured: (seconds since start, kind, latency s, ok), error causes."""

    started: float = field(default_factory=time.perf_counter)
    calls: list[tuple[float, str, float, bool]] = field(default_factory=list)
    causes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, at: float, seconds: float, ok: bool, cause: str = "") -> None:
        with self.lock:
            self.calls.append((at - self.started, kind, seconds, ok))
            if not ok:
                self.causes[f"{kind}: {cause}"] += 1

    def errors(self) -> int:
        with self.lock:
            return sum(self.causes.values())


def _letters(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(size))


def _traits(rng: random.Random) -> dict[str, str]:
    """Random (not real) traits; the birth date spread keeps duplicates improbable."""
    born = f"{rng.randint(1930, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return {"birth_name": _letters(rng, 8), "first_names": _letters(rng, 6), "birth_date": born,
            "sex": rng.choice("MF"), "birth_place_code": "63113"}


def personas(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Made-up persons the simulator knows (random letters), each with a NIR consistent with its
    birth (sex, year, month, place) and a unique order number."""
    persons = []
    for i in range(count):
        sex = rng.choice("MF")
        year, month, order = 1940 + i % 60, 1 + (i // 60) % 12, 1 + i // 720
        born = f"{year}-{month:02d}-{rng.randint(1, 28):02d}"
        nir13 = f"{1 if sex == 'M' else 2}{year % 100:02d}{month:02d}63113{order:03d}"
        persons.append({"id": f"soak-{i}", "source": "bench", "birth_name": _letters(rng, 9),
                        "first_names": _letters(rng, 6), "sex": sex, "birth_date": born,
                        "birth_place": "63113",
                        "ins": {"number": nir13, "key": f"{nir_key(nir13):02d}", "oid": NIR_OID}})
    return persons


def pam(event: str, control_id: str, ipp: str, traits: dict[str, str], used: str = "") -> bytes:
    """A PAM FR A28/A31 from the GAM with the given traits (used name optional)."""
    used_rep = f"~{used}^^^^^^D" if used else ""
    born = traits["birth_date"].replace("-", "")
    return ("\r".join([
        f"MSH|^~\\&|GAM|CHU-X|IDENTITO|CHU-X|20260115101010||ADT^{event}^ADT_A05|{control_id}|P|2.5^FRA^2.11"
        "|||||FRA|UNICODE UTF-8|FR||2.11^IHE_FRANCE-2.11-PAM",
        "EVN||20260115101010",
        f"PID|1||{ipp}^^^CHU-X&000897406&N^PI||{traits['birth_name']}^{traits['first_names']}^"
        f"{traits['first_names']}^^^^L{used_rep}||{born}|{traits['sex']}|||^^^^^^BDL^^63113|||||||||||||||||||||PROV",
        "PV1|1|N",
    ]) + "\r").encode()


class MllpSocket:
    """A blocking MLLP sender over one kept TCP connection (the GAM's side)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def send(self, message: bytes) -> bytes:
        self.sock.sendall(b"\x0b" + message + b"\x1c\r")
        while b"\x1c\r" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection")
            self.buffer += chunk
        frame, self.buffer = self.buffer.split(b"\x1c\r", 1)
        return frame.lstrip(b"\x0b")

    def close(self) -> None:
        self.sock.close()


def ack_code(ack: bytes) -> str:
    for segment in ack.split(b"\r"):
        if segment.startswith(b"MSA|"):
            return segment.split(b"|")[1].decode()
    return "none"


class Sink:
    """The downstream application: an MLLP server in a thread of its own, acknowledging AA."""

    def __init__(self) -> None:
        self.received = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        async def handler(message: bytes, _peer: object) -> bytes:
            self.received += 1
            return ack_for(message)

        self._stop = asyncio.Event()
        async with MllpServer(handler, "127.0.0.1", 0) as server:
            self.port = server.port
            self._ready.set()
            await self._stop.wait()

    def start(self) -> Sink:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the MLLP receiver did not start")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def worker_process(args: list[str], env: dict[str, str], ready: Callable[[], bool]) -> Iterator[int]:
    """`identito <args>` as a subprocess; yields its pid once ready() holds."""
    command = [sys.executable, "-c", "from app.cli import main; main()", *args]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while not ready():
            if process.poll() is not None:
                raise RuntimeError(f"identito {args[0]} exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"identito {args[0]} did not start within 60 s")
            time.sleep(0.2)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def rss_kib(pid: int) -> int:
    """Resident set size of a process (VmRSS), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Load:
    """One thread per kind, each on a fixed schedule (its share of the rate), own connections."""

    def __init__(self, url: str, mllp_port: int, rate: float, record: Record, samples: dict[str, list[Any]],
                 token: str, seed_value: int, without: tuple[str, ...] = ()) -> None:
        self.url, self.mllp_port, self.record, self.samples = url, mllp_port, record, samples
        self.rates = {kind: share * rate / 20.0 for kind, share in MIX.items() if kind not in without}
        self.headers = {"Authorization": f"Bearer {token}"}
        self.stop = threading.Event()
        self.created: list[int] = list(samples["ids"])
        self.known: list[int] = list(samples["desk_ids"])  # PROV identities the simulator knows
        self.hl7_ipps: list[str] = []
        self.lock = threading.Lock()
        self.seed_value = seed_value
        self.behind: Counter[str] = Counter()

    def run(self, seconds: float) -> None:
        threads = [threading.Thread(target=self._loop, args=(kind, seconds), daemon=True)
                   for kind in self.rates]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _loop(self, kind: str, seconds: float) -> None:
        rng = random.Random(f"{self.seed_value}-{kind}")
        make = getattr(self, f"_make_{kind}", self._make_rest)
        call, close = make(kind, rng)
        interval = 1.0 / self.rates[kind]
        start = time.perf_counter()
        next_at = start + rng.random() * interval
        try:
            while not self.stop.is_set():
                now = time.perf_counter()
                if now - start >= seconds:
                    break
                if next_at > now:
                    time.sleep(next_at - now)
                elif now - next_at > interval:
                    self.behind[kind] += 1  # a call took longer than the schedule allows
                began = time.perf_counter()
                try:
                    ok, cause = call()
                except Exception as exc:  # noqa: BLE001 - every exception is an error of the soak
                    ok, cause = False, type(exc).__name__
                self.record.add(kind, began, time.perf_counter() - began, ok, cause)
                next_at = max(next_at + interval, time.perf_counter() - interval)
        finally:
            close()

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=httpx.Timeout(30.0), limits=KEEP)

    def _make_rest(self, kind: str, rng: random.Random) -> Worker:
        client = self._client()
        names = self.samples["names"]

        def expect(response: httpx.Response, status: int) -> tuple[bool, str]:
            return response.status_code == status, str(response.status_code)

        def create() -> tuple[bool, str]:
            response = client.post("/identities", json=_traits(rng))
            if response.status_code == 201:
                with self.lock:
                    self.created.append(int(response.json()["id"]))
            return expect(response, 201)

        def search_exact() -> tuple[bool, str]:
            name, born = names[rng.randrange(len(names))]
            return expect(client.get("/identities", params={"birth_name": name, "exact": "true",
                                                            "birth_date": born}), 200)

        def search_prefix() -> tuple[bool, str]:
            name, _ = names[rng.randrange(len(names))]
            return expect(client.get("/identities", params={"birth_name": name[:3]}), 200)

        def pick() -> int:
            with self.lock:
                return self.created[rng.randrange(len(self.created))]

        def read() -> tuple[bool, str]:
            return expect(client.get(f"/identities/{pick()}"), 200)

        def update() -> tuple[bool, str]:
            identity_id = pick()
            current = client.get(f"/identities/{identity_id}")
            if current.status_code != 200:
                return False, f"read {current.status_code}"
            response = client.patch(f"/identities/{identity_id}", json={"used_name": _letters(rng, 7)},
                                    headers={"If-Match": current.headers["ETag"]})
            return expect(response, 200)

        def floor() -> tuple[bool, str]:
            return expect(client.get("/_bench/constant"), 200)

        calls = {"create": create, "search_exact": search_exact, "search_prefix": search_prefix,
                 "read": read, "update": update, "floor": floor}
        return calls[kind], client.close

    def _make_insi(self, _kind: str, _rng: random.Random) -> Worker:
        """Desk qualification: retrieve by traits from INSi (the simulator, 50 ms), then accept the
        proposal with If-Match: the identity becomes RECUP with its INS (one call of the soak)."""
        client = self._client()

        def call() -> tuple[bool, str]:
            with self.lock:
                if not self.known:
                    return False, "no known identity left"
                identity_id = self.known.pop()
            found = client.post(f"/identities/{identity_id}/insi/retrieve", json={"by": "traits"})
            if found.status_code != 200 or found.json()["outcome"] != "found":
                return False, f"retrieve {found.status_code} {found.json().get('outcome', '')}"
            answer = found.json()
            accepted = client.post(f"/identities/{identity_id}/insi/accept",
                                   json={"proposal_id": answer["proposal_id"]},
                                   headers={"If-Match": f'"{answer["identity_version"]}"'})
            ok = accepted.status_code == 200 and accepted.json()["status"] == "RECUP"
            return ok, f"accept {accepted.status_code}"

        return call, client.close

    def _make_web_search(self, _kind: str, rng: random.Random) -> Worker:
        client = httpx.Client(base_url=self.url, timeout=httpx.Timeout(30.0), limits=KEEP)
        page = client.get("/app/signin")
        signed = client.post("/app/signin/dev", data={"csrf_token": _csrf(page.text), "user": "soak-agent",
                                                      "roles": "admission"})
        if signed.status_code != 303:
            raise RuntimeError(f"the development sign-in answered {signed.status_code}")
        csrf = _csrf(client.get("/app/").text)
        names = self.samples["names"]

        def call() -> tuple[bool, str]:
            name, _ = names[rng.randrange(len(names))]
            response = client.post("/app/search", data={"name": name[:4], "csrf_token": csrf},
                                   headers={"HX-Request": "true"})
            return response.status_code == 200, str(response.status_code)

        return call, client.close

    def _make_hl7(self, _kind: str, rng: random.Random) -> Worker:
        sender = MllpSocket(self.mllp_port)
        counter = iter(range(10**9))

        def call() -> tuple[bool, str]:
            n = next(counter)
            if n % 2 == 0 or not self.hl7_ipps:  # A28: a new identity from the GAM
                ipp = f"SOAK{n:08d}"
                traits = _traits(rng)
                message = pam("A28", f"SOAK-{n}", ipp, traits)
                self.hl7_ipps.append(ipp)
                self.samples.setdefault("hl7_traits", {})[ipp] = traits
            else:  # A31: an update of one of them (a used name)
                ipp = self.hl7_ipps[rng.randrange(len(self.hl7_ipps))]
                message = pam("A31", f"SOAK-{n}", ipp, self.samples["hl7_traits"][ipp], _letters(rng, 6))
            code = ack_code(sender.send(message))
            return code in ("AA", "CA"), f"ACK {code}"

        return call, sender.close


def _csrf(page: str) -> str:
    start = page.find(CSRF_MARK)
    if start < 0:
        raise RuntimeError("no CSRF token on the page")
    start += len(CSRF_MARK)
    return page[start:page.index('"', start)]


def outbox_state(raw_url: str) -> dict[str, int]:
    with psycopg.connect(raw_url, autocommit=True) as conn:
        rows = conn.execute("SELECT state, count(*) FROM outbox_message GROUP BY state").fetchall()
    return {str(state): int(count) for state, count in rows}


def prepare(raw_admin: str, url: str, raw_url: str, identities: int, sink_port: int,
            known: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """A fresh migrated database, seeded and keyed for duplicate detection, with the identities the
    simulator knows (PROV, created through the service) and one subscriber (the bench's receiver)."""
    from app.db.migrations import upgrade

    with psycopg.connect(raw_admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    upgrade(url)
    ctx = build_context(development_settings(database_url=url, log_level="WARNING"))
    try:
        seed(ctx.engine, identities, batch_size=5000)
        duplicates.rebuild_keys(ctx, Actor("soak", frozenset({"identitovigilance"}), kind="job"))
        desk = Actor("soak", frozenset({"admission"}))
        known_ids = []
        for n, person in enumerate(known):
            traits = TraitsInput(person["birth_name"], person["first_names"], person["birth_date"],
                                 person["sex"], birth_place_code=person["birth_place"])
            known_ids.append(create_identity(ctx, desk, traits, confirm_new=True).id)
            if n % 200 == 199:
                duplicates.check_all_pending(ctx)
        duplicates.check_all_pending(ctx)
        create_subscriber(ctx, Actor("soak", frozenset({"admin"})),
                          SubscriberInput("SINK", "127.0.0.1", sink_port, "SINK", "X"))
        with ctx.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
            names = conn.execute(text(
                "SELECT birth_name, birth_date FROM identity ORDER BY random() LIMIT 2000")).all()
            ids = conn.execute(text("SELECT id FROM identity ORDER BY random() LIMIT 2000")).scalars().all()
    finally:
        ctx.engine.dispose()
    return {"names": [(str(n), d.isoformat()) for n, d in names], "ids": list(ids), "known_ids": known_ids}


def per_minute(record: Record, minutes: int) -> dict[str, list[dict[str, float | int]]]:
    """Per kind, per minute: count, errors, p50/p95/p99 (ms)."""
    grouped: dict[tuple[str, int], list[tuple[float, bool]]] = {}
    for at, kind, seconds, ok in record.calls:
        grouped.setdefault((kind, int(at // 60)), []).append((seconds, ok))
    table: dict[str, list[dict[str, float | int]]] = {}
    for kind in sorted({kind for _, kind, _, _ in record.calls}, key=list(MIX).index):
        rows = []
        for minute in range(minutes):
            calls = grouped.get((kind, minute), [])
            values = sorted(s * 1000 for s, _ in calls)
            rows.append({"minute": minute + 1, "calls": len(values), "errors": sum(not ok for _, ok in calls),
                         "p50_ms": round(percentile(values, 0.5), 2),
                         "p95_ms": round(percentile(values, 0.95), 2),
                         "p99_ms": round(percentile(values, 0.99), 2)})
        table[kind] = rows
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="load duration, warm-up included")
    parser.add_argument("--warmup-minutes", type=int, default=1)
    parser.add_argument("--rate", type=float, default=20.0, help="requests + messages per second, all kinds")
    parser.add_argument("--identities", type=int, default=20_000, help="identities seeded before the load")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--without", action="append", default=[], choices=sorted(MIX),
                        help="leave a kind of call out (repeatable), e.g. to find what makes memory grow")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    minutes = max(1, int(args.minutes * 60) // 60)
    seconds = args.minutes * 60
    raw_url = args.pg.rsplit("/", 1)[0] + f"/{DATABASE}"
    url = raw_url.replace("postgresql://", "postgresql+psycopg://")
    desk_calls = int(MIX["insi"] * args.rate / 20.0 * seconds) + 10 if "insi" not in args.without else 0
    campaign_items = max(10, int(CAMPAIGN_RATE * (seconds - 60 * args.warmup_minutes) * 0.6))
    known = personas(desk_calls + campaign_items, random.Random(f"{args.seed}-personas"))
    persona_file = Path(f"/tmp/identito-soak-personas-{os.getpid()}.json")  # noqa: S108 - made-up persons
    persona_file.write_text(json.dumps({"description": "bench/soak.py", "persons": known}), encoding="utf-8")
    sink = Sink().start()
    print(f"preparing {DATABASE}: {args.identities:,} identities and {len(known):,} the simulator knows ...",
          flush=True)
    try:
        samples = prepare(args.pg, url, raw_url, args.identities, sink.port, known)
        samples["desk_ids"] = samples["known_ids"][:desk_calls]
        samples["campaign_ids"] = samples["known_ids"][desk_calls:]
        results = soak(args, url, raw_url, sink, samples, seconds, minutes, persona_file)
    finally:
        sink.stop()
        persona_file.unlink(missing_ok=True)
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    path = write_results("soak", results, args.output)
    print(f"written {path}")
    return 0 if results["verdict"]["all_met"] else 1


def soak(args: argparse.Namespace, url: str, raw_url: str, sink: Sink, samples: dict[str, list[Any]],
         seconds: float, minutes: int, persona_file: Path) -> dict[str, Any]:
    mllp_port, insi_port = _free_port(), _free_port()
    env = {"IDENTITO_ENVIRONMENT": "development", "IDENTITO_AUTH__SECRET": SECRET,
           "IDENTITO_AUTH__DEV_TOKENS": "true", "IDENTITO_DATABASE_URL": url, "IDENTITO_LOG_LEVEL": "WARNING",
           "IDENTITO_HL7__LISTEN_HOST": "127.0.0.1", "IDENTITO_HL7__LISTEN_PORT": str(mllp_port),
           "IDENTITO_INSI__SIMULATOR": "true", "IDENTITO_INSI__ENDPOINT": f"http://127.0.0.1:{insi_port}/lps"}
    auth = AuthSettings(secret=SECRET, dev_tokens=True)
    token = issue_dev_token(auth, "soak-agent", ["admission"])
    cell = {"Authorization": f"Bearer {issue_dev_token(auth, 'soak-cell', ['identitovigilance'])}"}
    simulator_args = ["insi-simulator", "--port", str(insi_port), "--personas", str(persona_file),
                      "--latency-ms", f"{INSI_LATENCY_MS:g}"]
    with worker_process(simulator_args, env, lambda: _port_open(insi_port)) as simulator, \
            api_server(env, workers=args.workers) as api_url, \
            worker_process(["mllp-listen"], env, lambda: _port_open(mllp_port)) as listener, \
            worker_process(["relay"], env, lambda: True) as relay, \
            worker_process(["worker"], env, lambda: True) as jobs:
        api_pid = _api_pid()
        processes = {"api master": api_pid, **_api_children(api_pid), "mllp-listen": listener, "relay": relay,
                     "worker": jobs, "insi-simulator": simulator}
        for name, pid in list(processes.items()):
            if name == "mllp-listen":
                processes.update({f"mllp-listen child {i + 1}": p for i, p in enumerate(descendants(pid))})
        record = Record()
        load = Load(api_url, mllp_port, args.rate, record, samples, token, args.seed, tuple(args.without))
        cpu = CpuShare(lambda: [os.getpid(), *descendants(os.getpid()), *postgres_backends(DATABASE)])
        cpu.start()
        runner = threading.Thread(target=load.run, args=(seconds,), daemon=True)
        record.started = time.perf_counter()
        runner.start()
        timeline = []
        campaign: dict[str, Any] = {}
        print(f"load: {args.rate:g}/s for {args.minutes:g} min; sampling every {SAMPLE_SECONDS:g} s",
              flush=True)
        while runner.is_alive():
            runner.join(SAMPLE_SECONDS)
            if not campaign and time.perf_counter() - record.started >= 60 * args.warmup_minutes:
                campaign = _start_campaign(api_url, cell, samples["campaign_ids"])
            elif campaign:
                campaign = _campaign_state(api_url, cell, campaign["id"])
            state = outbox_state(raw_url)
            sample = {"t_s": round(time.perf_counter() - record.started, 1),
                      "rss_kib": {name: rss_kib(pid) for name, pid in processes.items()},
                      "outbox_backlog": sum(v for k, v in state.items() if k != "done"),
                      "outbox_dead": state.get("dead", 0), "delivered_to_receiver": sink.received,
                      "errors": record.errors(), "calls": len(record.calls),
                      "campaign_done": campaign.get("done", 0)}
            timeline.append(sample)
            rss = " ".join(f"{n.replace(' ', '_')}={v // 1024}M"
                           for n, v in sample["rss_kib"].items())
            print(f"t={sample['t_s']:>6.0f}s calls={sample['calls']:>6} errors={sample['errors']} "
                  f"backlog={sample['outbox_backlog']} delivered={sink.received} {rss}", flush=True)
        shares = cpu.stop()
        campaign = _campaign_finish(api_url, cell, campaign, 120.0) if campaign else campaign
        drained_in = _drain(raw_url, 60.0)
        final = outbox_state(raw_url)
    return summarise(args, record, timeline, shares, final, drained_in, sink.received, minutes, load,
                     campaign)


def _start_campaign(api_url: str, cell: dict[str, str], ids: list[int]) -> dict[str, Any]:
    """A retrieve campaign over identities the simulator knows, auto-apply, at CAMPAIGN_RATE."""
    body = {"name": "soak", "operation": "retrieve", "selection": {"ids": ids}, "auto_apply": True,
            "rate_limit": CAMPAIGN_RATE}
    response = httpx.post(f"{api_url}/campaigns", json=body, headers=cell, timeout=30.0)
    response.raise_for_status()
    return dict(response.json())


def _campaign_state(api_url: str, cell: dict[str, str], campaign_id: int) -> dict[str, Any]:
    response = httpx.get(f"{api_url}/campaigns/{campaign_id}", headers=cell, timeout=30.0)
    response.raise_for_status()
    return dict(response.json())


def _campaign_finish(api_url: str, cell: dict[str, str], campaign: dict[str, Any], timeout: float
                     ) -> dict[str, Any]:
    """The campaign once finished (it runs past the load when the worker is behind), or as it is."""
    deadline = time.monotonic() + timeout
    while True:
        campaign = _campaign_state(api_url, cell, campaign["id"])
        if campaign["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return campaign
        time.sleep(1.0)


def _api_pid() -> int:
    """The uvicorn master: the child of this process running bench.serve."""
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"bench.serve" in handle.read():
                    return pid
        except OSError:
            continue
    raise RuntimeError("the API server process was not found")


def _api_children(api_pid: int) -> dict[str, int]:
    """uvicorn's worker processes by name (the multiprocessing resource tracker named as such)."""
    named, workers = {}, 0
    for pid in sorted(descendants(api_pid)):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                tracker = b"resource_tracker" in handle.read()
        except OSError:
            continue
        if tracker:
            named["api resource tracker"] = pid
        else:
            workers += 1
            named[f"api worker {workers}"] = pid
    return named


def _drain(raw_url: str, timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        state = outbox_state(raw_url)
        if sum(v for k, v in state.items() if k not in ("done", "dead")) == 0:
            return round(time.monotonic() - started, 1)
        time.sleep(0.5)
    return None


def last_vs_median(table: dict[str, list[dict[str, float | int]]], first: int, last: int
                   ) -> dict[str, dict[str, float | None]]:
    """Per kind: p99 of the last minute against the median of the minutes' p99 after warm-up (a
    first minute that the machine's load spoiled does not make the ratio meaningless)."""
    drift: dict[str, dict[str, float | None]] = {}
    for kind, rows in table.items():
        median = statistics.median(float(r["p99_ms"]) for r in rows[first:last + 1])
        end = float(rows[last]["p99_ms"])
        drift[kind] = {"median_p99_ms": round(median, 2), "last_p99_ms": end,
                       "ratio": round(end / median, 2) if median else None}
    return drift


def summarise(args: argparse.Namespace, record: Record, timeline: list[dict[str, Any]],
              shares: dict[str, float], final: dict[str, int], drained_in: float | None, received: int,
              minutes: int, load: Load, campaign: dict[str, Any]) -> dict[str, Any]:
    table = per_minute(record, minutes)
    first, last = args.warmup_minutes, minutes - 1  # minute indexes (0-based)
    ratios = {}
    for kind, rows in table.items():
        a, b = rows[first]["p99_ms"], rows[last]["p99_ms"]
        ratios[kind] = {"first_p99_ms": a, "last_p99_ms": b, "ratio": round(b / a, 2) if a else None}
    drift = last_vs_median(table, first, last)
    warm = [s for s in timeline if s["t_s"] >= args.warmup_minutes * 60]
    growth = {}
    if warm:
        for name in warm[0]["rss_kib"]:
            start, end = warm[0]["rss_kib"][name], warm[-1]["rss_kib"][name]
            peak = max(s["rss_kib"][name] for s in warm)
            growth[name] = {"after_warmup_mib": round(start / 1024, 1), "end_mib": round(end / 1024, 1),
                            "peak_mib": round(peak / 1024, 1),
                            "growth_percent": round(100 * (end - start) / start, 1) if start else None}
    errors = record.errors()
    campaign_ok = bool(campaign) and campaign["status"] == "done" and campaign["done"] == campaign["total"]
    ratio_ok = all(r["ratio"] is not None and r["ratio"] <= P99_RATIO_TARGET
                   for k, r in ratios.items() if k != "floor")
    rss_ok = all(g["growth_percent"] is not None and g["growth_percent"] <= RSS_GROWTH_TARGET
                 for g in growth.values())
    results = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "minutes": args.minutes, "warmup_minutes": args.warmup_minutes, "rate_per_s": args.rate,
        "rates_per_kind": {k: round(v, 2) for k, v in load.rates.items()},
        "seeded_identities": args.identities, "api_workers": args.workers,
        "calls": len(record.calls), "errors": errors, "error_causes": dict(record.causes),
        "schedule_slips": dict(load.behind),
        "p99_last_vs_first_after_warmup": ratios,
        "p99_last_vs_median_after_warmup": drift,
        "rss_after_warmup": growth,
        "cpu": shares,
        "outbox_final": final, "outbox_drained_after_load_s": drained_in,
        "delivered_to_receiver": received, "hl7_identities_created": len(load.hl7_ipps),
        "campaign": {k: campaign.get(k) for k in (
            "id", "status", "total", "done", "outcomes", "rate_per_second", "rate_limit", "created_at",
            "finished_at")},
        "per_minute": table,
        "timeline": timeline,
        "verdict": {"errors_zero": errors == 0, "p99_ratio_within_1_3": ratio_ok,
                    "rss_growth_within_10": rss_ok, "campaign_completed": campaign_ok,
                    "all_met": (errors == 0 and ratio_ok and rss_ok and campaign_ok
                                and drained_in is not None)},
    }
    report(results)
    return results


def report(results: dict[str, Any]) -> None:
    print(f"\ncalls {results['calls']:,}, errors {results['errors']} {results['error_causes'] or ''}")
    print(f"{'kind':14} {'p99 first':>10} {'p99 last':>10} {'ratio':>6}"
          "   (minutes after warm-up; target <= 1.3)")
    for kind, r in results["p99_last_vs_first_after_warmup"].items():
        print(f"{kind:14} {r['first_p99_ms']:>9.1f}ms {r['last_p99_ms']:>9.1f}ms {r['ratio'] or 0:>6.2f}")
    print("p99 last minute / median p99 of the minutes after warm-up: " + ", ".join(
        f"{kind} {r['ratio']}" for kind, r in results["p99_last_vs_median_after_warmup"].items()))
    print("floor (/_bench/constant) p50/p99 per minute: " + ", ".join(
        f"{row['p50_ms']:.1f}/{row['p99_ms']:.1f}" for row in results["per_minute"]["floor"]))
    print(f"{'process':18} {'RSS warm':>9} {'end':>8} {'peak':>8} {'growth':>7}   (target <= 10 %)")
    for name, g in results["rss_after_warmup"].items():
        print(f"{name:18} {g['after_warmup_mib']:>8.1f}M {g['end_mib']:>7.1f}M {g['peak_mib']:>7.1f}M "
              f"{g['growth_percent'] if g['growth_percent'] is not None else 0:>6.1f}%")
    cpu = results["cpu"]
    print(f"CPU: machine {cpu['machine_busy_percent']} %, soak {cpu['benchmark_percent']} %, "
          f"others {cpu['other_processes_percent']} %")
    print(f"outbox after the load: {results['outbox_final']}, "
          f"drained in {results['outbox_drained_after_load_s']} s; "
          f"receiver got {results['delivered_to_receiver']}; schedule slips {results['schedule_slips']}")
    c = results["campaign"]
    print(f"campaign {c['id']}: {c['status']}, {c['done']}/{c['total']} items, outcomes {c['outcomes']}, "
          f"{c['rate_per_second']} calls/s (limit {c['rate_limit']})")
    print(f"verdict: {results['verdict']}")


if __name__ == "__main__":
    raise SystemExit(main())
