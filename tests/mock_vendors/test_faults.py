"""Faults as data: matching, counting, and each effect on the wire."""

from __future__ import annotations

import fnmatch
import re

import orjson
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from helpers import served
from mock_vendors._common.app import DroppedConnection
from mock_vendors._common.faults import FaultPlan, FaultSpecSchema, Route, unmatched_route
from mock_vendors.wsgi import StackApp

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


def test_a_dropped_request_is_in_the_journal_before_the_client_sees_the_drop(
    stack_app: StackApp,
) -> None:
    # Over a real socket: once the connection is gone the client may send its next request
    # at once, so the dropped one must already be journaled (graders read the order).
    with served(stack_app) as base:
        control = Client(stack_app)
        add(control, path="/v2/heartbeat/beat", drop=True, first=1)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base}/gpsinsight/v2/heartbeat/beat", timeout=5)
        entries = control.get("/gpsinsight/_mock/journal").json["entries"]
        assert [(e["method"], e["path"]) for e in entries] == [("GET", "/v2/heartbeat/beat")]


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


# -- paths as the journal shows them, and globs that can match no route ----------------------

ASSETS = "/whiparound/api/public/v4/assets"


def test_a_fault_fires_on_the_path_its_journal_entry_shows(client: Client) -> None:
    client.get(ASSETS)
    shown = client.get("/whiparound/_mock/journal").json["entries"][0]["path"]
    add(client, "whiparound", path=shown, status=503, first=1)
    assert statuses(client, ASSETS, 2) == [503, 401]


def test_the_journal_filter_ignores_case_and_a_trailing_slash_as_faults_do(
    client: Client,
) -> None:
    client.get("/gpsinsight/v2/HeartBeat/beat/")
    journal = client.get("/gpsinsight/_mock/journal", query_string={"path": "/v2/heartbeat/beat/"})
    assert [e["path"] for e in journal.json["entries"]] == ["/v2/HeartBeat/beat/"]


def test_a_path_no_route_can_match_is_refused_naming_the_route_prefix(client: Client) -> None:
    response = client.post(
        "/whiparound/_mock/faults", json={"path": "/assets/*/mileage", "status": 500}
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid fault"
    assert response.json["fields"]["path"] == [
        "'/assets/*/mileage' can match no whiparound route: a fault's path is the path under "
        "/whiparound, as the journal shows it, and whiparound's routes are under /api/public/v4/"
    ]
    assert client.get("/whiparound/_mock/faults").json["faults"] == []


def test_a_method_no_route_takes_at_that_path_is_refused(client: Client) -> None:
    spec = {"method": "GET", "path": "/api/public/v4/assets/*/mileage", "status": 500}
    response = client.post("/whiparound/_mock/faults", json=spec)
    assert response.status_code == 400
    assert "can match no whiparound route taking GET" in response.json["fields"]["path"][0]


@pytest.mark.parametrize(
    ("vendor", "path"),
    [
        ("whiparound", "*"),
        ("whiparound", "/api/public/v4/*"),
        ("whiparound", "/API/public/v4/assets/7001/Mileage/"),
        ("whiparound", "*/mileage"),
        ("driveri", "/v1/tenants/*"),
        ("driveri", "/v1/tenants/[a-z]*/drivers"),
        ("driveri", "/v1/auth/token?"),
        ("gpsinsight", "/v2/vehicle/*"),
        ("wex", "/v2/*"),
    ],
)
def test_a_glob_that_can_match_a_route_is_accepted(client: Client, vendor: str, path: str) -> None:
    assert add(client, vendor, path=path, status=500)


@pytest.mark.parametrize(
    ("vendor", "path", "prefix"),
    [
        ("whiparound", "/v2/*", "/api/public/v4/"),
        ("whiparound", "/api/public/v4/assets/[/]", "/api/public/v4/"),
        ("driveri", "/tenants/*/drivers", "/v1/"),
        ("gpsinsight", "/api/public/v4/*", "/v2/"),
        ("wex", "/heartbeat/beat", "/v2/"),
    ],
)
def test_a_glob_that_can_match_no_route_is_refused(
    client: Client, vendor: str, path: str, prefix: str
) -> None:
    response = client.post(f"/{vendor}/_mock/faults", json={"path": path, "status": 500})
    assert response.status_code == 400
    assert response.json["fields"]["path"][0].endswith(f"routes are under {prefix}")


# -- skip: a storm that starts mid-sync -------------------------------------------------------


def test_skip_lets_the_first_matching_requests_through_before_first_counts(
    client: Client,
) -> None:
    add(client, path="/v2/heartbeat/beat", status=503, skip=2, first=2)
    assert statuses(client, HEARTBEAT, 5) == [200, 200, 503, 503, 200]


def test_every_counts_from_the_first_request_after_the_skip(client: Client) -> None:
    add(client, status=500, skip=3, every=2)
    assert statuses(client, HEARTBEAT, 7) == [200, 200, 200, 200, 500, 200, 500]


def test_skipped_requests_are_seen_but_not_fired(client: Client) -> None:
    add(client, status=500, skip=2)
    statuses(client, HEARTBEAT, 3)
    listed = client.get("/gpsinsight/_mock/faults").json["faults"][0]
    assert (listed["skip"], listed["seen"], listed["fired"]) == (2, 3, 1)


def test_a_skip_delays_the_seeded_random_stream_without_changing_it() -> None:
    def run(skip: int) -> list[bool]:
        plan = FaultPlan()
        spec = {"status": 500, "probability": 0.5, "seed": 3, "skip": skip}
        plan.add(FaultSpecSchema().load(spec))
        return [plan.pick("GET", "/v2/x/y") is not None for _ in range(50 + skip)]

    assert run(5) == [False] * 5 + run(0)


def test_a_negative_skip_is_refused(client: Client) -> None:
    response = client.post("/gpsinsight/_mock/faults", json={"status": 500, "skip": -1})
    assert response.status_code == 400
    assert response.json["fields"] == {"skip": ["Must be greater than or equal to 0."]}


# -- the glob check never refuses a glob that matches a real request path --------------------

RULES = [
    "/api/public/v4/assets/<idOrVin>/mileage",
    "/v1/tenants/<tenant>/drivers/<path:driver_id>",
    "/v2/<path:rest>",
    "/v1/auth/token",
]
SEGMENT = st.text("abcXYZ019-._~", min_size=1, max_size=6)


@st.composite
def path_and_glob(draw: st.DrawFn) -> tuple[str, str, str]:
    """A rule, a request path it routes, and a glob written over that path."""
    rule = draw(st.sampled_from(RULES))
    path = re.sub(
        r"<path:\w+>", lambda _: "/".join(draw(st.lists(SEGMENT, min_size=1, max_size=3))), rule
    )
    path = re.sub(r"<\w+>", lambda _: draw(SEGMENT), path)
    glob = "".join(
        draw(st.sampled_from([c, c, "?", "*", f"[{c}x]"])) if c != "/" else c for c in path
    )
    return rule, path, glob


@settings(max_examples=300, deadline=None)
@given(path_and_glob())
def test_a_glob_matching_a_routed_path_is_never_refused(case: tuple[str, str, str]) -> None:
    rule, path, glob = case
    assert fnmatch.fnmatchcase(path.lower(), glob.lower())
    routes = [Route(rule, frozenset({"GET"}), "op")]
    assert unmatched_route({"path": glob, "method": None}, routes, "vendor") is None
