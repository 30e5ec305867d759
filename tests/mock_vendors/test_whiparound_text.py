"""Whip Around free text never holds a NUL character: every text field of every body refuses
one with Laravel's 422 (``The <field> field format is invalid.``, the words of its
``not_regex`` rule), and nothing is stored (docs/vendors.md §3.6).

One stack serves the module; every test starts from the seeded world on the frozen clock.
"""

from __future__ import annotations

from typing import Any

import pytest
from whiparound_helpers import Api, invalid

from helpers import module_stack_app, reset_vendor  # noqa: F401  (fixture)
from mock_vendors.wsgi import StackApp

NUL_TEXT = "Van\x00 7"
ASSET_TEXT = ("name", "vin", "make", "model", "team")
DEFECT_TEXT = ("name", "description", "dtc_code")
DEFECT_PATCH_TEXT = ("name", "description")
DTC_TEXT = ("code", "description")


def format_invalid(field: str) -> list[str]:
    return [f"The {field.replace('_', ' ')} field format is invalid."]


@pytest.fixture
def api(stack_app: StackApp) -> Api:
    """The module's stack with Whip Around back at its seeded world."""
    return Api(reset_vendor(stack_app, "whiparound"))


def defects(api: Api) -> list[dict[str, Any]]:
    return api("GET", "/defects", query_string={"limit": 1000}).json["data"]


def new_defect(api: Api, asset_id: int) -> dict[str, Any]:
    response = api("POST", "/defects", json={"asset_id": asset_id, "name": "Cracked mirror"})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json["data"]


# -- assets ----------------------------------------------------------------------------------


def test_a_nul_in_every_text_field_of_a_new_asset_is_named_field_by_field(api: Api) -> None:
    before = api.assets()
    response = api("POST", "/assets", json=dict.fromkeys(ASSET_TEXT, NUL_TEXT))
    invalid(response, {key: format_invalid(key) for key in ASSET_TEXT})
    assert api.assets() == before


@pytest.mark.parametrize("key", ASSET_TEXT)
def test_a_nul_in_one_text_field_of_a_new_asset_is_a_422(api: Api, key: str) -> None:
    before = api.assets()
    body = {"name": "Van 7", key: NUL_TEXT}
    invalid(api("POST", "/assets", json=body), {key: format_invalid(key)})
    assert api.assets() == before


@pytest.mark.parametrize("key", ASSET_TEXT)
@pytest.mark.parametrize("text", ["\x00", "  \x00  ", "A\x00", "\x00B"], ids=repr)
def test_a_nul_anywhere_in_an_asset_patch_is_a_422_and_changes_nothing(
    api: Api, key: str, text: str
) -> None:
    asset = api.assets()[0]
    invalid(api("PATCH", f"/assets/{asset['id']}", json={key: text}), {key: format_invalid(key)})
    assert api.asset(asset["id"]) == asset


# -- defects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", DEFECT_TEXT)
def test_a_nul_in_a_text_field_of_a_new_defect_is_a_422(api: Api, key: str) -> None:
    asset_id = api.assets()[0]["id"]
    body = {"asset_id": asset_id, "name": "Cracked mirror", key: NUL_TEXT}
    invalid(api("POST", "/defects", json=body), {key: format_invalid(key)})
    assert defects(api) == []


@pytest.mark.parametrize("key", DEFECT_PATCH_TEXT)
def test_a_nul_in_a_defect_patch_is_a_422_and_changes_nothing(api: Api, key: str) -> None:
    defect = new_defect(api, api.assets()[0]["id"])
    response = api("PATCH", f"/defects/{defect['id']}", json={key: NUL_TEXT})
    invalid(response, {key: format_invalid(key)})
    assert defects(api) == [defect]


@pytest.mark.parametrize("key", DTC_TEXT)
def test_a_nul_in_a_dtc_report_is_a_422_and_opens_no_defect(api: Api, key: str) -> None:
    asset_id = api.assets()[0]["id"]
    body = {"code": "P0420", key: NUL_TEXT}
    invalid(api("POST", f"/assets/{asset_id}/dtc-defects", json=body), {key: format_invalid(key)})
    assert defects(api) == []


def test_a_nul_in_the_defect_status_filter_is_a_422(api: Api) -> None:
    response = api("GET", "/defects", query_string={"status": "New\x00"})
    invalid(response, {"status": ["The selected status is invalid."]})


def test_text_without_a_nul_is_still_trimmed_and_stored(api: Api) -> None:
    response = api("POST", "/assets", json={"name": "  Van 7 ", "team": "Nights\t"})
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.json["data"]
    assert (data["name"], data["team"]) == ("Van 7", "Nights")
