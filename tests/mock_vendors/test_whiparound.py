"""Whip Around public API v4: the "done when" flow, API keys, Laravel errors on the wire,
collection paging, the control plane, faults, and the indexes that keep writes cheap."""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import Client
from whiparound_helpers import BASE, Api, error, invalid

from mock_vendors.whiparound import backend as backend_module
from mock_vendors.whiparound.backend import WhipAroundBackend
from mock_vendors.whiparound.indexes import Indexes
from mock_vendors.wsgi import StackApp

UNAUTHENTICATED = "Unauthenticated."
NEEDS_INTEGRATION = (
    "This action is unauthorized. Telematics writes need an integration API key, "
    "not a personal one."
)
TELEMATICS = [
    ("mileage", {"value": 10, "unit": "mi"}),
    ("engine-hours", {"value": 10}),
    ("location", {"latitude": 1, "longitude": 2}),
    ("dtc-defects", {"code": "P0420"}),
]


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


def backend_of(stack_app: StackApp) -> WhipAroundBackend:
    return stack_app.vendors["whiparound"].extensions["fleetsim"].backend


def plain_vin_asset(api: Api) -> dict[str, Any]:
    """An asset whose VIN is unique and typed without spaces."""
    assets = api.assets()
    counts: dict[str, int] = {}
    for a in assets:
        counts[(a["vin"] or "").upper()] = counts.get((a["vin"] or "").upper(), 0) + 1
    return next(
        a for a in assets if a["vin"] and " " not in a["vin"] and counts[a["vin"].upper()] == 1
    )


# -- done when -----------------------------------------------------------------------------


def test_mileage_and_a_dtc_posted_twice_by_vin_leave_one_defect_repeated_twice(api: Api) -> None:
    asset = plain_vin_asset(api)
    vin = asset["vin"]
    statuses = []
    for _ in range(2):
        mileage = api("POST", f"/assets/{vin}/mileage", json={"value": 88000, "unit": "mi"})
        dtc = api("POST", f"/assets/{vin}/dtc-defects", json={"code": "P0420"})
        statuses += [mileage.status_code, dtc.status_code]
    assert statuses == [200, 201, 200, 200]
    listed = api("GET", "/defects").json
    assert listed["pagination"]["total"] == 1
    assert (listed["data"][0]["asset_id"], listed["data"][0]["repeated_times"]) == (asset["id"], 2)
    calls = [(e["method"], e["path"], e["status"], e["app_token_id"]) for e in api.journal()]
    assert calls[-5:] == [
        ("POST", f"/api/public/v4/assets/{vin}/mileage", 200, "fleetsim telematics"),
        ("POST", f"/api/public/v4/assets/{vin}/dtc-defects", 201, "fleetsim telematics"),
        ("POST", f"/api/public/v4/assets/{vin}/mileage", 200, "fleetsim telematics"),
        ("POST", f"/api/public/v4/assets/{vin}/dtc-defects", 200, "fleetsim telematics"),
        ("GET", "/api/public/v4/defects", 200, "fleetsim telematics"),
    ]


# -- keys ----------------------------------------------------------------------------------


def test_credentials_list_each_key_with_its_type_and_name(api: Api) -> None:
    assert [(k["type"], k["name"]) for k in api.credentials] == [
        ("integration", "fleetsim telematics"),
        ("personal", "fleet manager"),
    ]
    assert all(isinstance(k["key"], str) and len(k["key"]) >= 32 for k in api.credentials)


def test_a_missing_api_key_answers_401_unauthenticated(api: Api) -> None:
    error(api("GET", "/assets", key=None), 401, UNAUTHENTICATED)


def test_an_unknown_api_key_answers_401_unauthenticated(api: Api) -> None:
    error(api("GET", "/defects", key="0" * 40), 401, UNAUTHENTICATED)


def test_the_key_is_taken_from_the_x_api_key_header_only(api: Api) -> None:
    response = api(
        "GET",
        "/assets",
        key=None,
        query_string={"api_key": api.keys["integration"]},
        headers={"Authorization": f"Bearer {api.keys['integration']}"},
    )
    error(response, 401, UNAUTHENTICATED)


def test_the_header_name_is_case_insensitive(api: Api) -> None:
    response = api.client.get(f"{BASE}/assets", headers={"X-API-KEY": api.keys["personal"]})
    assert response.status_code == 200


def test_a_personal_key_may_read_and_manage_assets(api: Api) -> None:
    created = api("POST", "/assets", json={"name": "Loaner"}, key="personal")
    asset_id = created.json["data"]["id"]
    codes = [
        created.status_code,
        api("GET", "/assets", key="personal").status_code,
        api("GET", f"/assets/{asset_id}", key="personal").status_code,
        api("PATCH", f"/assets/{asset_id}", json={"team": "B"}, key="personal").status_code,
        api("DELETE", f"/assets/{asset_id}", key="personal").status_code,
    ]
    assert codes == [201, 200, 200, 200, 204]


@pytest.mark.parametrize(("write", "body"), TELEMATICS)
def test_a_personal_key_gets_403_on_a_telematics_write(
    api: Api, write: str, body: dict[str, Any]
) -> None:
    asset_id = api.assets()[0]["id"]
    error(
        api("POST", f"/assets/{asset_id}/{write}", json=body, key="personal"),
        403,
        NEEDS_INTEGRATION,
    )


@pytest.mark.parametrize(("write", "body"), TELEMATICS)
def test_an_integration_key_may_make_every_telematics_write(
    api: Api, write: str, body: dict[str, Any]
) -> None:
    asset_id = api.assets()[0]["id"]
    assert api("POST", f"/assets/{asset_id}/{write}", json=body).status_code in (200, 201)


def test_a_bad_key_answers_401_before_the_key_type_path_or_body_are_looked_at(api: Api) -> None:
    response = api("POST", "/assets/NOSUCHVIN/mileage", key="nope", json={"value": "x"})
    error(response, 401, UNAUTHENTICATED)


def test_a_personal_key_answers_403_before_the_path_is_looked_at(api: Api) -> None:
    response = api("POST", "/assets/NOSUCHVIN/mileage", key="personal", json={"value": "x"})
    error(response, 403, NEEDS_INTEGRATION)


def test_an_unknown_asset_answers_404_before_the_body_is_looked_at(api: Api) -> None:
    response = api("POST", "/assets/NOSUCHVIN/mileage", json={"value": "x"})
    error(response, 404, "No asset has VIN NOSUCHVIN.")


def test_a_shared_vin_answers_409_before_the_body_is_looked_at(api: Api) -> None:
    seen: dict[str, int] = {}
    for a in api.assets():
        vin = "".join((a["vin"] or "").split()).upper()
        seen[vin] = seen.get(vin, 0) + 1
    shared = next(vin for vin, n in seen.items() if vin and n > 1)
    assert api("POST", f"/assets/{shared}/mileage", json={"value": "x"}).status_code == 409


def test_the_journal_names_the_key_and_never_holds_the_key_itself(api: Api) -> None:
    api("GET", "/assets", key="personal")
    api("GET", "/assets", key="integration")
    entries = api.journal()
    assert [e["app_token_id"] for e in entries[-2:]] == ["fleet manager", "fleetsim telematics"]
    text = json.dumps(entries)
    assert api.keys["personal"] not in text and api.keys["integration"] not in text


def test_the_journal_names_no_key_for_a_401(api: Api) -> None:
    api("GET", "/assets", key="wrong-key")
    assert api.journal()[-1]["app_token_id"] is None


# -- Laravel on the wire -------------------------------------------------------------------


def test_an_unknown_path_answers_a_laravel_404(api: Api) -> None:
    error(api("GET", "/vehicles"), 404, "The route api/public/v4/vehicles could not be found.")


def test_a_path_outside_the_api_answers_a_laravel_404(api: Api) -> None:
    error(api.client.get("/whiparound/index.html"), 404, "The route index.html could not be found.")


def test_an_unknown_path_answers_404_even_without_a_key(api: Api) -> None:
    assert api("GET", "/nothing/here", key=None).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "key", "allowed"),
    [
        ("PUT", "/assets", "integration", "GET, HEAD, POST"),
        ("OPTIONS", "/defects/1", None, "PATCH"),
    ],
    ids=["PUT on a collection", "OPTIONS, undeclared, without a key"],
)
def test_a_wrong_method_answers_a_json_405_with_allow_and_a_laravel_message(
    api: Api, method: str, path: str, key: str | None, allowed: str
) -> None:
    response = api(method, path, key=key)
    error(
        response,
        405,
        f"The {method} method is not supported for route api/public/v4{path}. "
        f"Supported methods: {allowed}.",
    )
    assert response.headers["Allow"] == allowed


def test_a_wrong_method_on_a_telematics_path_lists_post_only(api: Api) -> None:
    response = api("GET", "/assets/7001/mileage")
    assert (response.status_code, response.headers["Allow"]) == (405, "POST")


def test_head_on_a_read_answers_like_get_without_a_body(api: Api) -> None:
    response = api("HEAD", "/assets")
    assert (response.status_code, response.get_data()) == (200, b"")


def test_a_trailing_slash_is_tolerated(api: Api) -> None:
    assert api("GET", "/assets/").status_code == 200


def test_a_doubled_slash_is_a_404_not_a_redirect(api: Api) -> None:
    response = api("GET", "//assets")
    assert (response.status_code, set(response.json)) == (404, {"message"})


def test_a_body_that_is_not_json_answers_422_naming_the_body(api: Api) -> None:
    response = api("POST", "/assets", data="name=Van", content_type="application/json")
    invalid(response, {"body": ["The request body must be valid JSON."]})


def test_a_json_body_that_is_not_an_object_answers_422(api: Api) -> None:
    response = api("POST", "/assets", json=[{"name": "Van"}])
    invalid(response, {"body": ["The request body must be a JSON object."]})


def test_a_missing_body_names_each_required_field(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    response = api("POST", f"/assets/{asset_id}/location")
    invalid(
        response,
        {
            "latitude": ["The latitude field is required."],
            "longitude": ["The longitude field is required."],
        },
    )


def test_unknown_body_fields_are_ignored(api: Api) -> None:
    response = api("POST", "/assets", json={"name": "Van", "id": 1, "colour": "red"})
    assert response.status_code == 201
    assert response.json["data"]["id"] != 1 and "colour" not in response.json["data"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_not_sent_as_json_answers_422_naming_the_body(api: Api, content_type: str) -> None:
    response = api("POST", "/assets", data='{"name": "Van"}', content_type=content_type)
    invalid(
        response,
        {"body": ["The request body must be sent as JSON, with Content-Type: application/json."]},
    )


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/vnd.api+json"]
)
def test_a_json_body_with_a_charset_or_a_json_suffix_type_is_read(
    api: Api, content_type: str
) -> None:
    response = api("POST", "/assets", data='{"name": "Van"}', content_type=content_type)
    assert response.status_code == 201


@pytest.mark.parametrize("body", ['{"value": 1e400, "unit": "mi"}', '{"value": NaN, "unit": "mi"}'])
def test_numbers_json_cannot_hold_answer_422_not_a_server_error(api: Api, body: str) -> None:
    asset_id = api.assets()[0]["id"]
    response = api(
        "POST", f"/assets/{asset_id}/mileage", data=body, content_type="application/json"
    )
    invalid(response, {"body": ["The request body must be valid JSON."]})


def test_an_invalid_utf8_body_answers_422(api: Api) -> None:
    response = api("POST", "/assets", data=b'{"name": "\xff"}', content_type="application/json")
    invalid(response, {"body": ["The request body must be valid JSON."]})


# -- paging --------------------------------------------------------------------------------


def test_a_collection_defaults_to_page_1_of_50(api: Api) -> None:
    body = api("GET", "/assets").json
    total = body["pagination"]["total"]
    assert body["pagination"] == {
        "current_page": 1,
        "per_page": 50,
        "total": total,
        "last_page": -(-total // 50),
    }
    assert len(body["data"]) == min(50, total)


def test_last_page_and_total_follow_the_limit(api: Api) -> None:
    total = len(api.assets())
    body = api("GET", "/assets", query_string={"limit": 10, "page": 3}).json
    assert body["pagination"] == {
        "current_page": 3,
        "per_page": 10,
        "total": total,
        "last_page": -(-total // 10),
    }
    assert [a["id"] for a in body["data"]] == [a["id"] for a in api.assets()[20:30]]


def test_a_limit_above_1000_is_clamped_to_1000(api: Api) -> None:
    body = api("GET", "/assets", query_string={"limit": 5000}).json
    assert body["pagination"]["per_page"] == 1000
    assert len(body["data"]) == body["pagination"]["total"]


def test_a_page_past_the_end_is_empty_and_keeps_the_totals(api: Api) -> None:
    body = api("GET", "/assets", query_string={"page": 99}).json
    assert body["data"] == []
    assert body["pagination"]["current_page"] == 99
    assert body["pagination"]["last_page"] == -(-body["pagination"]["total"] // 50)


def test_an_empty_collection_has_one_last_page(api: Api) -> None:
    assert api("GET", "/defects").json == {
        "data": [],
        "pagination": {"current_page": 1, "per_page": 50, "total": 0, "last_page": 1},
    }


def test_page_and_limit_must_be_positive_integers(api: Api) -> None:
    invalid(
        api("GET", "/assets", query_string={"page": "two", "limit": "0"}),
        {
            "page": ["The page field must be an integer."],
            "limit": ["The limit field must be at least 1."],
        },
    )


def test_page_zero_answers_422(api: Api) -> None:
    invalid(
        api("GET", "/defects", query_string={"page": "0"}),
        {"page": ["The page field must be between 1 and 2147483647."]},
    )


def test_an_empty_page_value_answers_422(api: Api) -> None:
    invalid(
        api("GET", "/assets", query_string={"page": ""}),
        {"page": ["The page field must be an integer."]},
    )


def test_a_page_value_with_a_trailing_newline_answers_422(api: Api) -> None:
    invalid(
        api("GET", "/assets", query_string={"page": "2\n"}),
        {"page": ["The page field must be an integer."]},
    )


def test_a_huge_limit_written_out_is_still_clamped(api: Api) -> None:
    response = api("GET", "/assets", query_string={"limit": "9" * 60})
    assert response.json["pagination"]["per_page"] == 1000


# -- control plane -------------------------------------------------------------------------


def test_state_dump_restore_dump_is_byte_identical(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    api("POST", f"/assets/{asset_id}/dtc-defects", json={"code": "P0420"})
    api("POST", f"/assets/{asset_id}/mileage", json={"value": 5, "unit": "km"})
    first = api.client.get("/whiparound/_mock/state").get_data()
    restored = api.client.post(
        "/whiparound/_mock/state", data=first, content_type="application/json"
    )
    assert restored.status_code == 200
    assert api.client.get("/whiparound/_mock/state").get_data() == first


def test_a_dump_holds_keys_assets_defects_and_sequences(api: Api) -> None:
    dump = api.client.get("/whiparound/_mock/state").json
    assert dump["vendor"] == "whiparound"
    assert set(dump["state"]) == {"keys", "assets", "defects", "sequences"}


def test_restore_takes_an_edited_dump_verbatim(api: Api) -> None:
    dump = api.client.get("/whiparound/_mock/state").json
    dump["state"]["assets"][0]["vin"] = " zz9 plural z alpha "
    assert api.client.post("/whiparound/_mock/state", json=dump).status_code == 200
    listed = api.assets()[0]
    assert listed["vin"] == " zz9 plural z alpha "
    found = api("POST", "/assets/ZZ9PLURALZALPHA/engine-hours", json={"value": 1})
    assert found.json["data"]["id"] == listed["id"]


def test_restore_refuses_a_dump_without_the_whip_around_shape(api: Api) -> None:
    response = api.client.post("/whiparound/_mock/state", json={"state": {"assets": []}})
    assert response.status_code == 400
    assert "missing key(s): keys, defects" in response.json["error"]


def test_restore_refuses_rows_without_an_integer_id(api: Api) -> None:
    dump = api.client.get("/whiparound/_mock/state").json
    dump["state"]["assets"][0]["id"] = "7001"
    response = api.client.post("/whiparound/_mock/state", json=dump)
    assert response.status_code == 400
    assert "integer id" in response.json["error"]


def test_after_a_restore_without_sequences_ids_continue_after_the_highest(api: Api) -> None:
    dump = api.client.get("/whiparound/_mock/state").json
    del dump["state"]["sequences"]
    api.client.post("/whiparound/_mock/state", json=dump)
    highest = max(a["id"] for a in dump["state"]["assets"])
    assert api("POST", "/assets", json={"name": "n"}).json["data"]["id"] == highest + 1
    defect = api("POST", "/defects", json={"asset_id": highest, "name": "x"}).json["data"]
    assert (defect["id"], defect["reference"]) == (1, "FA-1001")


def test_reset_forgets_every_write(api: Api) -> None:
    before = api.assets()
    api("POST", f"/assets/{before[0]['id']}/dtc-defects", json={"code": "P0420"})
    api("DELETE", f"/assets/{before[1]['id']}")
    api.client.post("/whiparound/_mock/reset")
    assert (api.assets(), api("GET", "/defects").json["data"]) == (before, [])


def test_a_status_fault_answers_a_laravel_429_with_retry_after(api: Api) -> None:
    api.client.post("/whiparound/_mock/faults", json={"status": 429, "retry_after": 3})
    response = api("GET", "/assets")
    error(response, 429, "Too Many Attempts.")
    assert response.headers["Retry-After"] == "3"


def test_a_server_error_fault_answers_laravels_server_error(api: Api) -> None:
    api.client.post(
        "/whiparound/_mock/faults",
        json={"status": 500, "method": "POST", "path": "/api/public/v4/assets/*/mileage"},
    )
    asset_id = api.assets()[0]["id"]
    error(
        api("POST", f"/assets/{asset_id}/mileage", json={"value": 1, "unit": "mi"}),
        500,
        "Server Error",
    )


def test_a_404_fault_keeps_the_injected_message(api: Api) -> None:
    api.client.post("/whiparound/_mock/faults", json={"status": 404, "first": 1})
    error(api("GET", "/assets"), 404, "Injected fault")
    assert api("GET", "/assets").status_code == 200


# -- indexes and cost of writes ------------------------------------------------------------


def _snapshot(idx: Indexes) -> tuple[Any, ...]:
    return (
        {k: v["type"] for k, v in idx.keys.items()},
        sorted(idx.assets),
        {vin: sorted(ids) for vin, ids in idx.by_vin.items()},
        sorted(idx.defects),
        idx.open_dtc,
        idx.next_asset_id,
        idx.next_defect_id,
    )


def test_indexes_kept_by_writes_equal_indexes_rebuilt_from_the_state(
    api: Api, stack_app: StackApp
) -> None:
    assets = api.assets()
    for n, asset in enumerate(assets[:10]):
        api("POST", f"/assets/{asset['id']}/dtc-defects", json={"code": f"P0{n % 3}00"})
        api("POST", f"/assets/{asset['id']}/dtc-defects", json={"code": f"P0{n % 3}00"})
    api("PATCH", "/defects/2", json={"status": "Completed"})
    api("PATCH", "/defects/3", json={"status": "In Progress"})
    api("POST", "/defects", json={"asset_id": assets[0]["id"], "name": "m", "dtc_code": "b1"})
    api("PATCH", f"/assets/{assets[3]['id']}", json={"vin": "NEWVIN0000000001"})
    api("DELETE", f"/assets/{assets[4]['id']}")
    api("POST", "/assets", json={"name": "x", "vin": assets[5]["vin"]})
    backend = backend_of(stack_app)
    kept = backend.indexes()
    assert _snapshot(kept) == _snapshot(Indexes(backend.state, backend.version))


def test_writes_neither_rebuild_the_indexes_nor_scan_the_defects(
    api: Api, stack_app: StackApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = backend_of(stack_app)
    asset_ids = [a["id"] for a in api.assets()]
    for n, asset_id in enumerate(asset_ids):  # some defects to not scan
        api("POST", f"/assets/{asset_id}/dtc-defects", json={"code": f"P{n:04d}"})
    builds = []
    monkeypatch.setattr(
        backend_module,
        "Indexes",
        lambda *a: builds.append(1) or Indexes(*a),  # type: ignore[func-returns-value]
    )
    scans = []

    class WatchedList(list):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            scans.append(1)
            return super().__iter__()

    backend.state["defects"] = WatchedList(backend.state["defects"])
    for n, asset_id in enumerate(asset_ids[:20]):
        api("POST", f"/assets/{asset_id}/dtc-defects", json={"code": f"P{n:04d}"})  # repeat
        api("POST", f"/assets/{asset_id}/dtc-defects", json={"code": "U0100"})  # new
        api("POST", f"/assets/{asset_id}/mileage", json={"value": n, "unit": "km"})
        api("PATCH", f"/defects/{n + 1}", json={"status": "In Progress"})
    assert (builds, scans) == ([], [])
