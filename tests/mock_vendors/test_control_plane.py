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
    response = client.post("/gpsinsight/_mock/state", data="{nope", content_type="application/json")
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


# -- only this machine's programs drive it, not a web page --------------------------------

VENDORS = ("gpsinsight", "wex", "driveri", "whiparound")
VENDOR_API = {
    "gpsinsight": "/gpsinsight/v2/heartbeat/beat",
    "wex": "/wex/v2/heartbeat/beat",
    "driveri": "/driveri/v1/tenants/demo-fleet/drivers",
    "whiparound": "/whiparound/api/public/v4/assets",
}


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_write_with_a_non_json_body_is_refused_415_and_does_nothing(
    client: Client, vendor: str, content_type: str
) -> None:
    before = client.get(f"/{vendor}/_mock/clock").json
    response = client.post(
        f"/{vendor}/_mock/clock", data='{"advance": 3600}', content_type=content_type
    )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json["error"]
    assert client.get(f"/{vendor}/_mock/clock").json == before


def test_json_with_a_charset_and_writes_without_a_body_are_taken(client: Client) -> None:
    change = client.post(
        "/gpsinsight/_mock/clock",
        data='{"advance": 60}',
        content_type="application/json; charset=utf-8",
    )
    assert change.status_code == 200
    assert client.post("/gpsinsight/_mock/reset").status_code == 200
    assert client.delete("/gpsinsight/_mock/faults").status_code == 200


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8100", "localhost.evil.example"])
def test_a_foreign_host_is_refused_403_for_reads_and_writes(
    client: Client, vendor: str, host: str
) -> None:
    headers = {"Host": host}
    read = client.get(f"/{vendor}/_mock/credentials", headers=headers)
    write = client.post(f"/{vendor}/_mock/reset", headers=headers)
    for response in (read, write):
        assert response.status_code == 403
        assert set(response.json) == {"error"} and "Host" in response.json["error"]
    assert "key" not in read.get_data(as_text=True)


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8100", "127.0.0.1:8100", "127.0.0.2", "[::1]:8100", "qa.localhost"],
)
def test_loopback_hosts_are_answered(client: Client, host: str) -> None:
    assert client.get("/driveri/_mock/clock", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("origin", ["http://evil.example", "https://evil.example:8100", "null"])
def test_a_foreign_origin_is_refused_403(client: Client, vendor: str, origin: str) -> None:
    response = client.post(
        f"/{vendor}/_mock/clock", json={"advance": 60}, headers={"Origin": origin}
    )
    assert response.status_code == 403
    assert "Origin" in response.json["error"]


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:8100"])
def test_a_page_served_from_this_machine_may_call(client: Client, origin: str) -> None:
    response = client.get("/whiparound/_mock/clock", headers={"Origin": origin})
    assert response.status_code == 200


def test_the_bound_address_and_allowed_hosts_are_answered() -> None:
    client = Client(make_stack_app(host="10.1.2.3", allowed_hosts=("fleetsim.internal",)))
    for host in ("10.1.2.3:8100", "fleetsim.internal:8100", "FleetSim.Internal"):
        assert client.get("/wex/_mock/clock", headers={"Host": host}).status_code == 200
    assert client.get("/wex/_mock/clock", headers={"Host": "10.1.2.4"}).status_code == 403


def test_binding_every_address_does_not_open_the_control_plane_to_every_host() -> None:
    client = Client(make_stack_app(host="0.0.0.0"))
    assert client.get("/wex/_mock/clock", headers={"Host": "0.0.0.0:8100"}).status_code == 403
    assert client.get("/wex/_mock/clock", headers={"Host": "192.168.1.9"}).status_code == 403


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_vendor_apis_answer_any_host_and_origin(client: Client, vendor: str) -> None:
    headers = {"Host": "evil.example", "Origin": "http://evil.example"}
    response = client.get(VENDOR_API[vendor], headers=headers)
    assert response.status_code in (200, 401)
    assert response.mimetype == "application/json"


# -- what a replay bundle reads and puts back: seed, journal and faults with their counters ----

HEARTBEAT = "/gpsinsight/v2/heartbeat/beat"


def test_seed_reads_back_the_sizes_and_the_scenario_the_stack_holds(client: Client) -> None:
    assert client.post("/gpsinsight/_mock/seed", json={"seed": 4, "scenario": "km-assets"}).json
    assert client.get("/driveri/_mock/seed").json == {
        "seed": 4,
        "vehicles": 50,
        "wex_vehicles": 20,
        "dtcs_per_vehicle": None,
        "scenario": "km-assets",
    }


def test_seeding_with_a_null_scenario_forgets_the_name(client: Client) -> None:
    client.post("/gpsinsight/_mock/seed", json={"scenario": "km-assets"})
    client.post("/gpsinsight/_mock/seed", json={"scenario": None})
    assert client.get("/gpsinsight/_mock/seed").json["scenario"] is None


def test_a_journal_put_back_lists_exactly_as_it_was_listed(client: Client) -> None:
    client.get(HEARTBEAT)
    client.get("/whiparound/api/public/v4/assets")
    listed = client.get("/whiparound/_mock/journal").get_data()
    client.delete("/whiparound/_mock/journal")
    restored = client.put("/whiparound/_mock/journal", data=listed, content_type="application/json")
    assert restored.json == {"restored": 1}
    assert client.get("/whiparound/_mock/journal").get_data() == listed


ENTRY = {"at": "2026-03-10T17:30:00+00:00", "method": "GET", "path": "/v2/x", "status": 200,
         "latency_ms": 1, "app_token_id": None}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"entries": ["Missing data for required field."]}),
        ({"entries": [{**ENTRY, "at": "noon"}]},
         {"entries": {"0": {"at": ["Not an ISO-8601 date-time."]}}}),
        ({"entries": [{**ENTRY, "token": "t"}]}, {"entries": {"0": {"token": ["Unknown field."]}}}),
        ({"entries": [{**ENTRY, "status": "200"}]},
         {"entries": {"0": {"status": ["Not a valid integer."]}}}),
    ],
)  # fmt: skip
def test_a_journal_that_is_not_a_listed_one_is_refused(client: Client, body, fields) -> None:
    client.get(HEARTBEAT)
    response = client.put("/gpsinsight/_mock/journal", json=body)
    assert response.status_code == 400
    assert response.json == {
        "error": 'invalid journal: expected {"entries": [...]} from GET /_mock/journal',
        "fields": fields,
    }
    assert len(client.get("/gpsinsight/_mock/journal").json["entries"]) == 1


def test_a_fault_plan_put_back_keeps_ids_counters_and_its_random_stream(client: Client) -> None:
    spec = {"path": "/v2/heartbeat/*", "status": 503, "probability": 0.5, "seed": 11}
    client.post("/gpsinsight/_mock/faults", json=spec)
    first = [client.get(HEARTBEAT).status_code for _ in range(7)]
    listed = client.get("/gpsinsight/_mock/faults").json
    original = [client.get(HEARTBEAT).status_code for _ in range(12)]
    restored = client.put("/gpsinsight/_mock/faults", json=listed)
    assert restored.json == {"restored": 1}
    assert client.get("/gpsinsight/_mock/faults").json == listed
    assert [client.get(HEARTBEAT).status_code for _ in range(12)] == original
    assert 503 in first + original and 200 in original


def test_a_fault_added_after_a_put_gets_the_next_id(client: Client) -> None:
    plan = {"faults": [{"id": "f7", "status": 500, "path": "/v2/*", "seen": 3, "fired": 3}]}
    assert client.put("/gpsinsight/_mock/faults", json=plan).status_code == 200
    added = client.post("/gpsinsight/_mock/faults", json={"status": 500})
    assert added.json == {"id": "f8"}


@pytest.mark.parametrize(
    ("faults", "fields"),
    [
        ([{"id": "f1", "status": 500, "seen": 1, "fired": 2}],
         {"faults": {"0": {"_schema": ["a fault cannot have fired more often than it was seen"]}}}),
        ([{"id": "f1", "status": 500}, {"id": "f1", "status": 502}],
         {"faults": ["every fault id must appear once"]}),
        ([{"id": "x1", "status": 500}],
         {"faults": {"0": {"id": ["String does not match expected pattern."]}}}),
        ([{"status": 500}], {"faults": {"0": {"id": ["Missing data for required field."]}}}),
    ],
)  # fmt: skip
def test_a_fault_plan_that_is_not_a_listed_one_is_refused(client: Client, faults, fields) -> None:
    response = client.put("/gpsinsight/_mock/faults", json={"faults": faults})
    assert response.status_code == 400
    assert response.json["fields"] == fields


def test_a_fault_plan_with_a_path_no_route_matches_is_refused_whole(client: Client) -> None:
    client.post("/whiparound/_mock/faults", json={"status": 500})
    plan = {"faults": [{"id": "f1", "status": 500}, {"id": "f2", "path": "/v2/*", "status": 500}]}
    response = client.put("/whiparound/_mock/faults", json=plan)
    assert response.status_code == 400
    assert response.json["error"] == "invalid fault plan"
    assert "routes are under /api/public/v4/" in response.json["fields"]["faults"]["1"]["path"][0]
    assert [f["id"] for f in client.get("/whiparound/_mock/faults").json["faults"]] == ["f1"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "seed"), ("PUT", "journal"), ("PUT", "faults"), ("GET", "journal")],
)
def test_the_admin_key_guards_what_a_bundle_reads_and_puts_back(method: str, path: str) -> None:
    client = Client(make_stack_app(admin_key="s3cret-admin"))
    response = client.open(f"/driveri/_mock/{path}", method=method, json={"entries": []})
    assert response.status_code == 401
    assert response.json == {"error": "missing or wrong X-Fleetsim-Admin-Key header"}
