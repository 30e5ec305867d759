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
