"""Every served GPS Insight (and Wex) method, walked as the restricted user: no answer ever
names a vehicle outside its groups, and naming one is a 404, never its data.

The methods come from ``routes.OPERATIONS`` (a method added there without a walk plan below
fails the suite). Each is called with valid parameters of the user's own, then, wherever its
schema takes them, with every way of naming a foreign vehicle (id, VIN, serial, label, partial
label, in either letter case), every group name (whole and partial, any letter case, and
the group ids) and the other users' names. Every answer, whatever its status, is searched for
any foreign vehicle's id, VIN, serial, label or ref id, and the foreign vehicles' state must
be unchanged afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from gpsinsight_helpers import ok, role_row
from werkzeug.test import Client, TestResponse

from helpers import PLATFORM_VENDORS, T0, make_stack_app, module_stack_app, reset_platform_stack  # noqa: F401  (fixtures)
from mock_vendors.gpsinsight.errors import (
    FORBIDDEN_DRIVER_SYNC,
    FORBIDDEN_DRIVERS,
    FORBIDDEN_WEBHOOKS,
)
from mock_vendors.gpsinsight.routes import OPERATIONS, SESSIONLESS

OWN_GROUP = "South Region"
GROUP_PARAMS = ("vehicle_group", "group", "filter_group")
USER_PARAMS = ("username", "user_context")
WIDE = {"start": "2026-01-01", "end": "2026-03-10"}
WEEK = {"start": "2026-03-03"}
# Every way of naming a group: whole and partial names in any letter case, and the ids.
# Those that match none of the restricted user's groups must be a 404.
INVISIBLE = (
    "ALL VEHICLES", "all vehicles", "All", "VEHICLES", "North Region", "north region", "NORTH",
    "nor", "Service Trucks", "service trucks", "SERVICE", "Trucks", "1012000", "1012001",
    "1012003", "nowhere",
)  # fmt: skip
VISIBLE = ("South Region", "south region", "SOUTH", "sou", "Region", "region", "e", "1012002")

pytestmark = pytest.mark.parametrize("vendor", PLATFORM_VENDORS)


@dataclass
class Walk:
    """The restricted user's session and what it must never see."""

    client: Client
    vendor: str
    token: str
    users: dict[str, dict[str, Any]]
    own: list[dict[str, Any]]
    foreign: list[dict[str, Any]]
    answers: list[tuple[dict[str, Any], TestResponse]] = field(default_factory=list)

    @property
    def me(self) -> dict[str, Any]:
        return role_row(self.users, "restricted")

    def send(self, method: str, params: dict[str, Any]) -> TestResponse:
        """GET the method as the restricted user; every answer is kept for the leak search."""
        query = dict(params)
        if method not in SESSIONLESS:
            query["session_token"] = self.token
        response = self.client.get(f"/{self.vendor}/v2/{method}", query_string=query)
        self.answers.append((params, response))
        return response

    def foreign_refs(self) -> list[str]:
        """Every way of naming each foreign vehicle; letter-case variants for a few."""
        refs = []
        for n, v in enumerate(self.foreign):
            names = [v["id"], v["vin"], v["serial_number"], v["label"], v["label"][2:]]
            if n < 3:
                names += [
                    v["id"].lower(),
                    v["vin"].lower(),
                    v["label"].upper(),
                    v["label"][2:].upper(),
                ]
            refs += [name for name in names if name]
        return refs

    def leaks(self) -> list[tuple[dict[str, Any], str, str]]:
        """(params, vehicle id, field) of every foreign marker found in any answer."""
        found = []
        for params, response in self.answers:
            text = response.get_data(as_text=True)
            for v in self.foreign:
                for key in ("id", "vin", "serial_number"):
                    if v[key] and v[key] in text:
                        found.append((params, v["id"], key))
                for key in ("label", "ref_id"):
                    if json.dumps(v[key]) in text:
                        found.append((params, v["id"], key))
        return found

    def foreign_state(self) -> list[dict[str, Any]]:
        """The foreign vehicles as stored (the control plane's dump)."""
        state = self.client.get(f"/{self.vendor}/_mock/state").json["state"]
        ids = {v["id"] for v in self.foreign}
        return [v for v in state["vehicles"] if v["id"] in ids]


def own_vehicle(w: Walk) -> str:
    return str(w.own[0]["id"])


# The valid call of each method, as the restricted user, on its own vehicles and group.
PLANS: dict[str, Callable[[Walk], dict[str, Any]]] = {
    "userauth/login": lambda w: {"username": w.me["username"], "app_token": w.me["app_token"]},
    "userauth/logout": lambda w: {},
    "heartbeat/beat": lambda w: {},
    "heartbeat/repeat": lambda w: {"word": "walk"},
    "vehicle/list": lambda w: {"detail": "1"},
    "vehicle/read": lambda w: {"vehicle": own_vehicle(w)},
    "vehicle/location": lambda w: {},
    "vehicle/history": lambda w: {"vehicle": own_vehicle(w), "date": "2026-03-09"},
    "vehicle/runtime": lambda w: WEEK,
    "vehicle/dtc": lambda w: WIDE,
    "vehicle/update": lambda w: {"vehicle": own_vehicle(w), "label": "Walked", "odometer": "5"},
    "vehicle/setodometerwaypoint": lambda w: {"vehicle": own_vehicle(w), "odometer": "5"},
    "vehicle/getdriver": lambda w: {"vehicle": own_vehicle(w)},
    "vehicle/listvehiclegroups": lambda w: {"vehicle": own_vehicle(w)},
    "vehicle/lifetimeutilization": lambda w: {},
    "vehicle/distance": lambda w: WEEK,
    "vehicle/trips": lambda w: {
        "vehicle": own_vehicle(w),
        "start": "2026-03-09",
        "include_points": "1",
    },
    "diagnostic/list": lambda w: {},
    "user/list": lambda w: {},
    "user/listusers": lambda w: {},
    "user/read": lambda w: {},
    "user/listvehicles": lambda w: {},
    "user/listvehiclegroups": lambda w: {},
    "user/update": lambda w: {"firstname": "Walk"},
    "vehiclegroup/list": lambda w: {"include_members": "1"},
    "vehiclegroup/read": lambda w: {"vehicle_group": OWN_GROUP},
    "vehiclegroup/listvehicles": lambda w: {"vehicle_group": OWN_GROUP},
    "vehiclegroup/listmembers": lambda w: {"vehicle_group": OWN_GROUP},
    "vehiclegroup/listusers": lambda w: {"vehicle_group": OWN_GROUP},
    "vehiclegroup/location": lambda w: {"vehicle_group": OWN_GROUP},
    "vehiclegroup/dtc": lambda w: {"vehicle_group": OWN_GROUP, **WIDE},
    "vehiclegroup/runtime": lambda w: {"vehicle_group": OWN_GROUP, **WEEK},
    "vin/decode": lambda w: {"vin": next(v["vin"] for v in w.own if v["vin"])},
    "apiapp/create": lambda w: {"app_name": "walk"},
    "apiapp/list": lambda w: {},
    "apiapp/update": lambda w: {"app_token": w.me["app_token"], "app_name": "walked"},
    "driver/list": lambda w: {},
    "driver/create": lambda w: {"lastname": "Walk", "firstname": "Restricted"},
    "driver/update": lambda w: {"driver": "2001", "phone": "602-555-0199"},
    "driver/delete": lambda w: {"driver": "2001"},
    "driverisync/read": lambda w: {},
    "driverisync/update": lambda w: {"enabled": "1"},
    "webhook/create": lambda w: {"url": "http://127.0.0.1:9/walk", "type": "driver", "secret": "s"},
    "webhook/list": lambda w: {},
    # The restricted user owns no webhook (it may not create one): any id is a 404.
    "webhook/pause": lambda w: {"id": "2701"},
    "webhook/resume": lambda w: {"id": "2701"},
    "webhook/delete": lambda w: {"id": "2701"},
}
# Methods the restricted user may not call at all: its valid call is this 403 (or, for a
# thing it cannot own, 404), in the envelope.
REFUSED = {
    "driver/create": (403, FORBIDDEN_DRIVERS),
    "driver/update": (403, FORBIDDEN_DRIVERS),
    "driver/delete": (403, FORBIDDEN_DRIVERS),
    "driverisync/update": (403, FORBIDDEN_DRIVER_SYNC),
    "webhook/create": (403, FORBIDDEN_WEBHOOKS),
    "webhook/pause": (404, "Webhook not found"),
    "webhook/resume": (404, "Webhook not found"),
    "webhook/delete": (404, "Webhook not found"),
}
WALKED = [op.name for op in OPERATIONS]


def wire_names(name: str) -> set[str]:
    op = next(o for o in OPERATIONS if o.name == name)
    fields = op.query.load_fields.items() if op.query is not None else ()  # type: ignore[union-attr]
    return {f.data_key or attr for attr, f in fields}


def plan_of(name: str) -> Callable[[Walk], dict[str, Any]]:
    if name.endswith("/methods"):
        return lambda w: {}
    return PLANS[name]


def test_every_served_method_has_a_walk_plan(vendor):
    unplanned = [n for n in WALKED if not n.endswith("/methods") and n not in PLANS]
    assert unplanned == [] and set(PLANS) <= set(WALKED), f"{vendor}: plan the new methods"


@pytest.fixture
def walk(client: Client, creds, login, vendor: str) -> Walk:
    master = login(vendor, "master")
    fleet = ok(
        client.get(
            f"/{vendor}/v2/vehicle/list", query_string={"session_token": master, "detail": 1}
        )
    )
    group = ok(
        client.get(
            f"/{vendor}/v2/vehiclegroup/listvehicles",
            query_string={"session_token": master, "vehicle_group": OWN_GROUP},
        )
    )
    own_ids = {v["id"] for v in group}
    own = [v for v in fleet if v["id"] in own_ids]
    foreign = [v for v in fleet if v["id"] not in own_ids]
    assert own and foreign
    return Walk(client, vendor, login(vendor, "restricted"), creds(vendor), own, foreign)


@pytest.mark.parametrize("name", WALKED)
def test_the_restricted_user_never_sees_a_vehicle_outside_its_groups(walk, vendor, name):
    wire = wire_names(name)
    base = plan_of(name)(walk)
    before = walk.foreign_state()
    last = name == "userauth/logout"  # it ends the session the other calls use
    if name in REFUSED:
        response = walk.send(name, base)
        status, message = REFUSED[name]
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.json["errors"][0]["message"] == message
    elif not last:
        assert walk.send(name, base).status_code == 200, walk.answers[-1][1].get_data(as_text=True)
    unexpected = []
    if "vehicle" in wire:
        for ref in walk.foreign_refs():
            response = walk.send(name, {**base, "vehicle": ref})
            error = (response.json.get("errors") or [{}])[0].get("message")
            if (response.status_code, error) != (404, "Vehicle not found"):
                unexpected.append((ref, response.status_code, error))
    if name == "vin/decode":
        for v in walk.foreign:
            if v["vin"]:
                assert walk.send(name, {"vin": v["vin"]}).status_code == 200
    for key in wire.intersection(GROUP_PARAMS):
        for group in (*INVISIBLE, *VISIBLE):
            others = {k: v for k, v in base.items() if k not in GROUP_PARAMS}
            response = walk.send(name, {**others, key: group})
            if group in INVISIBLE and response.status_code != 404:
                unexpected.append((f"{key}={group}", response.status_code, None))
            if group in VISIBLE and response.status_code != 200:
                unexpected.append((f"{key}={group}", response.status_code, None))
    for key in wire.intersection(USER_PARAMS):
        if name == "userauth/login" and key == "username":
            continue  # the login name itself, not someone to act as
        for role in ("master", "dispatch"):
            other = role_row(walk.users, role)["username"]
            response = walk.send(name, {**base, key: other})
            if response.status_code != 403:
                unexpected.append((f"{key}={other}", response.status_code, None))
    if last:
        assert walk.send(name, base).status_code == 200
    assert unexpected == []
    assert walk.leaks() == []
    assert walk.foreign_state() == before
