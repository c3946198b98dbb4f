"""The desk's candidate check through the API: ``POST /identities/candidates`` on a real uvicorn server
(2 workers) over the benchmark's database, with a concurrent client, next to floors from the same run.

Request bodies are the traits of population records as a desk agent would type them (``desk_bodies``):
most as recorded, some with one keying error in the birth name or the first name, some describing a
person who is not in the repository (name, first names and date of three different records). Floors:

- ``GET /_bench/constant`` (``bench/serve.py``): no authentication, no database;
- ``GET /identities/{id}``: authenticated, one indexed read, the identity serialised.

Nothing printed names a trait.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from app.api.auth import issue_dev_token
from app.config import AuthSettings
from bench.common import Stats, api_server, run_concurrent, worker_pool
from bench.dup_db import SECRET, LoadReport, cli_env
from bench.identity_db import postgres_backends
from bench.machine_load import CpuShare, descendants, wait_for_quiet
from bench.population import Record, read_records, typo

CANDIDATES = "/identities/candidates"
# What the desk types: the person as recorded, with a keying error, or someone new.
MIX = (("as_recorded", 0.60), ("typo", 0.25), ("new_person", 0.15))


def sample_records(path: Path, count: int, records: int, seed: int) -> list[Record]:
    """``count`` records drawn at random from the population file (one pass over it)."""
    rng = random.Random(seed)
    wanted = set(rng.sample(range(1, records + 1), min(count, records)))
    return [r for r in read_records(path) if r.record_id in wanted]


def _body(record: Record) -> dict[str, Any]:
    return {"birth_name": record.birth_name, "first_names": record.first_names,
            "birth_date": record.birth_date.isoformat(), "sex": record.sex,
            "birth_place_code": record.birth_place_code, "used_name": record.used_name,
            "used_first_name": record.used_first_name}


def desk_bodies(sample: list[Record], count: int, seed: int) -> tuple[list[bytes], dict[str, int]]:
    """``count`` JSON bodies for the candidate check, following ``MIX``; and how many of each kind."""
    rng = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    bodies: list[bytes] = []
    made = dict.fromkeys(kinds, 0)
    while len(bodies) < count:
        kind = rng.choices(kinds, weights)[0]
        body = _body(rng.choice(sample))
        if kind == "typo":
            field = rng.choice(("birth_name", "first_names"))
            changed = typo(rng, body[field])
            if changed is None:
                continue
            body[field] = changed[0]
        elif kind == "new_person":
            body["birth_name"] = rng.choice(sample).birth_name
            body["used_name"] = None
            other = rng.choice(sample)
            body["birth_date"] = other.birth_date.isoformat()
            body["birth_place_code"] = other.birth_place_code
        bodies.append(json.dumps(body).encode())
        made[kind] += 1
    return bodies, made


Worker = tuple[Callable[[Any], bool], Callable[[], None]]


def _post_worker(base_url: str, headers: dict[str, str]) -> Worker:
    client = httpx.Client(base_url=base_url, headers={**headers, "Content-Type": "application/json"},
                          timeout=httpx.Timeout(30.0))

    def call(body: bytes) -> bool:
        return client.post(CANDIDATES, content=body).status_code == 200

    return call, client.close


def _get_worker(base_url: str, headers: dict[str, str]) -> Worker:
    client = httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(30.0))

    def call(path: str) -> bool:
        return client.get(path).status_code == 200

    return call, client.close


def measure_candidates(url: str, population: Path, records: int, load: LoadReport,
                       args: Any, say: Callable[[str], None]) -> dict[str, Any]:
    """Warm up, wait for a quiet machine, then measure the floors and the candidate check."""
    sample = sample_records(population, 3000, records, seed=31)
    bodies, kinds = desk_bodies(sample, args.requests + args.warmup, seed=37)
    reads = [f"/identities/{i}" for i in _identities_of(load, [r.record_id for r in sample])]
    random.Random(41).shuffle(reads)
    token = issue_dev_token(AuthSettings(secret=SECRET, dev_tokens=True), "bench-desk", ["admission"])
    headers = {"Authorization": f"Bearer {token}"}
    env = cli_env(url)
    database = url.rsplit("/", 1)[-1]
    c = args.concurrency
    with api_server(env, workers=2) as base, \
            worker_pool(lambda: _post_worker(base, headers), c) as post, \
            worker_pool(lambda: _get_worker(base, headers), c) as get:
        warm = bodies[: args.warmup]
        measured = bodies[args.warmup:]
        run_concurrent(get, ["/_bench/constant"] * args.warmup, c)
        run_concurrent(get, reads[: args.warmup], c)
        warmup = run_concurrent(post, warm, c)
        wait_for_quiet(args.max_load, args.wait_quiet, say)
        share = CpuShare(lambda: [*descendants_of_me(), *postgres_backends(database)])
        say("measuring the candidate check through the API ...")
        share.start()
        constant = run_concurrent(get, ["/_bench/constant"] * args.requests, c)
        read = run_concurrent(get, [reads[i % len(reads)] for i in range(args.requests)], c)
        check = run_concurrent(post, measured, c)
        cpu = share.stop()
    return {"concurrency": c, "workers": 2, "requests": len(measured), "warmup": args.warmup,
            "bodies": kinds, "warmup_candidates": warmup.as_dict(),
            "bare_endpoint": constant.as_dict(), "identity_read": read.as_dict(),
            "candidates": check.as_dict(), "machine_load_while_measuring": cpu,
            "_stats": {"bare": constant, "read": read, "candidates": check}}


def descendants_of_me() -> list[int]:
    """This process and its descendants (the API server and its workers)."""
    return [os.getpid(), *descendants(os.getpid())]


def _identities_of(load: LoadReport, record_ids: list[int]) -> list[int]:
    """The identities loaded from these records (one pass over the id map)."""
    wanted = set(record_ids)
    return [identity_id for identity_id, record_id in enumerate(load.identity_to_record)
            if identity_id and record_id in wanted]


def stats_of(result: dict[str, Any], name: str) -> Stats:
    """A measured series of ``measure_candidates``' result."""
    return result["_stats"][name]  # type: ignore[no-any-return]
