"""The GPS Insight and Wex slices of the seeded world: deterministic, clean enough, realistic."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from fixtures.providers import is_valid_vin
from fixtures.world import ALL_VEHICLES, DAY, GROUPS, build_world
from helpers import PLATFORM_VENDORS

ANCHOR = datetime(2026, 3, 10, tzinfo=UTC)
SEEDS = (1, 2, 3)


def world(seed: int = 1, size: int = 50) -> dict[str, Any]:
    """A world with ``size`` vehicles in each telematics account."""
    return build_world(seed, ANCHOR, vehicles=size, wex_vehicles=size)


def vins(account: dict[str, Any]) -> list[str]:
    """The non-empty VINs of an account."""
    return [v["vin"] for v in account["vehicles"] if v["vin"]]


# -- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_the_same_seed_gives_vehicle_n_whatever_the_fleet_size(brand):
    small = build_world(7, ANCHOR, vehicles=10, wex_vehicles=10)[brand]["vehicles"]
    large = build_world(7, ANCHOR, vehicles=60, wex_vehicles=60)[brand]["vehicles"]
    assert len(small) == 10 and len(large) == 60
    assert large[:10] == small


def test_the_same_seed_builds_the_same_world_twice():
    assert world(7) == world(7)


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_different_seeds_give_different_vehicles(brand):
    first, second = world(1, 10)[brand]["vehicles"], world(2, 10)[brand]["vehicles"]
    assert all(a["serial_number"] != b["serial_number"] for a, b in zip(first, second, strict=True))
    assert vins(world(1, 10)[brand]) != vins(world(2, 10)[brand])


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_different_seeds_give_different_app_tokens(brand):
    tokens = [{u["app_token"] for u in world(seed, 1)[brand]["users"]} for seed in SEEDS]
    assert not tokens[0] & tokens[1] and not tokens[1] & tokens[2]


def test_the_world_is_plain_json_that_round_trips():
    built = world(1)
    assert orjson.loads(orjson.dumps(built)) == built


# -- GPS Insight and Wex are separate -------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_gpsinsight_and_wex_never_share_a_vin(seed):
    built = world(seed, 200)
    assert not set(vins(built["gpsinsight"])) & set(vins(built["wex"]))


@pytest.mark.parametrize("seed", SEEDS)
def test_gpsinsight_and_wex_never_share_a_vehicle_id_or_serial(seed):
    built = world(seed, 200)
    for key in ("id", "serial_number"):
        gpsi = {v[key] for v in built["gpsinsight"]["vehicles"]}
        assert not gpsi & {v[key] for v in built["wex"]["vehicles"]}


def test_gpsinsight_and_wex_have_their_own_users_and_tokens():
    built = world(1)
    for key in ("username", "app_token"):
        gpsi = {u[key] for u in built["gpsinsight"]["users"]}
        assert not gpsi & {u[key] for u in built["wex"]["users"]}


# -- vehicles ------------------------------------------------------------------------------


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_every_non_empty_vin_passes_the_check_digit(brand):
    for seed in SEEDS:
        bad = [vin for vin in vins(world(seed, 200)[brand]) if not is_valid_vin(vin)]
        assert bad == []


@pytest.mark.parametrize("size", [50, 200])
@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_dirty_vins_are_present_but_under_ten_percent(brand, size):
    fleet = world(1, size)[brand]["vehicles"]
    dirty = sum(1 for v in fleet if not is_valid_vin(v["vin"]))
    assert 0 < dirty < 0.1 * len(fleet)


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_vins_ids_serials_and_labels_are_unique_in_an_account(brand):
    account = world(1, 200)[brand]
    fleet = account["vehicles"]
    assert len(set(vins(account))) == len(vins(account))
    for key in ("id", "serial_number", "label"):
        assert len({v[key] for v in fleet}) == len(fleet), key


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_vehicle_ids_are_two_letters_and_the_serial(brand):
    for v in world(1)[brand]["vehicles"]:
        assert re.fullmatch(r"[A-Z]{2}\d+", v["id"]) and v["id"][2:] == v["serial_number"]


# -- groups, users, drivers ------------------------------------------------------------------


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_an_account_has_three_groups_besides_all_vehicles(brand):
    groups = world(1)[brand]["groups"]
    assert sorted(groups) == sorted(GROUPS)
    assert ALL_VEHICLES not in groups and len(groups) == 3


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_every_vehicle_is_in_exactly_one_named_group(brand):
    account = world(1)[brand]
    members = [vid for ids in account["groups"].values() for vid in ids]
    assert sorted(members) == sorted(v["id"] for v in account["vehicles"])
    assert all(account["groups"][name] for name in GROUPS)


@pytest.mark.parametrize("vendor", PLATFORM_VENDORS)
def test_the_emulator_offers_all_vehicles_and_the_three_groups(client, login, vendor, stack_app):
    response = client.get(
        f"/{vendor}/v2/vehiclegroup/list", query_string={"session_token": login(vendor)}
    )
    rows = response.json["data"]
    assert [r["name"] for r in rows] == [ALL_VEHICLES, *GROUPS]
    assert rows[0]["vehicle_count"] == len(stack_app.stack.world[vendor]["vehicles"])


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_an_account_has_one_master_user(brand):
    masters = [u for u in world(1)[brand]["users"] if u["master"]]
    assert len(masters) == 1 and masters[0]["vehicle_groups"] == [ALL_VEHICLES]


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_an_account_has_a_user_restricted_to_some_groups(brand):
    restricted = [
        u
        for u in world(1)[brand]["users"]
        if not u["master"] and ALL_VEHICLES not in u["vehicle_groups"]
    ]
    assert restricted
    assert all(set(u["vehicle_groups"]) < set(GROUPS) and u["vehicle_groups"] for u in restricted)


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_every_user_has_a_13_lowercase_hex_app_token_and_a_password(brand):
    for user in world(1)[brand]["users"]:
        assert re.fullmatch(r"[0-9a-f]{13}", user["app_token"])
        assert len(user["password"]) >= 12


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_an_account_has_twenty_drivers(brand):
    drivers = world(1)[brand]["drivers"]
    assert len(drivers) == 20
    assert len({d["id"] for d in drivers}) == 20
    assert all(d["firstname"] and d["lastname"] and not d["deleted"] for d in drivers)


# -- DTCs ------------------------------------------------------------------------------------


def active_on_anchor_day(account: dict[str, Any]) -> list[tuple[str, str]]:
    """(vehicle id, code) of every fault episode reporting on the anchor's day."""
    start = int(ANCHOR.timestamp())
    return [
        (v["id"], ep["code"])
        for v in account["vehicles"]
        for ep in v["dtcs"]
        if ep["start"] < start + DAY and (ep["end"] is None or ep["end"] >= start)
    ]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_several_dtcs_are_active_on_the_anchor_day(brand, seed):
    active = active_on_anchor_day(world(seed, 20)[brand])
    assert len(active) >= 3
    assert len(active_on_anchor_day(world(seed, 50)[brand])) >= 5


@pytest.mark.parametrize("brand", PLATFORM_VENDORS)
def test_dtc_episodes_have_a_code_a_description_and_a_start(brand):
    episodes = [ep for v in world(1, 200)[brand]["vehicles"] for ep in v["dtcs"]]
    assert episodes
    for ep in episodes:
        assert ep["code"] and ep["description"] and isinstance(ep["start"], int)
        assert ep["end"] is None or ep["end"] > ep["start"]
