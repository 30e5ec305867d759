"""A user restricted to some vehicle groups never sees a vehicle outside them, in any method.

The restricted user of the demo world sees only "South Region". Each test computes the foreign
vehicles (every other vehicle) from the Master User's view and searches the restricted user's
raw answers for any of their ids, VINs, serials, labels or ref ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from helpers import PLATFORM_VENDORS, T0, make_stack_app, module_stack_app, reset_platform_stack  # noqa: F401  (fixtures)

RESTRICTED_GROUP = "South Region"
NOT_FOUND = "Vehicle not found"
HISTORY_WINDOW = {"start": "2026-03-09 06:00:00", "end": "2026-03-09 09:00:00"}

pytestmark = pytest.mark.parametrize("vendor", PLATFORM_VENDORS)


def call(client: Client, vendor: str, path: str, token: str, **params: Any) -> TestResponse:
    """GET ``/<vendor>/v2/<path>`` on a session."""
    return client.get(f"/{vendor}/v2/{path}", query_string={"session_token": token, **params})


def ok(response: TestResponse) -> Any:
    """The ``data`` of a successful answer."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["head"]["status"] == "OK"
    return response.json["data"]


@dataclass
class Views:
    """The Master User's and the restricted user's sessions, and who sees what."""

    client: Client
    vendor: str
    master: str
    restricted: str
    fleet: list[dict[str, Any]]  # the master's details view: every vehicle
    own: list[dict[str, Any]]  # the vehicles of the restricted user's group
    foreign: list[dict[str, Any]]

    def call(self, who: str, path: str, **params: Any) -> TestResponse:
        """A call as ``master`` or ``restricted``."""
        return call(self.client, self.vendor, path, getattr(self, who), **params)

    @property
    def own_ids(self) -> set[str]:
        """Ids of the restricted user's vehicles."""
        return {v["id"] for v in self.own}

    def leaks(self, text: str) -> list[tuple[str, str]]:
        """(vehicle id, field) of every foreign vehicle marker found in a raw answer."""
        found = []
        for v in self.foreign:
            for key in ("id", "vin", "serial_number"):
                if v[key] and v[key] in text:
                    found.append((v["id"], key))
            for key in ("label", "ref_id"):
                if json.dumps(v[key]) in text:
                    found.append((v["id"], key))
        return found


@pytest.fixture
def views(client: Client, login, vendor: str) -> Views:
    """Both users' sessions and the foreign fleet, computed from the master's view."""
    master, restricted = login(vendor, "master"), login(vendor, "restricted")
    fleet = ok(call(client, vendor, "vehicle/list", master, details=1))
    group = ok(call(client, vendor, "vehiclegroup/listvehicles", master, group=RESTRICTED_GROUP))
    own_ids = {v["id"] for v in group}
    own = [v for v in fleet if v["id"] in own_ids]
    foreign = [v for v in fleet if v["id"] not in own_ids]
    assert own and foreign and len(own) + len(foreign) == len(fleet)
    return Views(client, vendor, master, restricted, fleet, own, foreign)


def foreign_target(views: Views) -> dict[str, Any]:
    """A foreign vehicle with a VIN and an active DTC if there is one."""
    today = ok(views.call("master", "vehicle/dtc"))
    with_dtc = {r["serial_number"] for r in today}
    candidates = [v for v in views.foreign if v["vin"]]
    return next((v for v in candidates if v["serial_number"] in with_dtc), candidates[0])


# -- answers that list vehicles ------------------------------------------------------------

# (path, params, whether the master's answer to the same call names every vehicle)
LISTING_CALLS: dict[str, tuple[str, dict[str, str], bool]] = {
    "vehicle/list": ("vehicle/list", {}, True),
    "vehicle/list details": ("vehicle/list", {"details": "1"}, True),
    "vehicle/location": ("vehicle/location", {}, True),
    "vehicle/location since": ("vehicle/location", {"last_exec_time": "2026-03-10 10:00:00"}, True),
    "vehicle/runtime": ("vehicle/runtime", {}, True),
    "vehicle/runtime past day": ("vehicle/runtime", {"date": "2026-03-09"}, True),
    "vehicle/dtc": ("vehicle/dtc", {}, False),
    "vehicle/dtc two months": ("vehicle/dtc", {"start": "2026-01-01", "end": "2026-03-10"}, False),
    "diagnostic/list": ("diagnostic/list", {}, False),
    "user/listvehicles": ("user/listvehicles", {}, True),
    "vehiclegroup/list": ("vehiclegroup/list", {}, False),
    "vehiclegroup/listvehicles": ("vehiclegroup/listvehicles", {"group": RESTRICTED_GROUP}, False),
    "user/list": ("user/list", {}, False),
    "apiapp/list": ("apiapp/list", {}, False),
}


@pytest.mark.parametrize("name", list(LISTING_CALLS))
def test_restricted_answers_never_name_a_foreign_vehicle(views, name):
    path, params, master_names_all = LISTING_CALLS[name]
    response = views.call("restricted", path, **params)
    ok(response)
    assert views.leaks(response.get_data(as_text=True)) == []
    if master_names_all:  # the same search does find them in the master's answer
        master_text = views.call("master", path, **params).get_data(as_text=True)
        assert {vid for vid, _ in views.leaks(master_text)} == {v["id"] for v in views.foreign}


def test_restricted_reads_and_histories_of_its_own_vehicles_name_no_foreign_one(views):
    for v in views.own:
        for path, params in (("vehicle/read", {}), ("vehicle/history", HISTORY_WINDOW)):
            response = views.call("restricted", path, vehicle=v["id"], **params)
            assert ok(response)
            assert views.leaks(response.get_data(as_text=True)) == []


def test_restricted_vehicle_list_is_exactly_its_group(views):
    rows = ok(views.call("restricted", "vehicle/list"))
    assert {r["id"] for r in rows} == views.own_ids
    assert len(rows) < len(views.fleet)


@pytest.mark.parametrize("path", ["vehicle/location", "vehicle/runtime"])
def test_restricted_answers_are_the_masters_rows_of_its_vehicles(views, path):
    mine = ok(views.call("restricted", path))
    masters = ok(views.call("master", path))
    assert mine == [r for r in masters if r["id"] in views.own_ids]


def test_restricted_dtc_rows_are_the_masters_rows_of_its_vehicles(views):
    window = {"start": "2026-01-01", "end": "2026-03-10"}
    own_serials = {v["serial_number"] for v in views.own}
    mine = ok(views.call("restricted", "vehicle/dtc", **window))
    masters = ok(views.call("master", "vehicle/dtc", **window))
    assert mine == [r for r in masters if r["serial_number"] in own_serials]
    assert len(mine) < len(masters)  # the master does see foreign faults


def test_restricted_diagnostic_list_names_only_codes_of_its_own_vehicles(views):
    expected: dict[str, dict[str, str]] = {}
    for v in views.own:
        for row in ok(views.call("master", "diagnostic/list", vehicle=v["id"])):
            seen = expected.setdefault(row["code"], dict(row))
            seen["first_date"] = min(seen["first_date"], row["first_date"])
            seen["last_date"] = max(seen["last_date"], row["last_date"])
    mine = ok(views.call("restricted", "diagnostic/list"))
    assert sorted(mine, key=lambda r: r["code"]) == sorted(
        expected.values(), key=lambda r: r["code"]
    )
    everyone = {r["code"] for r in ok(views.call("master", "diagnostic/list"))}
    assert everyone - set(expected), "the world should have codes only foreign vehicles report"


def test_restricted_vehiclegroup_list_shows_only_its_group(views):
    rows = ok(views.call("restricted", "vehiclegroup/list"))
    assert [(r["label"], r["name"], r["vehicle_count"]) for r in rows] == [
        (RESTRICTED_GROUP, RESTRICTED_GROUP, len(views.own))
    ]


@pytest.mark.parametrize("group", ["North Region", "Service Trucks", "ALL VEHICLES"])
def test_restricted_vehiclegroup_listvehicles_of_another_group_answers_404(views, group):
    response = views.call("restricted", "vehiclegroup/listvehicles", group=group)
    assert response.status_code == 404
    assert response.json["errors"][0] == {
        "code": 404,
        "message": "Vehicle group not found",
        "error": "Vehicle group not found",
    }
    assert views.leaks(response.get_data(as_text=True)) == []


def test_restricted_user_listvehicles_of_another_user_answers_403(views, creds):
    master_name = next(u for u in creds(views.vendor).values() if u["master"])["username"]
    response = views.call("restricted", "user/listvehicles", username=master_name)
    assert response.status_code == 403
    assert "Master" in response.json["errors"][0]["message"]
    assert views.leaks(response.get_data(as_text=True)) == []


def test_master_user_listvehicles_of_the_restricted_user_is_its_group(views, creds):
    restricted = next(
        u
        for u in creds(views.vendor).values()
        if not u["master"] and "ALL VEHICLES" not in u["vehicle_groups"]
    )
    rows = ok(views.call("master", "user/listvehicles", username=restricted["username"]))
    assert {r["id"] for r in rows} == views.own_ids


# -- addressing a foreign vehicle ----------------------------------------------------------

ADDRESSING_CALLS: dict[str, dict[str, str]] = {
    "vehicle/list": {},
    "vehicle/read": {},
    "vehicle/location": {},
    "vehicle/history": {"date": "2026-03-09"},
    "vehicle/runtime": {},
    "vehicle/dtc": {},
    "diagnostic/list": {},
    "vehicle/update": {"vin": "1FTFW1E50NFA00001"},
    "vehicle/setodometerwaypoint": {"odometer": "1"},
}


@pytest.mark.parametrize("key", ["id", "vin", "serial_number", "label"])
@pytest.mark.parametrize("path", list(ADDRESSING_CALLS))
def test_restricted_user_addressing_a_foreign_vehicle_gets_404(views, path, key):
    target = foreign_target(views)
    response = views.call("restricted", path, vehicle=target[key], **ADDRESSING_CALLS[path])
    assert response.status_code == 404
    assert response.json["errors"][0]["message"] == NOT_FOUND
    assert views.leaks(response.get_data(as_text=True)) == []


def test_the_master_can_address_the_same_foreign_vehicle(views):
    target = foreign_target(views)
    for path in ("vehicle/read", "vehicle/location", "vehicle/runtime"):
        assert ok(views.call("master", path, vehicle=target["id"]))


def test_restricted_update_of_a_foreign_vehicle_changes_nothing(views):
    target = foreign_target(views)
    for key in ("id", "vin", "serial_number", "label"):
        views.call(
            "restricted",
            "vehicle/update",
            vehicle=target[key],
            vin="1FTFW1E50NFA00001",
            label="Hijacked",
            odometer="1",
        )
    after = ok(views.call("master", "vehicle/read", vehicle=target["id"]))[0]
    assert after == target


def test_restricted_odometer_waypoint_on_a_foreign_vehicle_changes_nothing(views):
    target = foreign_target(views)
    for key in ("id", "vin", "serial_number", "label"):
        views.call("restricted", "vehicle/setodometerwaypoint", vehicle=target[key], odometer="1")
    after = ok(views.call("master", "vehicle/read", vehicle=target["id"]))[0]
    assert after["odometer"] == target["odometer"]


def test_a_partial_label_is_matched_only_against_visible_vehicles(views):
    own_labels = [v["label"].lower() for v in views.own]
    foreign_labels = [v["label"].lower() for v in views.foreign]
    partial, owner = next(
        (label[i:j], label)
        for label in own_labels
        for i in range(len(label))
        for j in range(i + 3, len(label) + 1)
        if sum(label[i:j] in other for other in own_labels) == 1
        and any(label[i:j] in other for other in foreign_labels)
    )
    rows = ok(views.call("restricted", "vehicle/read", vehicle=partial))
    assert rows[0]["label"].lower() == owner
    # The master sees the foreign match as well: its first match may be a foreign vehicle.
    fleet_first = next(v for v in views.fleet if partial in v["label"].lower())
    assert ok(views.call("master", "vehicle/read", vehicle=partial))[0]["id"] == fleet_first["id"]
