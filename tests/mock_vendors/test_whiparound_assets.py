"""Whip Around assets: CRUD by id, telematics writes by id or VIN, units and VIN matching."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client
from whiparound_helpers import Api, error, invalid

ASSET_FIELDS = [
    "id", "name", "vin", "make", "model", "year", "odometer", "odometer_unit", "engine_hours",
    "location", "is_out_of_service", "team",
]  # fmt: skip
NOW = "2026-03-10T17:30:00Z"  # T0 of tests/helpers.py, where the stack's clock is frozen
BAD_TIME = (
    "The recorded at field must be an ISO-8601 date-time with whole seconds and a time zone, "
    "like 2026-11-22T15:04:05Z (fractional seconds are not accepted)."
)


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


def first(assets: list[dict[str, Any]], test: Any) -> dict[str, Any]:
    return next(a for a in assets if test(a))


def shared_vin(assets: list[dict[str, Any]]) -> tuple[str, list[int]]:
    """The VIN (normalised) that two assets of the world carry, and their ids."""
    seen: dict[str, list[int]] = {}
    for a in assets:
        if a["vin"]:
            seen.setdefault("".join(a["vin"].split()).upper(), []).append(a["id"])
    return next((vin, ids) for vin, ids in seen.items() if len(ids) > 1)


# -- CRUD ----------------------------------------------------------------------------------


def test_list_assets_serves_the_vendor_fields_in_id_order(api: Api) -> None:
    rows = api.assets()
    assert all(list(row) == ASSET_FIELDS for row in rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert {r["odometer_unit"] for r in rows} == {"mi", "km"}


def test_read_asset_by_id_answers_data_with_the_asset(api: Api) -> None:
    listed = api.assets()[0]
    response = api("GET", f"/assets/{listed['id']}")
    assert response.status_code == 200
    assert response.json == {"data": listed}


def test_read_asset_with_an_unknown_id_answers_404(api: Api) -> None:
    error(api("GET", "/assets/999999"), 404, "Asset 999999 not found.")


def test_crud_paths_take_an_asset_id_only_so_a_vin_answers_404(api: Api) -> None:
    vin = api.assets()[0]["vin"]
    error(api("GET", f"/assets/{vin}"), 404, f"Asset {vin} not found.")


def test_create_asset_answers_201_with_the_next_id_and_defaults(api: Api) -> None:
    highest = max(a["id"] for a in api.assets())
    response = api("POST", "/assets", json={"name": "Yard truck 9", "vin": "1FTEW1E55JFA00001"})
    assert response.status_code == 201
    assert response.json == {
        "data": {
            "id": highest + 1,
            "name": "Yard truck 9",
            "vin": "1FTEW1E55JFA00001",
            "make": None,
            "model": None,
            "year": None,
            "odometer": 0,
            "odometer_unit": "mi",
            "engine_hours": None,
            "location": None,
            "is_out_of_service": False,
            "team": None,
        }
    }


def test_created_asset_is_listed_and_readable(api: Api) -> None:
    created = api("POST", "/assets", json={"name": "Reefer 4", "odometer_unit": "km"}).json["data"]
    assert api.asset(created["id"]) == created
    assert api.assets()[-1] == created


def test_create_asset_requires_a_name(api: Api) -> None:
    invalid(api("POST", "/assets", json={"vin": "X"}), {"name": ["The name field is required."]})


def test_create_asset_refuses_an_odometer_unit_other_than_mi_or_km(api: Api) -> None:
    response = api("POST", "/assets", json={"name": "A", "odometer_unit": "miles"})
    invalid(response, {"odometer_unit": ["The selected odometer unit is invalid."]})


def test_create_asset_names_each_field_of_the_wrong_type(api: Api) -> None:
    response = api(
        "POST",
        "/assets",
        json={"name": 7, "year": "2019", "odometer": -1, "is_out_of_service": "yes"},
    )
    invalid(
        response,
        {
            "name": ["The name field must be a string."],
            "year": ["The year field must be an integer."],
            "odometer": ["The odometer field must be between 0 and 1000000000."],
            "is_out_of_service": ["The is out of service field must be true or false."],
        },
    )


def test_create_asset_refuses_a_name_longer_than_255_characters(api: Api) -> None:
    response = api("POST", "/assets", json={"name": "x" * 256})
    invalid(response, {"name": ["The name field must not be greater than 255 characters."]})


def test_create_asset_trims_strings_and_takes_an_empty_one_as_null(api: Api) -> None:
    data = api("POST", "/assets", json={"name": "  Van 3 ", "vin": "", "team": " "}).json["data"]
    assert (data["name"], data["vin"], data["team"]) == ("Van 3", None, None)


def test_create_asset_takes_a_blank_name_as_missing(api: Api) -> None:
    invalid(api("POST", "/assets", json={"name": "   "}), {"name": ["The name field is required."]})


def test_the_length_limit_counts_the_text_as_sent_before_trimming(api: Api) -> None:
    response = api("POST", "/assets", json={"name": "x" * 250 + " " * 6})
    invalid(response, {"name": ["The name field must not be greater than 255 characters."]})


def test_only_ascii_whitespace_is_trimmed(api: Api) -> None:
    response = api("POST", "/assets", json={"name": "\u00a0Van\x1d\t"})
    assert response.json["data"]["name"] == "\u00a0Van\x1d"


def test_a_created_asset_is_found_by_its_vin(api: Api) -> None:
    created = api("POST", "/assets", json={"name": "New", "vin": "1ftew1e55jfa00777"}).json["data"]
    response = api("POST", "/assets/1FTEW1E55JFA00777/engine-hours", json={"value": 5})
    assert response.json["data"]["id"] == created["id"]


def test_patch_asset_changes_only_the_fields_given(api: Api) -> None:
    before = api.assets()[0]
    response = api("PATCH", f"/assets/{before['id']}", json={"team": "Night shift", "year": 2020})
    assert response.status_code == 200
    assert response.json["data"] == {**before, "team": "Night shift", "year": 2020}
    assert api.asset(before["id"]) == response.json["data"]


def test_patch_asset_with_an_empty_body_changes_nothing(api: Api) -> None:
    before = api.assets()[0]
    response = api("PATCH", f"/assets/{before['id']}", json={})
    assert (response.status_code, response.json["data"]) == (200, before)


def test_patch_asset_refuses_a_null_name(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    response = api("PATCH", f"/assets/{asset_id}", json={"name": None})
    invalid(response, {"name": ["The name field is required."]})


def test_patch_asset_of_an_unknown_id_answers_404_before_checking_the_body(api: Api) -> None:
    error(api("PATCH", "/assets/999999", json={"name": None}), 404, "Asset 999999 not found.")


def test_patch_asset_vin_moves_the_vin_lookup(api: Api) -> None:
    asset = api.assets()[0]
    api("PATCH", f"/assets/{asset['id']}", json={"vin": "2HGFC2F59KH000001"})
    moved = api("POST", "/assets/2hgfc2f59kh000001/engine-hours", json={"value": 1})
    assert moved.json["data"]["id"] == asset["id"]
    gone = api("POST", f"/assets/{asset['vin']}/engine-hours", json={"value": 1})
    assert gone.status_code == 404


def test_patch_odometer_unit_alone_converts_the_reading(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["odometer_unit"] == "mi")
    api("POST", f"/assets/{asset['id']}/mileage", json={"value": 1000, "unit": "mi"})
    data = api("PATCH", f"/assets/{asset['id']}", json={"odometer_unit": "km"}).json["data"]
    assert (data["odometer"], data["odometer_unit"]) == (1609.344, "km")


def test_patch_odometer_unit_with_an_odometer_takes_the_odometer_as_given(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["odometer_unit"] == "mi")
    body = {"odometer_unit": "km", "odometer": 500}
    data = api("PATCH", f"/assets/{asset['id']}", json=body).json["data"]
    assert (data["odometer"], data["odometer_unit"]) == (500, "km")


def test_delete_asset_answers_204_without_a_body_and_the_asset_is_gone(api: Api) -> None:
    before = api.assets()
    response = api("DELETE", f"/assets/{before[0]['id']}")
    assert (response.status_code, response.get_data()) == (204, b"")
    assert api("GET", f"/assets/{before[0]['id']}").status_code == 404
    assert api.assets() == before[1:]


def test_delete_asset_of_an_unknown_id_answers_404(api: Api) -> None:
    error(api("DELETE", "/assets/999999"), 404, "Asset 999999 not found.")


def test_a_deleted_assets_id_is_never_given_again(api: Api) -> None:
    created = api("POST", "/assets", json={"name": "Temp"}).json["data"]
    api("DELETE", f"/assets/{created['id']}")
    again = api("POST", "/assets", json={"name": "Next"}).json["data"]
    assert again["id"] == created["id"] + 1


def test_a_deleted_assets_vin_no_longer_resolves(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["vin"] and " " not in a["vin"])
    api("DELETE", f"/assets/{asset['id']}")
    response = api("POST", f"/assets/{asset['vin']}/engine-hours", json={"value": 1})
    error(response, 404, f"No asset has VIN {asset['vin'].upper()}.")


# -- mileage -------------------------------------------------------------------------------


def test_mileage_in_the_assets_own_unit_is_stored_as_posted(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["odometer_unit"] == "mi")
    response = api("POST", f"/assets/{asset['id']}/mileage", json={"value": 123456.7, "unit": "mi"})
    assert response.status_code == 200
    assert response.json["data"] == {**asset, "odometer": 123456.7}


def test_mileage_in_miles_is_converted_into_a_km_asset(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["odometer_unit"] == "km")
    response = api("POST", f"/assets/{asset['id']}/mileage", json={"value": 1000, "unit": "mi"})
    assert response.json["data"]["odometer"] == 1609.344
    assert response.json["data"]["odometer_unit"] == "km"


def test_mileage_in_km_is_converted_into_a_miles_asset(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["odometer_unit"] == "mi")
    response = api("POST", f"/assets/{asset['id']}/mileage", json={"value": 1609.344, "unit": "km"})
    assert response.json["data"]["odometer"] == 1000.0


def test_a_mileage_lower_than_the_odometer_is_stored_as_posted(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["odometer_unit"] == "mi" and a["odometer"] > 10)
    response = api("POST", f"/assets/{asset['id']}/mileage", json={"value": 3, "unit": "mi"})
    assert (response.status_code, response.json["data"]["odometer"]) == (200, 3)


def test_mileage_requires_a_value_and_a_unit(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    invalid(
        api("POST", f"/assets/{asset_id}/mileage", json={}),
        {"value": ["The value field is required."], "unit": ["The unit field is required."]},
    )


def test_mileage_refuses_a_negative_value(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    response = api("POST", f"/assets/{asset_id}/mileage", json={"value": -5, "unit": "mi"})
    invalid(response, {"value": ["The value field must be between 0 and 1000000000."]})


def test_mileage_refuses_a_value_written_as_a_string(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    response = api("POST", f"/assets/{asset_id}/mileage", json={"value": "12", "unit": "mi"})
    invalid(response, {"value": ["The value field must be a number."]})


def test_mileage_refuses_a_unit_other_than_mi_or_km(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    response = api("POST", f"/assets/{asset_id}/mileage", json={"value": 1, "unit": "KM"})
    invalid(response, {"unit": ["The selected unit is invalid."]})


def test_mileage_recorded_at_defaults_to_now_on_the_virtual_clock(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    api("POST", f"/assets/{asset_id}/mileage", json={"value": 10, "unit": "mi"})
    state = api.client.get("/whiparound/_mock/state").json["state"]
    stored = next(a for a in state["assets"] if a["id"] == asset_id)
    assert stored["odometer_recorded_at"] == NOW


@pytest.mark.parametrize(
    "when", ["2026-03-10T17:00:00.5Z", "2026-03-10T17:00:00.000Z", "2026-03-10T17:00:00.123+02:00"]
)
def test_a_recorded_at_with_fractional_seconds_answers_422(api: Api, when: str) -> None:
    asset_id = api.assets()[0]["id"]
    body = {"value": 10, "unit": "mi", "recorded_at": when}
    invalid(api("POST", f"/assets/{asset_id}/mileage", json=body), {"recorded_at": [BAD_TIME]})


@pytest.mark.parametrize(
    "when",
    ["2026-03-10T17:00:00", "2026-03-10", "yesterday", "2026-13-01T00:00:00Z", f"{NOW}\n"],
)
def test_a_recorded_at_without_a_zone_or_not_a_date_time_answers_422(api: Api, when: str) -> None:
    asset_id = api.assets()[0]["id"]
    body = {"value": 10, "unit": "mi", "recorded_at": when}
    invalid(api("POST", f"/assets/{asset_id}/mileage", json=body), {"recorded_at": [BAD_TIME]})


def test_february_29_is_a_recorded_at_in_a_leap_year_only(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    leap = {"latitude": 1, "longitude": 2, "recorded_at": "2028-02-29T12:00:00Z"}
    common = {"latitude": 1, "longitude": 2, "recorded_at": "2027-02-29T12:00:00Z"}
    assert api("POST", f"/assets/{asset_id}/location", json=leap).status_code == 200
    response = api("POST", f"/assets/{asset_id}/location", json=common)
    assert response.json["errors"]["recorded_at"] == [BAD_TIME]


@pytest.mark.parametrize("when", ["1899-12-31T23:59:59Z", "2100-01-01T00:00:00Z"])
def test_a_recorded_at_outside_1900_to_2099_answers_422(api: Api, when: str) -> None:
    asset_id = api.assets()[0]["id"]
    body = {"value": 10, "unit": "mi", "recorded_at": when}
    invalid(api("POST", f"/assets/{asset_id}/mileage", json=body), {"recorded_at": [BAD_TIME]})


# -- engine hours and location -------------------------------------------------------------


def test_engine_hours_are_stored_as_posted(api: Api) -> None:
    asset = api.assets()[0]
    response = api("POST", f"/assets/{asset['id']}/engine-hours", json={"value": 12.5})
    assert response.status_code == 200
    assert response.json["data"] == {**asset, "engine_hours": 12.5}


def test_engine_hours_require_a_value(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    response = api("POST", f"/assets/{asset_id}/engine-hours", json={"recorded_at": NOW})
    invalid(response, {"value": ["The value field is required."]})


def test_location_replaces_the_assets_location(api: Api) -> None:
    asset = api.assets()[0]
    body = {"latitude": 33.45, "longitude": -112.07, "recorded_at": "2026-03-10T17:20:00Z"}
    response = api("POST", f"/assets/{asset['id']}/location", json=body)
    assert response.status_code == 200
    assert response.json["data"] == {**asset, "location": body}


def test_location_recorded_at_defaults_to_now_on_the_virtual_clock(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    response = api("POST", f"/assets/{asset_id}/location", json={"latitude": 1, "longitude": 2})
    assert response.json["data"]["location"] == {"latitude": 1, "longitude": 2, "recorded_at": NOW}


def test_a_recorded_at_with_an_offset_is_stored_in_utc(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    body = {"latitude": 1, "longitude": 2, "recorded_at": "2026-03-10T10:00:00-07:00"}
    response = api("POST", f"/assets/{asset_id}/location", json=body)
    assert response.json["data"]["location"]["recorded_at"] == "2026-03-10T17:00:00Z"


def test_location_refuses_coordinates_out_of_range(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    response = api("POST", f"/assets/{asset_id}/location", json={"latitude": 91, "longitude": -181})
    invalid(
        response,
        {
            "latitude": ["The latitude field must be between -90 and 90."],
            "longitude": ["The longitude field must be between -180 and 180."],
        },
    )


# -- {idOrVin} -----------------------------------------------------------------------------


def test_a_lower_case_vin_in_the_path_resolves(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["vin"] and " " not in a["vin"])
    response = api("POST", f"/assets/{asset['vin'].lower()}/engine-hours", json={"value": 1})
    assert response.json["data"]["id"] == asset["id"]


def test_a_vin_with_spaces_in_the_path_resolves(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["vin"] and " " not in a["vin"])
    spaced = f" {asset['vin'][:4]} {asset['vin'][4:]} ".lower()
    response = api("POST", f"/assets/{spaced}/engine-hours", json={"value": 1})
    assert response.json["data"]["id"] == asset["id"]


def test_a_vin_stored_with_spaces_resolves_from_its_compact_form(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["vin"] and " " in a["vin"])
    compact = "".join(asset["vin"].split()).upper()
    response = api("POST", f"/assets/{compact}/engine-hours", json={"value": 1})
    assert response.json["data"]["id"] == asset["id"]


def test_a_vin_stored_in_lower_case_resolves_from_upper_case(api: Api) -> None:
    asset = first(api.assets(), lambda a: a["vin"] and a["vin"] != a["vin"].upper())
    response = api("POST", f"/assets/{asset['vin'].upper()}/engine-hours", json={"value": 1})
    assert response.json["data"]["id"] == asset["id"]


def test_a_vin_shared_by_two_assets_answers_409_naming_both(api: Api) -> None:
    vin, ids = shared_vin(api.assets())
    response = api("POST", f"/assets/{vin}/mileage", json={"value": 1, "unit": "mi"})
    listed = ", ".join(str(i) for i in ids)
    error(
        response,
        409,
        f"VIN {vin} is shared by 2 assets ({listed}); address the asset by its id instead.",
    )


def test_an_asset_with_a_shared_vin_is_still_reachable_by_id(api: Api) -> None:
    _, ids = shared_vin(api.assets())
    response = api("POST", f"/assets/{ids[1]}/mileage", json={"value": 1, "unit": "mi"})
    assert (response.status_code, response.json["data"]["id"]) == (200, ids[1])


def test_an_unknown_vin_answers_404(api: Api) -> None:
    response = api("POST", "/assets/1xxxx00000x000000/mileage", json={"value": 1, "unit": "mi"})
    error(response, 404, "No asset has VIN 1XXXX00000X000000.")


def test_an_unknown_asset_id_answers_404_on_telematics(api: Api) -> None:
    response = api("POST", "/assets/424242/location", json={"latitude": 1, "longitude": 1})
    error(response, 404, "Asset 424242 not found.")


def test_an_all_digit_reference_is_an_asset_id_even_with_leading_zeros(api: Api) -> None:
    asset_id = api.assets()[0]["id"]
    response = api("POST", f"/assets/00{asset_id}/engine-hours", json={"value": 1})
    assert response.json["data"]["id"] == asset_id


@pytest.mark.parametrize("ref", ["9" * 40, "\u0663\u0664", "%20"])
def test_odd_path_references_answer_404_not_a_server_error(api: Api, ref: str) -> None:
    response = api("POST", f"/assets/{ref}/engine-hours", json={"value": 1})
    assert response.status_code == 404
    assert set(response.json) == {"message"}
