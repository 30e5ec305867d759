"""GPS Insight API v2 (and Wex) drivers (``driver/*``) and the Driver Sync setting
(``driverisync/*``): listing and resolution, versions, soft delete and undelete, who may
change what, the parameters' 400s, and the setting's default, permission and dump."""

from __future__ import annotations

from typing import Any

import pytest
from gpsinsight_helpers import assert_error, call, ok, post
from werkzeug.test import Client

from helpers import PLATFORM_VENDORS, T0  # noqa: F401  (fixtures)
from mock_vendors.gpsinsight.errors import FORBIDDEN_DRIVER_SYNC, FORBIDDEN_DRIVERS

pytestmark = pytest.mark.parametrize("vendor", PLATFORM_VENDORS)

COLUMNS = {
    "id", "firstname", "lastname", "ref_id", "email", "phone", "alert_pref", "timezone",
    "driveri_driver_id", "version",
}  # fmt: skip


def drivers(client: Client, vendor: str, token: str, **params: Any) -> list[dict[str, Any]]:
    return ok(call(client, vendor, "driver/list", token, **params))


def one(client: Client, vendor: str, token: str, ref: str) -> dict[str, Any]:
    rows = drivers(client, vendor, token, driver=ref)
    assert len(rows) == 1
    return rows[0]


def create(client: Client, vendor: str, token: str, **fields: Any) -> dict[str, Any]:
    return ok(post(client, vendor, "driver/create", token, **fields))


def state_drivers(client: Client, vendor: str) -> list[dict[str, Any]]:
    return client.get(f"/{vendor}/_mock/state").json["state"]["drivers"]


# -- driver/list and the driver parameter ---------------------------------------------------


def test_list_shows_every_seeded_driver_with_its_columns_at_version_1(client, login, vendor):
    token = login(vendor, "restricted")  # any user of the account reads drivers
    rows = drivers(client, vendor, token)
    seeded = state_drivers(client, vendor)
    assert [r["id"] for r in rows] == [d["id"] for d in seeded]
    assert all(set(r) == COLUMNS and r["version"] == 1 for r in rows)
    first = seeded[0]
    assert rows[0] == {key: first[key] for key in COLUMNS}
    assert rows[0]["driveri_driver_id"] and rows[0]["ref_id"]


def test_the_driver_parameter_resolves_in_the_clients_documented_order(client, login, vendor):
    token = login(vendor)
    # ref_id before id: a driver whose ref_id is another driver's id wins.
    by_ref = create(client, vendor, token, lastname="Refwin", firstname="Rae", ref_id="2002")
    assert one(client, vendor, token, "2002")["id"] == by_ref["id"]
    assert one(client, vendor, token, "2003")["id"] == 2003  # id, when no ref_id matches
    # last name before first name, whatever the list order.
    first = create(client, vendor, token, lastname="Ablemont", firstname="Qorvax")
    last = create(client, vendor, token, lastname="Qorvax", firstname="Zeddo")
    assert one(client, vendor, token, "QORVAX")["id"] == last["id"]
    assert one(client, vendor, token, "ablemont")["id"] == first["id"]
    # first name, then "first last".
    assert one(client, vendor, token, "zeddo")["id"] == last["id"]
    assert one(client, vendor, token, "Qorvax  Ablemont")["id"] == first["id"]
    # partial last name before partial first name.
    by_first = create(client, vendor, token, lastname="Umbel", firstname="Xylostoney")
    by_last = create(client, vendor, token, lastname="Xylostone", firstname="Al")
    assert one(client, vendor, token, "xylo")["id"] == by_last["id"]
    assert one(client, vendor, token, "stoney")["id"] == by_first["id"]
    assert_error(call(client, vendor, "driver/list", token, driver="nobody-zz"), 404)
    error = call(client, vendor, "driver/list", token, driver="nobody-zz").json["errors"][0]
    assert error["message"] == "Driver not found"


# -- driver/create ----------------------------------------------------------------------------


def test_create_adds_a_driver_at_version_1_and_ignores_a_version_sent_in(client, login, vendor):
    token = login(vendor)
    before = drivers(client, vendor, token)
    answer = create(
        client, vendor, token, lastname="Okafor", firstname="Ada", ref_id="EMP-9",
        email="ada@example.com", phone="602-555-0100", timezone="US/Arizona",
        driveri_driver_id="DRV-9", version=41,
    )  # fmt: skip
    assert answer == {"message": "Driver added", "id": max(d["id"] for d in before) + 1}
    row = one(client, vendor, token, "EMP-9")
    assert row == {
        "id": answer["id"], "firstname": "Ada", "lastname": "Okafor", "ref_id": "EMP-9",
        "email": "ada@example.com", "phone": "602-555-0100", "alert_pref": 3,
        "timezone": "US/Arizona", "driveri_driver_id": "DRV-9", "version": 1,
    }  # fmt: skip
    assert len(drivers(client, vendor, token)) == len(before) + 1


def test_the_dispatch_user_with_all_vehicles_may_create(client, login, vendor):
    token = login(vendor, "dispatch")
    answer = create(client, vendor, token, lastname="Dispatched", firstname="Dee", alert_pref=0)
    assert answer["message"] == "Driver added"
    assert one(client, vendor, token, "Dispatched")["alert_pref"] == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"firstname": "Ada"}, "Missing required parameter: lastname"),
        ({"lastname": "Okafor"}, "Missing required parameter: firstname"),
        ({"lastname": "Okafor", "firstname": "  "}, "Invalid parameter firstname: must not be"),
        ({"lastname": "O" * 129, "firstname": "A"}, "Invalid parameter lastname: at most 128"),
        ({"lastname": "Ok\x00", "firstname": "A"}, "Invalid parameter lastname: must not contain"),
        ({"lastname": "Ok", "firstname": "A", "alert_pref": "8"}, "Invalid parameter alert_pref"),
        ({"lastname": "Ok", "firstname": "A", "alert_pref": "x"}, "Invalid parameter alert_pref"),
        ({"lastname": "Ok", "firstname": "A", "timezone": "Mars/Base"}, "Invalid parameter timez"),
    ],
)
def test_create_refuses_bad_parameters_with_a_400(client, login, vendor, params, message):
    token = login(vendor)
    before = state_drivers(client, vendor)
    error = assert_error(post(client, vendor, "driver/create", token, **params), 400)
    assert error["message"].startswith(message)
    assert state_drivers(client, vendor) == before


def test_a_ref_id_another_live_driver_has_is_a_400(client, login, vendor):
    token = login(vendor)
    taken = drivers(client, vendor, token)[0]["ref_id"]
    error = assert_error(
        post(client, vendor, "driver/create", token, lastname="X", firstname="Y", ref_id=taken),
        400,
    )
    assert error["message"] == "Invalid parameter ref_id: already used by another driver"
    error = assert_error(
        post(client, vendor, "driver/update", token, driver="2002", ref_id=taken.lower()), 400
    )
    assert error["message"] == "Invalid parameter ref_id: already used by another driver"


# -- driver/update ----------------------------------------------------------------------------


def test_update_changes_the_fields_given_and_counts_the_version_up(client, login, vendor):
    token = login(vendor)
    before = one(client, vendor, token, "2002")
    answer = ok(post(client, vendor, "driver/update", token, driver="2002", phone="1", version=9))
    assert answer == "Driver updated"
    after = one(client, vendor, token, "2002")
    assert after == {**before, "phone": "1", "version": 2}
    ok(call(client, vendor, "driver/update", token, driver="2002", email="", alert_pref="7"))
    after = one(client, vendor, token, "2002")
    assert after == {**before, "phone": "1", "email": "", "alert_pref": 7, "version": 3}


def test_update_needs_a_driver_and_a_change(client, login, vendor):
    token = login(vendor)
    error = assert_error(post(client, vendor, "driver/update", token, phone="1"), 400)
    assert error["message"] == "Missing required parameter: driver"
    error = assert_error(post(client, vendor, "driver/update", token, driver="2002"), 400)
    assert error["message"] == "Missing required parameter: a field to update"
    error = assert_error(
        post(client, vendor, "driver/update", token, driver="zz-no", phone="1"), 404
    )
    assert error["message"] == "Driver not found"
    assert one(client, vendor, token, "2002")["version"] == 1


# -- driver/delete and undelete ---------------------------------------------------------------


def test_delete_is_soft_hidden_from_the_list_and_kept_in_the_state(client, login, vendor):
    token = login(vendor)
    assert ok(post(client, vendor, "driver/delete", token, driver="2003")) == "Driver deleted"
    assert 2003 not in {d["id"] for d in drivers(client, vendor, token)}
    error = assert_error(call(client, vendor, "driver/list", token, driver="2003"), 404)
    assert error["message"] == "Driver not found"
    assert_error(post(client, vendor, "driver/delete", token, driver="2003"), 404)
    kept = next(d for d in state_drivers(client, vendor) if d["id"] == 2003)
    assert kept["deleted"] is True and kept["version"] == 2


def test_creating_a_deleted_drivers_ref_id_undeletes_it(client, login, vendor):
    token = login(vendor)
    old = one(client, vendor, token, "2001")
    ok(post(client, vendor, "driver/delete", token, driver="2001"))
    answer = create(
        client, vendor, token, lastname="Renamed", firstname="Back", ref_id=old["ref_id"],
        phone="602-555-0111",
    )  # fmt: skip
    assert answer == {"message": "Driver undeleted", "id": 2001}
    row = one(client, vendor, token, "2001")
    assert row == {**old, "lastname": "Renamed", "firstname": "Back", "phone": "602-555-0111",
                   "version": 3}  # fmt: skip
    assert len([d for d in state_drivers(client, vendor) if d["id"] == 2001]) == 1


def test_same_names_undelete_only_when_neither_has_a_ref_id(client, login, vendor):
    token = login(vendor)
    made = create(client, vendor, token, lastname="Nameonly", firstname="Ned")
    ok(post(client, vendor, "driver/delete", token, driver=str(made["id"])))
    with_ref = create(client, vendor, token, lastname="Nameonly", firstname="Ned", ref_id="R-7")
    assert with_ref["message"] == "Driver added" and with_ref["id"] != made["id"]
    ok(post(client, vendor, "driver/delete", token, driver="R-7"))
    again = create(client, vendor, token, lastname="NAMEONLY", firstname="ned", email="n@x.io")
    assert again == {"message": "Driver undeleted", "id": made["id"]}
    row = one(client, vendor, token, str(made["id"]))
    assert row["version"] == 3 and row["email"] == "n@x.io" and row["lastname"] == "NAMEONLY"


# -- who may change drivers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("driver/create", {"lastname": "No", "firstname": "Way"}),
        ("driver/update", {"driver": "2001", "phone": "1"}),
        ("driver/delete", {"driver": "2001"}),
    ],
)
def test_a_user_without_all_vehicles_may_not_change_drivers(client, login, vendor, method, params):
    token = login(vendor, "restricted")
    before = state_drivers(client, vendor)
    error = assert_error(post(client, vendor, method, token, **params), 403)
    assert error["message"] == FORBIDDEN_DRIVERS
    assert state_drivers(client, vendor) == before


def test_driver_methods_lists_the_served_driver_methods(client, login, vendor):
    described = ok(call(client, vendor, "driver/methods", login(vendor)))
    assert [m["name"] for m in described] == ["list", "create", "update", "delete"]
    assert "driver: Driver identifier (searches in order refid" in described[3]["param"][0]


# -- the Driver Sync setting ------------------------------------------------------------------


def test_driver_sync_is_off_by_default_for_every_user(client, login, vendor):
    for role in ("master", "dispatch", "restricted"):
        answer = ok(call(client, vendor, "driverisync/read", login(vendor, role)))
        assert answer == {"enabled": False, "changed_at": None}


def test_only_the_master_user_changes_driver_sync(client, login, vendor):
    for role in ("dispatch", "restricted"):
        error = assert_error(
            post(client, vendor, "driverisync/update", login(vendor, role), enabled=1), 403
        )
        assert error["message"] == FORBIDDEN_DRIVER_SYNC
    master = login(vendor)
    assert ok(call(client, vendor, "driverisync/read", master))["enabled"] is False
    answer = ok(post(client, vendor, "driverisync/update", master, enabled=1))
    assert answer == {"enabled": True, "changed_at": T0.isoformat()}
    seen = ok(call(client, vendor, "driverisync/read", login(vendor, "restricted")))
    assert seen == answer
    assert (
        ok(post(client, vendor, "driverisync/update", master, enabled="false"))["enabled"] is False
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [({}, "Missing required parameter: enabled"), ({"enabled": "2"}, "Invalid parameter enabled")],
)
def test_driver_sync_update_refuses_a_missing_or_bad_flag(client, login, vendor, params, message):
    error = assert_error(post(client, vendor, "driverisync/update", login(vendor), **params), 400)
    assert error["message"].startswith(message)
    assert ok(call(client, vendor, "driverisync/read", login(vendor)))["enabled"] is False


def test_driver_sync_is_dumped_and_restored_with_the_state(client, login, vendor):
    master = login(vendor)
    ok(post(client, vendor, "driverisync/update", master, enabled=1))
    dump = client.get(f"/{vendor}/_mock/state").json["state"]
    assert dump["driverisync"] == {"enabled": True, "changed_at": T0.isoformat()}
    assert client.post(f"/{vendor}/_mock/reset").status_code == 200
    master = login(vendor)
    assert ok(call(client, vendor, "driverisync/read", master))["enabled"] is False
    assert client.post(f"/{vendor}/_mock/state", json={"state": dump}).status_code == 200
    assert ok(call(client, vendor, "driverisync/read", master))["enabled"] is True
    # A dump from before the setting existed restores as off; a malformed one is refused.
    older = {k: v for k, v in dump.items() if k != "driverisync"}
    assert client.post(f"/{vendor}/_mock/state", json={"state": older}).status_code == 200
    assert ok(call(client, vendor, "driverisync/read", master))["enabled"] is False
    bad = client.post(f"/{vendor}/_mock/state", json={"state": {**dump, "driverisync": True}})
    assert bad.status_code == 400 and "driverisync" in bad.json["error"]
