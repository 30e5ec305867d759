"""Driveri driver bodies, held to the official SDK's request models: each field takes the JSON
type the SDK sends (``Optional[str]``, ``Optional[bool]``, ``Optional[int]``) and nothing that
merely converts to it, a ``null`` status leaves the status alone, and text never carries a NUL
character (docs/vendors.md §2.6).

One stack serves the module; every test starts from the seeded tenant on the frozen clock.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any
from urllib.parse import quote

import pytest
from marshmallow import fields
from netradyne_sdk.models.add_driver_request import AddDriverRequest
from netradyne_sdk.models.edit_driver_request import EditDriverRequest
from werkzeug.test import Client, TestResponse

from helpers import module_stack_app, reset_vendor  # noqa: F401  (fixture)
from mock_vendors.driveri.schemas import ADD_DRIVER, EDIT_DRIVER, JsonBool
from mock_vendors.wsgi import StackApp

API = "/driveri/v1/tenants/demo-fleet"
ACTIVE, DELETED = 1, 3
# The SDK's request fields the emulator ignores as unknown fields (never stored or answered).
SDK_FIELDS_IGNORED = {"setPassword", "password", "driverPreferences"}
TEXT_FIELDS = (
    "driverId", "firstName", "lastName", "phone", "email", "licenceNumber", "licenseCountry",
    "licenseState", "userName",
)  # fmt: skip


@pytest.fixture
def client(stack_app: StackApp) -> Client:
    """The module's stack with Driveri back at its seeded world."""
    return reset_vendor(stack_app, "driveri")


@pytest.fixture
def auth(client: Client) -> dict[str, str]:
    """Bearer headers with a fresh token."""
    basic = client.get("/driveri/_mock/credentials").json["clients"][0]["basic_token"]
    response = client.post(
        "/driveri/v1/auth/token",
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/json"},
    )
    return {"Authorization": f"bearer {response.json['data']['accessToken']}"}


def add(client: Client, auth: dict[str, str], body: Any) -> TestResponse:
    return client.post(f"{API}/drivers", headers=auth, json=body)


def edit(client: Client, auth: dict[str, str], driver_id: str, body: Any) -> TestResponse:
    return client.put(f"{API}/drivers/{quote(driver_id, safe='')}", headers=auth, json=body)


def bulk(client: Client, auth: dict[str, str], items: list[Any]) -> TestResponse:
    return client.post(f"{API}/bulk/drivers", headers=auth, json={"drivers": items})


def every_driver(client: Client, auth: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(
        f"{API}/drivers", headers=auth, query_string={"showAll": "true", "limit": 200}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["data"]["drivers"]


def driver(client: Client, auth: dict[str, str], driver_id: str) -> dict[str, Any]:
    return next(d for d in every_driver(client, auth) if d["driverId"] == driver_id)


def first_with_status(client: Client, auth: dict[str, str], status: int) -> dict[str, Any]:
    return next(d for d in every_driver(client, auth) if d["status"] == status)


def assert_invalid(response: TestResponse, *fragments: str) -> str:
    """Driveri's 400 INVALID_REQUEST envelope; its message holds every fragment."""
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.json
    assert body["data"] is None
    assert body["error"]["status"] == 400
    assert body["error"]["messageCode"] == "INVALID_REQUEST"
    message: str = body["error"]["message"]
    for fragment in fragments:
        assert fragment in message, message
    return message


# -- the SDK's models, field by field ----------------------------------------------------


def _sdk_types(model: type) -> dict[str, Any]:
    """{wire name: the Optional's inner type} of an SDK request model."""
    hints = typing.get_type_hints(model)
    found = {}
    for field in dataclasses.fields(model):
        inner = [t for t in typing.get_args(hints[field.name]) if t is not type(None)]
        found[field.metadata.get("name", field.name)] = inner[0]
    return found


EMULATOR_KIND = {str: fields.String, bool: JsonBool, int: fields.Integer}


@pytest.mark.parametrize(
    ("model", "schema"), [(EditDriverRequest, EDIT_DRIVER), (AddDriverRequest, ADD_DRIVER)]
)
def test_every_sdk_request_field_is_loaded_with_the_sdks_type_or_ignored(
    model: type, schema: Any
) -> None:
    sdk = _sdk_types(model)
    ours = {f.data_key or name: f for name, f in schema.fields.items()}
    # "status" is an edit field of the SDK; an add validates it too, then drops it.
    assert set(sdk) - set(ours) == SDK_FIELDS_IGNORED
    assert set(ours) - set(sdk) <= {"status"}
    for key, kind in sdk.items():
        if key in SDK_FIELDS_IGNORED or key == "group":
            continue
        field = ours[key]
        assert isinstance(field, EMULATOR_KIND[kind]), (key, kind, type(field))
        if kind is int:
            assert field.strict, key
        if kind is bool:
            assert type(field) is JsonBool, key


# -- status: null leaves it alone -------------------------------------------------------


def test_edit_with_a_null_status_leaves_the_status_and_applies_the_rest(
    client: Client, auth: dict[str, str]
) -> None:
    target = first_with_status(client, auth, ACTIVE)["driverId"]
    response = edit(client, auth, target, {"status": None, "lastName": "Kept"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["data"] == {"message": "Driver updated successfully"}
    after = driver(client, auth, target)
    assert (after["status"], after["lastName"]) == (ACTIVE, "Kept")


def test_a_null_status_does_not_reinstate_a_soft_deleted_driver(
    client: Client, auth: dict[str, str]
) -> None:
    gone = first_with_status(client, auth, DELETED)["driverId"]
    response = edit(client, auth, gone, {"status": None, "lastName": "Back?"})
    assert_invalid(response, "A deleted driver can only be reinstated")
    assert driver(client, auth, gone)["status"] == DELETED


def test_add_with_a_null_status_adds_an_active_driver(client: Client, auth: dict[str, str]) -> None:
    response = add(client, auth, {"driverId": "N1", "firstName": "Nia", "status": None})
    assert response.json["data"] == {"message": "Driver added successfully"}
    assert driver(client, auth, "N1")["status"] == ACTIVE


# -- JSON types as the SDK sends them -----------------------------------------------------

NOT_A_BOOLEAN = [0, 1, 1.0, "yes", "true", "false", "", [], {}]


@pytest.mark.parametrize("value", NOT_A_BOOLEAN, ids=repr)
def test_enable_driveri_app_that_is_not_a_json_boolean_is_refused_on_add(
    client: Client, auth: dict[str, str], value: Any
) -> None:
    body = {"driverId": "E1", "firstName": "Eve", "enableDriveriApp": value}
    assert_invalid(add(client, auth, body), "enableDriveriApp: Not a valid boolean.")
    assert all(d["driverId"] != "E1" for d in every_driver(client, auth))


@pytest.mark.parametrize("value", NOT_A_BOOLEAN, ids=repr)
def test_enable_driveri_app_that_is_not_a_json_boolean_is_refused_on_edit(
    client: Client, auth: dict[str, str], value: Any
) -> None:
    before = first_with_status(client, auth, ACTIVE)
    response = edit(client, auth, before["driverId"], {"enableDriveriApp": value})
    assert_invalid(response, "enableDriveriApp: Not a valid boolean.")
    assert driver(client, auth, before["driverId"]) == before


def test_enable_driveri_app_that_is_not_a_json_boolean_fails_only_its_bulk_item(
    client: Client, auth: dict[str, str]
) -> None:
    items = [
        {"driverId": "K1", "firstName": "Kai", "enableDriveriApp": 1},
        {"driverId": "K2", "firstName": "Kim", "enableDriveriApp": True},
    ]
    results = bulk(client, auth, items).json["data"]["results"]
    assert results == [
        {"driverId": "K1", "status": 400, "message": "enableDriveriApp: Not a valid boolean."},
        {"driverId": "K2", "status": 200, "message": "Driver added successfully"},
    ]


@pytest.mark.parametrize("value", [True, False, None])
def test_enable_driveri_app_takes_true_false_or_null_as_sent(
    client: Client, auth: dict[str, str], value: bool | None
) -> None:
    target = first_with_status(client, auth, ACTIVE)["driverId"]
    assert edit(client, auth, target, {"enableDriveriApp": value}).status_code == 200
    assert driver(client, auth, target)["enableDriveriApp"] is value


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("authorizedToDrive", True),
        ("authorizedToDrive", 1.0),
        ("authorizedToDrive", "1"),
        ("authorizedToDrive", 2),
        ("status", True),
        ("status", 2.0),
        ("status", "2"),
        ("status", 4),
    ],
    ids=repr,
)
def test_integer_fields_take_only_a_json_integer_in_range(
    client: Client, auth: dict[str, str], key: str, value: Any
) -> None:
    before = first_with_status(client, auth, ACTIVE)
    assert_invalid(edit(client, auth, before["driverId"], {key: value}), f"{key}:")
    assert driver(client, auth, before["driverId"]) == before


@pytest.mark.parametrize("key", TEXT_FIELDS)
@pytest.mark.parametrize("value", [7, 1.5, True, ["x"], {"x": 1}], ids=repr)
def test_text_fields_take_only_a_json_string(
    client: Client, auth: dict[str, str], key: str, value: Any
) -> None:
    body = {"driverId": "T1", "firstName": "Tess", key: value}
    assert_invalid(add(client, auth, body), f"{key}: Not a valid string.")


@pytest.mark.parametrize(
    "group",
    ["North", ["North"], {"name": 5}, {"name": ""}, {"name": "N", "action": "add"},
     {"name": "N", "action": None}, {"action": "ADD"}],
    ids=repr,
)  # fmt: skip
def test_group_takes_only_the_sdks_group_request(
    client: Client, auth: dict[str, str], group: Any
) -> None:
    before = first_with_status(client, auth, ACTIVE)
    assert_invalid(edit(client, auth, before["driverId"], {"group": group}), "group:")
    assert driver(client, auth, before["driverId"]) == before


# -- NUL characters ----------------------------------------------------------------------

NUL_TEXT = "Ann\x00e"
HAS_NUL = "Must not contain a NUL character."


def test_a_nul_character_is_refused_in_every_text_field_of_an_add(
    client: Client, auth: dict[str, str]
) -> None:
    # One body, every text field holding a NUL: the 400 names each of them.
    body = {key: NUL_TEXT for key in TEXT_FIELDS} | {"group": {"name": NUL_TEXT}}
    message = assert_invalid(add(client, auth, body))
    for key in TEXT_FIELDS:
        assert f"{key}: {HAS_NUL}" in message, message
    assert f"group: name: {HAS_NUL}" in message, message
    assert all("\x00" not in d["driverId"] for d in every_driver(client, auth))


@pytest.mark.parametrize("key", TEXT_FIELDS)
def test_a_nul_character_is_refused_in_each_text_field_of_an_add(
    client: Client, auth: dict[str, str], key: str
) -> None:
    body = {"driverId": "Z1", "firstName": "Zoe", key: "\x00" if key != "driverId" else "Z\x00"}
    assert assert_invalid(add(client, auth, body)) == f"{key}: {HAS_NUL}"
    assert all(d["driverId"] not in ("Z1", "Z\x00") for d in every_driver(client, auth))


@pytest.mark.parametrize("key", [*TEXT_FIELDS, "group"])
def test_a_nul_character_is_refused_in_each_text_field_of_an_edit(
    client: Client, auth: dict[str, str], key: str
) -> None:
    before = first_with_status(client, auth, ACTIVE)
    value: Any = {"name": NUL_TEXT} if key == "group" else NUL_TEXT
    message = assert_invalid(edit(client, auth, before["driverId"], {key: value}))
    assert message == (f"group: name: {HAS_NUL}" if key == "group" else f"{key}: {HAS_NUL}")
    assert driver(client, auth, before["driverId"]) == before


def test_a_nul_character_fails_only_its_bulk_item_and_is_not_stored(
    client: Client, auth: dict[str, str]
) -> None:
    items = [
        {"driverId": "Q1", "firstName": NUL_TEXT},
        {"driverId": "Q2", "firstName": "Quinn", "email": "q\x00@example.com"},
        {"driverId": "Q3", "firstName": "Quinn"},
    ]
    results = bulk(client, auth, items).json["data"]["results"]
    assert results == [
        {"driverId": "Q1", "status": 400, "message": f"firstName: {HAS_NUL}"},
        {"driverId": "Q2", "status": 400, "message": f"email: {HAS_NUL}"},
        {"driverId": "Q3", "status": 200, "message": "Driver added successfully"},
    ]
    stored = {d["driverId"] for d in every_driver(client, auth)}
    assert {"Q1", "Q2"}.isdisjoint(stored) and "Q3" in stored


def test_a_nul_character_in_the_group_filter_is_a_400(client: Client, auth: dict[str, str]) -> None:
    response = client.get(f"{API}/drivers", headers=auth, query_string={"group": "def\x00ault"})
    assert assert_invalid(response) == "group must not contain a NUL character"


@pytest.mark.parametrize("key", ["driverId", "email", "userName"])
def test_a_nul_character_in_a_detail_lookup_is_a_400(
    client: Client, auth: dict[str, str], key: str
) -> None:
    response = client.get(f"{API}/driver", headers=auth, query_string={key: "x\x00"})
    assert assert_invalid(response) == f"{key} must not contain a NUL character"
