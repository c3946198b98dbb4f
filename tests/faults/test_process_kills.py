"""`kill -9` of the API process and of the replay, real processes and sockets, on PostgreSQL.

The API runs as `identito serve` (uvicorn) on a free port; REST clients create and edit
identities (PATCH with If-Match) from a few threads while it is SIGKILLed at random points (fixed
seed) and restarted. The replay runs in `identito relay`: an INS-ready switch starts the replay of
the subscriber's QUAL identities, and the relay is SIGKILLed while the job runs, with live changes
made during it. The checker (tests/faults/checker.py) proves what each scenario must.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text

from app.api.auth import issue_dev_token
from app.config import AuthSettings
from app.domain.ins import nir_key
from app.integrations.hl7.parse import parse_pam
from app.services import identities
from app.services.subscribers import switch_ins_ready
from tests.faults.checker import Figures, check_delivery, check_history, outbox_open
from tests.faults.harness import Service, free_port, wait_for
from tests.faults.test_hl7_faults import DRAIN_SECONDS, _stop
from tests.integration.hl7_support import ADMIN, DESK, qualify, rename, subscriber
from tests.integration.test_hl7_crash import ThreadedReceiver

SECRET = "dev-only-campaign-test"  # tests.campaign_processes.runner_env gives it to the processes


def _letters(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n))


@dataclass
class RestClient:
    """One desk client: creates identities and edits its own with If-Match, never retrying a
    write that got no answer (it reads the identity again before its next edit)."""

    base: str
    token: str
    seed: int
    tag: str
    stop: threading.Event
    attempted: dict[str, list[str]] = field(default_factory=dict)  # ipp -> used names written, in order
    answered: list[tuple[str, int, int, str]] = field(default_factory=list)  # ipp, id, version, used
    unanswered: int = 0  # writes sent that got no answer (in doubt)
    refused: int = 0
    down: int = 0  # requests refused at connect time (the API not listening): never sent
    ids: dict[str, int] = field(default_factory=dict)
    failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.failure = exc

    def _run(self) -> None:
        rng = random.Random(self.seed)
        headers = {"Authorization": f"Bearer {self.token}"}
        versions: dict[str, int | None] = {}  # ipp -> version last answered (None: unknown)
        n = 0
        with httpx.Client(base_url=self.base, headers=headers, timeout=2.0) as client:
            while not self.stop.is_set():
                n += 1
                used = "NOM" + _letters(rng, 6)
                pending: tuple[str, str] | None = None
                try:
                    if not self.ids or rng.random() < 0.3:
                        ipp = f"{self.tag}{n:05d}"
                        self.attempted[ipp] = [""]
                        pending = ("create", ipp)
                        response = client.post("/identities", json={
                            "birth_name": _letters(rng), "first_names": _letters(rng, 6),
                            "birth_date": f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-"
                                          f"{rng.randint(1, 28):02d}",
                            "sex": rng.choice("MF"), "ipp": ipp})
                        if response.status_code == 201:
                            body = response.json()
                            self.ids[ipp] = body["id"]
                            versions[ipp] = int(response.headers["ETag"].strip('"'))
                            self.answered.append((ipp, body["id"], versions[ipp], ""))
                        else:
                            self.refused += 1
                        continue
                    ipp = rng.choice(sorted(self.ids))
                    if versions.get(ipp) is None:
                        read = client.get(f"/identities/{self.ids[ipp]}")
                        read.raise_for_status()
                        versions[ipp] = int(read.headers["ETag"].strip('"'))
                    self.attempted[ipp].append(used)
                    pending = ("patch", ipp)
                    response = client.patch(f"/identities/{self.ids[ipp]}", json={"used_name": used},
                                            headers={"If-Match": f'"{versions[ipp]}"'})
                    if response.status_code == 200:
                        versions[ipp] = int(response.headers["ETag"].strip('"'))
                        self.answered.append((ipp, self.ids[ipp], versions[ipp], used))
                    else:
                        self.refused += 1
                        versions[ipp] = None
                except httpx.ConnectError:
                    # Not sent at all (connection refused): the write is no attempt.
                    self.down += 1
                    if pending is not None and pending[0] == "create":
                        del self.attempted[pending[1]]
                    elif pending is not None:
                        self.attempted[pending[1]].pop()
                    time.sleep(0.05)
                except httpx.TransportError:
                    # Sent, no answer (the API was killed or is restarting): the write may or may not
                    # be there. Read again before the next edit.
                    self.unanswered += pending is not None
                    for key in versions:
                        versions[key] = None
                    time.sleep(0.05)  # a creation without an answer is looked up by its IPP


def _resolve_unknown_creations(ctx, clients: list[RestClient]) -> None:
    """Creations that got no answer: find them by IPP (fully there, or absent)."""
    with ctx.engine.connect() as connection:
        by_ipp = dict(connection.execute(text("SELECT ipp, id FROM identity")).all())
    for client in clients:
        for ipp in client.attempted:
            if ipp not in client.ids and ipp in by_ipp:
                client.ids[ipp] = by_ipp[ipp]


def test_api_killed_at_random_points_under_rest_writes(ctx, pg_url, tmp_path, long_run):
    """`identito serve` SIGKILLed while three clients create and edit identities, restarted each time."""
    rng = random.Random(1606)
    kills = 10 if long_run else 3
    receiver = ThreadedReceiver()
    subscriber(ctx, "DPI", receiver.receiver.port)
    api_port = free_port()
    api = Service(pg_url, tmp_path, "serve", "--port", str(api_port), listen_port=api_port).start()
    relay = Service(pg_url, tmp_path, "relay").start()
    token = issue_dev_token(AuthSettings(secret=SECRET, dev_tokens=True), "agent-1",
                            ["admission", "identitovigilance"])
    stop = threading.Event()
    base = f"http://127.0.0.1:{api_port}"
    clients = [RestClient(base, token, 16060 + k, f"API{k}-", stop) for k in range(3)]
    threads = [threading.Thread(target=c.run, name=f"rest-{k}", daemon=True) for k, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(0.3, 1.0))
            api.kill9()
            time.sleep(rng.uniform(0.0, 0.5))
            api.start()
        time.sleep(0.5)  # writes after the last restart
        stop.set()
        for thread in threads:
            thread.join(15)
        figures = Figures("API kill -9", faults=f"{api.kills} kills")
        figures.drain_seconds = wait_for(lambda: outbox_open(ctx) == 0, DRAIN_SECONDS,
                                         "the outbox drained after the kills")
    finally:
        stop.set()
        _stop(api, relay)
        receiver.close()
    for client in clients:
        assert client.failure is None, repr(client.failure)
    _resolve_unknown_creations(ctx, clients)
    audit = check_history(ctx)
    answered = [a for c in clients for a in c.answered]
    figures.sent = sum(len(names) for c in clients for names in c.attempted.values())
    figures.acknowledged = len(answered)
    # Every answered write is stored as answered: identity id, version, used name at that version.
    for ipp, identity_id, version, used in answered:
        history = audit[identity_id]
        assert len(history) >= version, f"identity {identity_id}: answered version {version} not stored"
        assert (history[version - 1].get("used_name") or "") == used, f"identity {identity_id} v{version}"
    # Unanswered writes are fully there or fully absent: each identity's history is the client's
    # writes, in order, some skipped (those that never committed), never one half there.
    stored = 0
    for client in clients:
        for ipp, identity_id in client.ids.items():
            names = [(row.get("used_name") or "") for row in audit[identity_id]]
            assert names[0] == "" and len(names) == len(set(names[1:])) + 1
            it = iter(client.attempted[ipp])
            assert all(name in it for name in names), f"identity {identity_id}: a change nobody made"
            stored += len(names)
    figures.stored = stored
    with ctx.engine.connect() as connection:
        identities_count = connection.execute(text("SELECT count(*) FROM identity")).scalar_one()
    assert identities_count == sum(len(c.ids) for c in clients)  # none created but by the clients
    check_delivery(ctx, figures, {"DPI": receiver.receiver})
    figures.outbound = figures.delivered
    in_doubt = sum(c.unanswered for c in clients)
    print(figures.line() + f" in_doubt={in_doubt} (committed={figures.stored - figures.acknowledged}) "
          f"refused={sum(c.refused for c in clients)} not_sent={sum(c.down for c in clients)}")
    assert api.kills == kills and figures.acknowledged >= 20
    assert in_doubt >= 1, "no kill landed during a request"
    assert figures.delivered == figures.stored and figures.lost == 0


def _matricule(n: int, sex: str, year: int, month: int) -> str:
    body = f"{1 if sex == 'M' else 2}{year % 100:02d}{month:02d}63113{n:03d}"
    return body + f"{nir_key(body):02d}"


def _seed_qual(ctx, count: int, rng: random.Random) -> tuple[list[int], list[int]]:
    """``count`` identities through the services, two thirds of them qualified (QUAL)."""
    qual, other = [], []
    for n in range(count):
        year, month = 1930 + n % 60, 1 + n % 12
        identity = identities.create_identity(ctx, DESK, identities.TraitsInput(
            birth_name=_letters(rng), first_names=_letters(rng, 6), birth_date=f"{year}-{month:02d}-15",
            sex="F", birth_place_code="63113"), ipp=f"RPL{n:05d}")
        if n % 3:
            qualify(ctx, identity.id, _matricule(n, "F", year, month))
            qual.append(identity.id)
        else:
            other.append(identity.id)
    return qual, other


def test_replay_killed_at_random_points_with_live_updates(ctx, pg_url, tmp_path, long_run):
    """The INS-ready switch starts a replay of the QUAL identities, run by `identito relay`, which
    is SIGKILLed while the job runs and restarted; desk edits go on during the replay."""
    rng = random.Random(1607)
    kills = 8 if long_run else 3
    count = 240 if long_run else 90
    receiver = ThreadedReceiver()
    dpi = subscriber(ctx, "DPI", receiver.receiver.port)
    qual, other = _seed_qual(ctx, count, rng)
    # 20 identities per second: the job lasts a few seconds, long enough to be killed in it.
    relay = Service(pg_url, tmp_path, "relay", extra={"IDENTITO_HL7__REPLAY_RATE_PER_SECOND": "20"}).start()
    wait_for(lambda: outbox_open(ctx) == 0, DRAIN_SECONDS, "the live rows delivered before the switch")
    job = switch_ins_ready(ctx, ADMIN, dpi.id, rate_per_second=20)
    assert job.total == len(qual)

    def progress() -> tuple[str, int]:
        with ctx.engine.connect() as connection:
            state, enqueued = connection.execute(text(
                "SELECT state, enqueued FROM replay_job WHERE id = :id"), {"id": job.id}).one()
        return state, int(enqueued)

    stop = threading.Event()
    renames: list[int] = []

    def desk() -> None:
        edit = random.Random(16070)
        while not stop.is_set():
            identity_id = edit.choice(qual + other)
            rename(ctx, identity_id, "NOM" + _letters(edit, 6))
            renames.append(identity_id)
            time.sleep(0.02)

    editor = threading.Thread(target=desk, name="desk", daemon=True)
    editor.start()
    mid_job = 0
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(0.2, 0.9))
            state, enqueued = progress()
            mid_job += state == "running" and 0 < enqueued < job.total
            relay.kill9()
            time.sleep(rng.uniform(0.0, 0.4))
            relay.start()
        wait_for(lambda: progress()[0] == "done", DRAIN_SECONDS, "the replay job finished")
        stop.set()
        editor.join(10)
        figures = Figures("replay kill -9", faults=f"{relay.kills} kills, {mid_job} mid-job")
        figures.drain_seconds = wait_for(lambda: outbox_open(ctx) == 0, DRAIN_SECONDS,
                                         "the outbox drained after the kills")
    finally:
        stop.set()
        _stop(relay)
        receiver.close()
    state, enqueued = progress()
    assert state == "done" and enqueued == job.total, (state, enqueued, job.total)  # 100 %
    check_history(ctx, audited=False)  # version = live outbox rows (qualify() writes no audit row)
    with ctx.engine.connect() as connection:
        replayed = dict(connection.execute(text(
            "SELECT identity_id, count(*) FROM outbox_message WHERE kind = 'replay' GROUP BY identity_id"
        )).all())
        final = dict(connection.execute(text("SELECT ipp, used_name FROM identity")).all())
    # Every QUAL identity enqueued exactly once (never twice with another MSH-10), no other one.
    assert set(replayed) == set(qual) and set(replayed.values()) == {1}, replayed
    check_delivery(ctx, figures, {"DPI": receiver.receiver})  # same-MSH-10 duplicates, order
    # What the subscriber holds at the end is each identity's current state: the last message it
    # got per patient carries the current used name (a replay never overtakes a later edit).
    last: dict[str, str] = {}
    for message in receiver.receiver.received:
        parsed = parse_pam(message)
        last[parsed.ipp.value] = parsed.used_name or ""
    assert all(last[ipp] == (used or "") for ipp, used in final.items())
    figures.sent = figures.acknowledged = figures.stored = len(renames)  # desk edits, all answered
    figures.outbound = figures.delivered
    print(figures.line() + f" replayed={len(replayed)}/{len(qual)} qual, live_edits={len(renames)}")
    assert relay.kills == kills and mid_job >= 1, "no kill landed in the middle of the job"
    assert len(renames) >= 10
