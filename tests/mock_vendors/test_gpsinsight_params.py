"""GPS Insight (and Wex) parameters as the official PHP client names them, the older names
kept as aliases, and the wire's hard edges: NUL characters, non-UTF-8 bytes, session growth."""

from __future__ import annotations

from typing import Any

import pytest
from gpsinsight_helpers import advance, assert_error, backend_of, call, ok, post, role_row
from werkzeug.test import Client

from helpers import PLATFORM_VENDORS, T0, make_stack_app, module_stack_app, reset_platform_stack  # noqa: F401  (fixtures)

IDENTITY = ["id", "vin", "label", "serial_number"]
DETAILS = [
    "make", "model", "model_year", "odometer", "license_state", "license_number", "ref_id",
    "fuel_type", "country",
]  # fmt: skip
RESTRICTED_GROUP = "South Region"
SESSION_GONE = "Forbidden (session does not exist)"
NUL = "\x00"

pytestmark = pytest.mark.parametrize("vendor", PLATFORM_VENDORS)


def state_of(client: Client, vendor: str) -> dict[str, Any]:
    """The vendor's state as the control plane dumps it."""
    return client.get(f"/{vendor}/_mock/state").json["state"]


def login_as(client: Client, vendor: str, row: dict[str, Any], **extra: Any):
    """``userauth/login`` with a credential row's App Token (the raw response)."""
    params = {"username": row["username"], "app_token": row["app_token"], **extra}
    return call(client, vendor, "userauth/login", **params)


# -- vehicle/list: detail (details kept as its alias) ----------------------------------------


@pytest.mark.parametrize("name", ["detail", "details"])
def test_vehicle_list_detail_1_adds_every_detail_column(client, login, vendor, name):
    rows = ok(call(client, vendor, "vehicle/list", login(vendor), **{name: 1}))
    assert rows and all(list(r) == IDENTITY + DETAILS for r in rows)


@pytest.mark.parametrize("name", ["detail", "details"])
def test_vehicle_list_detail_names_the_columns_to_add(client, login, vendor, name):
    # The documentation's example: details=license_state,license_number.
    token = login(vendor)
    rows = ok(
        call(client, vendor, "vehicle/list", token, **{name: "license_state, LICENSE_NUMBER"})
    )
    full = {r["id"]: r for r in ok(call(client, vendor, "vehicle/list", token, detail=1))}
    assert all(list(r) == [*IDENTITY, "license_state", "license_number"] for r in rows)
    assert all(r["license_number"] == full[r["id"]]["license_number"] for r in rows)


def test_vehicle_list_detail_0_is_the_identity_only(client, login, vendor):
    rows = ok(call(client, vendor, "vehicle/list", login(vendor), detail=0))
    assert all(list(r) == IDENTITY for r in rows)


def test_vehicle_list_detail_wins_over_its_alias(client, login, vendor):
    rows = ok(call(client, vendor, "vehicle/list", login(vendor), detail="make", details=1))
    assert all(list(r) == [*IDENTITY, "make"] for r in rows)


@pytest.mark.parametrize("name", ["detail", "details"])
def test_vehicle_list_unknown_column_answers_400_naming_the_parameter_used(
    client, login, vendor, name
):
    response = call(client, vendor, "vehicle/list", login(vendor), **{name: "make,colour"})
    error = assert_error(response, 400, f"Invalid parameter {name}:", "'colour'")
    assert "license_state" in error["message"]  # it says which columns there are


def test_vehicle_list_filter_group_lists_that_groups_vehicles(client, login, vendor):
    token = login(vendor)
    members = ok(call(client, vendor, "vehiclegroup/listvehicles", token, vehicle_group="south"))
    rows = ok(call(client, vendor, "vehicle/list", token, filter_group="SOUTH REGION"))
    assert [r["id"] for r in rows] == [m["id"] for m in members] and rows


def test_vehicle_list_filter_group_the_user_cannot_see_answers_404(client, login, vendor):
    response = call(
        client, vendor, "vehicle/list", login(vendor, "restricted"), filter_group="North"
    )
    assert_error(response, 404, "Vehicle group not found")


# -- vehicle groups: vehicle_group (group kept as its alias) ---------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"vehicle_group": RESTRICTED_GROUP},
        {"group": RESTRICTED_GROUP},
        {"vehicle_group": "south reg"},  # partial, any letter case
        {"vehicle_group": "1012002"},  # the group's id
    ],
)
def test_vehiclegroup_listvehicles_names_the_group_as_the_client_does(
    client, login, vendor, params
):
    token = login(vendor)
    expected = ok(call(client, vendor, "vehiclegroup/listvehicles", token, group=RESTRICTED_GROUP))
    assert expected
    assert ok(call(client, vendor, "vehiclegroup/listvehicles", token, **params)) == expected


def test_vehiclegroup_listvehicles_without_a_group_names_vehicle_group(client, login, vendor):
    response = call(client, vendor, "vehiclegroup/listvehicles", login(vendor))
    assert_error(response, 400, "Missing required parameter: vehicle_group")


def test_vehiclegroup_list_rows_carry_id_label_and_count(client, login, vendor):
    rows = ok(call(client, vendor, "vehiclegroup/list", login(vendor)))
    assert [(r["group_id"], r["label"]) for r in rows] == [
        (1012000, "ALL VEHICLES"),
        (1012001, "North Region"),
        (1012002, "South Region"),
        (1012003, "Service Trucks"),
    ]
    assert all(r["name"] == r["label"] and r["vehicle_count"] > 0 for r in rows)


def test_vehiclegroup_list_filters_as_the_client_documents(client, login, vendor):
    token = login(vendor)
    rows = ok(call(client, vendor, "vehiclegroup/list", token))
    biggest = max(r["vehicle_count"] for r in rows)
    big = ok(call(client, vendor, "vehiclegroup/list", token, minimum_count=biggest))
    assert [r["label"] for r in big] == ["ALL VEHICLES"]
    assert ok(call(client, vendor, "vehiclegroup/list", token, nonzero=1)) == rows
    one = ok(call(client, vendor, "vehiclegroup/list", token, vehicle_group="trucks"))
    assert [r["label"] for r in one] == ["Service Trucks"]


def test_vehiclegroup_list_include_members_lists_each_groups_vehicles(client, login, vendor):
    token = login(vendor, "restricted")
    rows = ok(call(client, vendor, "vehiclegroup/list", token, include_members=1))
    members = ok(call(client, vendor, "vehiclegroup/listvehicles", token, vehicle_group="south"))
    assert [r["members"] for r in rows] == [members]


def test_vehiclegroup_list_with_a_negative_minimum_count_answers_400(client, login, vendor):
    response = call(client, vendor, "vehiclegroup/list", login(vendor), minimum_count=-1)
    assert_error(response, 400, "Invalid parameter minimum_count: out of range")


# -- user/update: firstname, lastname and the profile fields ---------------------------------


def test_user_update_takes_the_clients_parameter_names(client, creds, login, vendor):
    me = role_row(creds(vendor), "master")["username"]
    changes = {
        "firstname": "Casey",
        "lastname": "Jones",
        "address": "1 Main St",
        "city": "Tempe",
        "country": "US",
        "phone": "4805550100",
        "state": "AZ",
        "timezone": "US/Arizona",
        "email": "casey@example.com",
    }
    assert ok(post(client, vendor, "user/update", login(vendor), **changes)) == "User updated"
    stored = state_of(client, vendor)["users"][me]
    assert (stored["first_name"], stored["last_name"]) == ("Casey", "Jones")
    for key in ("address", "city", "country", "phone", "state", "timezone", "email"):
        assert stored[key] == changes[key]


def test_user_update_keeps_first_name_and_last_name_as_aliases(client, login, vendor):
    token = login(vendor)
    ok(call(client, vendor, "user/update", token, first_name="Old", last_name="Names"))
    row = ok(call(client, vendor, "user/list", token))
    assert any((u["first_name"], u["last_name"]) == ("Old", "Names") for u in row)


def test_user_update_with_both_names_uses_firstname_and_still_checks_the_alias(
    client, login, vendor
):
    token = login(vendor)
    response = call(client, vendor, "user/update", token, firstname="x", first_name="a" * 129)
    assert_error(response, 400, "Invalid parameter first_name: at most 128 characters")
    ok(call(client, vendor, "user/update", token, firstname="New", first_name="Ignored"))
    row = ok(call(client, vendor, "user/list", token))
    assert any(u["first_name"] == "New" for u in row)
    assert not any(u["first_name"] == "Ignored" for u in row)


def test_user_update_with_an_unknown_timezone_answers_400_and_changes_nothing(
    client, creds, login, vendor
):
    me = role_row(creds(vendor), "master")["username"]
    before = state_of(client, vendor)["users"][me]
    response = call(client, vendor, "user/update", login(vendor), timezone="Mars/Olympus", city="X")
    assert_error(response, 400, "Invalid parameter timezone: unknown time zone")
    assert state_of(client, vendor)["users"][me] == before


# -- the `vehicle` parameter: first match, as the client documents it ------------------------


def test_a_partial_name_resolves_to_the_first_match_in_fleet_order(client, login, vendor):
    token = login(vendor)
    fleet = ok(call(client, vendor, "vehicle/list", token))
    partial = " 00"  # in every label ("Ford 0001"...): many vehicles match
    first = next(v for v in fleet if partial in v["label"])
    assert sum(partial in v["label"] for v in fleet) > 1
    assert ok(call(client, vendor, "vehicle/read", token, vehicle=partial))[0]["id"] == first["id"]


# -- the other parameters the client names ---------------------------------------------------


def test_login_with_user_context_acts_as_that_user(client, creds, vendor):
    users = creds(vendor)
    master, restricted = role_row(users, "master"), role_row(users, "restricted")
    response = login_as(client, vendor, master, user_context=restricted["username"])
    token = ok(response)["token"]
    listed = call(client, vendor, "vehiclegroup/list", token)
    assert listed.json["head"]["context"] == restricted["username"]
    assert [r["label"] for r in ok(listed)] == [RESTRICTED_GROUP]


def test_login_with_user_context_of_another_user_is_master_only(client, creds, vendor):
    users = creds(vendor)
    master, restricted = role_row(users, "master"), role_row(users, "restricted")
    response = login_as(client, vendor, restricted, user_context=master["username"])
    assert_error(response, 403, "only the Master User")


def test_apiapp_update_username_gives_the_token_to_another_user(client, creds, login, vendor):
    users = creds(vendor)
    master, restricted = role_row(users, "master"), role_row(users, "restricted")
    token = login(vendor)
    app = ok(call(client, vendor, "apiapp/create", token, app_name="handover"))[0]["app_id"]
    moved = call(
        client, vendor, "apiapp/update", token, app_token=app, username=restricted["username"]
    )
    assert ok(moved) == [{"app_id": app}]
    assert_error(login_as(client, vendor, {**master, "app_token": app}), 403)
    assert ok(login_as(client, vendor, {**restricted, "app_token": app}))["token"]


def test_apiapp_update_username_by_a_user_who_is_not_master_answers_403(
    client, creds, login, vendor
):
    master = role_row(creds(vendor), "master")
    token = login(vendor, "restricted")
    mine = ok(call(client, vendor, "apiapp/create", token, app_name="mine"))[0]["app_id"]
    response = call(
        client, vendor, "apiapp/update", token, app_token=mine, username=master["username"]
    )
    assert_error(response, 403, "only the Master User")


@pytest.mark.parametrize(
    ("path", "flag"),
    [
        ("vehicle/location", "extended"),
        ("vehicle/history", "location_detail"),
        ("vehicle/history", "inputs"),
    ],
)
def test_documented_display_flags_are_accepted_and_checked(client, login, vendor, path, flag):
    token = login(vendor)
    vehicle = ok(call(client, vendor, "vehicle/list", token))[0]["id"]
    plain = ok(call(client, vendor, path, token, vehicle=vehicle))
    assert ok(call(client, vendor, path, token, vehicle=vehicle, **{flag: 1})) == plain
    assert_error(call(client, vendor, path, token, vehicle=vehicle, **{flag: "maybe"}), 400, flag)


def test_vehicle_update_sets_lifetime_engine_hours_with_runtime(client, login, vendor):
    token = login(vendor)
    vehicle = ok(call(client, vendor, "vehicle/list", token))[0]["id"]
    ok(call(client, vendor, "vehicle/update", token, vehicle=vehicle, runtime=1234.5, color="Red"))
    row = ok(call(client, vendor, "vehicle/runtime", token, vehicle=vehicle))[0]
    assert row["runtime_lifetime"] == 1234.5


def test_an_odometer_waypoint_leaves_the_lifetime_engine_hours_alone(client, login, vendor):
    token = login(vendor)
    vehicle = ok(call(client, vendor, "vehicle/list", token))[0]["id"]
    advance(client, vendor, 5 * 3600)  # the engines have run since the world was made
    before = ok(call(client, vendor, "vehicle/runtime", token, vehicle=vehicle))[0]
    ok(call(client, vendor, "vehicle/update", token, vehicle=vehicle, odometer=10))
    ok(call(client, vendor, "vehicle/setodometerwaypoint", token, vehicle=vehicle, odometer=20))
    after = ok(call(client, vendor, "vehicle/runtime", token, vehicle=vehicle))[0]
    assert after["runtime_lifetime"] == before["runtime_lifetime"]


def test_vehicle_update_odometer_at_a_timestamp_adds_the_miles_driven_since(client, login, vendor):
    token = login(vendor)
    vehicle = ok(call(client, vendor, "vehicle/list", token))[0]["id"]
    now = ok(call(client, vendor, "vehicle/update", token, vehicle=vehicle, odometer=100))
    assert now == "Vehicle updated"
    at_now = ok(call(client, vendor, "vehicle/read", token, vehicle=vehicle))[0]["odometer"]
    earlier = int(T0.timestamp()) - 6 * 3600
    ok(
        call(
            client,
            vendor,
            "vehicle/update",
            token,
            vehicle=vehicle,
            odometer=100,
            timestamp=earlier,
        )
    )
    since = ok(call(client, vendor, "vehicle/read", token, vehicle=vehicle))[0]["odometer"]
    assert at_now == 100 and since > 100


# -- NUL characters --------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["get", "post"])
def test_a_nul_in_a_text_parameter_answers_400_naming_it(client, login, vendor, via):
    send = call if via == "get" else post
    response = send(client, vendor, "vehicle/read", login(vendor), vehicle=f"Ford{NUL}0001")
    assert_error(response, 400, "Invalid parameter vehicle: must not contain a NUL character")


def test_a_nul_is_never_stored(client, creds, login, vendor):
    me = role_row(creds(vendor), "master")["username"]
    before = state_of(client, vendor)["users"][me]
    response = post(
        client, vendor, "user/update", login(vendor), firstname=f"Eve{NUL}", city="Mesa"
    )
    assert_error(response, 400, "Invalid parameter firstname: must not contain a NUL")
    assert state_of(client, vendor)["users"][me] == before


def test_a_nul_in_the_login_username_answers_400(client, creds, vendor):
    row = role_row(creds(vendor), "master")
    response = login_as(client, vendor, {**row, "username": row["username"] + NUL})
    assert_error(response, 400, "Invalid parameter username: must not contain a NUL")


def test_a_nul_in_reference_tag_answers_400_and_is_not_echoed(client, login, vendor):
    response = call(client, vendor, "vehicle/list", login(vendor), reference_tag=f"a{NUL}b")
    assert_error(response, 400, "Invalid parameter reference_tag: must not contain a NUL")
    assert "reference_tag" not in response.json["head"]


# -- bytes that are not UTF-8 ----------------------------------------------------------------


def test_a_form_body_that_is_not_utf8_answers_400_naming_the_problem(client, login, vendor):
    token = login(vendor)
    body = f"session_token={token}&vehicle=Ford\xff0001".encode("latin-1")
    response = client.post(
        f"/{vendor}/v2/vehicle/list",
        data=body,
        content_type="application/x-www-form-urlencoded",
    )
    # Werkzeug alone drops the whole form, and the call reads as one without a session (403).
    assert_error(response, 400, "Malformed form body: not valid UTF-8 (byte 0xff")


def test_a_query_string_that_is_not_utf8_answers_400_not_500(client, login, vendor):
    token = login(vendor)
    environ = {"QUERY_STRING": f"session_token={token}&vehicle=\xff"}  # raw byte, as latin-1
    response = client.get(f"/{vendor}/v2/vehicle/list", environ_overrides=environ)
    assert_error(response, 400, "Malformed query string: not valid UTF-8 (byte 0xff")


def test_a_valid_utf8_form_body_is_read_as_before(client, login, vendor):
    token = login(vendor)
    body = f"session_token={token}&reference_tag=caf\u00e9".encode()
    response = client.post(
        f"/{vendor}/v2/vehicle/list", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert ok(response) and response.json["head"]["reference_tag"] == "caf\u00e9"


# -- sessions: expired ones are purged -------------------------------------------------------


def test_30000_logins_over_days_keep_only_the_live_sessions(stack_app, client, creds, vendor):
    backend = backend_of(stack_app, vendor)
    clock = stack_app.stack.clock
    row = role_row(creds(vendor), "master")
    step = 10.0  # a login every 10 s: 30,000 of them span about three and a half days
    for _ in range(30_000):
        backend.login(
            username=row["username"], app_token=row["app_token"], password=None, user_context=None
        )
        clock.advance(step)
    live = int(backend.session_ttl_s // step) + 1
    assert len(backend.sessions) <= live
    assert len(backend.session_expiry) <= live
    # A day later one more login (through the API) leaves it as the only session.
    advance(client, vendor, backend.session_ttl_s + step)
    assert ok(login_as(client, vendor, row))["token"] in backend.sessions
    assert len(backend.sessions) == 1 and len(backend.session_expiry) == 1


def test_a_purge_keeps_live_sessions_working(client, creds, vendor):
    row = role_row(creds(vendor), "master")
    early = ok(login_as(client, vendor, row))["token"]
    advance(client, vendor, 12 * 3600)
    late = ok(login_as(client, vendor, row))["token"]
    advance(client, vendor, 13 * 3600)  # the first has expired, the second has not
    ok(login_as(client, vendor, row))  # purges
    assert_error(call(client, vendor, "vehicle/list", early), 403, SESSION_GONE)
    assert ok(call(client, vendor, "vehicle/list", late))
