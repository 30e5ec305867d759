"""The pinned Whip Around public API v4 contract against the Whip Around emulator.

Four kinds of test: a drift check (the contract's operations are exactly the routes the
emulator registers), auth on every operation (no key or an unknown key -> Laravel 401), a
known-good call per operation (every success schema exercised with real ids), and schemathesis
against the in-process WSGI stack with the integration key injected: positive and negative
generation, plus stateful runs that follow the contract's OpenAPI links (asset create -> read
-> patch -> delete, defect create -> list -> patch/resolve).

Every fuzzed case and every stateful scenario starts from the freshly seeded world (the vendor
is reset through its control plane), so a failure reproduces from itself alone.
"""

from __future__ import annotations

import re
from typing import Any

import contract_helpers as contracts
import pytest
import schemathesis
from schemathesis import Case
from werkzeug.test import Client

from helpers import make_stack_app
from mock_vendors.whiparound.routes import API_PREFIX, INTEGRATION_ONLY
from mock_vendors.whiparound.routes import OPERATIONS as ROUTE_TABLE
from mock_vendors.whiparound.schemas import MAX_ID
from mock_vendors.whiparound.wire import NO_NUL_PATTERN, NOT_BLANK_PATTERN
from mock_vendors.wsgi import StackApp

CONTRACT_PATH = contracts.contract_path("whiparound")
CONTRACT = contracts.load_contract("whiparound")
SERVER = "/whiparound/api/public/v4"
VERBS = ("get", "post", "patch", "delete", "put")
UNAUTHENTICATED = {"message": "Unauthenticated."}
OPERATIONS = sorted(
    (path, verb) for path, item in CONTRACT["paths"].items() for verb in item if verb in VERBS
)

MAX_EXAMPLES = contracts.budget(quick=8, deep=200)
STATEFUL_EXAMPLES = contracts.budget(quick=25, deep=300)
STATEFUL_STEPS = contracts.budget(quick=6, deep=20)
DEFECT_EXAMPLES = contracts.budget(quick=10, deep=100)

CHECKS = contracts.checks("positive_data_acceptance")


class Harness:
    """One in-process stack and its keys; ``reset()`` brings Whip Around back to the seed."""

    def __init__(self) -> None:
        self.app: StackApp = make_stack_app()
        self.client = Client(self.app)
        keys = self.client.get("/whiparound/_mock/credentials").json["keys"]
        self.keys = {k["type"]: k["key"] for k in keys}
        listed = self.call("GET", "/assets", self.keys["integration"], query_string={"limit": 1000})
        assets = listed.json["data"]
        self.asset_ids = [a["id"] for a in assets]
        vins = [_compact(a["vin"]) for a in assets]
        self.plain_vin_assets = [
            a for a, vin in zip(assets, vins, strict=True) if vin and vins.count(vin) == 1
        ]

    def call(self, method: str, path: str, key: str | None, **kwargs: Any) -> Any:
        """A request to the API with ``key`` (or none) in ``x-api-key``."""
        headers = {"x-api-key": key} if key else {}
        return self.client.open(SERVER + path, method=method, headers=headers, **kwargs)

    def reset(self) -> None:
        """Whip Around back to the seeded world."""
        response = self.client.post("/whiparound/_mock/reset")
        assert response.status_code == 200, response.get_data(as_text=True)

    def prepare(self, case: Case) -> None:
        """Fresh world (with one defect) for ``case``, and some schema-valid ids pointed at it.

        Random ids almost never name an asset or a defect, so without this nearly every fuzzed
        path would stop at a 404 and the bodies behind it would go untested: half of the valid
        ids, and two thirds of the ``{idOrVin}`` values, are swapped (by a fixed rule, so a
        case reproduces) for ids, or VINs typed the way people type them, that exist. Values
        the generator made invalid are never touched, so a negative case still tests what its
        metadata says it tests.
        """
        self.reset()
        self.call(
            "POST",
            "/defects",
            self.keys["integration"],
            json={"asset_id": self.asset_ids[0], "name": "Seeded for the contract run"},
        )
        self.existing_asset(case)
        path = case.operation.path
        params = case.path_parameters or {}
        value = params.get("id")
        if path in ("/assets/{id}", "/defects/{id}") and type(value) is int and value % 2 == 0:
            params["id"] = self.asset_ids[value % len(self.asset_ids)] if "assets" in path else 1
        ref = params.get("idOrVin")
        if isinstance(ref, str) and ref and len(ref) % 3:
            asset = self.plain_vin_assets[len(ref) % len(self.plain_vin_assets)]
            params["idOrVin"] = str(asset["id"]) if len(ref) % 3 == 1 else _typed(asset["vin"])

    def existing_asset(self, case: Case) -> None:
        """Point a schema-valid ``asset_id`` of a defect body at an asset of the world: JSON
        Schema cannot say "an asset that exists", and Laravel's ``exists`` rule answers 422
        for one that does not."""
        body = case.body
        if case.operation.path == "/defects" and isinstance(body, dict):
            asset_id = body.get("asset_id")
            # The assets alive now: a stateful scenario may have deleted some of the seed's.
            alive = sorted(
                self.app.vendors["whiparound"].extensions["fleetsim"].backend.indexes().assets
            )
            if type(asset_id) is int and 1 <= asset_id <= MAX_ID and alive:
                body["asset_id"] = alive[asset_id % len(alive)]


def _compact(vin: str | None) -> str:
    return "".join((vin or "").split()).upper()


def _typed(vin: str) -> str:
    """A VIN as a person might type it: lower case, with a space."""
    vin = _compact(vin)
    return f"{vin[:3]} {vin[3:]}".lower()


HARNESS = Harness()


def _schema(mode: str) -> Any:
    auth = {"openapi": {"ApiKey": {"api_key": HARNESS.keys["integration"]}}}
    config = contracts.config(mode, CHECKS, MAX_EXAMPLES, auth=auth)
    return contracts.schema(CONTRACT, config, HARNESS.app)


# -- the contract itself -------------------------------------------------------------------


def _registered_operations() -> set[tuple[str, str]]:
    """(OpenAPI path, verb) of every API route the emulator's Flask app registers."""
    app = HARNESS.app.vendors["whiparound"]
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?(\w+)>", r"{\1}", rule.rule[len(API_PREFIX) :])
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                found.add((path, method.lower()))
    return found


def test_contract_lists_exactly_the_operations_the_emulator_registers() -> None:
    contract = set(OPERATIONS)
    registered = _registered_operations()
    assert contract - registered == set(), "in the contract, not served by the emulator"
    assert registered - contract == set(), "served by the emulator, missing from the contract"


def test_route_table_and_registered_rules_agree() -> None:
    table = {
        (re.sub(r"<(\w+)>", r"{\1}", op.path), method.lower())
        for op in ROUTE_TABLE
        for method in op.methods
    }
    assert table == _registered_operations()


def test_contract_file_is_canonical_pretty_json_of_openapi_3_0_3() -> None:
    assert CONTRACT_PATH.read_text(encoding="utf-8") == contracts.pretty_json(CONTRACT)
    assert CONTRACT["openapi"] == "3.0.3"
    assert CONTRACT["servers"][0]["url"] == SERVER
    assert not any("_mock" in path for path in CONTRACT["paths"])


def test_every_operation_requires_the_api_key_and_documents_a_401() -> None:
    scheme = CONTRACT["components"]["securitySchemes"]["ApiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "x-api-key"}
    for path, verb in OPERATIONS:
        operation = CONTRACT["paths"][path][verb]
        assert operation["security"] == [{"ApiKey": []}], (path, verb)
        assert "401" in operation["responses"], (path, verb)


def test_telematics_writes_document_403_404_409_and_422() -> None:
    assert INTEGRATION_ONLY <= {op.name for op in ROUTE_TABLE}
    for op in ROUTE_TABLE:
        if op.name in INTEGRATION_ONLY:
            path = re.sub(r"<(\w+)>", r"{\1}", op.path)
            responses = CONTRACT["paths"][path]["post"]["responses"]
            assert {"403", "404", "409", "422"} <= set(responses), path


def test_links_chain_asset_create_read_patch_delete_and_defect_create_list_patch() -> None:
    def links(path: str, verb: str, status: str) -> set[str]:
        response = CONTRACT["paths"][path][verb]["responses"][status]
        return {link["operationId"] for link in response.get("links", {}).values()}

    assert {"readAsset", "updateAsset", "deleteAsset"} <= links("/assets", "post", "201")
    assert {"updateAsset", "deleteAsset"} <= links("/assets/{id}", "get", "200")
    assert "deleteAsset" in links("/assets/{id}", "patch", "200")
    assert {"updateDefect", "listDefects"} <= links("/defects", "post", "201")
    assert {"updateDefect", "listDefects"} <= links("/assets/{idOrVin}/dtc-defects", "post", "201")
    assert {"updateDefect", "listDefects"} <= links("/defects/{id}", "patch", "200")


INPUT_SCHEMAS = ("AssetInput", "AssetPatch", "DefectInput", "DefectPatch", "DtcReportInput")
NOT_BLANK_TEXT = {
    "AssetInput.name", "AssetPatch.name", "DefectInput.name", "DefectPatch.name",
    "DtcReportInput.code",
}  # fmt: skip


def test_every_free_text_property_of_a_request_body_refuses_a_nul() -> None:
    schemas = CONTRACT["components"]["schemas"]
    patterns = {
        f"{name}.{key}": prop.get("pattern")
        for name in INPUT_SCHEMAS
        for key, prop in schemas[name]["properties"].items()
        if prop.get("type") == "string" and "enum" not in prop and not key.endswith("_at")
    }
    assert len(patterns) == 17
    assert patterns == {
        key: NOT_BLANK_PATTERN if key in NOT_BLANK_TEXT else NO_NUL_PATTERN for key in patterns
    }


@pytest.mark.parametrize(
    ("text", "any_text", "not_blank"),
    [("", True, False), (" \t\n", True, False), ("Van", True, True), (" a ", True, True),
     ("\x00", False, False), (" \x00 ", False, False), ("Va\x00n", False, False)],
    ids=repr,
)  # fmt: skip
def test_the_text_patterns_accept_what_the_emulator_accepts(
    text: str, any_text: bool, not_blank: bool
) -> None:
    assert (re.search(NO_NUL_PATTERN, text) is not None) is any_text
    assert (re.search(NOT_BLANK_PATTERN, text) is not None) is not_blank


# -- known-good requests, one per operation ------------------------------------------------


def _known_good(path: str, verb: str) -> dict[str, Any]:
    """Path parameters, query and body that must succeed on the freshly seeded world."""
    HARNESS.reset()
    assets = HARNESS.call("GET", "/assets", HARNESS.keys["integration"]).json["data"]
    asset = assets[0]
    defect = HARNESS.call(
        "POST",
        "/defects",
        HARNESS.keys["integration"],
        json={"asset_id": asset["id"], "name": "Contract check"},
    ).json["data"]
    plans: dict[tuple[str, str], dict[str, Any]] = {
        ("/assets", "get"): {"query": {"page": 2, "limit": 10}},
        ("/assets", "post"): {"body": {"name": "Contract van", "vin": "1FTEW1E55JFA00001"}},
        ("/assets/{id}", "get"): {"path": {"id": asset["id"]}},
        ("/assets/{id}", "patch"): {"path": {"id": asset["id"]}, "body": {"team": "Nights"}},
        ("/assets/{id}", "delete"): {"path": {"id": asset["id"]}},
        ("/assets/{idOrVin}/mileage", "post"): {
            "path": {"idOrVin": asset["vin"].lower()},
            "body": {"value": 1000, "unit": "km", "recorded_at": "2026-03-10T17:00:00Z"},
        },
        ("/assets/{idOrVin}/engine-hours", "post"): {
            "path": {"idOrVin": str(asset["id"])},
            "body": {"value": 812.5},
        },
        ("/assets/{idOrVin}/location", "post"): {
            "path": {"idOrVin": asset["vin"]},
            "body": {"latitude": 33.45, "longitude": -112.07, "recorded_at": None},
        },
        ("/assets/{idOrVin}/dtc-defects", "post"): {
            "path": {"idOrVin": asset["vin"]},
            "body": {
                "code": "p0420",
                "description": "Catalyst",
                "occurred_at": "2026-03-10T17:00:00Z",
            },
        },
        ("/defects", "get"): {"query": {"asset_id": asset["id"], "status": "New"}},
        ("/defects", "post"): {"body": {"asset_id": asset["id"], "name": "Cracked mirror"}},
        ("/defects/{id}", "patch"): {"path": {"id": defect["id"]}, "body": {"status": "Completed"}},
    }
    return plans[(path, verb)]


def _case(schema: Any, path: str, verb: str, plan: dict[str, Any]) -> Case:
    operation = schema[path][verb.upper()]
    kwargs: dict[str, Any] = {}
    if "path" in plan:
        kwargs["path_parameters"] = plan["path"]
    if "query" in plan:
        kwargs["query"] = plan["query"]
    if "body" in plan:
        kwargs["body"] = plan["body"]
        kwargs["media_type"] = "application/json"
    return operation.Case(**kwargs)


OPERATION_PARAMS = [
    pytest.param(path, verb, id=f"{verb.upper()} {path}") for path, verb in OPERATIONS
]


@pytest.mark.parametrize(("path", "verb"), OPERATION_PARAMS)
def test_known_good_call_succeeds_and_matches_the_contract(path: str, verb: str) -> None:
    schema = _schema("positive")
    plan = _known_good(path, verb)
    case = _case(schema, path, verb, plan)
    response = case.call_and_validate(headers={"x-api-key": HARNESS.keys["integration"]})
    assert 200 <= response.status_code < 300, response.text


@pytest.mark.parametrize(("path", "verb"), OPERATION_PARAMS)
def test_every_operation_without_a_key_answers_a_laravel_401(path: str, verb: str) -> None:
    plan = _known_good(path, verb)
    url = path.format(**plan.get("path", {}))
    response = HARNESS.call(
        verb.upper(), url, None, query_string=plan.get("query"), json=plan.get("body")
    )
    assert (response.status_code, response.json) == (401, UNAUTHENTICATED)


@pytest.mark.parametrize(("path", "verb"), OPERATION_PARAMS)
def test_every_operation_with_an_unknown_key_answers_a_laravel_401(path: str, verb: str) -> None:
    plan = _known_good(path, verb)
    url = path.format(**plan.get("path", {}))
    response = HARNESS.call(
        verb.upper(), url, "f" * 40, query_string=plan.get("query"), json=plan.get("body")
    )
    assert (response.status_code, response.json) == (401, UNAUTHENTICATED)


TELEMATICS_PARAMS = [
    pytest.param(path, verb, id=f"{verb.upper()} {path}")
    for path, verb in OPERATIONS
    if path.startswith("/assets/{idOrVin}/")
]


@pytest.mark.parametrize(("path", "verb"), TELEMATICS_PARAMS)
def test_telematics_write_with_a_personal_key_answers_403_matching_the_contract(
    path: str, verb: str
) -> None:
    schema = _schema("positive")
    case = _case(schema, path, verb, _known_good(path, verb))
    response = case.call_and_validate(headers={"x-api-key": HARNESS.keys["personal"]})
    assert response.status_code == 403
    assert set(response.json()) == {"message"}


@pytest.mark.parametrize(
    ("path", "plan", "status"),
    [
        ("/assets/{idOrVin}/mileage", {"path": {"idOrVin": "NOSUCHVIN"}, "body": {}}, 404),
        ("/assets/{idOrVin}/mileage", {"path": {"idOrVin": "1M19JXGT5HA794917"}, "body": {}}, 409),
        ("/assets/{idOrVin}/mileage", {"path": {"idOrVin": "7001"}, "body": {"value": -1}}, 422),
    ],
    ids=["404", "409", "422"],
)
def test_error_answers_match_the_contracts_laravel_shapes(
    path: str, plan: dict[str, Any], status: int
) -> None:
    HARNESS.reset()
    schema = _schema("positive")
    case = _case(schema, path, "post", plan)
    response = case.call_and_validate(headers={"x-api-key": HARNESS.keys["integration"]})
    assert response.status_code == status, response.text


# -- schemathesis --------------------------------------------------------------------------


def _assert_laravel(response: Any) -> None:
    """Beyond the schema: nothing breaks, and every error is Laravel's JSON."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("message"), str)
        assert set(body) <= {"message", "errors"}


@schemathesis.pytest.parametrize(whiparound=_schema("positive"))
def test_positive_cases_never_break_the_contract(case: Case) -> None:
    HARNESS.prepare(case)
    _assert_laravel(case.call_and_validate())


@schemathesis.pytest.parametrize(whiparound=_schema("negative"))
def test_negative_cases_are_rejected_in_laravel_shape(case: Case) -> None:
    HARNESS.prepare(case)
    _assert_laravel(case.call_and_validate())


def test_stateful_runs_follow_the_links_without_breaking_the_contract() -> None:
    base = _schema("positive").as_state_machine()

    class WhipAroundMachine(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            HARNESS.reset()

        def before_call(self, case: Case) -> None:
            HARNESS.existing_asset(case)

    WhipAroundMachine.run(settings=contracts.stateful_settings(STATEFUL_EXAMPLES, STATEFUL_STEPS))


STEPS: list[contracts.Step] = []
DEFECT_PATHS = ("/defects", "/defects/{id}")


def _defect_machine() -> Any:
    """A state machine over the defect operations alone: every walk starts at a create."""
    contract = {**CONTRACT, "paths": {p: CONTRACT["paths"][p] for p in DEFECT_PATHS}}
    auth = {"openapi": {"ApiKey": {"api_key": HARNESS.keys["integration"]}}}
    config = contracts.config("positive", CHECKS, MAX_EXAMPLES, auth=auth)
    return contracts.recording_machine(
        contracts.schema(contract, config, HARNESS.app),
        STEPS,
        setup=HARNESS.reset,
        before_call=HARNESS.existing_asset,
        judge=_assert_laravel,
    )


def test_stateful_defect_create_list_update_resolve_keeps_the_contract() -> None:
    STEPS.clear()
    settings = contracts.stateful_settings(DEFECT_EXAMPLES, steps=4)
    _defect_machine().run(settings=settings)
    succeeded = {label for label, status, _ in STEPS if 200 <= status < 300}
    assert {"POST /defects", "GET /defects", "PATCH /defects/{id}"} <= succeeded
    assert any(
        label == "PATCH /defects/{id}" and status == 200 and body.get("status") == "Completed"
        for label, status, body in STEPS
        if isinstance(body, dict)
    ), "no defect was resolved through the resolve link (it merges status Completed)"
