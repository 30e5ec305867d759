"""The GPS Insight (and Wex) methods an integration calls beyond the basics, answered from the
world the emulator holds: users, groups, drivers, motion (trips, distance, lifetime) and DTCs,
VIN decoding and the heartbeat's repeat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from gpsinsight_helpers import advance, assert_error, call, ok, role_row
from werkzeug.test import Client

from fixtures.providers import vin_check_digit
from helpers import PLATFORM_VENDORS, T0, make_stack_app, module_stack_app, reset_platform_stack  # noqa: F401  (fixtures)

RESTRICTED_GROUP = "South Region"
ALL = "ALL VEHICLES"
YESTERDAY = "2026-03-09"
HOUR = 3600

pytestmark = pytest.mark.parametrize("vendor", PLATFORM_VENDORS)


def fleet(client: Client, vendor: str, token: str, **params: Any) -> list[dict[str, Any]]:
    return ok(call(client, vendor, "vehicle/list", token, **params))


def members(client: Client, vendor: str, token: str, group: str) -> list[dict[str, Any]]:
    return ok(call(client, vendor, "vehiclegroup/listvehicles", token, vehicle_group=group))


def gmt(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# -- users -----------------------------------------------------------------------------------


def test_user_listusers_is_every_username_for_the_master(client, creds, login, vendor):
    assert ok(call(client, vendor, "user/listusers", login(vendor))) == list(creds(vendor))


def test_user_listusers_is_only_yourself_for_anyone_else(client, creds, login, vendor):
    me = role_row(creds(vendor), "restricted")["username"]
    assert ok(call(client, vendor, "user/listusers", login(vendor, "restricted"))) == [me]


def test_user_read_answers_username_fname_and_lname(client, creds, login, vendor):
    token = login(vendor)
    users = {u["username"]: u for u in ok(call(client, vendor, "user/list", token))}
    other = role_row(creds(vendor), "restricted")["username"]
    rows = ok(call(client, vendor, "user/read", token, username=other))
    assert rows == [
        {"username": other, "fname": users[other]["first_name"], "lname": users[other]["last_name"]}
    ]
    ok(call(client, vendor, "user/update", token, username=other, firstname="Robin"))
    assert ok(call(client, vendor, "user/read", token, username=other))[0]["fname"] == "Robin"


def test_user_read_of_another_user_is_master_only(client, creds, login, vendor):
    master = role_row(creds(vendor), "master")["username"]
    response = call(client, vendor, "user/read", login(vendor, "restricted"), username=master)
    assert_error(response, 403, "only the Master User")
    response = call(client, vendor, "user/read", login(vendor), username="nobody")
    assert_error(response, 404, "User not found")


def test_user_listvehiclegroups_answers_the_groups_a_user_is_given(client, creds, login, vendor):
    token = login(vendor)
    everyone = len(fleet(client, vendor, token))
    own = len(members(client, vendor, token, RESTRICTED_GROUP))
    restricted = role_row(creds(vendor), "restricted")["username"]
    mine = ok(call(client, vendor, "user/listvehiclegroups", token))
    theirs = ok(call(client, vendor, "user/listvehiclegroups", token, username=restricted))
    assert mine == [{"group_id": 1012000, "label": ALL, "vehicle_count": everyone}]
    assert theirs == [{"group_id": 1012002, "label": RESTRICTED_GROUP, "vehicle_count": own}]
    assert ok(call(client, vendor, "user/listvehiclegroups", login(vendor, "restricted"))) == theirs


# -- vehicles: groups and drivers ------------------------------------------------------------


def test_vehicle_listvehiclegroups_names_the_visible_groups_of_the_vehicle(client, login, vendor):
    master = login(vendor)
    target = members(client, vendor, master, RESTRICTED_GROUP)[0]
    as_master = call(client, vendor, "vehicle/listvehiclegroups", master, vehicle=target["id"])
    assert ok(as_master) == [
        {"group_id": 1012000, "label": ALL},
        {"group_id": 1012002, "label": RESTRICTED_GROUP},
    ]
    restricted = login(vendor, "restricted")
    as_restricted = call(
        client, vendor, "vehicle/listvehiclegroups", restricted, vehicle=target["vin"]
    )
    assert ok(as_restricted) == [{"group_id": 1012002, "label": RESTRICTED_GROUP}]


def test_vehicle_getdriver_answers_the_assigned_driver(client, login, vendor):
    token = login(vendor)
    row = next(r for r in ok(call(client, vendor, "vehicle/location", token)) if r["driver_id"])
    driver = ok(call(client, vendor, "vehicle/getdriver", token, vehicle=row["id"]))
    assert [(d["id"], d["firstname"], d["lastname"]) for d in driver] == [
        (row["driver_id"], row["first_name"], row["last_name"])
    ]
    assert set(driver[0]) == {"id", "alert_pref", "email", "firstname", "lastname", "phone"}


def test_vehicle_getdriver_of_a_vehicle_without_a_driver_is_empty(client, login, vendor):
    state = client.get(f"/{vendor}/_mock/state").json["state"]
    state["vehicles"][0]["driver_id"] = None  # Wex's seeded fleet has a driver in every one
    assert client.post(f"/{vendor}/_mock/state", json={"state": state}).status_code == 200
    token = login(vendor)
    vehicle = state["vehicles"][0]["id"]
    assert ok(call(client, vendor, "vehicle/getdriver", token, vehicle=vehicle)) == []


# -- motion: lifetime, distance, trips -------------------------------------------------------


def test_lifetimeutilization_run_minutes_are_the_lifetime_engine_hours(client, login, vendor):
    token = login(vendor)
    runtime = {r["id"]: r for r in ok(call(client, vendor, "vehicle/runtime", token))}
    rows = ok(call(client, vendor, "vehicle/lifetimeutilization", token))
    assert [r["id"] for r in rows] == list(runtime)
    for row in rows:
        assert abs(row["run_minutes"] - runtime[row["id"]]["runtime_lifetime"] * 60) <= 1
        assert row["idle_minutes"] == 0 and row["run_days"] > 0
        assert row["miles_driven"] == pytest.approx(
            row["run_minutes"] / 60 * row["avg_mph"], rel=0.05
        )
        assert row["max_mph"] > row["avg_mph"] > 0


def test_lifetimeutilization_grows_by_one_drive_an_hour(client, login, vendor):
    token = login(vendor)
    vehicle = fleet(client, vendor, token)[0]["id"]
    before = ok(call(client, vendor, "vehicle/lifetimeutilization", token, vehicle=vehicle))[0]
    advance(client, vendor, HOUR)
    after = ok(call(client, vendor, "vehicle/lifetimeutilization", token, vehicle=vehicle))[0]
    assert after["run_minutes"] - before["run_minutes"] in (39, 40, 41)
    assert after["stop_minutes"] - before["stop_minutes"] in (19, 20, 21)


def test_distance_is_the_odometer_between_the_first_and_last_fix_of_the_window(
    client, login, vendor
):
    token = login(vendor)
    vehicle = fleet(client, vendor, token)[0]["id"]
    rows = ok(call(client, vendor, "vehicle/distance", token, vehicle=vehicle, date=YESTERDAY))
    fixes = ok(call(client, vendor, "vehicle/history", token, vehicle=vehicle, date=YESTERDAY))
    [row] = rows
    assert (row["start_odometer"], row["end_odometer"]) == (
        fixes[0]["odometer"],
        fixes[-1]["odometer"],
    )
    assert (row["start_latitude"], row["end_longitude"]) == (
        fixes[0]["latitude"],
        fixes[-1]["longitude"],
    )
    assert row["distance"] == round(row["end_odometer"] - row["start_odometer"], 1) > 0
    assert row["start_fix_time"].startswith("Mar 9 2026 ")


def test_distance_without_a_vehicle_covers_the_fleet_and_skips_windows_without_fixes(
    client, login, vendor
):
    token = login(vendor)
    assert len(ok(call(client, vendor, "vehicle/distance", token))) == len(
        fleet(client, vendor, token)
    )
    assert ok(call(client, vendor, "vehicle/distance", token, date="2026-03-11")) == []


def test_trips_of_a_day_are_its_drive_periods(client, login, vendor):
    token = login(vendor)
    vehicle = fleet(client, vendor, token)[0]["id"]
    trips = ok(
        call(
            client, vendor, "vehicle/trips", token, vehicle=vehicle, start=YESTERDAY, end=YESTERDAY
        )
    )
    assert len(trips) == 24  # a 40-minute drive every hour
    starts = [gmt(t["trip_start_gmt"]) for t in trips]
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [HOUR] * 23
    for trip in trips:
        assert gmt(trip["trip_end_gmt"]) - gmt(trip["trip_start_gmt"]) == 40 * 60
        assert (trip["duration"], trip["points"], trip["in_progress"]) == (0.67, 41, 0)
        assert trip["distance"] > 0


def test_trip_points_are_the_history_fixes_of_the_trip(client, login, vendor):
    token = login(vendor)
    vehicle = fleet(client, vendor, token)[0]["id"]
    trip = ok(
        call(
            client,
            vendor,
            "vehicle/trips",
            token,
            vehicle=vehicle,
            start=YESTERDAY,
            include_points=1,
        )
    )[0]
    history = ok(
        call(
            client,
            vendor,
            "vehicle/history",
            token,
            vehicle=vehicle,
            start=int(gmt(trip["trip_start_gmt"])),
            end=int(gmt(trip["trip_end_gmt"])) + 1,
        )
    )
    assert [p["fix_time_gmt"] for p in trip["gps"]] == [h["fix_time_gmt"] for h in history]
    assert len(trip["gps"]) == trip["points"]
    assert trip["gps"][-1]["odometer"] - trip["gps"][0]["odometer"] == pytest.approx(
        trip["distance"], abs=0.11
    )


def test_a_trip_under_way_is_in_progress(client, login, vendor):
    token = login(vendor)
    vehicle = next(
        r["id"]
        for r in ok(call(client, vendor, "vehicle/location", token))
        if r["ignition"] == "on"
    )
    last = ok(call(client, vendor, "vehicle/trips", token, vehicle=vehicle))[-1]
    assert last["in_progress"] == 1 and last["points"] < 41
    assert gmt(last["trip_end_gmt"]) <= T0.timestamp()


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"start": "2026-01-01", "end": "2026-03-01"}, "at most 31 days"),
        ({"end": YESTERDAY}, "Missing required parameter: start"),
        ({"include_points": "maybe"}, "Invalid parameter include_points"),
    ],
)
def test_trips_with_a_bad_span_answer_400(client, login, vendor, params, fragment):
    token = login(vendor)
    vehicle = fleet(client, vendor, token)[0]["id"]
    assert_error(
        call(client, vendor, "vehicle/trips", token, vehicle=vehicle, **params), 400, fragment
    )


def test_trips_need_a_vehicle(client, login, vendor):
    assert_error(call(client, vendor, "vehicle/trips", login(vendor)), 400, "parameter: vehicle")


# -- vehicle groups ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["South Region", "south", "SOUTH REG", "1012002"])
def test_vehiclegroup_read_answers_one_group(client, login, vendor, name):
    token = login(vendor)
    count = len(members(client, vendor, token, RESTRICTED_GROUP))
    rows = ok(call(client, vendor, "vehiclegroup/read", token, vehicle_group=name))
    assert rows == [{"group_id": 1012002, "label": RESTRICTED_GROUP, "vehicle_count": count}]


def test_vehiclegroup_listmembers_is_listvehicles(client, login, vendor):
    token = login(vendor)
    listed = ok(call(client, vendor, "vehiclegroup/listmembers", token, group="north"))
    assert listed == members(client, vendor, token, "North Region") and listed


def test_vehiclegroup_listusers_names_the_users_given_the_group(client, creds, login, vendor):
    users = creds(vendor)
    token = login(vendor)
    everyone = ok(call(client, vendor, "vehiclegroup/listusers", token, vehicle_group=ALL))
    assert everyone == [
        {"username": u["username"]} for u in users.values() if ALL in u["vehicle_groups"]
    ]
    restricted = role_row(users, "restricted")["username"]
    own = ok(call(client, vendor, "vehiclegroup/listusers", token, vehicle_group="south"))
    assert own == [{"username": restricted}]
    mine = call(
        client, vendor, "vehiclegroup/listusers", login(vendor, "restricted"), vehicle_group="s"
    )
    assert ok(mine) == [{"username": restricted}]


@pytest.mark.parametrize(
    ("method", "group_method", "params"),
    [
        ("vehicle/location", "vehiclegroup/location", {}),
        ("vehicle/location", "vehiclegroup/location", {"last_exec_time": "2026-03-10 10:00:00"}),
        ("vehicle/runtime", "vehiclegroup/runtime", {"date": YESTERDAY}),
        ("vehicle/dtc", "vehiclegroup/dtc", {"start": "2026-03-07", "end": "2026-03-10"}),
    ],
)
def test_a_group_report_is_the_vehicle_report_of_its_vehicles(
    client, login, vendor, method, group_method, params
):
    token = login(vendor)
    ids = {m["serial_number"] for m in members(client, vendor, token, RESTRICTED_GROUP)}
    expected = [
        r for r in ok(call(client, vendor, method, token, **params)) if r["serial_number"] in ids
    ]
    grouped = ok(call(client, vendor, group_method, token, vehicle_group="south", **params))
    assert grouped == expected and grouped


@pytest.mark.parametrize(
    "method",
    [
        "vehiclegroup/read",
        "vehiclegroup/listmembers",
        "vehiclegroup/listusers",
        "vehiclegroup/location",
        "vehiclegroup/dtc",
        "vehiclegroup/runtime",
    ],
)
@pytest.mark.parametrize("group", ["North Region", "north", ALL, "1012000", "1012003", "nowhere"])
def test_a_group_the_user_cannot_see_answers_404(client, login, vendor, method, group):
    response = call(client, vendor, method, login(vendor, "restricted"), vehicle_group=group)
    assert_error(response, 404, "Vehicle group not found")


# -- vin/decode and heartbeat/repeat ---------------------------------------------------------


def test_vin_decode_reads_make_year_and_check_digit_from_the_vin(client, login, vendor):
    token = login(vendor)
    for v in fleet(client, vendor, token, detail="make,model_year"):
        if not v["vin"]:
            continue
        data = ok(call(client, vendor, "vin/decode", token, vin=f" {v['vin'].lower()} "))
        [(key, record)] = data.items()
        assert key == record["id"] == v["vin"][:8] + v["vin"][9:11]
        assert (record["make"], record["year"], record["wmi"]) == (
            v["make"],
            str(v["model_year"]),
            v["vin"][:3],
        )
        assert record["check_digit_valid"] is True
        assert v["vin"] not in str(data)  # a structural decode, never an echo of the VIN


def test_vin_decode_flags_a_wrong_check_digit(client, login, vendor):
    vin = "1FT26WC22CS599609"
    wrong = vin[:8] + ("0" if vin[8] != "0" else "1") + vin[9:]
    record = next(iter(ok(call(client, vendor, "vin/decode", login(vendor), vin=wrong)).values()))
    assert record["check_digit_valid"] is False and record["check_digit"] == wrong[8]
    assert vin_check_digit(wrong) == vin[8]


def test_vin_decode_of_an_unknown_maker_and_the_1980s_cycle(client, login, vendor):
    draft = "ZZZ12345" + "0" + "L" + "A123456"  # position 7 a digit: the 1980-2009 cycle
    vin = draft[:8] + vin_check_digit(draft) + draft[9:]
    record = next(iter(ok(call(client, vendor, "vin/decode", login(vendor), vin=vin)).values()))
    assert (record["make"], record["year"], record["check_digit_valid"]) == (None, "1990", True)


@pytest.mark.parametrize("vin", ["1FT26WC22CS59960", "1FT26WC22CS59960I", "1FT-6WC22CS599609"])
def test_vin_decode_of_something_that_is_not_a_vin_answers_400(client, login, vendor, vin):
    response = call(client, vendor, "vin/decode", login(vendor), vin=vin)
    assert_error(response, 400, "Invalid parameter vin: expected 17 characters")


def test_heartbeat_repeat_parrots_the_word_without_a_session(client, vendor):
    response = call(client, vendor, "heartbeat/repeat", word="bulbous bouffant")
    assert ok(response) == "bulbous bouffant"
    assert response.json["head"]["context"] is None


def test_heartbeat_repeat_without_a_word_answers_400(client, vendor):
    assert_error(call(client, vendor, "heartbeat/repeat"), 400, "Missing required parameter: word")


def test_heartbeat_beat_answers_beat_as_documented(client, vendor):
    assert ok(call(client, vendor, "heartbeat/beat")) == "beat"


# -- the restricted user ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "vehicle/getdriver",
        "vehicle/listvehiclegroups",
        "vehicle/lifetimeutilization",
        "vehicle/distance",
        "vehicle/trips",
    ],
)
def test_a_vehicle_outside_the_users_groups_answers_404(client, login, vendor, method):
    master = login(vendor)
    own = {m["id"] for m in members(client, vendor, master, RESTRICTED_GROUP)}
    foreign = next(v for v in fleet(client, vendor, master) if v["id"] not in own)
    response = call(client, vendor, method, login(vendor, "restricted"), vehicle=foreign["id"])
    assert_error(response, 404, "Vehicle not found")
    assert foreign["serial_number"] not in response.get_data(as_text=True)


def test_fleet_wide_reports_of_the_restricted_user_cover_its_group_only(client, login, vendor):
    own = {m["id"] for m in members(client, vendor, login(vendor), RESTRICTED_GROUP)}
    token = login(vendor, "restricted")
    for method in ("vehicle/lifetimeutilization", "vehicle/distance"):
        assert {r["id"] for r in ok(call(client, vendor, method, token))} == own
