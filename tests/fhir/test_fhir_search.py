"""ITI-78 Patient search over a live server (SQLite and PostgreSQL): each parameter, :exact, AND / OR,
the required combinations, the domain filter, paging with next links, POST _search, XML, refusals."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from fhir.resources.R4B.bundle import Bundle

from tests.fhir.live import ids_of, issue_of
from tests.fhir.support import NIA_QUAL, NIR_QUAL, NIR_QUAL_OLD

IPP_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2.999"
NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"


def test_names_prefix_exact_and_used_name(live, desk) -> None:
    ids = live.people.ids
    assert set(ids_of(desk.search(family="dup"))) == {ids["qual"], ids["prov"], ids["dout"]}
    assert ids_of(desk.search(**{"family:exact": "Dupont"})) == [ids["qual"]]
    assert ids_of(desk.search(family="martin")) == [ids["qual"]]  # the used name
    assert ids_of(desk.search(given="jean-luc")) == [ids["prov"]]
    assert ids_of(desk.search(given="claire", family="dupont")) == [ids["qual"]]  # any birth first name
    assert ids_of(desk.search(**{"given:exact": "ANN", "family": "dupont"})) == []
    assert ids_of(desk.search(**{"given:exact": "anne", "family": "dupont"})) == [ids["qual"]]


def test_birthdate_gender_and_required_combinations(live, desk) -> None:
    ids = live.people.ids
    assert ids_of(desk.search(birthdate="1980-01-15")) == [ids["qual"]]
    assert ids_of(desk.search(birthdate="eq1975-02")) == [ids["recup"]]
    assert set(ids_of(desk.search(birthdate="1990"))) == {ids["vali"], ids["nia"]}
    assert set(ids_of(desk.search(family="dup", gender="male"))) == {ids["prov"], ids["dout"]}
    assert ids_of(desk.search(birthdate="1962-07-04", family="dupontel")) == [ids["prov"]]
    assert ids_of(desk.search(gender="unknown")) == [ids["nia"]]
    assert desk.search(gender="other")["total"] == 0


def test_and_or_repetitions(live, desk) -> None:
    ids = live.people.ids
    assert set(ids_of(desk.search(family="durand,lefebvre"))) == {ids["recup"], ids["vali"]}
    both = desk.get("/Patient", params=[("family", "dup"), ("family", "dupont")]).json()
    assert set(ids_of(both)) == {ids["qual"], ids["prov"]}  # DUPONT, DUPONTEL
    exact = desk.get("/Patient", params=[("family", "dup"), ("family:exact", "dupont")]).json()
    assert ids_of(exact) == [ids["qual"]]
    assert set(ids_of(desk.search(_id=f"{ids['qual']},{ids['vali']},abc"))) == {ids["qual"], ids["vali"]}
    assert ids_of(desk.search(_id=str(ids["qual"]), family="durand")) == []
    assert ids_of(desk.get("/Patient", params=[("gender", "female,male"), ("gender", "male")]).json()) != []


def test_identifiers_ipp_ins_and_merged(live, desk) -> None:
    ids, ipps = live.people.ids, live.people.ipps
    assert ids_of(desk.search(identifier=f"{IPP_SYSTEM}|{ipps['vali']}")) == [ids["vali"]]
    assert ids_of(desk.search(identifier=ipps["vali"])) == [ids["vali"]]
    assert ids_of(desk.search(identifier=f"{NIR_SYSTEM}|{NIR_QUAL}")) == [ids["qual"]]
    assert ids_of(desk.search(identifier=NIR_QUAL_OLD)) == [ids["qual"]]  # the historic INS (use old)
    assert ids_of(desk.search(identifier=f"urn:oid:1.2.3|{ipps['vali']}")) == []
    assert ids_of(desk.search(identifier=f"|{ipps['vali']}")) == []  # no system: none shown is like it
    merged = desk.search(identifier=f"{IPP_SYSTEM}|{ipps['absorbed']}")
    assert ids_of(merged) == [ids["absorbed"]] and ids_of(merged, "include") == [ids["survivor"]]
    assert merged["entry"][0]["resource"]["active"] is False
    assert ids_of(desk.search(identifier=ipps["absorbed"], active="true")) == []
    assert ids_of(desk.search(identifier=ipps["absorbed"], active="false")) == [ids["absorbed"]]
    assert ids_of(desk.search(family="rousso")) == []  # by traits: open identities only


def test_domain_filter_returns_only_identifiers_of_the_domains_asked(live, desk) -> None:
    ids = live.people.ids
    found = desk.search(identifier="urn:oid:1.2.250.1.213.1.4.9|", family="nguyen")
    (entry,) = found["entry"]
    assert int(entry["resource"]["id"]) == ids["nia"]
    assert [(i["system"], i["value"]) for i in entry["resource"]["identifier"]] == [
        ("urn:oid:1.2.250.1.213.1.4.9", NIA_QUAL)
    ]
    assert desk.search(identifier=f"{NIR_SYSTEM}|", family="durand")["total"] == 0  # RECUP: no INS shown
    ipp_only = desk.search(identifier=f"{IPP_SYSTEM}|", family="dupont")
    assert {i["system"] for e in ipp_only["entry"] for i in e["resource"]["identifier"]} == {IPP_SYSTEM}
    unknown = desk.get("/Patient", params={"identifier": "urn:oid:1.2.3.4|", "family": "dupont"})
    assert unknown.status_code == 404
    assert issue_of(unknown) | {"diagnostics": ""} == {
        "severity": "warning",
        "code": "not-found",
        "diagnostics": "",
        "details": {"coding": [{"system": "urn:identito:problem", "code": "fhir-domain-unknown"}]},
    }
    assert issue_of(unknown)["diagnostics"].lower().startswith("targetsystem not found")


def test_paging_follows_next_links_to_the_total(live, desk) -> None:
    first = desk.search(_count="2", birthdate="1980,1990,1975,1962,1955,2001,1991")
    assert first["total"] == 10
    seen, page = [], first
    while True:
        seen += ids_of(page)
        links = {link["relation"]: link["url"] for link in page["link"]}
        assert dict(parse_qsl(urlsplit(links["self"]).query))["_count"] == "2"
        if "next" not in links:
            break
        assert links["next"].startswith(live.base + "/fhir/Patient?")
        page = desk.get(links["next"]).json()
    assert len(seen) == len(set(seen)) == 10
    untold = desk.search(_count="1", family="dup", _total="none")
    assert "total" not in untold and len(untold["entry"]) == 1
    (untold_next,) = [link["url"] for link in untold["link"] if link["relation"] == "next"]
    assert "_total=none" in untold_next
    simple = desk.search(_count="1", family="dup")
    assert simple["total"] == 3 and len(simple["entry"]) == 1
    assert desk.search(_count="0", family="dup") == {**desk.search(_count="0", family="dup"), "total": 3}


def test_post_search_and_xml(live, desk) -> None:
    ids = live.people.ids
    posted = desk.post("/Patient/_search", data={"family": "dupont", "gender": "female"})
    assert posted.status_code == 200 and ids_of(posted.json()) == [ids["qual"]]
    xml = desk.get("/Patient", params={"family": "dup", "_format": "xml"})
    bundle = Bundle.model_validate_xml(xml.content)
    assert bundle.total == 3 and len(bundle.entry) == 3
    accept = desk.get("/Patient", params={"family": "dup"}, headers={"Accept": "application/fhir+xml"})
    assert accept.headers["content-type"].startswith("application/fhir+xml")


def test_unsupported_parameters_are_refused_not_ignored(live, desk) -> None:
    for params, code in [
        ({"telecom": "0102"}, "not-supported"),
        ({"address-city": "Paris"}, "not-supported"),
        ({"mothersMaidenName": "X"}, "not-supported"),
        ({"_sort": "family"}, "not-supported"),
        ({"family:contains": "du"}, "not-supported"),
        ({"birthdate": "ge1980"}, "invalid"),
        ({"birthdate": "15/01/1980"}, "invalid"),
        ({"gender": "M"}, "invalid"),
        ({"active": "yes"}, "invalid"),
        ({"_count": "many"}, "invalid"),
        ({"_total": "some"}, "invalid"),
        ({"identifier": f"{IPP_SYSTEM}|,{IPP_SYSTEM}|X"}, "invalid"),
        ({"family": ""}, "invalid"),
    ]:
        response = desk.get("/Patient", params=params)
        assert response.status_code == 400, params
        assert issue_of(response)["code"] == code, params
    lenient = desk.get(
        "/Patient", params={"family": "dupont", "telecom": "0102"}, headers={"Prefer": "handling=lenient"}
    )
    assert lenient.status_code == 200
    (self_link,) = [link["url"] for link in lenient.json()["link"] if link["relation"] == "self"]
    assert "telecom" not in self_link and "family=dupont" in self_link


def test_searches_too_broad_to_gather_are_refused(live, desk, monkeypatch) -> None:
    combos = desk.get("/Patient", params={"family": "a,b,c,d,e", "given": "a,b,c,d"})  # 20 searches
    assert combos.status_code == 400 and issue_of(combos)["code"] == "too-costly"
    monkeypatch.setattr("app.services.fhir.MAX_MATCHES", 2)  # the live server runs in this process
    gathered = desk.get("/Patient", params={"family": "dup,durand"})
    assert gathered.status_code == 400 and issue_of(gathered)["code"] == "too-costly"
    assert desk.search(family="dup")["total"] == 3  # one search, paged by the database: no limit
