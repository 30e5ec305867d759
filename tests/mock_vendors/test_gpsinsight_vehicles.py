"""GPS Insight API v2 (and Wex) vehicle methods, the envelope and the RPC routing rules."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from gpsinsight_helpers import advance, assert_error, call
from werkzeug.test import Client, TestResponse

from helpers import PLATFORM_VENDORS, T0, make_stack_app, module_stack_app, reset_platform_stack  # noqa: F401  (fixtures)

MST = timezone(timedelta(hours=-7))
HOUR = 3600
BRANDS = {"gpsinsight": "GPS Insight", "wex": "Wex Telematics"}
IDENTITY = {"id", "vin", "label", "serial_number"}
DETAILS = IDENTITY | {
    "make",
    "model",
    "model_year",
    "odometer",
    "license_state",
    "license_number",
    "ref_id",
    "fuel_type",
    "country",
}
LOCATION = IDENTITY | {
    "fix_time",
    "fix_time_mst",
    "fix_time_gmt",
    "exec_time",
    "latitude",
    "longitude",
    "address",
    "heading",
    "ignition",
    "inst_speed",
    "avg_speed",
    "max_speed",
    "odometer",
    "driver_id",
    "first_name",
    "last_name",
}
DTC_ROW = {"vin", "label", "serial_number", "driver_id", "first_name", "last_name", "ref_id", "dtc"}
FIX_TIME = re.compile(r"^\d{1,2}/\d{1,2}/\d{2} \d{1,2}:\d{2}:\d{2} (AM|PM)$")
SQL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
HEAD_TIME = re.compile(r"^[A-Z][a-z]{2} \d{2} \d{4} \d{2}:\d{2}:\d{2}$")

pytestmark = pytest.mark.parametrize("vendor", PLATFORM_VENDORS)


# -- helpers -------------------------------------------------------------------------------


def post(client: Client, vendor: str, path: str, token: str | None = None, **params: Any):
    """POST ``/<vendor>/v2/<path>`` with a form-encoded body and no query string."""
    if token is not None:
        params.setdefault("session_token", token)
    return client.post(f"/{vendor}/v2/{path}", data={k: str(v) for k, v in params.items()})


def send(via: str, client: Client, vendor: str, path: str, token: str, **params: Any):
    """Call by GET query or by form POST."""
    return (call if via == "get" else post)(client, vendor, path, token, **params)


def ok(response: TestResponse) -> Any:
    """The ``data`` of a successful answer."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["head"]["status"] == "OK"
    return response.json["data"]


def is_number(value: Any) -> bool:
    """A JSON number (bool excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def fleet(client: Client, vendor: str, token: str, **params: Any) -> list[dict[str, Any]]:
    """``vehicle/list`` rows."""
    return ok(call(client, vendor, "vehicle/list", token, **params))


def some_vehicle(client: Client, vendor: str, token: str) -> dict[str, Any]:
    """The first listed vehicle that has a VIN."""
    return next(v for v in fleet(client, vendor, token) if v["vin"])


def on_vehicle(client: Client, vendor: str, token: str, method: str, **params: Any) -> TestResponse:
    """``method`` called on ``some_vehicle`` by its id (the raw response)."""
    target = some_vehicle(client, vendor, token)
    return call(client, vendor, method, token, vehicle=target["id"], **params)


def history(client: Client, vendor: str, token: str, **window: Any) -> TestResponse:
    """``vehicle/history`` of ``some_vehicle`` over ``window`` (the raw response)."""
    return on_vehicle(client, vendor, token, "vehicle/history", **window)


def odometer_of(client: Client, vendor: str, token: str) -> float:
    """``some_vehicle``'s odometer, as ``vehicle/read`` answers it."""
    return ok(on_vehicle(client, vendor, token, "vehicle/read"))[0]["odometer"]


def gmt(row: dict[str, Any]) -> datetime:
    """A fix row's ``fix_time_gmt`` as an aware datetime."""
    return datetime.fromisoformat(row["fix_time_gmt"])


def master_session(client: Client, vendor: str) -> str:
    """A Master User session on any stack (for tests that build their own)."""
    rows = client.get(f"/{vendor}/_mock/credentials").json["accounts"][0]["users"]
    master = next(u for u in rows if u["master"])
    params = {"username": master["username"], "app_token": master["app_token"]}
    return ok(call(client, vendor, "userauth/login", **params))["token"]


def phoenix_epoch(*args: int) -> int:
    """Epoch seconds of a wall-clock time in America/Phoenix (UTC-7 all year)."""
    return int(datetime(*args, tzinfo=MST).timestamp())


# -- vehicle/list and vehicle/read ---------------------------------------------------------


def test_vehicle_list_answers_the_whole_fleet_in_one_answer(client, stack_app, login, vendor):
    rows = fleet(client, vendor, login(vendor))
    assert len(rows) == len(stack_app.stack.world[vendor]["vehicles"])
    assert len({r["id"] for r in rows}) == len(rows)


def test_vehicle_list_rows_carry_exactly_the_identity_fields(client, login, vendor):
    for row in fleet(client, vendor, login(vendor)):
        assert set(row) == IDENTITY
        assert all(isinstance(row[k], str) for k in IDENTITY)


def test_vehicle_id_is_two_letters_and_the_device_serial(client, login, vendor):
    for row in fleet(client, vendor, login(vendor)):
        assert re.fullmatch(r"[A-Z]{2}\d+", row["id"])
        assert row["id"][2:] == row["serial_number"]


def test_vehicle_list_details_adds_the_documented_fields(client, login, vendor):
    for row in fleet(client, vendor, login(vendor), details=1):
        assert DETAILS <= set(row)
        assert is_number(row["odometer"]) and row["odometer"] > 0
        assert isinstance(row["model_year"], int)
        assert row["country"] == "US"


def test_vehicle_list_with_a_vehicle_answers_only_that_vehicle(client, login, vendor):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    assert fleet(client, vendor, token, vehicle=target["vin"]) == [target]


def test_vehicle_read_answers_a_one_element_array_with_details(client, login, vendor):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    data = ok(call(client, vendor, "vehicle/read", token, vehicle=target["id"]))
    assert isinstance(data, list) and len(data) == 1
    assert DETAILS <= set(data[0])
    assert {k: data[0][k] for k in IDENTITY} == target


@pytest.mark.parametrize("key", ["id", "vin", "serial_number", "label"])
def test_vehicle_read_resolves_each_kind_of_identifier(client, login, vendor, key):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    data = ok(call(client, vendor, "vehicle/read", token, vehicle=target[key]))
    assert data[0]["id"] == target["id"]


def test_vehicle_read_resolves_a_vin_in_any_letter_case(client, login, vendor):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    data = ok(call(client, vendor, "vehicle/read", token, vehicle=target["vin"].lower()))
    assert data[0]["id"] == target["id"]


def test_vehicle_read_resolves_a_unique_partial_label(client, login, vendor):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    partial = target["label"][2:].lower()  # e.g. "rd 0001" for "Ford 0001"
    assert sum(partial in v["label"].lower() for v in fleet(client, vendor, token)) == 1
    data = ok(call(client, vendor, "vehicle/read", token, vehicle=partial))
    assert data[0]["id"] == target["id"]


def test_vehicle_read_of_a_partial_label_of_several_vehicles_answers_the_first(
    client, login, vendor
):
    # The client documents "name or partial name (first to match)": fleet order decides.
    token = login(vendor)
    vehicles = fleet(client, vendor, token)
    makes = Counter(v["label"].split()[0] for v in vehicles)
    shared = next(make for make, count in makes.items() if count > 1)
    first = next(v for v in vehicles if shared.lower() in v["label"].lower())
    data = ok(call(client, vendor, "vehicle/read", token, vehicle=shared.upper()))
    assert [row["id"] for row in data] == [first["id"]]


def test_vehicle_read_of_an_unknown_vehicle_answers_404(client, login, vendor):
    response = call(client, vendor, "vehicle/read", login(vendor), vehicle="NO-SUCH-TRUCK")
    assert_error(response, 404, "Vehicle not found")


def test_vehicle_read_without_vehicle_answers_400_naming_it(client, login, vendor):
    response = call(client, vendor, "vehicle/read", login(vendor))
    assert_error(response, 400, "Missing required parameter: vehicle")


# -- vehicle/location ----------------------------------------------------------------------


def test_vehicle_location_rows_have_every_documented_field(client, login, vendor):
    rows = ok(call(client, vendor, "vehicle/location", login(vendor)))
    assert rows
    for row in rows:
        assert LOCATION <= set(row)


def test_vehicle_location_fields_have_their_json_types(client, login, vendor):
    for row in ok(call(client, vendor, "vehicle/location", login(vendor))):
        assert isinstance(row["odometer"], str) and float(row["odometer"]) > 0
        for key in ("latitude", "longitude", "heading", "inst_speed", "avg_speed", "max_speed"):
            assert is_number(row[key]), key
        assert -90 <= row["latitude"] <= 90 and -180 <= row["longitude"] <= 180
        assert 0 <= row["heading"] < 360
        assert row["ignition"] in ("on", "off")
        assert isinstance(row["address"], str) and row["address"]
        assert row["driver_id"] is None or is_number(row["driver_id"])


def test_vehicle_location_fix_time_is_local_like_8_14_15_7_27_10_am(client, login, vendor):
    for row in ok(call(client, vendor, "vehicle/location", login(vendor))):
        assert FIX_TIME.match(row["fix_time"]), row["fix_time"]


def test_vehicle_location_fix_time_gmt_is_iso_with_utc_offset(client, login, vendor):
    for row in ok(call(client, vendor, "vehicle/location", login(vendor))):
        assert row["fix_time_gmt"].endswith("+00:00")
        assert gmt(row).utcoffset() == timedelta(0)


def test_vehicle_location_fix_time_is_the_phoenix_reading_of_the_gmt_time(client, login, vendor):
    for row in ok(call(client, vendor, "vehicle/location", login(vendor))):
        local = datetime.strptime(row["fix_time"], "%m/%d/%y %I:%M:%S %p").replace(tzinfo=MST)
        assert local == gmt(row)


def test_vehicle_location_fixes_are_not_in_the_future(client, login, vendor):
    rows = ok(call(client, vendor, "vehicle/location", login(vendor)))
    now = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)
    assert all(now - timedelta(hours=1) <= gmt(r) <= now for r in rows)


def test_vehicle_location_without_vehicle_covers_the_fleet(client, login, vendor):
    token = login(vendor)
    rows = ok(call(client, vendor, "vehicle/location", token))
    assert [r["id"] for r in rows] == [v["id"] for v in fleet(client, vendor, token)]


def test_vehicle_location_with_a_vehicle_answers_only_that_vehicle(client, login, vendor):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    rows = ok(call(client, vendor, "vehicle/location", token, vehicle=target["label"]))
    assert [r["id"] for r in rows] == [target["id"]]


def test_every_row_of_a_location_answer_carries_the_time_it_was_made(client, login, vendor):
    response = call(client, vendor, "vehicle/location", login(vendor))
    made = datetime.strptime(response.json["head"]["request_time"], "%b %d %Y %H:%M:%S")
    assert {r["exec_time"] for r in ok(response)} == {made.strftime("%Y-%m-%d %H:%M:%S")}


def test_last_exec_time_of_an_answer_returns_nothing_new_at_the_same_time(client, login, vendor):
    token = login(vendor)
    rows = ok(call(client, vendor, "vehicle/location", token))
    for row in (rows[0], rows[-1]):
        again = call(client, vendor, "vehicle/location", token, last_exec_time=row["exec_time"])
        assert ok(again) == []


def test_last_exec_time_returns_the_vehicles_with_newer_fixes_later(client, login, vendor):
    token = login(vendor)
    cursor = ok(call(client, vendor, "vehicle/location", token))[0]["exec_time"]
    advance(client, vendor, 120)
    newer = ok(call(client, vendor, "vehicle/location", token, last_exec_time=cursor))
    everything = ok(call(client, vendor, "vehicle/location", token))
    since = datetime.strptime(cursor, "%Y-%m-%d %H:%M:%S").replace(tzinfo=MST)
    assert newer == [r for r in everything if gmt(r) > since]
    assert 0 < len(newer) < len(everything)  # the drivers moved, the parked ones did not


def test_last_exec_time_that_is_not_a_time_answers_400_naming_it(client, login, vendor):
    response = call(client, vendor, "vehicle/location", login(vendor), last_exec_time="yesterday")
    assert_error(response, 400, "last_exec_time")


# -- vehicle/history -----------------------------------------------------------------------


def test_vehicle_history_points_are_in_time_order(client, login, vendor):
    token = login(vendor)
    rows = ok(history(client, vendor, token, date="2026-03-09"))
    assert len(rows) > 100
    times = [gmt(r) for r in rows]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert {r["id"] for r in rows} == {some_vehicle(client, vendor, token)["id"]}


def test_vehicle_history_odometer_is_a_non_decreasing_number(client, login, vendor):
    rows = ok(history(client, vendor, login(vendor), date="2026-03-09"))
    odometers = [r["odometer"] for r in rows]
    assert all(is_number(o) for o in odometers)
    assert odometers == sorted(odometers) and odometers[-1] > odometers[0]


def test_vehicle_history_points_are_shaped_like_location(client, login, vendor):
    for row in ok(history(client, vendor, login(vendor))):
        assert LOCATION <= set(row)
        assert FIX_TIME.match(row["fix_time"]) and row["ignition"] in ("on", "off")


def test_vehicle_history_stays_inside_the_asked_day(client, login, vendor):
    rows = ok(history(client, vendor, login(vendor), date="3/9/2026"))
    start = datetime(2026, 3, 9, tzinfo=MST)
    assert all(start <= gmt(r) < start + timedelta(days=1) for r in rows)


def test_vehicle_history_of_today_ends_at_the_current_time(client, login, vendor):
    rows = ok(history(client, vendor, login(vendor)))
    assert rows and gmt(rows[-1]) <= datetime(2026, 3, 10, 17, 30, tzinfo=UTC)


EQUIVALENT_WINDOWS = {
    "YYYY-MM-DD": {"date": "2026-03-09"},
    "M/D/YYYY": {"date": "3/9/2026"},
    "YYYY-MM-DD HH:MM:SS": {"start": "2026-03-09 00:00:00", "end": "2026-03-10 00:00:00"},
    "M/D/YYYY HH:MM:SS": {"start": "3/9/2026 00:00:00", "end": "3/10/2026 00:00:00"},
    "epoch seconds": {
        "start": str(phoenix_epoch(2026, 3, 9)),
        "end": str(phoenix_epoch(2026, 3, 10)),
    },
    "whole days as start/end": {"start": "2026-03-09", "end": "2026-03-09"},
}


@pytest.mark.parametrize("form", list(EQUIVALENT_WINDOWS))
def test_vehicle_history_accepts_every_documented_date_format(client, login, vendor, form):
    token = login(vendor)
    reference = ok(history(client, vendor, token, date="2026-03-09"))
    assert ok(history(client, vendor, token, **EQUIVALENT_WINDOWS[form])) == reference


def test_vehicle_history_of_exactly_seven_days_is_served(client, login, vendor):
    rows = ok(history(client, vendor, login(vendor), start="2026-03-03", end="2026-03-09"))
    assert datetime(2026, 3, 3, tzinfo=MST) <= gmt(rows[0])
    assert gmt(rows[-1]) < datetime(2026, 3, 10, tzinfo=MST)


@pytest.mark.parametrize(
    "window, message",
    [
        ({"date": "2026-13-45"}, "Invalid parameter date"),
        ({"date": "last tuesday"}, "Invalid parameter date"),
        ({"start": "03-09-2026"}, "Invalid parameter start"),
        ({"start": "2026-03-09", "end": "tomorrow"}, "Invalid parameter end"),
        ({"start": "2026-03-02", "end": "2026-03-09"}, "at most 7 days"),
        ({"start": "2026-03-09 12:00:00", "end": "2026-03-09 11:00:00"}, "Invalid parameter end"),
    ],
    ids=[
        "impossible date",
        "words for a date",
        "day-first start",
        "words for an end",
        "more than seven days",
        "end before the start",
    ],
)
def test_vehicle_history_with_a_bad_window_answers_400_saying_what_is_wrong(
    client, login, vendor, window, message
):
    assert_error(history(client, vendor, login(vendor), **window), 400, message)


@pytest.mark.parametrize("date", ["9999-12-31", "12/31/9999", "9999-12-31 23:00:00"])
def test_a_date_at_the_end_of_the_calendar_answers_400_not_500(client, login, vendor, date):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    for path in ("vehicle/history", "vehicle/dtc", "vehicle/runtime"):
        response = call(client, vendor, path, token, vehicle=target["id"], date=date)
        assert_error(response, 400, "Invalid parameter date")


def test_vehicle_history_without_vehicle_answers_400_naming_it(client, login, vendor):
    response = call(client, vendor, "vehicle/history", login(vendor), date="2026-03-09")
    assert_error(response, 400, "Missing required parameter: vehicle")


# -- vehicle/runtime -----------------------------------------------------------------------


def test_vehicle_runtime_reports_hours_as_a_string_and_lifetime_as_a_number(client, login, vendor):
    token = login(vendor)
    rows = ok(call(client, vendor, "vehicle/runtime", token))
    assert [r["id"] for r in rows] == [v["id"] for v in fleet(client, vendor, token)]
    for row in rows:
        assert re.fullmatch(r"\d+\.\d{2}", row["runtime_hours"])
        assert 0 <= float(row["runtime_hours"]) <= 24
        assert is_number(row["runtime_lifetime"]) and row["runtime_lifetime"] > 0


def test_vehicle_runtime_grows_as_the_engines_run(client, login, vendor):
    token = login(vendor)
    before = {r["id"]: r for r in ok(call(client, vendor, "vehicle/runtime", token))}
    advance(client, vendor, HOUR)
    for row in ok(call(client, vendor, "vehicle/runtime", token)):
        assert row["runtime_lifetime"] > before[row["id"]]["runtime_lifetime"]
        assert float(row["runtime_hours"]) > float(before[row["id"]]["runtime_hours"])


# -- vehicle/dtc and diagnostic/list -------------------------------------------------------


def test_vehicle_dtc_rows_have_the_documented_fields(client, login, vendor):
    rows = ok(call(client, vendor, "vehicle/dtc", login(vendor)))
    assert rows  # the world always has DTCs active today
    for row in rows:
        assert set(row) == DTC_ROW


def test_vehicle_dtc_is_an_object_keyed_by_code(client, login, vendor):
    for row in ok(call(client, vendor, "vehicle/dtc", login(vendor))):
        assert isinstance(row["dtc"], dict) and row["dtc"]
        for code, entry in row["dtc"].items():
            assert re.fullmatch(r"[PBCU]\d{4}|SPN \d+ FMI \d+", code), code
            assert set(entry) == {"mld", "alt", "first", "last", "count"}
            assert entry["mld"] in (0, 1)
            assert isinstance(entry["alt"], str) and entry["alt"]
            assert isinstance(entry["count"], int) and entry["count"] >= 1


def test_vehicle_dtc_first_and_last_are_iso_with_an_offset(client, login, vendor):
    for row in ok(call(client, vendor, "vehicle/dtc", login(vendor))):
        for entry in row["dtc"].values():
            first, last = (
                datetime.fromisoformat(entry["first"]),
                datetime.fromisoformat(entry["last"]),
            )
            assert first.utcoffset() == last.utcoffset() == timedelta(hours=-7)
            assert first <= last


def test_vehicle_dtc_with_a_vehicle_answers_only_that_vehicle(client, login, vendor):
    token = login(vendor)
    rows = ok(call(client, vendor, "vehicle/dtc", token))
    target = rows[-1]
    only = ok(call(client, vendor, "vehicle/dtc", token, vehicle=target["serial_number"]))
    assert only == [target]


def test_a_dtc_count_grows_with_each_hourly_report(client, login, vendor):
    token = login(vendor)
    before = ok(call(client, vendor, "vehicle/dtc", token))
    advance(client, vendor, 2 * HOUR)  # 10:30 -> 12:30 MST, still the same day
    after = {r["serial_number"]: r["dtc"] for r in ok(call(client, vendor, "vehicle/dtc", token))}
    for row in before:
        for code, entry in row["dtc"].items():
            assert after[row["serial_number"]][code]["count"] == entry["count"] + 2


def test_an_active_dtc_still_reports_the_next_day(client, login, vendor):
    token = login(vendor)
    today = {
        (r["serial_number"], c)
        for r in ok(call(client, vendor, "vehicle/dtc", token))
        for c in r["dtc"]
    }
    advance(client, vendor, 24 * HOUR)
    rows = ok(call(client, vendor, "vehicle/dtc", login(vendor)))
    tomorrow = {(r["serial_number"], c): e for r in rows for c, e in r["dtc"].items()}
    assert today and today <= set(tomorrow)
    for key in today:
        assert tomorrow[key]["first"].startswith("2026-03-11T")
        assert tomorrow[key]["last"].startswith("2026-03-11T")


def test_vehicle_dtc_of_a_day_without_faults_answers_an_empty_array(client, login, vendor):
    assert ok(call(client, vendor, "vehicle/dtc", login(vendor), date="2026-01-01")) == []


def test_diagnostic_list_rows_have_a_code_and_sql_dates(client, login, vendor):
    rows = ok(call(client, vendor, "diagnostic/list", login(vendor)))
    assert rows
    for row in rows:
        assert set(row) == {"code", "first_date", "last_date"}
        assert SQL_TIME.match(row["first_date"]) and SQL_TIME.match(row["last_date"])
        assert row["first_date"] <= row["last_date"]


def test_diagnostic_list_names_every_code_reported_today(client, login, vendor):
    token = login(vendor)
    today = {c for r in ok(call(client, vendor, "vehicle/dtc", token)) for c in r["dtc"]}
    listed = {r["code"] for r in ok(call(client, vendor, "diagnostic/list", token))}
    assert today and today <= listed


def test_diagnostic_list_last_date_is_the_latest_dtc_report_on_the_hour(client, login, vendor):
    token = login(vendor)
    advance(client, vendor, 30 * 60)  # 11:00:00 MST: a report falls on this very second
    latest: dict[str, str] = {}
    for row in ok(call(client, vendor, "vehicle/dtc", token)):
        for code, entry in row["dtc"].items():
            last = datetime.fromisoformat(entry["last"]).strftime("%Y-%m-%d %H:%M:%S")
            latest[code] = max(latest.get(code, ""), last)
    listed = {r["code"]: r["last_date"] for r in ok(call(client, vendor, "diagnostic/list", token))}
    assert latest and {code: listed[code] for code in latest} == latest


# -- writes --------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["get", "post"])
def test_vehicle_update_changes_the_vin_seen_in_vehicle_list(client, login, vendor, via):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    new_vin = "1FTFW1E50NFA00001"
    response = send(via, client, vendor, "vehicle/update", token, vehicle=target["id"], vin=new_vin)
    assert ok(response) == "Vehicle updated"
    listed = {v["id"]: v["vin"] for v in fleet(client, vendor, token)}
    assert listed[target["id"]] == new_vin


def test_vehicle_update_makes_the_new_vin_resolvable(client, login, vendor):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    ok(call(client, vendor, "vehicle/update", token, vehicle=target["id"], vin="1FTFW1E50NFA00001"))
    assert (
        ok(call(client, vendor, "vehicle/read", token, vehicle="1FTFW1E50NFA00001"))[0]["id"]
        == target["id"]
    )
    assert_error(call(client, vendor, "vehicle/read", token, vehicle=target["vin"]), 404)


def test_vehicle_update_changes_details_fields(client, login, vendor):
    token = login(vendor)
    changes = {"label": "Loaner 7", "make": "Isuzu", "model_year": 2024, "ref_id": "FLEET-7"}
    ok(on_vehicle(client, vendor, token, "vehicle/update", **changes))
    row = ok(on_vehicle(client, vendor, token, "vehicle/read"))[0]
    assert {k: row[k] for k in changes} == changes


def test_vehicle_update_without_a_field_answers_400(client, login, vendor):
    response = on_vehicle(client, vendor, login(vendor), "vehicle/update")
    assert_error(response, 400, "Missing required parameter")


def test_vehicle_update_with_a_bad_model_year_answers_400_naming_it(client, login, vendor):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    response = on_vehicle(client, vendor, token, "vehicle/update", model_year="new")
    assert_error(response, 400, "model_year")
    assert ok(on_vehicle(client, vendor, token, "vehicle/read"))[0]["vin"] == target["vin"]


@pytest.mark.parametrize("via", ["get", "post"])
def test_setodometerwaypoint_sets_the_odometer_that_is_read_back(client, login, vendor, via):
    token = login(vendor)
    target = some_vehicle(client, vendor, token)
    response = send(
        via,
        client,
        vendor,
        "vehicle/setodometerwaypoint",
        token,
        vehicle=target["id"],
        odometer="12345.6",
    )
    assert ok(response) == "Success"
    assert odometer_of(client, vendor, token) == 12345.6
    location = ok(on_vehicle(client, vendor, token, "vehicle/location"))[0]
    assert location["odometer"] == "12345.6"


def test_setodometerwaypoint_can_roll_an_odometer_back(client, login, vendor):
    token = login(vendor)
    before = odometer_of(client, vendor, token)
    ok(on_vehicle(client, vendor, token, "vehicle/setodometerwaypoint", odometer=10))
    assert odometer_of(client, vendor, token) == 10 < before


def test_setodometerwaypoint_with_a_past_timestamp_adds_the_miles_driven_since(
    client, login, vendor
):
    token = login(vendor)
    past = {"odometer": 1000, "timestamp": "2026-03-10 06:30:00"}
    ok(on_vehicle(client, vendor, token, "vehicle/setodometerwaypoint", **past))
    odometer = odometer_of(client, vendor, token)
    assert 1000 < odometer < 1000 + 4 * 80  # four hours at a fleet vehicle's speeds


def test_setodometerwaypoint_without_odometer_answers_400_naming_it(client, login, vendor):
    response = on_vehicle(client, vendor, login(vendor), "vehicle/setodometerwaypoint")
    assert_error(response, 400, "Missing required parameter: odometer")


def test_setodometerwaypoint_with_a_negative_odometer_answers_400(client, login, vendor):
    response = on_vehicle(client, vendor, login(vendor), "vehicle/setodometerwaypoint", odometer=-5)
    assert_error(response, 400, "Invalid parameter odometer")


# -- motion --------------------------------------------------------------------------------


def test_odometers_grow_as_the_clock_advances(client, login, vendor):
    token = login(vendor)
    before = {v["id"]: v["odometer"] for v in fleet(client, vendor, token, details=1)}
    advance(client, vendor, HOUR)
    after = {v["id"]: v["odometer"] for v in fleet(client, vendor, token, details=1)}
    assert all(after[i] > before[i] for i in before)


def test_vehicles_move_as_the_clock_advances(client, login, vendor):
    token = login(vendor)
    before = {r["id"]: r for r in ok(call(client, vendor, "vehicle/location", token))}
    advance(client, vendor, HOUR)
    for row in ok(call(client, vendor, "vehicle/location", token)):
        old = before[row["id"]]
        assert (row["latitude"], row["longitude"]) != (old["latitude"], old["longitude"])
        assert gmt(row) > gmt(old)
        assert float(row["odometer"]) > float(old["odometer"])


def test_two_stacks_at_the_same_virtual_time_answer_alike(vendor):
    answers = []
    for _ in range(2):
        client = Client(make_stack_app())
        token = master_session(client, vendor)
        advance(client, vendor, 5 * HOUR)
        answers.append(ok(call(client, vendor, "vehicle/location", token)))
    assert answers[0] == answers[1]


# -- GET and form POST ---------------------------------------------------------------------


READ_METHODS: dict[str, Any] = {
    "vehicle/list": lambda v: {},
    "vehicle/list details": lambda v: {"details": "1"},
    "vehicle/read": lambda v: {"vehicle": v["vin"]},
    "vehicle/location": lambda v: {},
    "vehicle/location one": lambda v: {"vehicle": v["label"]},
    "vehicle/history": lambda v: {
        "vehicle": v["id"],
        "start": "3/9/2026 06:00:00",
        "end": "3/9/2026 09:00:00",
    },
    "vehicle/runtime": lambda v: {"date": "2026-03-09"},
    "vehicle/dtc": lambda v: {"start": "2026-03-01", "end": "2026-03-10"},
    "diagnostic/list": lambda v: {},
    "user/list": lambda v: {},
    "user/listvehicles": lambda v: {},
    "vehiclegroup/list": lambda v: {},
    "vehiclegroup/listvehicles": lambda v: {"group": "South Region"},
    "apiapp/list": lambda v: {},
    "heartbeat/beat": lambda v: {},
}


@pytest.mark.parametrize("name", list(READ_METHODS))
def test_every_read_method_answers_the_same_by_get_and_by_form_post(client, login, vendor, name):
    token = login(vendor)
    params = READ_METHODS[name](some_vehicle(client, vendor, token))
    path = name.split()[0]
    by_get = ok(call(client, vendor, path, token, **params))
    by_post = ok(post(client, vendor, path, token, **params))
    assert by_post == by_get and by_get


WRITES: dict[str, tuple[str, Any, Any]] = {
    "vehicle/update": (
        "vehicle/update",
        lambda v: {"vehicle": v["id"], "label": "Spare 1"},
        "Vehicle updated",
    ),
    "vehicle/setodometerwaypoint": (
        "vehicle/setodometerwaypoint",
        lambda v: {"vehicle": v["id"], "odometer": "42"},
        "Success",
    ),
    "user/update": ("user/update", lambda v: {"first_name": "Pat"}, "User updated"),
    "userauth/logout": ("userauth/logout", lambda v: {}, "logged out"),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_every_write_method_answers_the_same_by_get_and_by_form_post(vendor, name):
    path, make_params, expected = WRITES[name]
    answers = []
    for via in ("get", "post"):
        client = Client(make_stack_app())
        token = master_session(client, vendor)
        params = make_params(some_vehicle(client, vendor, token))
        answers.append(ok(send(via, client, vendor, path, token, **params)))
    assert answers == [expected, expected]


def test_a_form_body_is_read_even_with_an_empty_query_string(client, login, vendor):
    token = login(vendor)
    response = client.post(f"/{vendor}/v2/vehicle/list?", data={"session_token": token})
    assert len(ok(response)) == len(fleet(client, vendor, token))


# -- routing -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["VEHICLE/LIST", "Vehicle/List", "vehicle/LIST", "vEhIcLe/lIsT"])
def test_class_and_method_names_are_case_insensitive(client, login, vendor, path):
    token = login(vendor)
    response = call(client, vendor, path, token)
    assert ok(response) == fleet(client, vendor, token)
    assert response.json["head"]["method"] == "vehicle/list"


@pytest.mark.parametrize(
    "path", ["vehicle/list/", "vehicle/list/json", "vehicle/list/json/", "vehicle/list/JSON"]
)
def test_a_trailing_slash_and_an_explicit_json_format_are_tolerated(client, login, vendor, path):
    token = login(vendor)
    assert ok(call(client, vendor, path, token)) == fleet(client, vendor, token)


def test_reference_tag_is_echoed_in_head(client, login, vendor):
    response = call(client, vendor, "vehicle/list", login(vendor), reference_tag="sync-run-42")
    assert response.json["head"]["reference_tag"] == "sync-run-42"


def test_reference_tag_is_echoed_in_the_head_of_an_error(client, vendor):
    response = call(client, vendor, "vehicle/list", reference_tag="sync-run-42")
    assert_error(response, 403)
    assert response.json["head"]["reference_tag"] == "sync-run-42"


def test_reference_tag_of_128_characters_is_accepted(client, login, vendor):
    response = call(client, vendor, "vehicle/list", login(vendor), reference_tag="t" * 128)
    assert response.json["head"]["reference_tag"] == "t" * 128


def test_reference_tag_over_128_characters_answers_400(client, login, vendor):
    response = call(client, vendor, "vehicle/list", login(vendor), reference_tag="t" * 129)
    assert_error(response, 400, "reference_tag", "128")


@pytest.mark.parametrize("fmt", ["xml", "csv"])
def test_an_unsupported_format_answers_400_envelope(client, login, vendor, fmt):
    response = call(client, vendor, f"vehicle/list/{fmt}", login(vendor))
    assert_error(response, 400, "Unsupported format", fmt)


@pytest.mark.parametrize(
    "path", ["vehicle/teleport", "spaceship/list", "vehicle", "vehicle/list/json/extra"]
)
def test_an_unknown_method_answers_404_envelope(client, login, vendor, path):
    response = call(client, vendor, path, login(vendor))
    assert_error(response, 404, "not found")


# -- the envelope --------------------------------------------------------------------------


def test_head_has_status_method_context_times_count_and_brand(client, login, vendor):
    response = call(client, vendor, "vehicle/list", login(vendor))
    head = response.json["head"]
    assert set(head) >= {
        "status",
        "method",
        "context",
        "request_time",
        "session_start",
        "request_count",
        "brand",
    }
    assert head["status"] == "OK" and head["method"] == "vehicle/list"
    assert HEAD_TIME.match(head["request_time"]) and HEAD_TIME.match(head["session_start"])
    assert isinstance(head["request_count"], int)


def test_request_time_is_the_server_time_in_mst(client, login, vendor):
    head = call(client, vendor, "vehicle/list", login(vendor)).json["head"]
    assert head["request_time"] == "Mar 10 2026 10:30:00"  # T0 is 17:30 UTC


def test_session_start_stays_at_login_while_request_time_moves(client, login, vendor):
    token = login(vendor)
    advance(client, vendor, 2 * HOUR)
    head = call(client, vendor, "vehicle/list", token).json["head"]
    assert head["session_start"] == "Mar 10 2026 10:30:00"
    assert head["request_time"] == "Mar 10 2026 12:30:00"


def test_request_count_grows_by_one_with_each_call(client, login, vendor):
    token = login(vendor)
    counts = [
        call(client, vendor, "vehicle/list", token).json["head"]["request_count"] for _ in range(3)
    ]
    assert counts[1] == counts[0] + 1 and counts[2] == counts[1] + 1


def test_head_context_names_the_session_user(client, creds, login, vendor):
    master = next(u for u in creds(vendor).values() if u["master"])
    assert (
        call(client, vendor, "vehicle/list", login(vendor)).json["head"]["context"]
        == master["username"]
    )


def test_head_brand_names_the_vendor(client, login, vendor):
    assert (
        call(client, vendor, "vehicle/list", login(vendor)).json["head"]["brand"] == BRANDS[vendor]
    )


def test_head_brand_names_the_vendor_on_errors_and_heartbeats(client, vendor):
    assert call(client, vendor, "vehicle/list").json["head"]["brand"] == BRANDS[vendor]
    assert call(client, vendor, "heartbeat/beat").json["head"]["brand"] == BRANDS[vendor]


ERROR_CASES: dict[str, tuple[str, str, dict[str, Any], int]] = {
    "no session": ("GET", "v2/vehicle/list", {}, 403),
    "unsupported format": ("GET", "v2/vehicle/list/xml", {"session": True}, 400),
    "unknown method": ("GET", "v2/vehicle/fly", {"session": True}, 404),
    "missing parameter": ("GET", "v2/vehicle/read", {"session": True}, 400),
    "unknown vehicle": ("GET", "v2/vehicle/read", {"session": True, "vehicle": "nope"}, 404),
    "bad date": ("GET", "v2/vehicle/dtc", {"session": True, "date": "someday"}, 400),
    "long tag": ("GET", "v2/heartbeat/beat", {"reference_tag": "x" * 200}, 400),
    "wrong login": ("POST", "v2/userauth/login", {"username": "a", "password": "b"}, 403),
    "PUT": ("PUT", "v2/vehicle/list", {}, 405),
    "outside v2": ("GET", "v9/vehicle/list", {}, 404),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_http_status_always_equals_the_error_code(client, login, vendor, case):
    method, path, params, code = ERROR_CASES[case]
    params = dict(params)
    if params.pop("session", False):
        params["session_token"] = login(vendor)
    url = f"/{vendor}/{path}"
    if method == "POST":
        response = client.post(url, data=params)
    else:
        response = client.open(url, method=method, query_string=params)
    error = assert_error(response, code)
    assert isinstance(error["code"], int)
    assert error["message"] and error["error"] == error["message"]
