from tests.conftest import auth


def test_smoke(client, settings):
    h = auth(settings, "admission")
    r = client.post("/identities", json={"birth_name": "Dupont", "first_names": "jean pierre", "birth_date": "1980-05", "sex": "M"}, headers=h)
    print(r.status_code, r.json(), r.headers)
    assert r.status_code == 201
    iid = r.json()["id"]
    r = client.post(f"/identities/{iid}/documents", json={"type": "CN"}, headers=h)
    print(r.status_code, r.json())
    r = client.get("/identities?birth_name=dup", headers=h)
    print(r.status_code, r.json())
    r = client.patch(f"/identities/{iid}", json={"used_name": "Martin"}, headers={**h, "If-Match": '"1"'})
    print(r.status_code, r.json())
    r = client.get(f"/identities/{iid}/history", headers=h)
    print(r.status_code, r.json())
    r = client.post("/identities", json={"birth_name": "Dup0nt", "first_names": "jean", "birth_date": "1980-05", "sex": "M"}, headers=h)
    print(r.status_code, r.json())
    print(client.get("/metrics").text[:500])
    print(client.get("/health").json())
