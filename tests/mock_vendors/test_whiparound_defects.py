"""Whip Around defects: DTC reports that repeat instead of duplicating, manual defects, the
status workflow and the filtered, paged list."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client, TestResponse
from whiparound_helpers import Api, error, invalid

DEFECT_FIELDS = [
    "id", "reference", "asset_id", "name", "description", "status", "priority", "source",
    "dtc_code", "repeated_times", "created_at", "updated_at",
]  # fmt: skip
NOW = "2026-03-10T17:30:00Z"  # T0 of tests/helpers.py, where the stack's clock is frozen
STATUSES = ["New", "In Progress", "Completed", "No Correction Needed"]


class DefectApi(Api):
    """Calls to the Whip Around emulator, with the defect steps these tests take."""

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.asset_ids = [a["id"] for a in self.assets()]

    def dtc(self, asset_id: int, code: str, **body: Any) -> TestResponse:
        return self("POST", f"/assets/{asset_id}/dtc-defects", json={"code": code, **body})

    def manual(self, asset_id: int, **body: Any) -> dict[str, Any]:
        response = self(
            "POST", "/defects", json={"asset_id": asset_id, "name": "Cracked mirror", **body}
        )
        assert response.status_code == 201, response.json
        return response.json["data"]

    def patch(self, defect_id: int, **body: Any) -> TestResponse:
        return self("PATCH", f"/defects/{defect_id}", json=body)

    def defects(self, **query: Any) -> list[dict[str, Any]]:
        response = self("GET", "/defects", query_string={"limit": 1000, **query})
        assert response.status_code == 200, response.json
        return response.json["data"]

    def advance(self, seconds: int) -> None:
        self.client.post("/whiparound/_mock/clock", json={"advance": seconds})


@pytest.fixture
def api(client: Client) -> DefectApi:
    return DefectApi(client)


# -- DTC reports ---------------------------------------------------------------------------


def test_the_world_starts_without_defects(api: DefectApi) -> None:
    assert api.defects() == []


def test_a_first_dtc_report_answers_201_with_a_new_dtc_defect(api: DefectApi) -> None:
    asset_id = api.asset_ids[0]
    response = api.dtc(asset_id, "P0420", description="Catalyst efficiency below threshold")
    assert response.status_code == 201
    assert response.json == {
        "data": {
            "id": 1,
            "reference": "FA-1001",
            "asset_id": asset_id,
            "name": "DTC P0420",
            "description": "Catalyst efficiency below threshold",
            "status": "New",
            "priority": "medium",
            "source": "dtc",
            "dtc_code": "P0420",
            "repeated_times": 1,
            "created_at": NOW,
            "updated_at": NOW,
        }
    }


def test_a_repeat_of_an_open_dtc_answers_200_with_repeated_times_increased(api: DefectApi) -> None:
    asset_id = api.asset_ids[0]
    first = api.dtc(asset_id, "P0420").json["data"]
    response = api.dtc(asset_id, "P0420")
    assert response.status_code == 200
    assert response.json["data"] == {**first, "repeated_times": 2}
    assert api.dtc(asset_id, "P0420").json["data"]["repeated_times"] == 3
    assert len(api.defects()) == 1


def test_a_repeat_moves_updated_at_to_now_on_the_virtual_clock(api: DefectApi) -> None:
    asset_id = api.asset_ids[0]
    api.dtc(asset_id, "P0420")
    api.advance(90)
    data = api.dtc(asset_id, "P0420").json["data"]
    assert (data["created_at"], data["updated_at"]) == (NOW, "2026-03-10T17:31:30Z")


def test_dtc_codes_are_compared_upper_cased_and_trimmed(api: DefectApi) -> None:
    asset_id = api.asset_ids[0]
    api.dtc(asset_id, "p0420")
    data = api.dtc(asset_id, "  P0420 ").json["data"]
    assert (data["dtc_code"], data["repeated_times"]) == ("P0420", 2)


def test_whitespace_inside_a_dtc_code_is_collapsed_to_one_space(api: DefectApi) -> None:
    data = api.dtc(api.asset_ids[0], "spn 110  fmi\t0").json["data"]
    assert data["dtc_code"] == "SPN 110 FMI 0"


def test_the_same_code_on_another_asset_starts_its_own_defect(api: DefectApi) -> None:
    api.dtc(api.asset_ids[0], "P0420")
    response = api.dtc(api.asset_ids[1], "P0420")
    assert (response.status_code, response.json["data"]["repeated_times"]) == (201, 1)


def test_another_code_on_the_same_asset_starts_its_own_defect(api: DefectApi) -> None:
    api.dtc(api.asset_ids[0], "P0420")
    assert api.dtc(api.asset_ids[0], "P0171").status_code == 201


def test_a_dtc_reported_by_vin_lands_on_that_vins_asset(api: DefectApi) -> None:
    asset = api("GET", f"/assets/{api.asset_ids[0]}").json["data"]
    data = api("POST", f"/assets/{asset['vin'].lower()}/dtc-defects", json={"code": "P0300"})
    assert data.json["data"]["asset_id"] == asset["id"]


def test_an_in_progress_defect_still_takes_the_repeats(api: DefectApi) -> None:
    first = api.dtc(api.asset_ids[0], "P0420").json["data"]
    api.patch(first["id"], status="In Progress")
    response = api.dtc(api.asset_ids[0], "P0420")
    assert (response.status_code, response.json["data"]["id"]) == (200, first["id"])


@pytest.mark.parametrize("closed", ["Completed", "No Correction Needed"])
def test_a_dtc_seen_after_its_defect_was_closed_starts_a_new_defect(
    api: DefectApi, closed: str
) -> None:
    first = api.dtc(api.asset_ids[0], "P0420").json["data"]
    api.patch(first["id"], status=closed)
    response = api.dtc(api.asset_ids[0], "P0420")
    assert response.status_code == 201
    assert (response.json["data"]["id"], response.json["data"]["repeated_times"]) == (2, 1)


def test_a_reopened_defect_takes_the_repeats_again(api: DefectApi) -> None:
    first = api.dtc(api.asset_ids[0], "P0420").json["data"]
    api.patch(first["id"], status="Completed")
    api.patch(first["id"], status="New")
    response = api.dtc(api.asset_ids[0], "P0420")
    assert (response.status_code, response.json["data"]["id"]) == (200, first["id"])


def test_the_oldest_open_defect_takes_the_repeats_when_there_are_two(api: DefectApi) -> None:
    first = api.dtc(api.asset_ids[0], "P0420").json["data"]
    api.patch(first["id"], status="Completed")
    second = api.dtc(api.asset_ids[0], "P0420").json["data"]
    api.patch(first["id"], status="New")
    assert api.dtc(api.asset_ids[0], "P0420").json["data"]["id"] == first["id"]
    assert second["id"] != first["id"]


def test_a_manual_defect_carrying_the_code_takes_the_repeats(api: DefectApi) -> None:
    manual = api.manual(api.asset_ids[0], dtc_code="p0420")
    response = api.dtc(api.asset_ids[0], "P0420")
    assert (response.status_code, response.json["data"]["id"]) == (200, manual["id"])
    assert response.json["data"]["source"] == "manual"


def test_a_dtc_report_requires_a_code(api: DefectApi) -> None:
    invalid(api.dtc(api.asset_ids[0], "  "), {"code": ["The code field is required."]})


def test_a_dtc_code_longer_than_32_characters_answers_422(api: DefectApi) -> None:
    response = api.dtc(api.asset_ids[0], "P" * 33)
    invalid(response, {"code": ["The code field must not be greater than 32 characters."]})


def test_a_dtc_occurred_at_with_fractional_seconds_answers_422(api: DefectApi) -> None:
    response = api.dtc(api.asset_ids[0], "P0420", occurred_at="2026-03-10T17:00:00.25Z")
    invalid(
        response,
        {
            "occurred_at": [
                "The occurred at field must be an ISO-8601 date-time with whole seconds and a "
                "time zone, like 2026-11-22T15:04:05Z (fractional seconds are not accepted)."
            ]
        },
    )


def test_a_dtc_occurred_at_is_kept_in_the_state_not_as_created_at(api: DefectApi) -> None:
    data = api.dtc(api.asset_ids[0], "P0420", occurred_at="2026-03-09T08:00:00Z").json["data"]
    assert data["created_at"] == NOW
    state = api.client.get("/whiparound/_mock/state").json["state"]
    assert state["defects"][0]["last_occurred_at"] == "2026-03-09T08:00:00Z"


def test_defect_references_are_sequential(api: DefectApi) -> None:
    refs = [api.dtc(api.asset_ids[n], "P0420").json["data"]["reference"] for n in range(3)]
    refs.append(api.manual(api.asset_ids[0])["reference"])
    assert refs == ["FA-1001", "FA-1002", "FA-1003", "FA-1004"]


# -- manual defects ------------------------------------------------------------------------


def test_create_defect_answers_201_with_a_manual_defect(api: DefectApi) -> None:
    response = api(
        "POST",
        "/defects",
        json={"asset_id": api.asset_ids[0], "name": "Cracked mirror", "priority": "high"},
        key="personal",
    )
    assert response.status_code == 201
    data = response.json["data"]
    assert list(data) == DEFECT_FIELDS
    assert {k: data[k] for k in ("source", "status", "priority", "dtc_code", "repeated_times")} == {
        "source": "manual",
        "status": "New",
        "priority": "high",
        "dtc_code": None,
        "repeated_times": 1,
    }


def test_create_defect_requires_an_asset_id_and_a_name(api: DefectApi) -> None:
    invalid(
        api("POST", "/defects", json={}),
        {
            "asset_id": ["The asset id field is required."],
            "name": ["The name field is required."],
        },
    )


def test_create_defect_on_an_unknown_asset_answers_422(api: DefectApi) -> None:
    response = api("POST", "/defects", json={"asset_id": 999999, "name": "Flat tyre"})
    invalid(response, {"asset_id": ["The selected asset id is invalid."]})


def test_create_defect_refuses_an_asset_id_that_is_not_an_integer(api: DefectApi) -> None:
    response = api("POST", "/defects", json={"asset_id": "7001", "name": "Flat tyre"})
    invalid(response, {"asset_id": ["The asset id field must be an integer."]})


def test_create_defect_refuses_an_unknown_status_and_priority(api: DefectApi) -> None:
    body = {"asset_id": api.asset_ids[0], "name": "x", "status": "Open", "priority": "urgent"}
    invalid(
        api("POST", "/defects", json=body),
        {
            "status": ["The selected status is invalid."],
            "priority": ["The selected priority is invalid."],
        },
    )


# -- status workflow -----------------------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
def test_patch_defect_sets_each_status_of_the_workflow(api: DefectApi, status: str) -> None:
    defect = api.manual(api.asset_ids[0], status="In Progress" if status == "New" else "New")
    response = api.patch(defect["id"], status=status)
    assert (response.status_code, response.json["data"]["status"]) == (200, status)


def test_patch_defect_refuses_an_unknown_status(api: DefectApi) -> None:
    defect = api.manual(api.asset_ids[0])
    invalid(
        api.patch(defect["id"], status="Closed"), {"status": ["The selected status is invalid."]}
    )


def test_patch_defect_status_is_case_sensitive(api: DefectApi) -> None:
    defect = api.manual(api.asset_ids[0])
    invalid(
        api.patch(defect["id"], status="completed"), {"status": ["The selected status is invalid."]}
    )


def test_patch_defect_moves_updated_at_and_keeps_created_at(api: DefectApi) -> None:
    defect = api.manual(api.asset_ids[0])
    api.advance(60)
    data = api.patch(defect["id"], status="Completed", description="Replaced").json["data"]
    assert data == {
        **defect,
        "status": "Completed",
        "description": "Replaced",
        "updated_at": "2026-03-10T17:31:00Z",
    }


def test_patch_defect_without_a_change_keeps_updated_at(api: DefectApi) -> None:
    defect = api.manual(api.asset_ids[0])
    api.advance(60)
    assert api.patch(defect["id"], status="New").json["data"] == defect


def test_patch_defect_ignores_fields_it_does_not_change(api: DefectApi) -> None:
    defect = api.manual(api.asset_ids[0])
    data = api.patch(defect["id"], asset_id=123, repeated_times=9, source="dtc").json["data"]
    assert data == defect


def test_patch_of_an_unknown_defect_answers_404(api: DefectApi) -> None:
    error(api.patch(777, status="Completed"), 404, "Defect 777 not found.")


def test_reading_one_defect_by_id_is_not_served(api: DefectApi) -> None:
    defect = api.manual(api.asset_ids[0])
    response = api("GET", f"/defects/{defect['id']}")
    assert response.status_code == 405
    assert response.headers["Allow"] == "PATCH"


# -- the list ------------------------------------------------------------------------------


def test_defects_list_in_id_order_with_pagination(api: DefectApi) -> None:
    for n in range(3):
        api.dtc(api.asset_ids[n], "P0420")
    response = api("GET", "/defects", query_string={"limit": 2, "page": 2})
    assert response.json["pagination"] == {
        "current_page": 2,
        "per_page": 2,
        "total": 3,
        "last_page": 2,
    }
    assert [d["id"] for d in response.json["data"]] == [3]


def test_defects_filter_by_asset_id(api: DefectApi) -> None:
    api.dtc(api.asset_ids[0], "P0420")
    api.dtc(api.asset_ids[1], "P0420")
    assert [d["asset_id"] for d in api.defects(asset_id=api.asset_ids[1])] == [api.asset_ids[1]]


def test_defects_filter_by_status(api: DefectApi) -> None:
    first = api.dtc(api.asset_ids[0], "P0420").json["data"]
    api.dtc(api.asset_ids[1], "P0420")
    api.patch(first["id"], status="In Progress")
    assert [d["id"] for d in api.defects(status="In Progress")] == [first["id"]]


def test_created_after_is_inclusive_and_created_before_exclusive(api: DefectApi) -> None:
    for n in range(3):  # defects created at 17:30, 17:31 and 17:32
        api.dtc(api.asset_ids[n], "P0420")
        api.advance(60)
    window = {"created_after": "2026-03-10T17:31:00Z", "created_before": "2026-03-10T17:32:00Z"}
    assert [d["created_at"] for d in api.defects(**window)] == ["2026-03-10T17:31:00Z"]


def test_created_after_accepts_an_offset(api: DefectApi) -> None:
    api.dtc(api.asset_ids[0], "P0420")
    assert len(api.defects(created_after="2026-03-10T10:30:00-07:00")) == 1
    assert api.defects(created_after="2026-03-10T10:30:01-07:00") == []


def test_created_after_with_fractional_seconds_answers_422(api: DefectApi) -> None:
    response = api("GET", "/defects", query_string={"created_after": "2026-03-10T17:30:00.5Z"})
    invalid(
        response,
        {
            "created_after": [
                "The created after field must be an ISO-8601 date-time with whole seconds and a "
                "time zone, like 2026-11-22T15:04:05Z (fractional seconds are not accepted)."
            ]
        },
    )


def test_there_is_no_updated_since_filter(api: DefectApi) -> None:
    api.dtc(api.asset_ids[0], "P0420")
    assert len(api.defects(updated_since="2030-01-01T00:00:00Z", updated_after="x")) == 1


def test_defects_list_refuses_bad_filters_naming_each(api: DefectApi) -> None:
    response = api("GET", "/defects", query_string={"asset_id": "abc", "status": "Open"})
    invalid(
        response,
        {
            "asset_id": ["The asset id field must be an integer."],
            "status": ["The selected status is invalid."],
        },
    )


def test_a_personal_key_may_list_create_and_patch_defects(api: DefectApi) -> None:
    defect = api(
        "POST", "/defects", json={"asset_id": api.asset_ids[0], "name": "x"}, key="personal"
    )
    patched = api(
        "PATCH",
        f"/defects/{defect.json['data']['id']}",
        json={"status": "Completed"},
        key="personal",
    )
    listed = api("GET", "/defects", key="personal")
    assert (defect.status_code, patched.status_code, listed.status_code) == (201, 200, 200)
