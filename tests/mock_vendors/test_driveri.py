"""Netradyne Driveri on the wire: tokens, drivers, the envelope, quotas, faults, control plane.

Everything goes through the Flask test client over the whole stack (paths start /driveri),
on a clock frozen at T0, as docs/vendors.md §2 describes the vendor.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

import pytest
from werkzeug.test import Client, TestResponse

from helpers import T0, make_stack_app

TENANT = "demo-fleet"
API = f"/driveri/v1/tenants/{TENANT}"
T0_MS = int(T0.timestamp() * 1000)
HOUR = 3600
ERROR_FIELDS = {"timestamp", "status", "error", "message", "messageCode", "path"}
DRIVER_FIELDS = {
    "driverId", "firstName", "lastName", "status", "createdDate", "updatedDate",
    "licenceNumber", "licenseCountry", "licenseState", "userName", "email", "group",
    "enableDriveriApp", "authorizedToDrive", "linkedUserName",
}  # fmt: skip
ACTIVE, INACTIVE, DELETED = 1, 2, 3
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


# -- helpers -------------------------------------------------------------------------------


def api_client(client: Client) -> dict[str, Any]:
    """The demo tenant's API client row from ``/_mock/credentials``."""
    return client.get("/driveri/_mock/credentials").json["clients"][0]


def basic(client: Client) -> dict[str, str]:
    """Basic auth headers for the demo API client."""
    return {"Authorization": f"Basic {api_client(client)['basic_token']}"}


def basic_for(client_id: str, secret: str) -> dict[str, str]:
    """Basic auth headers for any client id and secret."""
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def issue(client: Client, headers: dict[str, str] | None = None) -> TestResponse:
    """POST /v1/auth/token as the SDK does: Basic, JSON content type, empty body."""
    return client.post(
        "/driveri/v1/auth/token",
        headers={**(headers or basic(client)), "Content-Type": "application/json"},
        data=b"",
    )


def new_token(client: Client) -> str:
    """A fresh access token for the demo API client."""
    response = issue(client)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["data"]["accessToken"]


def bearer(token: str, scheme: str = "bearer") -> dict[str, str]:
    """Bearer headers as the SDK sends them (lower-case scheme)."""
    return {"Authorization": f"{scheme} {token}"}


def list_tokens(client: Client) -> list[dict[str, Any]]:
    """The demo client's active tokens."""
    response = client.get("/driveri/v1/auth/tokens", headers=basic(client))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["data"]


def advance(client: Client, seconds: float) -> None:
    """Move the stack's virtual clock forward."""
    response = client.post("/driveri/_mock/clock", json={"advance": seconds})
    assert response.status_code == 200, response.get_data(as_text=True)


def assert_error(response: TestResponse, status: int, code: str, *fragments: str) -> dict[str, Any]:
    """The Driveri error envelope: HTTP status == error.status, all six fields, JSON."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"data", "error"}
    assert body["data"] is None
    error = body["error"]
    assert set(error) == ERROR_FIELDS
    assert error["status"] == status
    assert error["messageCode"] == code
    assert unquote(error["path"]) == response.request.path  # an id's "/" stays encoded
    assert datetime.fromisoformat(error["timestamp"]) >= T0
    assert TIMESTAMP.match(error["timestamp"]), error["timestamp"]
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return error


def ok_data(response: TestResponse, status: int = 200) -> Any:
    """``data`` of a successful answer (which never carries an error)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json["error"] is None
    return response.json["data"]


@pytest.fixture
def auth(client: Client) -> dict[str, str]:
    """Bearer headers with a fresh token."""
    return bearer(new_token(client))


def drivers(client: Client, auth: dict[str, str], **query: Any) -> TestResponse:
    """GET /drivers."""
    return client.get(f"{API}/drivers", headers=auth, query_string=query)


def all_drivers(client: Client, auth: dict[str, str]) -> list[dict[str, Any]]:
    """Every driver, soft-deleted ones included, in tenant order."""
    return ok_data(drivers(client, auth, showAll="true", limit=200))["drivers"]


def detail(client: Client, auth: dict[str, str], **query: Any) -> TestResponse:
    """GET /driver."""
    return client.get(f"{API}/driver", headers=auth, query_string=query)


def driver(client: Client, auth: dict[str, str], driver_id: str) -> dict[str, Any]:
    """One driver by id (must exist)."""
    return ok_data(detail(client, auth, driverId=driver_id))["drivers"][0]


def add(client: Client, auth: dict[str, str], body: Any, **query: Any) -> TestResponse:
    """POST /drivers with a JSON body."""
    return client.post(f"{API}/drivers", headers=auth, json=body, query_string=query)


def edit(client: Client, auth: dict[str, str], driver_id: str, body: Any) -> TestResponse:
    """PUT /drivers/{driverId}, the id percent-encoded as the SDK does."""
    return client.put(f"{API}/drivers/{quote(driver_id, safe='')}", headers=auth, json=body)


def active_id(client: Client, auth: dict[str, str], n: int = 0) -> str:
    """The id of the n-th active driver."""
    return ok_data(drivers(client, auth))["drivers"][n]["driverId"]


def deleted_id(client: Client, auth: dict[str, str]) -> str:
    """The id of the seeded soft-deleted driver."""
    return next(d["driverId"] for d in all_drivers(client, auth) if d["status"] == DELETED)


# -- access tokens -------------------------------------------------------------------------


def test_token_is_issued_for_basic_credentials_and_an_empty_json_body(client: Client) -> None:
    data = ok_data(issue(client))
    assert set(data) == {
        "accessToken", "tokenType", "expiresOn", "scope", "accessTokenId", "createdOn"
    }  # fmt: skip
    assert data["tokenType"] == "Bearer"
    assert data["createdOn"] == T0_MS
    assert data["expiresOn"] == T0_MS + HOUR * 1000


def test_token_request_ignores_any_body_it_is_sent(client: Client) -> None:
    response = client.post(
        "/driveri/v1/auth/token",
        headers=basic(client),
        json={"grant_type": "client_credentials", "scope": "anything"},
    )
    assert ok_data(response)["accessToken"]


def test_token_listing_is_an_empty_array_when_no_token_is_active(client: Client) -> None:
    response = client.get("/driveri/v1/auth/tokens", headers=basic(client))
    assert response.json == {"data": [], "error": None}


def test_token_listing_shows_the_active_tokens_in_full(client: Client) -> None:
    issued = ok_data(issue(client))
    assert list_tokens(client) == [issued]


def test_token_listing_leaves_out_revoked_tokens(client: Client) -> None:
    first, second = new_token(client), new_token(client)
    client.delete("/driveri/v1/auth/token/revoke", headers=bearer(first))
    assert [t["accessToken"] for t in list_tokens(client)] == [second]


def test_token_listing_leaves_out_expired_tokens(client: Client) -> None:
    new_token(client)
    advance(client, HOUR + 1)
    assert list_tokens(client) == []


def test_a_third_active_token_is_refused_with_token_limit(client: Client) -> None:
    new_token(client)
    new_token(client)
    assert_error(issue(client), 400, "TOKEN_LIMIT", "At most 2 active access tokens")


def test_revoking_a_token_frees_a_slot_under_the_limit(client: Client) -> None:
    first = new_token(client)
    new_token(client)
    client.delete("/driveri/v1/auth/token/revoke", headers=bearer(first))
    assert issue(client).status_code == 200


def test_an_expired_token_no_longer_counts_against_the_limit(client: Client) -> None:
    new_token(client)
    new_token(client)
    advance(client, HOUR + 1)
    assert issue(client).status_code == 200


def test_token_stops_working_after_an_hour_of_virtual_time(client: Client) -> None:
    token = new_token(client)
    advance(client, HOUR + 1)
    assert_error(drivers(client, bearer(token)), 401, "UNAUTHORIZED", "expired")


def test_token_still_works_a_second_before_its_hour_is_up(client: Client) -> None:
    token = new_token(client)
    advance(client, HOUR - 1)
    assert drivers(client, bearer(token)).status_code == 200


def test_token_lifetime_is_a_setting() -> None:
    client = Client(make_stack_app(driveri_token_ttl_s=60))
    data = ok_data(issue(client))
    assert data["expiresOn"] - data["createdOn"] == 60_000


def test_revoke_with_the_bearer_token_ends_that_token(client: Client) -> None:
    token = new_token(client)
    response = client.delete("/driveri/v1/auth/token/revoke", headers=bearer(token))
    assert ok_data(response) == {"message": "Access token revoked successfully"}
    assert_error(drivers(client, bearer(token)), 401, "UNAUTHORIZED")


def test_revoke_by_id_with_basic_credentials_ends_that_token(client: Client) -> None:
    issued = ok_data(issue(client))
    response = client.delete(
        f"/driveri/v1/auth/token/revoke/{issued['accessTokenId']}", headers=basic(client)
    )
    assert ok_data(response) == {"message": "Access token revoked successfully"}
    assert_error(drivers(client, bearer(issued["accessToken"])), 401, "UNAUTHORIZED")


def test_revoke_by_id_leaves_the_clients_other_tokens_alone(client: Client) -> None:
    first, second = ok_data(issue(client)), ok_data(issue(client))
    client.delete(f"/driveri/v1/auth/token/revoke/{first['accessTokenId']}", headers=basic(client))
    assert drivers(client, bearer(second["accessToken"])).status_code == 200


def test_revoke_by_an_unknown_id_is_404_token_not_found(client: Client) -> None:
    response = client.delete("/driveri/v1/auth/token/revoke/no-such-id", headers=basic(client))
    assert_error(response, 404, "TOKEN_NOT_FOUND", "Access token not found")


def test_revoke_by_id_wants_basic_credentials_not_a_bearer_token(client: Client) -> None:
    issued = ok_data(issue(client))
    response = client.delete(
        f"/driveri/v1/auth/token/revoke/{issued['accessTokenId']}",
        headers=bearer(issued["accessToken"]),
    )
    assert_error(response, 401, "UNAUTHORIZED", "Basic authentication is required")


def test_revoke_without_a_bearer_token_is_401(client: Client) -> None:
    response = client.delete("/driveri/v1/auth/token/revoke", headers=basic(client))
    assert_error(response, 401, "UNAUTHORIZED", "bearer access token is required")


@pytest.mark.parametrize("scheme", ["bearer", "Bearer", "BEARER"])
def test_bearer_scheme_is_accepted_in_any_letter_case(client: Client, scheme: str) -> None:
    assert drivers(client, bearer(new_token(client), scheme)).status_code == 200


def test_wrong_basic_secret_is_401(client: Client) -> None:
    row = api_client(client)
    response = issue(client, basic_for(row["client_id"], "wrong-secret"))
    assert_error(response, 401, "UNAUTHORIZED", "Invalid client credentials")


def test_unknown_basic_client_is_401(client: Client) -> None:
    response = client.get("/driveri/v1/auth/tokens", headers=basic_for("nobody", "x"))
    assert_error(response, 401, "UNAUTHORIZED", "Invalid client credentials")


def test_basic_header_that_is_not_base64_is_401(client: Client) -> None:
    response = issue(client, {"Authorization": "Basic %%%not-base64%%%"})
    assert_error(response, 401, "UNAUTHORIZED", "Invalid Basic credentials")


def test_basic_header_without_a_colon_is_401(client: Client) -> None:
    encoded = base64.b64encode(b"no-colon-here").decode()
    response = issue(client, {"Authorization": f"Basic {encoded}"})
    assert_error(response, 401, "UNAUTHORIZED", "Invalid Basic credentials")


def test_token_request_without_credentials_is_401(client: Client) -> None:
    response = client.post("/driveri/v1/auth/token", content_type="application/json")
    assert_error(response, 401, "UNAUTHORIZED", "Basic authentication is required")


def test_data_call_without_a_token_is_401(client: Client) -> None:
    assert_error(drivers(client, {}), 401, "UNAUTHORIZED", "bearer access token is required")


def test_data_call_with_an_unknown_token_is_401(client: Client) -> None:
    response = drivers(client, bearer("not-a-token"))
    assert_error(response, 401, "UNAUTHORIZED", "invalid, expired or revoked")


def test_data_call_with_basic_credentials_is_401(client: Client) -> None:
    assert_error(drivers(client, basic(client)), 401, "UNAUTHORIZED")


# -- tenants -------------------------------------------------------------------------------


def test_unknown_tenant_is_404_tenant_not_found(client: Client, auth: dict[str, str]) -> None:
    response = client.get("/driveri/v1/tenants/no-such-fleet/drivers", headers=auth)
    assert_error(response, 404, "TENANT_NOT_FOUND", "no-such-fleet")


def test_tenant_of_another_api_client_is_403(client: Client) -> None:
    dump = client.get("/driveri/_mock/state").json
    dump["state"]["clients"].append(
        {"client_id": "other-client", "client_secret": "other-secret", "tenant": "other-fleet"}
    )
    assert client.post("/driveri/_mock/state", json=dump).status_code == 200
    token = ok_data(issue(client, basic_for("other-client", "other-secret")))["accessToken"]
    response = drivers(client, bearer(token))
    assert_error(response, 403, "FORBIDDEN", "not allowed")


# -- listing -------------------------------------------------------------------------------


def test_list_hides_soft_deleted_drivers_by_default(client: Client, auth: dict[str, str]) -> None:
    body = drivers(client, auth).json
    assert body["totalCount"] == len(all_drivers(client, auth)) - 1
    assert {d["status"] for d in body["data"]["drivers"]} == {ACTIVE}


@pytest.mark.parametrize("spelling", ["true", "True", "TRUE", "1"])
def test_show_all_includes_soft_deleted_drivers_in_any_spelling(
    client: Client, auth: dict[str, str], spelling: str
) -> None:
    listed = ok_data(drivers(client, auth, showAll=spelling))["drivers"]
    assert DELETED in {d["status"] for d in listed}


@pytest.mark.parametrize("spelling", ["false", "False", "FALSE", "0"])
def test_show_all_false_in_any_spelling_hides_them(
    client: Client, auth: dict[str, str], spelling: str
) -> None:
    listed = ok_data(drivers(client, auth, showAll=spelling))["drivers"]
    assert DELETED not in {d["status"] for d in listed}


def test_show_all_that_is_not_a_boolean_is_400(client: Client, auth: dict[str, str]) -> None:
    response = drivers(client, auth, showAll="maybe")
    assert_error(response, 400, "INVALID_REQUEST", "showAll must be true or false")


def test_list_answers_drivers_with_links_and_total_count_at_the_top_level(
    client: Client, auth: dict[str, str]
) -> None:
    body = drivers(client, auth).json
    assert set(body) == {"data", "links", "totalCount", "error"}
    assert set(body["data"]) == {"drivers"}
    assert set(body["links"]) == {"self", "next", "prev", "first", "last"}


def test_offset_skips_that_many_drivers(client: Client, auth: dict[str, str]) -> None:
    everyone = all_drivers(client, auth)
    page = ok_data(drivers(client, auth, showAll="true", offset=3, limit=2))["drivers"]
    assert page == everyone[3:5]


def test_total_count_counts_every_match_not_the_page(client: Client, auth: dict[str, str]) -> None:
    body = drivers(client, auth, showAll="true", limit=1).json
    assert len(body["data"]["drivers"]) == 1
    assert body["totalCount"] == len(all_drivers(client, auth))


def test_page_links_are_full_urls_under_the_driveri_prefix(
    client: Client, auth: dict[str, str]
) -> None:
    total = len(all_drivers(client, auth))
    body = drivers(client, auth, showAll="true", offset=3, limit=3).json
    base = f"http://localhost{API}/drivers?showAll=true"
    last = (total - 1) // 3 * 3
    assert body["links"] == {
        "self": f"{base}&offset=3&limit=3",
        "next": f"{base}&offset=6&limit=3" if total > 6 else None,
        "prev": f"{base}&offset=0&limit=3",
        "first": f"{base}&offset=0&limit=3",
        "last": f"{base}&offset={last}&limit=3",
    }


def test_first_page_has_no_prev_link(client: Client, auth: dict[str, str]) -> None:
    links = drivers(client, auth, limit=2).json["links"]
    assert links["prev"] is None
    assert links["next"] is not None


def test_last_page_has_no_next_link(client: Client, auth: dict[str, str]) -> None:
    total = drivers(client, auth).json["totalCount"]
    links = drivers(client, auth, offset=total - 1, limit=2).json["links"]
    assert links["next"] is None
    assert links["prev"] is not None


def test_following_next_links_visits_every_driver_once(
    client: Client, auth: dict[str, str]
) -> None:
    seen: list[str] = []
    url: str | None = f"{API}/drivers?showAll=true&limit=2"
    while url:
        body = client.get(url.replace("http://localhost", ""), headers=auth).json
        seen += [d["driverId"] for d in body["data"]["drivers"]]
        url = body["links"]["next"]
    assert seen == [d["driverId"] for d in all_drivers(client, auth)]


def test_default_page_size_is_50(client: Client, auth: dict[str, str]) -> None:
    assert drivers(client, auth).json["links"]["self"].endswith("offset=0&limit=50")


@pytest.mark.parametrize("limit", ["0", "201", "-1"])
def test_limit_outside_1_to_200_is_400(client: Client, auth: dict[str, str], limit: str) -> None:
    response = drivers(client, auth, limit=limit)
    assert_error(response, 400, "INVALID_REQUEST", "limit must be between 1 and 200")


@pytest.mark.parametrize("limit", ["1", "200"])
def test_limit_at_either_bound_is_accepted(
    client: Client, auth: dict[str, str], limit: str
) -> None:
    assert drivers(client, auth, limit=limit).status_code == 200


def test_limit_that_is_not_a_number_is_400(client: Client, auth: dict[str, str]) -> None:
    response = drivers(client, auth, limit="ten")
    assert_error(response, 400, "INVALID_REQUEST", "limit must be an integer")


def test_negative_offset_is_400(client: Client, auth: dict[str, str]) -> None:
    response = drivers(client, auth, offset="-1")
    assert_error(response, 400, "INVALID_REQUEST", "offset must be between")


def test_offset_past_the_end_is_an_empty_page(client: Client, auth: dict[str, str]) -> None:
    body = drivers(client, auth, offset=1000).json
    assert body["data"] == {"drivers": []}
    assert body["links"]["next"] is None


def test_from_date_keeps_drivers_updated_at_or_after_it(
    client: Client, auth: dict[str, str]
) -> None:
    touched = active_id(client, auth, 2)
    edit(client, auth, touched, {"lastName": "Touched"})
    listed = ok_data(drivers(client, auth, fromDate=T0_MS))["drivers"]
    assert [d["driverId"] for d in listed] == [touched]


def test_to_date_keeps_drivers_updated_at_or_before_it(
    client: Client, auth: dict[str, str]
) -> None:
    touched = active_id(client, auth, 2)
    edit(client, auth, touched, {"lastName": "Touched"})
    listed = ok_data(drivers(client, auth, toDate=T0_MS - 1))["drivers"]
    assert touched not in {d["driverId"] for d in listed}
    assert listed


def test_state_filter_keeps_drivers_with_those_statuses(
    client: Client, auth: dict[str, str]
) -> None:
    resting = active_id(client, auth, 1)
    edit(client, auth, resting, {"status": INACTIVE})
    listed = ok_data(drivers(client, auth, state="2"))["drivers"]
    assert [d["driverId"] for d in listed] == [resting]


def test_state_filter_that_is_not_numeric_is_400(client: Client, auth: dict[str, str]) -> None:
    response = drivers(client, auth, state="1,active")
    assert_error(response, 400, "INVALID_REQUEST", "state must be comma separated")


def test_group_filter_keeps_drivers_of_that_group(client: Client, auth: dict[str, str]) -> None:
    grouped = active_id(client, auth, 3)
    edit(client, auth, grouped, {"group": {"name": "North", "action": "ADD"}})
    listed = ok_data(drivers(client, auth, group="north"))["drivers"]
    assert [d["driverId"] for d in listed] == [grouped]


def test_unknown_query_parameters_are_ignored(client: Client, auth: dict[str, str]) -> None:
    response = drivers(client, auth, includeDriverPreferences="True", subFleet="x", foo="bar")
    assert response.status_code == 200


def test_drivers_carry_exactly_the_documented_fields(client: Client, auth: dict[str, str]) -> None:
    for listed in all_drivers(client, auth):
        assert set(listed) == DRIVER_FIELDS


def test_phone_is_never_returned(client: Client, auth: dict[str, str]) -> None:
    add(client, auth, {"driverId": "PH1", "firstName": "Pat", "phone": "+1 555 0100"})
    assert "phone" not in driver(client, auth, "PH1")
    assert "555 0100" not in drivers(client, auth, limit=200).get_data(as_text=True)


def test_times_are_epoch_milliseconds_as_integers(client: Client, auth: dict[str, str]) -> None:
    listed = all_drivers(client, auth)[0]
    assert isinstance(listed["createdDate"], int)
    assert listed["createdDate"] < T0_MS < listed["createdDate"] * 2


# -- driver detail -------------------------------------------------------------------------


def test_detail_by_driver_id_answers_in_the_lists_shape(
    client: Client, auth: dict[str, str]
) -> None:
    first = all_drivers(client, auth)[0]
    assert ok_data(detail(client, auth, driverId=first["driverId"])) == {"drivers": [first]}


def test_detail_by_email_ignores_letter_case(client: Client, auth: dict[str, str]) -> None:
    first = all_drivers(client, auth)[0]
    found = ok_data(detail(client, auth, email=first["email"].upper()))["drivers"]
    assert [d["driverId"] for d in found] == [first["driverId"]]


def test_detail_by_user_name(client: Client, auth: dict[str, str]) -> None:
    first = all_drivers(client, auth)[1]
    found = ok_data(detail(client, auth, userName=first["userName"]))["drivers"]
    assert [d["driverId"] for d in found] == [first["driverId"]]


def test_detail_finds_a_soft_deleted_driver(client: Client, auth: dict[str, str]) -> None:
    assert driver(client, auth, deleted_id(client, auth))["status"] == DELETED


def test_detail_of_an_unknown_driver_is_404(client: Client, auth: dict[str, str]) -> None:
    response = detail(client, auth, driverId="NOPE-0")
    assert_error(response, 404, "DRIVER_NOT_FOUND", "Driver not found")


def test_detail_of_an_unknown_email_is_404(client: Client, auth: dict[str, str]) -> None:
    response = detail(client, auth, email="nobody@example.invalid")
    assert_error(response, 404, "DRIVER_NOT_FOUND")


def test_detail_driver_id_is_case_sensitive(client: Client, auth: dict[str, str]) -> None:
    response = detail(client, auth, driverId=active_id(client, auth).lower())
    assert_error(response, 404, "DRIVER_NOT_FOUND")


def test_detail_without_driver_id_email_or_user_name_is_400(
    client: Client, auth: dict[str, str]
) -> None:
    response = detail(client, auth, group="default")
    assert_error(response, 400, "INVALID_REQUEST", "One of driverId, email or userName")


# -- add -----------------------------------------------------------------------------------


def test_added_driver_is_active_with_defaults(client: Client, auth: dict[str, str]) -> None:
    response = add(client, auth, {"driverId": "NEW1", "firstName": "Nia", "lastName": "Ode"})
    assert ok_data(response) == {"message": "Driver added successfully"}
    assert driver(client, auth, "NEW1") == {
        "driverId": "NEW1",
        "firstName": "Nia",
        "lastName": "Ode",
        "status": ACTIVE,
        "createdDate": T0_MS,
        "updatedDate": T0_MS,
        "licenceNumber": None,
        "licenseCountry": None,
        "licenseState": None,
        "userName": None,
        "email": None,
        "group": {"groupName": "Default", "groupUniqueName": "default"},
        "enableDriveriApp": False,
        "authorizedToDrive": 1,
        "linkedUserName": None,
    }


def test_added_driver_shows_up_in_the_list(client: Client, auth: dict[str, str]) -> None:
    add(client, auth, {"driverId": "NEW2", "firstName": "Ola"})
    assert all_drivers(client, auth)[-1]["driverId"] == "NEW2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"firstName": "Nia"}, "driverId is required"),
        ({"driverId": "   ", "firstName": "Nia"}, "driverId is required"),
        ({"driverId": "NEW3"}, "firstName is required"),
        ({"driverId": "NEW3", "firstName": ""}, "firstName is required"),
        ({"driverId": "NEW4", "firstName": 7}, "firstName: Not a valid string"),
        (
            {"driverId": "L1", "firstName": "Lee", "licenceNumber": "D123", "licenseCountry": "US"},
            "licenseCountry and licenseState are required",
        ),
        (
            {"driverId": "L2", "firstName": "Lee", "licenseCountry": "US", "licenseState": "US-CA"},
            "licenceNumber is required",
        ),
    ],
    ids=[
        "no driverId",
        "blank driverId",
        "no firstName",
        "empty firstName",
        "firstName of the wrong type",
        "licence number without country and state",
        "licence country and state without a number",
    ],
)
def test_add_with_a_missing_wrong_or_incomplete_field_is_400_naming_it(
    client: Client, auth: dict[str, str], body: dict[str, Any], message: str
) -> None:
    assert_error(add(client, auth, body), 400, "INVALID_REQUEST", message)


def test_licence_with_number_country_and_state_is_kept(
    client: Client, auth: dict[str, str]
) -> None:
    licence = {"licenceNumber": "D123", "licenseCountry": "US", "licenseState": "US-CA"}
    add(client, auth, {"driverId": "L3", "firstName": "Lee", **licence})
    stored = driver(client, auth, "L3")
    assert {k: stored[k] for k in licence} == licence


def test_group_request_puts_the_driver_in_that_group(client: Client, auth: dict[str, str]) -> None:
    add(client, auth, {"driverId": "G1", "firstName": "Gus", "group": {"name": "North"}})
    assert driver(client, auth, "G1")["group"] == {"groupName": "North", "groupUniqueName": "north"}


def test_duplicate_of_an_active_driver_id_is_409(client: Client, auth: dict[str, str]) -> None:
    taken = active_id(client, auth)
    response = add(client, auth, {"driverId": taken, "firstName": "Dup"})
    assert_error(response, 409, "DRIVER_ALREADY_EXISTS", taken)


def test_duplicate_of_a_soft_deleted_driver_id_is_409(client: Client, auth: dict[str, str]) -> None:
    gone = deleted_id(client, auth)
    response = add(client, auth, {"driverId": gone, "firstName": "Dup"})
    assert_error(response, 409, "DRIVER_ALREADY_EXISTS", gone)


def test_reinstate_revives_a_soft_deleted_driver_and_updates_it(
    client: Client, auth: dict[str, str]
) -> None:
    gone = deleted_id(client, auth)
    before = driver(client, auth, gone)
    response = add(
        client, auth, {"driverId": gone, "firstName": "Back", "lastName": "Again"},
        reinstateDriver="true",
    )  # fmt: skip
    assert ok_data(response) == {"message": "Driver reinstated successfully"}
    after = driver(client, auth, gone)
    assert (after["status"], after["firstName"], after["lastName"]) == (ACTIVE, "Back", "Again")
    assert after["createdDate"] == before["createdDate"]
    assert after["updatedDate"] == T0_MS
    assert after["email"] == before["email"]


def test_reinstate_accepts_the_sdks_capitalised_true(client: Client, auth: dict[str, str]) -> None:
    gone = deleted_id(client, auth)
    response = add(client, auth, {"driverId": gone, "firstName": "Back"}, reinstateDriver="True")
    assert response.status_code == 200


def test_reinstating_an_active_driver_is_409(client: Client, auth: dict[str, str]) -> None:
    taken = active_id(client, auth)
    response = add(client, auth, {"driverId": taken, "firstName": "X"}, reinstateDriver="true")
    assert_error(response, 409, "DRIVER_ALREADY_EXISTS", taken)


def test_reinstate_of_an_unknown_id_adds_the_driver(client: Client, auth: dict[str, str]) -> None:
    response = add(client, auth, {"driverId": "R9", "firstName": "Rae"}, reinstateDriver="true")
    assert ok_data(response) == {"message": "Driver added successfully"}


def test_reinstate_still_checks_the_licence_rule(client: Client, auth: dict[str, str]) -> None:
    gone = deleted_id(client, auth)
    body = {"driverId": gone, "firstName": "Back", "licenceNumber": "D1"}
    assert_error(add(client, auth, body, reinstateDriver="true"), 400, "INVALID_REQUEST")
    assert driver(client, auth, gone)["status"] == DELETED


def test_unknown_body_fields_are_ignored(client: Client, auth: dict[str, str]) -> None:
    body = {
        "driverId": "U1",
        "firstName": "Uma",
        "setPassword": True,
        "password": "s3cret",
        "driverPreferences": {"personalConveyance": 1},
        "somethingNew": [1, 2],
    }
    assert add(client, auth, body).status_code == 200


def test_body_that_is_not_json_is_400_in_the_envelope(client: Client, auth: dict[str, str]) -> None:
    response = client.post(
        f"{API}/drivers", headers=auth, data="{not json", content_type="application/json"
    )
    assert_error(response, 400, "INVALID_REQUEST", "Request body is not valid JSON")


@pytest.mark.parametrize("body", [[{"driverId": "A1", "firstName": "A"}], "text", None])
def test_body_that_is_not_a_json_object_is_400(
    client: Client, auth: dict[str, str], body: Any
) -> None:
    response = add(client, auth, body)
    assert_error(response, 400, "INVALID_REQUEST", "request body must be a JSON object")


def test_text_longer_than_255_characters_is_400(client: Client, auth: dict[str, str]) -> None:
    response = add(client, auth, {"driverId": "T1", "firstName": "x" * 256})
    assert_error(response, 400, "INVALID_REQUEST", "firstName:")


# -- bulk add ------------------------------------------------------------------------------


def test_bulk_add_answers_207_with_one_result_per_driver(
    client: Client, auth: dict[str, str]
) -> None:
    taken = active_id(client, auth)
    body = {
        "drivers": [
            {"driverId": "B1", "firstName": "Bo"},
            {"driverId": taken, "firstName": "Dup"},
            {"driverId": "B3"},
        ]
    }
    data = ok_data(client.post(f"{API}/bulk/drivers", headers=auth, json=body), 207)
    assert data == {
        "message": "1 of 3 drivers added",
        "results": [
            {"driverId": "B1", "status": 200, "message": "Driver added successfully"},
            {
                "driverId": taken,
                "status": 409,
                "message": f"Driver with driverId '{taken}' already exists",
            },
            {"driverId": "B3", "status": 400, "message": "firstName is required"},
        ],
    }


def test_bulk_add_keeps_the_drivers_that_succeeded(client: Client, auth: dict[str, str]) -> None:
    body = {"drivers": [{"driverId": "B1", "firstName": "Bo"}, {"driverId": "B2"}]}
    client.post(f"{API}/bulk/drivers", headers=auth, json=body)
    assert driver(client, auth, "B1")["firstName"] == "Bo"
    assert_error(detail(client, auth, driverId="B2"), 404, "DRIVER_NOT_FOUND")


def test_bulk_duplicate_within_one_request_fails_only_the_second(
    client: Client, auth: dict[str, str]
) -> None:
    twins = [{"driverId": "B1", "firstName": "One"}, {"driverId": "B1", "firstName": "Two"}]
    body = {"drivers": twins}
    data = ok_data(client.post(f"{API}/bulk/drivers", headers=auth, json=body), 207)
    assert [r["status"] for r in data["results"]] == [200, 409]
    assert driver(client, auth, "B1")["firstName"] == "One"


def test_bulk_reports_an_item_that_is_not_an_object(client: Client, auth: dict[str, str]) -> None:
    body = {"drivers": ["B1", {"driverId": 5, "firstName": "Five"}]}
    data = ok_data(client.post(f"{API}/bulk/drivers", headers=auth, json=body), 207)
    assert [(r["driverId"], r["status"]) for r in data["results"]] == [(None, 400), (None, 400)]


@pytest.mark.parametrize("body", [{"drivers": []}, {}, {"drivers": "B1"}])
def test_bulk_without_drivers_is_400(client: Client, auth: dict[str, str], body: Any) -> None:
    response = client.post(f"{API}/bulk/drivers", headers=auth, json=body)
    assert_error(response, 400, "INVALID_REQUEST", "drivers: a non-empty array is required")


def test_bulk_over_500_drivers_is_400(client: Client, auth: dict[str, str]) -> None:
    body = {"drivers": [{"driverId": f"B{n}", "firstName": "B"} for n in range(501)]}
    response = client.post(f"{API}/bulk/drivers", headers=auth, json=body)
    assert_error(response, 400, "INVALID_REQUEST", "at most 500 drivers")


# -- edit, rename, status ------------------------------------------------------------------


def test_edit_changes_only_the_fields_in_the_body(client: Client, auth: dict[str, str]) -> None:
    target = active_id(client, auth)
    before = driver(client, auth, target)
    assert ok_data(edit(client, auth, target, {"lastName": "Changed"})) == {
        "message": "Driver updated successfully"
    }
    after = driver(client, auth, target)
    assert after == {**before, "lastName": "Changed", "updatedDate": T0_MS}


def test_edit_with_an_empty_body_object_only_touches_updated_date(
    client: Client, auth: dict[str, str]
) -> None:
    target = active_id(client, auth)
    before = driver(client, auth, target)
    edit(client, auth, target, {})
    assert driver(client, auth, target) == {**before, "updatedDate": T0_MS}


def test_edit_of_an_unknown_driver_is_404(client: Client, auth: dict[str, str]) -> None:
    response = edit(client, auth, "NOPE-0", {"lastName": "X"})
    assert_error(response, 404, "DRIVER_NOT_FOUND", "Driver not found")


def test_edit_ignores_unknown_body_fields(client: Client, auth: dict[str, str]) -> None:
    response = edit(client, auth, active_id(client, auth), {"setPassword": False, "zzz": 1})
    assert response.status_code == 200


def test_edit_blanking_the_first_name_is_400(client: Client, auth: dict[str, str]) -> None:
    response = edit(client, auth, active_id(client, auth), {"firstName": " "})
    assert_error(response, 400, "INVALID_REQUEST", "firstName must not be blank")


@pytest.mark.parametrize("status", [0, 4, "3", True, 2.0])
def test_edit_with_a_status_outside_1_2_3_is_400(
    client: Client, auth: dict[str, str], status: Any
) -> None:
    response = edit(client, auth, active_id(client, auth), {"status": status})
    assert_error(response, 400, "INVALID_REQUEST", "status")


def test_edit_checks_the_licence_rule_on_the_merged_driver(
    client: Client, auth: dict[str, str]
) -> None:
    target = active_id(client, auth)
    response = edit(client, auth, target, {"licenceNumber": "D9"})
    assert_error(response, 400, "INVALID_REQUEST", "licenseCountry and licenseState")
    assert driver(client, auth, target)["licenceNumber"] is None


def test_edit_can_complete_a_licence_over_the_existing_fields(
    client: Client, auth: dict[str, str]
) -> None:
    target = active_id(client, auth)
    body = {"licenceNumber": "D9", "licenseCountry": "US", "licenseState": "US-TX"}
    assert edit(client, auth, target, body).status_code == 200


def test_rename_keeps_the_driver_and_its_created_date(client: Client, auth: dict[str, str]) -> None:
    old = active_id(client, auth)
    before = driver(client, auth, old)
    assert edit(client, auth, old, {"driverId": "RENAMED-1"}).status_code == 200
    after = driver(client, auth, "RENAMED-1")
    assert after == {**before, "driverId": "RENAMED-1", "updatedDate": T0_MS}


def test_renamed_drivers_old_id_answers_404(client: Client, auth: dict[str, str]) -> None:
    old = active_id(client, auth)
    edit(client, auth, old, {"driverId": "RENAMED-1"})
    assert_error(detail(client, auth, driverId=old), 404, "DRIVER_NOT_FOUND")
    assert_error(edit(client, auth, old, {"lastName": "X"}), 404, "DRIVER_NOT_FOUND")


def test_rename_keeps_the_drivers_place_in_the_list(client: Client, auth: dict[str, str]) -> None:
    old = active_id(client, auth, 1)
    edit(client, auth, old, {"driverId": "RENAMED-1"})
    assert ok_data(drivers(client, auth))["drivers"][1]["driverId"] == "RENAMED-1"


def test_rename_onto_an_existing_driver_id_is_409(client: Client, auth: dict[str, str]) -> None:
    first, second = active_id(client, auth, 0), active_id(client, auth, 1)
    response = edit(client, auth, first, {"driverId": second, "lastName": "X"})
    assert_error(response, 409, "DRIVER_ALREADY_EXISTS", second)
    assert driver(client, auth, first)["lastName"] != "X"


def test_rename_onto_a_soft_deleted_driver_id_is_409(client: Client, auth: dict[str, str]) -> None:
    gone = deleted_id(client, auth)
    response = edit(client, auth, active_id(client, auth), {"driverId": gone})
    assert_error(response, 409, "DRIVER_ALREADY_EXISTS", gone)


def test_rename_to_its_own_id_is_not_a_conflict(client: Client, auth: dict[str, str]) -> None:
    same = active_id(client, auth)
    assert edit(client, auth, same, {"driverId": same}).status_code == 200


def test_status_3_soft_deletes_the_driver(client: Client, auth: dict[str, str]) -> None:
    target = active_id(client, auth)
    assert edit(client, auth, target, {"status": DELETED}).status_code == 200
    assert target not in {d["driverId"] for d in ok_data(drivers(client, auth))["drivers"]}
    assert driver(client, auth, target)["status"] == DELETED


def test_status_2_makes_the_driver_inactive_but_listed(
    client: Client, auth: dict[str, str]
) -> None:
    target = active_id(client, auth)
    edit(client, auth, target, {"status": INACTIVE})
    listed = {d["driverId"]: d["status"] for d in ok_data(drivers(client, auth))["drivers"]}
    assert listed[target] == INACTIVE


def test_there_is_no_delete_method_for_a_driver(client: Client, auth: dict[str, str]) -> None:
    response = client.delete(f"{API}/drivers/{active_id(client, auth)}", headers=auth)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == "PUT"


def test_soft_deleted_driver_cannot_be_edited(client: Client, auth: dict[str, str]) -> None:
    gone = deleted_id(client, auth)
    response = edit(client, auth, gone, {"lastName": "Nope"})
    assert_error(response, 400, "INVALID_REQUEST", "can only be reinstated")


def test_soft_deleted_driver_cannot_be_deleted_again(client: Client, auth: dict[str, str]) -> None:
    response = edit(client, auth, deleted_id(client, auth), {"status": DELETED})
    assert_error(response, 400, "INVALID_REQUEST", "can only be reinstated")


@pytest.mark.parametrize("status", [ACTIVE, INACTIVE])
def test_soft_deleted_driver_is_reinstated_through_its_status(
    client: Client, auth: dict[str, str], status: int
) -> None:
    gone = deleted_id(client, auth)
    assert edit(client, auth, gone, {"status": status, "lastName": "Back"}).status_code == 200
    revived = driver(client, auth, gone)
    assert (revived["status"], revived["lastName"]) == (status, "Back")


# -- ids with "/" in them ------------------------------------------------------------------


@pytest.mark.parametrize("driver_id", ["FLEET/7", "/lead", "trail/", "a//b", "/", "50%/x"])
def test_ids_holding_a_slash_can_be_added_edited_and_read(
    client: Client, auth: dict[str, str], driver_id: str
) -> None:
    assert add(client, auth, {"driverId": driver_id, "firstName": "Sly"}).status_code == 200
    assert edit(client, auth, driver_id, {"lastName": "Slash"}).status_code == 200
    assert driver(client, auth, driver_id)["lastName"] == "Slash"


def test_an_encoded_slash_is_not_the_same_id_as_a_literal_percent_2f(
    client: Client, auth: dict[str, str]
) -> None:
    add(client, auth, {"driverId": "A%2FB", "firstName": "Pct"})
    assert_error(edit(client, auth, "A/B", {"lastName": "X"}), 404, "DRIVER_NOT_FOUND")
    assert edit(client, auth, "A%2FB", {"lastName": "X"}).status_code == 200


def test_error_path_shows_the_id_as_it_was_sent(client: Client, auth: dict[str, str]) -> None:
    response = edit(client, auth, "NO/SUCH", {"lastName": "X"})
    assert response.json["error"]["path"] == f"{API}/drivers/NO%2FSUCH"


# -- the envelope everywhere ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/driveri/", "/driveri/v1/nope", "/driveri/v2/tenants/x"])
def test_unknown_paths_answer_the_json_404_envelope(client: Client, path: str) -> None:
    assert_error(client.get(path), 404, "NOT_FOUND", "Not found")


def test_wrong_method_answers_the_json_405_envelope_with_allow(client: Client) -> None:
    response = client.delete(f"{API}/drivers")
    assert_error(response, 405, "METHOD_NOT_ALLOWED", "Method DELETE not allowed")
    assert response.headers["Allow"] == "GET, HEAD, POST"


def test_options_answers_the_json_405_envelope_not_an_empty_page(client: Client) -> None:
    response = client.options("/driveri/v1/auth/token")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == "POST"


def test_error_timestamp_is_the_virtual_clocks_time(client: Client) -> None:
    advance(client, 90)
    error = assert_error(drivers(client, {}), 401, "UNAUTHORIZED")
    assert error["timestamp"] == "2026-03-10T17:31:30.000+00:00"


def test_error_reason_is_the_http_reason_phrase(client: Client) -> None:
    assert assert_error(drivers(client, {}), 401, "UNAUTHORIZED")["error"] == "Unauthorized"


def test_success_answers_carry_a_null_error(client: Client, auth: dict[str, str]) -> None:
    body = client.get(f"{API}/configurations", headers=auth).json
    assert set(body) == {"data", "error"}
    assert body["error"] is None


# -- configurations ------------------------------------------------------------------------


def test_configurations_define_the_driver_status_codes(
    client: Client, auth: dict[str, str]
) -> None:
    config = ok_data(client.get(f"{API}/configurations", headers=auth))["configuration"]
    assert config["driverStatus"] == [
        {"status": 1, "description": "Active"},
        {"status": 2, "description": "Inactive"},
        {"status": 3, "description": "Deleted"},
    ]


def test_configurations_key_authorized_to_drive_as_the_sdk_reads_it(
    client: Client, auth: dict[str, str]
) -> None:
    config = ok_data(client.get(f"{API}/configurations", headers=auth))["configuration"]
    assert config["authorizedToDriveStatus"] == [
        {"authorizedToDrive": 0, "description": "Not authorized"},
        {"authorizedToDrive": 1, "description": "Authorized"},
    ]


# -- quota ---------------------------------------------------------------------------------


@pytest.fixture
def quota_client() -> Client:
    """A stack whose Driveri quota is two calls a minute per API client."""
    return Client(make_stack_app(driveri_rate_per_minute=2))


def test_quota_answers_429_with_a_numeric_retry_after(quota_client: Client) -> None:
    auth = bearer(new_token(quota_client))
    assert [drivers(quota_client, auth).status_code for _ in range(2)] == [200, 200]
    response = drivers(quota_client, auth)
    assert_error(response, 429, "TOO_MANY_REQUESTS", "Too many requests")
    assert response.headers["Retry-After"] == "60"


def test_quota_opens_again_once_the_minute_has_passed(quota_client: Client) -> None:
    auth = bearer(new_token(quota_client))
    for _ in range(3):
        drivers(quota_client, auth)
    advance(quota_client, 60)
    assert drivers(quota_client, auth).status_code == 200


def test_quota_does_not_charge_the_token_endpoints(quota_client: Client) -> None:
    for _ in range(3):
        list_tokens(quota_client)
    assert drivers(quota_client, bearer(new_token(quota_client))).status_code == 200


def test_quota_is_off_by_default(client: Client, auth: dict[str, str]) -> None:
    assert {drivers(client, auth).status_code for _ in range(30)} == {200}


# -- faults --------------------------------------------------------------------------------


def add_fault(client: Client, **spec: Any) -> None:
    """Register a fault on the Driveri app."""
    response = client.post("/driveri/_mock/faults", json=spec)
    assert response.status_code == 201, response.get_data(as_text=True)


def test_status_fault_answers_in_the_driveri_error_shape(
    client: Client, auth: dict[str, str]
) -> None:
    add_fault(client, path="/v1/tenants/*/drivers", status=503)
    error = assert_error(drivers(client, auth), 503, "INTERNAL_ERROR", "Service unavailable")
    assert error["error"] == "Service Unavailable"


def test_429_fault_carries_a_numeric_retry_after(client: Client, auth: dict[str, str]) -> None:
    add_fault(client, status=429, retry_after=7)
    response = drivers(client, auth)
    assert_error(response, 429, "TOO_MANY_REQUESTS")
    assert response.headers["Retry-After"] == "7"


def test_fault_after_a_committed_write_turns_the_retry_into_a_409(
    client: Client, auth: dict[str, str]
) -> None:
    add_fault(client, method="POST", path="/v1/tenants/*/drivers", body="truncated", first=1)
    body = {"driverId": "RETRY1", "firstName": "Ray"}
    add(client, auth, body)
    assert_error(add(client, auth, body), 409, "DRIVER_ALREADY_EXISTS")


def test_expire_session_fault_expires_the_bearer_token(
    client: Client, auth: dict[str, str]
) -> None:
    add_fault(client, expire_session=True, first=1)
    assert_error(drivers(client, auth), 401, "UNAUTHORIZED", "expired")
    assert_error(drivers(client, auth), 401, "UNAUTHORIZED")


# -- control plane -------------------------------------------------------------------------


def test_credentials_list_clients_with_id_secret_and_tenant(client: Client) -> None:
    body = client.get("/driveri/_mock/credentials").json
    (row,) = body["clients"]
    assert {"client_id", "client_secret", "tenant"} <= set(row)
    assert row["tenant"] == TENANT
    expected = base64.b64encode(f"{row['client_id']}:{row['client_secret']}".encode()).decode()
    assert row["basic_token"] == expected


def test_dump_restore_dump_is_byte_identical(client: Client, auth: dict[str, str]) -> None:
    add(client, auth, {"driverId": "D/1", "firstName": "Dee", "phone": "1"})
    first = client.get("/driveri/_mock/state").get_data()
    restored = client.post("/driveri/_mock/state", data=first, content_type="application/json")
    assert restored.status_code == 200
    assert client.get("/driveri/_mock/state").get_data() == first


def test_dump_holds_no_access_token(client: Client) -> None:
    issued = ok_data(issue(client))
    dump = client.get("/driveri/_mock/state").get_data(as_text=True)
    assert issued["accessToken"] not in dump
    assert issued["accessTokenId"] not in dump
    assert "accessToken" not in dump


def test_dump_holds_the_tenant_clients_and_drivers(client: Client) -> None:
    dump = client.get("/driveri/_mock/state").json
    assert dump["vendor"] == "driveri"
    assert set(dump["state"]) == {"tenant", "clients", "drivers"}


def test_restore_takes_an_edited_dump_verbatim(client: Client, auth: dict[str, str]) -> None:
    dump = client.get("/driveri/_mock/state").json
    dump["state"]["drivers"][0]["firstName"] = "Edited"
    client.post("/driveri/_mock/state", json=dump)
    assert all_drivers(client, auth)[0]["firstName"] == "Edited"


def test_restore_keeps_tokens_issued_before_it(client: Client, auth: dict[str, str]) -> None:
    dump = client.get("/driveri/_mock/state").get_data()
    client.post("/driveri/_mock/state", data=dump, content_type="application/json")
    assert drivers(client, auth).status_code == 200


def test_restore_refuses_a_dump_without_drivers(client: Client) -> None:
    response = client.post("/driveri/_mock/state", json={"state": {"tenant": TENANT}})
    assert response.status_code == 400
    assert "missing key" in response.json["error"]


def test_reset_brings_back_the_seeded_drivers(client: Client, auth: dict[str, str]) -> None:
    seeded = all_drivers(client, auth)
    add(client, auth, {"driverId": "GONE-SOON", "firstName": "G"})
    client.post("/driveri/_mock/reset")
    assert all_drivers(client, bearer(new_token(client))) == seeded


# -- the demo tenant -----------------------------------------------------------------------


def portal_driver_ids(client: Client) -> set[str]:
    """DriverIDs the GPS Insight portal drivers carry."""
    state = client.get("/gpsinsight/_mock/state").json["state"]
    return {d["driveri_driver_id"] for d in state["drivers"] if d.get("driveri_driver_id")}


def test_demo_tenant_starts_with_at_least_five_active_drivers(
    client: Client, auth: dict[str, str]
) -> None:
    assert drivers(client, auth).json["totalCount"] >= 5


def test_demo_tenant_shares_driver_ids_with_gps_insight_portal_drivers(
    client: Client, auth: dict[str, str]
) -> None:
    shared = {d["driverId"] for d in all_drivers(client, auth)} & portal_driver_ids(client)
    assert len(shared) >= 2


def test_demo_tenant_has_drivers_that_exist_only_in_driveri(
    client: Client, auth: dict[str, str]
) -> None:
    only = {d["driverId"] for d in all_drivers(client, auth)} - portal_driver_ids(client)
    assert len(only) >= 2


def test_demo_tenants_soft_deleted_driver_is_a_portal_driver(
    client: Client, auth: dict[str, str]
) -> None:
    deleted = {d["driverId"] for d in all_drivers(client, auth) if d["status"] == DELETED}
    assert len(deleted) == 1
    assert deleted <= portal_driver_ids(client)


def test_same_seed_gives_the_same_tenant(client: Client, auth: dict[str, str]) -> None:
    other = Client(make_stack_app())
    theirs = json.loads(other.get("/driveri/_mock/state").get_data())
    assert theirs == client.get("/driveri/_mock/state").json
