"""Faults as data: matching, counting, and each effect on the wire."""

from __future__ import annotations

import orjson
import pytest
from werkzeug.test import Client

from mock_vendors._common.app import DroppedConnection
from mock_vendors._common.faults import FaultPlan, FaultSpecSchema

HEARTBEAT = "/gpsinsight/v2/heartbeat/beat"


def add(client: Client, vendor: str = "gpsinsight", **spec) -> str:
    response = client.post(f"/{vendor}/_mock/faults", json=spec)
    assert response.status_code == 201, response.json
    return response.json["id"]


def statuses(client: Client, path: str, n: int) -> list[int]:
    return [client.get(path).status_code for _ in range(n)]


def test_status_fault_answers_in_the_vendor_envelope_with_retry_after(client: Client) -> None:
    add(client, path="/v2/heartbeat/*", status=429, retry_after=2)
    response = client.get(HEARTBEAT)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    body = response.json
    assert body["head"]["status"] == "ERROR"
    assert body["errors"] == [
        {"code": 429, "message": "too many requests", "error": "too many requests"}
    ]


def test_first_n_applies_to_the_first_matching_requests_only(client: Client) -> None:
    add(client, path="/v2/heartbeat/beat", status=503, first=2)
    assert statuses(client, HEARTBEAT, 4) == [503, 503, 200, 200]


def test_every_nth_applies_to_every_nth_matching_request(client: Client) -> None:
    add(client, status=500, every=3)
    assert statuses(client, HEARTBEAT, 6) == [200, 200, 500, 200, 200, 500]


def test_probability_with_a_seed_is_repeatable() -> None:
    def run() -> list[bool]:
        plan = FaultPlan()
        plan.add(FaultSpecSchema().load({"status": 500, "probability": 0.3, "seed": 7}))
        return [plan.pick("GET", "/v2/x/y") is not None for _ in range(200)]

    first = run()
    assert first == run()
    assert 30 <= sum(first) <= 90


def test_method_and_path_must_both_match(client: Client) -> None:
    add(client, method="POST", path="/v2/heartbeat/beat", status=500)
    assert client.get(HEARTBEAT).status_code == 200
    assert client.post(HEARTBEAT).status_code == 500


def test_path_matching_ignores_case_and_trailing_slash(client: Client) -> None:
    add(client, path="/v2/heartbeat/beat", status=502)
    assert client.get("/gpsinsight/v2/HeartBeat/Beat/").status_code == 502


def test_faults_belong_to_one_vendor(client: Client) -> None:
    add(client, "wex", status=500)
    assert client.get(HEARTBEAT).status_code == 200
    assert client.get("/wex/v2/heartbeat/beat").status_code == 500


def test_truncated_body_is_cut_after_the_request_ran(client: Client) -> None:
    full = client.get(HEARTBEAT).get_data()
    add(client, body="truncated")
    cut = client.get(HEARTBEAT).get_data()
    assert cut == full[: len(full) // 2]


def test_malformed_body_is_not_json(client: Client) -> None:
    add(client, body="malformed")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(client.get(HEARTBEAT).get_data())


def test_drop_happens_after_the_write_was_committed(client: Client, login) -> None:
    token = login("gpsinsight")
    add(client, path="/v2/apiapp/create", drop=True)
    with pytest.raises(DroppedConnection):
        client.get(
            "/gpsinsight/v2/apiapp/create", query_string={"session_token": token, "app_name": "x"}
        )
    client.delete("/gpsinsight/_mock/faults")
    apps = client.get("/gpsinsight/v2/apiapp/list", query_string={"session_token": token}).json
    assert "x" in [a["app_name"] for a in apps["data"]]


def test_expire_session_turns_the_call_into_the_documented_403(client: Client, login) -> None:
    token = login("gpsinsight")
    add(client, path="/v2/vehicle/list", expire_session=True, first=1)
    response = client.get("/gpsinsight/v2/vehicle/list", query_string={"session_token": token})
    assert response.status_code == 403
    assert response.json["errors"][0]["message"] == "Forbidden (session does not exist)"


def test_latency_fault_is_accepted_and_listed(client: Client) -> None:
    fault_id = add(client, latency_ms=1)
    assert client.get(HEARTBEAT).status_code == 200
    listed = client.get("/gpsinsight/_mock/faults").json["faults"]
    assert [(f["id"], f["latency_ms"], f["seen"], f["fired"]) for f in listed] == [
        (fault_id, 1, 1, 1)
    ]


def test_a_fault_can_be_deleted_by_id(client: Client) -> None:
    fault_id = add(client, status=500)
    assert client.delete(f"/gpsinsight/_mock/faults/{fault_id}").status_code == 200
    assert client.get(HEARTBEAT).status_code == 200
    assert client.delete(f"/gpsinsight/_mock/faults/{fault_id}").status_code == 404


def test_journal_records_the_injected_status(client: Client) -> None:
    add(client, status=503, first=1)
    client.get(HEARTBEAT)
    entry = client.get("/gpsinsight/_mock/journal").json["entries"][0]
    assert (entry["path"], entry["status"]) == ("/v2/heartbeat/beat", 503)


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"path": "/v2/*"},
        {"status": 200},
        {"status": 500, "probability": 2},
        {"status": 500, "frist": 1},
        {"body": "garbled"},
        {"status": "bad"},
    ],
)
def test_bad_fault_specs_are_refused_with_the_reason(client: Client, spec) -> None:
    response = client.post("/gpsinsight/_mock/faults", json=spec)
    assert response.status_code == 400
    assert response.json["error"] == "invalid fault"
    assert response.json["fields"]


def test_a_fault_body_that_is_not_json_is_refused(client: Client) -> None:
    response = client.post("/gpsinsight/_mock/faults", data="{", content_type="application/json")
    assert response.status_code == 400


def test_a_status_fault_after_the_request_ran_keeps_the_write(client: Client, login) -> None:
    token = login("gpsinsight")
    add(client, path="/v2/apiapp/create", status=503, after=True, first=1)
    failed = client.get(
        "/gpsinsight/v2/apiapp/create", query_string={"session_token": token, "app_name": "y"}
    )
    assert failed.status_code == 503
    assert failed.json["errors"][0]["code"] == 503
    apps = client.get("/gpsinsight/v2/apiapp/list", query_string={"session_token": token}).json
    assert "y" in [a["app_name"] for a in apps["data"]]
    journal = client.get("/gpsinsight/_mock/journal", query_string={"path": "*/create"}).json
    assert [e["status"] for e in journal["entries"]] == [503]
