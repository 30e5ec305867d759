"""The /_mock control plane, the same on every vendor."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from helpers import PLATFORM_VENDORS, make_stack_app


@pytest.mark.parametrize("vendor", PLATFORM_VENDORS)
def test_credentials_list_accounts_with_users_and_app_tokens(client: Client, vendor: str) -> None:
    body = client.get(f"/{vendor}/_mock/credentials").json
    users = body["accounts"][0]["users"]
    assert {"username", "app_token", "master", "vehicle_groups"} <= set(users[0])
    assert sum(u["master"] for u in users) == 1
    assert all(len(u["app_token"]) == 13 for u in users)


def test_state_dump_restore_dump_is_byte_identical_with_a_frozen_clock(client: Client) -> None:
    first = client.get("/gpsinsight/_mock/state").get_data()
    restored = client.post("/gpsinsight/_mock/state", data=first, content_type="application/json")
    assert restored.status_code == 200
    assert client.get("/gpsinsight/_mock/state").get_data() == first


def test_restore_takes_an_edited_dump_verbatim(client: Client, login) -> None:
    dump = client.get("/gpsinsight/_mock/state").json
    dump["state"]["vehicles"][0]["vin"] = ""
    dump["state"]["vehicles"][1]["vin"] = " 1ftfw1et5dfc10312 "
    client.post("/gpsinsight/_mock/state", json=dump)
    token = login("gpsinsight")
    rows = client.get("/gpsinsight/v2/vehicle/list", query_string={"session_token": token}).json
    assert [r["vin"] for r in rows["data"][:2]] == ["", " 1ftfw1et5dfc10312 "]


def test_restore_refuses_a_body_without_the_dump_shape(client: Client) -> None:
    response = client.post("/gpsinsight/_mock/state", json={"state": {"vehicles": []}})
    assert response.status_code == 400
    assert "missing key" in response.json["error"]


def test_restore_refuses_another_vendors_dump(client: Client) -> None:
    dump = client.get("/wex/_mock/state").json
    response = client.post("/gpsinsight/_mock/state", json=dump)
    assert response.status_code == 400
    assert "'wex'" in response.json["error"]


def test_restore_refuses_a_body_that_is_not_json(client: Client) -> None:
    response = client.post("/gpsinsight/_mock/state", data="{nope", content_type="text/plain")
    assert response.status_code == 400
    assert "dump" in response.json["error"]


def test_dump_carries_no_session_token(client: Client, login) -> None:
    token = login("gpsinsight")
    assert token not in client.get("/gpsinsight/_mock/state").get_data(as_text=True)


def test_reset_undoes_changes_and_clears_faults_and_journal(client: Client, login) -> None:
    before = client.get("/gpsinsight/_mock/state").get_data()
    token = login("gpsinsight")
    vehicle = client.get("/gpsinsight/v2/vehicle/list", query_string={"session_token": token})
    first_id = vehicle.json["data"][0]["id"]
    client.get(
        "/gpsinsight/v2/vehicle/update",
        query_string={"session_token": token, "vehicle": first_id, "vin": "CHANGED"},
    )
    client.post("/gpsinsight/_mock/faults", json={"status": 503})
    assert client.post("/gpsinsight/_mock/reset").status_code == 200
    assert client.get("/gpsinsight/_mock/state").get_data() == before
    assert client.get("/gpsinsight/_mock/faults").json == {"faults": []}
    assert client.get("/gpsinsight/_mock/journal").json == {"entries": []}


def test_seed_reseeds_every_vendor_of_the_stack(client: Client) -> None:
    gps_before = client.get("/gpsinsight/_mock/state").json["state"]["vehicles"][0]["vin"]
    wex_before = client.get("/wex/_mock/state").json["state"]["vehicles"][0]["vin"]
    answer = client.post("/gpsinsight/_mock/seed", json={"seed": 99, "vehicles": 12})
    assert answer.json == {"seed": 99, "vehicles": 12, "wex_vehicles": 20}
    gps = client.get("/gpsinsight/_mock/state").json["state"]["vehicles"]
    wex = client.get("/wex/_mock/state").json["state"]["vehicles"]
    assert len(gps) == 12
    assert gps[0]["vin"] != gps_before and wex[0]["vin"] != wex_before


def test_the_same_seed_gives_the_same_world_on_a_new_stack() -> None:
    one = Client(make_stack_app(seed=5)).get("/gpsinsight/_mock/state").get_data()
    two = Client(make_stack_app(seed=5)).get("/gpsinsight/_mock/state").get_data()
    assert one == two


@pytest.mark.parametrize(
    "body",
    [{"seed": "x"}, {"vehicles": -1}, {"colour": 1}, [1, 2], {"vehicles": 10**6}],
)
def test_seed_refuses_bad_input_with_a_clear_error(client: Client, body) -> None:
    response = client.post("/gpsinsight/_mock/seed", json=body)
    assert response.status_code == 400
    assert response.json["error"]


def test_clock_reads_freezes_sets_and_advances(client: Client) -> None:
    assert client.get("/wex/_mock/clock").json["frozen"] is True
    set_to = client.post("/wex/_mock/clock", json={"set": "2027-01-01T00:00:00Z"}).json
    assert set_to == {"now": "2027-01-01T00:00:00+00:00", "frozen": True}
    advanced = client.post("/wex/_mock/clock", json={"advance": 90}).json
    assert advanced["now"] == "2027-01-01T00:01:30+00:00"


def test_the_clock_is_shared_by_every_vendor(client: Client) -> None:
    client.post("/gpsinsight/_mock/clock", json={"advance": 3600})
    assert client.get("/wex/_mock/clock").json == client.get("/gpsinsight/_mock/clock").json


@pytest.mark.parametrize(
    "body", [{}, {"advance": "soon"}, {"set": "yesterday"}, {"freeze": "yes"}, {"tick": 1}]
)
def test_clock_refuses_bad_input(client: Client, body) -> None:
    response = client.post("/gpsinsight/_mock/clock", json=body)
    assert response.status_code == 400
    assert response.json["error"]


def test_journal_records_vendor_calls_without_secrets(client: Client, creds, login) -> None:
    token = login("gpsinsight")
    client.get("/gpsinsight/v2/vehicle/list", query_string={"session_token": token})
    client.get("/gpsinsight/_mock/clock")  # control-plane calls are not journaled
    entries = client.get("/gpsinsight/_mock/journal").json["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/v2/userauth/login", 200),
        ("GET", "/v2/vehicle/list", 200),
    ]
    master = next(u for u in creds("gpsinsight").values() if u["master"])
    assert entries[1]["app_token_id"] == master["app_token_id"]
    text = json.dumps(entries)
    assert token not in text and master["app_token"] not in text


def test_journal_filters_by_method_path_and_time(client: Client, login) -> None:
    token = login("gpsinsight")
    client.post("/gpsinsight/_mock/clock", json={"advance": 60})
    client.post("/gpsinsight/v2/vehicle/list", data={"session_token": token})
    client.get("/gpsinsight/v2/vehicle/location", query_string={"session_token": token})
    journal = "/gpsinsight/_mock/journal"
    assert len(client.get(journal, query_string={"method": "post"}).json["entries"]) == 1
    assert len(client.get(journal, query_string={"path": "/v2/vehicle/*"}).json["entries"]) == 2
    now = client.get("/gpsinsight/_mock/clock").json["now"]
    assert len(client.get(journal, query_string={"since": now}).json["entries"]) == 2
    client.delete(journal)
    assert client.get(journal).json["entries"] == []


def test_admin_key_guards_the_control_plane_when_configured() -> None:
    client = Client(make_stack_app(admin_key="s3cret-admin"))
    refused = client.get("/gpsinsight/_mock/credentials")
    assert refused.status_code == 401
    assert "s3cret-admin" not in refused.get_data(as_text=True)
    allowed = client.get(
        "/gpsinsight/_mock/credentials", headers={"X-Fleetsim-Admin-Key": "s3cret-admin"}
    )
    assert allowed.status_code == 200


def test_admin_key_does_not_guard_the_vendor_api() -> None:
    client = Client(make_stack_app(admin_key="s3cret-admin"))
    assert client.get("/gpsinsight/v2/heartbeat/beat").status_code == 200


def test_unknown_control_path_answers_json_404(client: Client) -> None:
    response = client.get("/gpsinsight/_mock/nothing")
    assert response.status_code == 404
    assert response.json["error"]


def test_unknown_vendor_answers_json_404(client: Client) -> None:
    response = client.get("/acme/v2/vehicle/list")
    assert response.status_code == 404
    assert "/gpsinsight" in response.json["error"]
