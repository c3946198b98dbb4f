"""FHIR responses before and after a change: seed a varied database once, dump hundreds of responses
of the code at hand, compare two dumps byte for byte.

A refactor of the FHIR read path (search, read, $match, $ihe-pix) must not change one byte of what a
client receives. Dump with the old code (``git archive <commit> | tar -x -C /tmp/old``, this file
copied into ``/tmp/old/bench/``, run from ``/tmp/old``) and with the new one, on the same database,
then compare:

    python -m bench.fhir_golden seed --database-url sqlite:////tmp/golden.db
    (cd /tmp/old && python -m bench.fhir_golden dump --database-url ... --output /tmp/old.json)
    python -m bench.fhir_golden dump --database-url ... --output /tmp/new.json
    python -m bench.fhir_golden compare /tmp/old.json /tmp/new.json

The database holds the FHIR tests' population (every status, INS held by QUAL and non-QUAL
identities, NIA and test INS, document checks, a merge, a link), a few thousand generated
identities, and on top of them merges (chains too), links, document checks (standing, low-trust,
withdrawn, several per identity) and IPPs of other authorities. The requests are drawn from the
database with a fixed seed: every search parameter and modifier, OR and AND repetitions, the domain
filter, paging (``_count``, ``_offset``, ``_total=none``), JSON and XML (``_format``, ``Accept``),
POST ``_search``, lenient handling, refusals, reads, ``$match`` and ``$ihe-pix``. Prints counts
only, never a trait; the dumps hold patient data of the generated population only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = "dev-only-identito-golden-secret-key"
IPP_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2.999"
INS_SYSTEMS = ("urn:oid:1.2.250.1.213.1.4.8", "urn:oid:1.2.250.1.213.1.4.9", "urn:oid:1.2.250.1.213.1.4.10")
AUTHORITIES = ("HOPB&1.2.250.1.71.4.2.2.777&ISO", "LABO", "CLIN&http://clinique.example/ipp&URI",
               "RADIO&1.2.3.4.5&", "X&2.16.840.1.1&L")


def _env(url: str) -> None:
    os.environ.update({"IDENTITO_ENVIRONMENT": "development", "IDENTITO_AUTH__SECRET": SECRET,
                       "IDENTITO_AUTH__DEV_TOKENS": "true", "IDENTITO_DATABASE_URL": url,
                       "IDENTITO_LOG_LEVEL": "WARNING"})


def seed_database(url: str, count: int) -> None:
    """Migrate and seed (an empty database)."""
    _env(url)
    from rich.console import Console
    from sqlalchemy import text
    from sqlmodel import Session

    from app.config import Settings
    from app.db.documents import DocumentRepository
    from app.db.migrations import upgrade
    from app.services import links, merges, queries
    from app.services.context import Actor
    from app.wiring.context import build_context
    from bench.identity_data import seed
    from tests.fhir.support import seed as seed_population

    upgrade(url)
    ctx = build_context(Settings())
    seed(ctx.engine, count, batch_size=1000)
    seed_population(ctx)
    rng = random.Random(20261203)
    cell = Actor("golden-cell", frozenset({"identitovigilance"}))
    reader = Actor("golden-reader", frozenset({"admission"}))
    with Session(ctx.engine) as session:
        top = int(session.execute(text("SELECT max(id) FROM identity")).scalar_one())
    ids = list(range(1, top + 1))
    rng.shuffle(ids)
    others, ids = ids[:120], ids[120:]
    with Session(ctx.engine) as session:  # IPPs of other authorities
        for n, identity_id in enumerate(others):
            session.execute(text("UPDATE identity SET ipp_authority = :a WHERE id = :i"),
                            {"a": AUTHORITIES[n % len(AUTHORITIES)], "i": identity_id})
        documents = DocumentRepository(session)
        checked = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
        for n, identity_id in enumerate(ids[:400]):  # document checks, some identities several
            for k in range(1 + n % 3):
                kind = ("CN", "PA", "CS", "AN", "LE", "IE", "AC", "TC")[(n + k) % 8]
                row = documents.add(identity_id, kind, high_trust=(n + k) % 5 != 0, checked_by="golden",
                                    checked_at=checked + timedelta(days=n, hours=k),
                                    expires_on=date(2031, 1, 1), no_expiry_printed=False)
                if (n + k) % 7 == 0:
                    documents.withdraw(identity_id, row.id, at=checked + timedelta(days=n + 1), by="golden",
                                       reason="golden")
        session.commit()
    merged = 0
    for n in range(0, 180, 2):  # merges, every fifth a chain (the survivor merged again)
        survivor_id, absorbed_id = ids[400 + n], ids[401 + n]
        if n % 10 == 0:
            absorbed_id, survivor_id = survivor_id, others[n // 10]
        try:
            survivor = queries.get_identity(ctx, reader, survivor_id)
            absorbed = queries.get_identity(ctx, reader, absorbed_id)
            if not (survivor.active and absorbed.active):
                continue
            merges.merge_identities(ctx, cell, survivor.id, absorbed.id, reason="golden",
                                    survivor_version=survivor.version, absorbed_version=absorbed.version)
            merged += 1
        except Exception:  # noqa: BLE001 - a pair the rules refuse: skipped
            continue
    linked = 0
    for n in range(0, 160, 2):
        try:
            links.link_identities(ctx, cell, ids[600 + n], ids[601 + n] if n % 8 else ids[400 + n],
                                  reason="golden")
            linked += 1
        except Exception:  # noqa: BLE001 - a pair the rules refuse: skipped
            continue
    ctx.engine.dispose()
    Console().print(f"seeded {count} + population; {merged} merges, {linked} links")


def _requests(url: str, rng: random.Random) -> list[dict[str, Any]]:
    """The requests, drawn from the database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT id, ipp, ipp_authority, birth_name, first_names, used_name, used_first_name, birth_date,"
            " sex, active, status FROM identity ORDER BY id")).all()
        ins = connection.execute(text("SELECT identity_id, matricule, oid FROM ins ORDER BY id")).all()
    engine.dispose()
    by_id = {r.id: r for r in rows}
    inactive = [r for r in rows if not r.active]
    linked_or_documented = [r for r in rows if r.status in ("QUAL", "VALI")]
    gender = {"M": "male", "F": "female", "U": "unknown"}
    picks = rng.sample(rows, 60) + rng.sample(inactive, min(25, len(inactive)))
    picks += rng.sample(linked_or_documented, 25) + [r for r in rows if r.ipp_authority][:15]
    picks += [by_id[i.identity_id] for i in rng.sample(ins, 30)]
    searches: list[list[tuple[str, str]]] = []
    for r in picks:
        born = str(r.birth_date)[:10]
        first = r.first_names.split()[0]
        family = r.used_name if r.used_name and rng.random() < 0.3 else r.birth_name
        searches += [
            [("family", family[:3])],
            [("family", family[:5]), ("_count", "5")],
            [("family:exact", family), ("birthdate", born)],
            [("family", family[:4]), ("given", first[:3])],
            [("given:exact", first), ("family", r.birth_name[:3]), ("gender", gender[r.sex])],
            [("birthdate", born[:7]), ("family", family[:2])],
            [("birthdate", "eq" + born[:4]), ("gender", gender[r.sex]), ("family", family[:3]),
             ("_count", "3"), ("_offset", str(rng.randrange(0, 9)))],
            [("identifier", r.ipp)],
            [("identifier", f"{IPP_SYSTEM}|{r.ipp}")],
            [("_id", str(r.id))],
            [("_id", f"{r.id},{r.id + 1},{r.id + 7}"), ("active", rng.choice(("true", "false")))],
            [("family", family[:3]), ("_total", "none"), ("_count", str(rng.choice((1, 2, 10, 20, 50))))],
            [("family", family[:3]), ("_count", "0")],
            [("family", family[:3]), ("_offset", "20")],
            [("family", f"{family[:3]},{r.birth_name[:4]}"), ("_count", "7")],
            [("identifier", f"{IPP_SYSTEM}|"), ("family", family[:3])],
            [("identifier", f"{rng.choice(INS_SYSTEMS)}|,{IPP_SYSTEM}|"), ("family:exact", family)],
            [("identifier", r.ipp), ("active", "false")],
        ]
        if r.ipp_authority:
            parts = [*r.ipp_authority.split("&"), "", ""]
            system = f"urn:oid:{parts[1]}" if parts[1] and parts[2].upper() in ("ISO", "") else parts[1]
            searches.append([("identifier", f"{system or 'urn:identito:authority:' + parts[0]}|{r.ipp}")])
    for i in rng.sample(ins, 40):
        system = f"urn:oid:{i.oid}"
        searches += [[("identifier", f"{system}|{i.matricule}")], [("identifier", i.matricule)],
                     [("identifier", f"{i.matricule},{IPP_SYSTEM}|{by_id[i.identity_id].ipp}")],
                     [("identifier", f"{system}|{i.matricule}"), ("identifier", f"{system}|")]]
    searches += [[("family", "dup")], [("family", "a")], [("given", "jean"), ("_count", "200")],
                 [("gender", "unknown"), ("family", "ngu")], [("birthdate", "1980")], [("active", "false")],
                 [("telecom", "0102")], [("family", "")], [("_count", "many")], [("family:contains", "x")],
                 [("family", "a,b,c,d,e"), ("given", "a,b,c,d")], [("identifier", "urn:oid:1.2.3.4|")],
                 [("birthdate", "ge1980")], [("_total", "some")], [("family", "zzzzzz")],
                 [("family", "dupont"), ("telecom", "1"), ("_sort", "x")]]
    requests: list[dict[str, Any]] = []
    for n, params in enumerate(searches):
        query = urlencode(params)
        variant = n % 9
        if variant == 3:
            requests.append({"method": "GET", "url": f"/fhir/Patient?{query}&_format=xml"})
        elif variant == 5:
            requests.append({"method": "GET", "url": f"/fhir/Patient?{query}",
                             "headers": {"Accept": "application/fhir+xml"}})
        elif variant == 7:
            requests.append({"method": "POST", "url": "/fhir/Patient/_search", "form": params})
        elif variant == 8:
            requests.append({"method": "GET", "url": f"/fhir/Patient?{query}",
                             "headers": {"Prefer": "handling=lenient"}})
        else:
            requests.append({"method": "GET", "url": f"/fhir/Patient?{query}"})
        if variant == 0:
            requests.append({"method": "GET", "url": f"/fhir/Patient?{query}&_format=json"})
    for r in picks[:80]:
        requests.append({"method": "GET", "url": f"/fhir/Patient/{r.id}"})
        requests.append({"method": "GET", "url": f"/fhir/Patient/{r.id}?_format=xml"})
        requests.append({"method": "GET", "url": "/fhir/Patient/$ihe-pix?" + urlencode(
            {"sourceIdentifier": f"{IPP_SYSTEM}|{r.ipp}"})})
        body = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
            "resourceType": "Patient", "birthDate": str(r.birth_date)[:10], "gender": gender[r.sex],
            "name": [{"use": "official", "family": r.birth_name, "given": r.first_names.split()}]}}]}
        requests.append({"method": "POST", "url": "/fhir/Patient/$match", "json": body})
    return requests


def dump(url: str, output: Path) -> None:
    """Send every request to the code at hand (in process) and write the responses."""
    _env(url)
    import logging

    logging.disable(logging.INFO)
    from fastapi.testclient import TestClient

    from app.api.auth import issue_dev_token
    from app.config import AuthSettings
    from app.main import create_app

    token = issue_dev_token(AuthSettings(secret=SECRET, dev_tokens=True), "golden", ["admission"])
    requests = _requests(url, random.Random(7))
    found = []
    with TestClient(create_app(), headers={"Authorization": f"Bearer {token}"}) as client:
        for r in requests:
            kwargs: dict[str, Any] = {"headers": r.get("headers")}
            if "form" in r:
                kwargs["data"] = dict(r["form"])
            if "json" in r:
                kwargs["json"] = r["json"]
                kwargs["headers"] = {"Content-Type": "application/fhir+json"}
            response = client.request(r["method"], r["url"], **kwargs)
            found.append({"request": r, "status": response.status_code,
                          "content_type": response.headers.get("content-type"), "body": response.text})
    output.write_text(json.dumps(found, ensure_ascii=False, indent=0))
    statuses: dict[int, int] = {}
    for f in found:
        statuses[f["status"]] = statuses.get(f["status"], 0) + 1
    print(f"{len(found)} responses written to {output}; statuses {dict(sorted(statuses.items()))}")


def compare(old: Path, new: Path) -> int:
    """0 when every response is the same, byte for byte."""
    before, after = json.loads(old.read_text()), json.loads(new.read_text())
    if len(before) != len(after):
        print(f"different numbers of responses: {len(before)} vs {len(after)}")
        return 1
    differ = [n for n, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    entries = sum(f["body"].count('"fullUrl"') + f["body"].count("<fullUrl") for f in before)
    print(f"{len(before)} responses ({entries} entries), {len(differ)} different")
    for n in differ[:5]:
        print(f"  #{n} {before[n]['request']['method']} status {before[n]['status']} vs {after[n]['status']}")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    """seed | dump | compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("seed", "dump", "compare"))
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--database-url", default="sqlite:////tmp/identito-fhir-golden.db")
    parser.add_argument("-n", "--identities", type=int, default=3000)
    parser.add_argument("--output", type=Path, default=Path("/tmp/identito-fhir-golden.json"))
    args = parser.parse_args(argv)
    if args.action == "seed":
        seed_database(args.database_url, args.identities)
    elif args.action == "dump":
        dump(args.database_url, args.output)
    else:
        return compare(*args.files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
