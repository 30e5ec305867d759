"""The pinned Netradyne Driveri contract against the Driveri emulator.

Four kinds of test: a drift check (the contract's operations are exactly the emulator's
OPERATIONS), a known-good call and an unauthenticated call per operation, schemathesis
fuzzing in positive and negative mode, and a stateful run that follows the contract's links
(add a driver -> read it -> edit it -> soft-delete it through its status).

One stack serves every case. Before each case the Driveri world is put back to its seeded
dump through the control plane (access tokens are not part of a dump, so they survive), and
after it the API client's tokens are tidied to exactly one: the harness's own. A case that
issues a token therefore never pushes the next one into the two-token cap, and a case that
revokes the harness's token gets a new one for the next case. Credentials come from an auth
provider that reads each operation's `security` in the contract: Basic for the token
endpoints, bearer for the rest.
"""

from __future__ import annotations

import re
from typing import Any

import contract_helpers as contracts
import jsonschema_rs
import pytest
import schemathesis
from schemathesis import Case
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.definitions import OPENAPI_30
from werkzeug.test import Client

from helpers import make_stack_app
from mock_vendors.driveri import routes
from mock_vendors.driveri.schemas import NO_NUL_PATTERN, NOT_BLANK_PATTERN

CONTRACT_PATH = contracts.contract_path("driveri")
CONTRACT = contracts.load_contract("driveri")
PREFIX = "/driveri"

MAX_EXAMPLES = contracts.budget(quick=10, deep=200)
STATEFUL_EXAMPLES = contracts.budget(quick=15, deep=100)

CHECKS = contracts.checks(
    "unsupported_method",
    "missing_required_header",
    off=(
        # Off, on purpose: Driveri validates across fields and against state, which no JSON
        # Schema says (a licence number without country and state, an unknown driverId, a
        # duplicate, a detail call naming none of driverId/email/userName are all schema-valid
        # and all 4xx).
        "positive_data_acceptance",
        # Needs a second identity; the emulator has one API client per tenant.
        "object_level_authorization",
    ),
)
# Bulk add rejects a bad driver inside its 207 (one result per driver), not as a 4xx, so a
# negated driver item is answered 207 by design (docs/vendors.md §2).
OPERATION_OVERRIDES = [
    {
        "include-operation-id": "addBulkDrivers",
        "checks": {"negative_data_rejection": {"enabled": False}},
    }
]


# -- the harness -------------------------------------------------------------------------


class Harness:
    """One in-process stack, its seeded Driveri dump, and the one bearer token cases use."""

    def __init__(self) -> None:
        self.app = make_stack_app()
        self.client = Client(self.app)
        client = self.client.get(f"{PREFIX}/_mock/credentials").json["clients"][0]
        self.tenant: str = client["tenant"]
        self.basic = f"Basic {client['basic_token']}"
        self.seed_dump = self.client.get(f"{PREFIX}/_mock/state").get_data()
        self.token = ""
        self.issued: set[str] = set()
        self.tidy_tokens()

    def reset_world(self) -> None:
        """Put the Driveri state back to the seeded dump (tokens are kept)."""
        response = self.client.post(
            f"{PREFIX}/_mock/state", data=self.seed_dump, content_type="application/json"
        )
        assert response.status_code == 200, response.get_data(as_text=True)

    def tidy_tokens(self) -> None:
        """Leave exactly one active token, the harness's own (a new one if it was revoked)."""
        listed = self.client.get(f"{PREFIX}/v1/auth/tokens", headers={"Authorization": self.basic})
        assert listed.status_code == 200, listed.get_data(as_text=True)
        mine_alive = False
        for token in listed.json["data"]:
            if token["accessToken"] == self.token:
                mine_alive = True
                continue
            revoked = self.client.delete(
                f"{PREFIX}/v1/auth/token/revoke/{token['accessTokenId']}",
                headers={"Authorization": self.basic},
            )
            assert revoked.status_code == 200, revoked.get_data(as_text=True)
        if not mine_alive:
            issued = self.client.post(
                f"{PREFIX}/v1/auth/token",
                headers={"Authorization": self.basic, "Content-Type": "application/json"},
            )
            assert issued.status_code == 200, issued.get_data(as_text=True)
            self.token = issued.json["data"]["accessToken"]
            self.issued.add(self.token)

    def authorization_for(self, method: str, path: str) -> str:
        """The Authorization header the contract's security asks for on this operation."""
        (requirement,) = CONTRACT["paths"][path][method.lower()]["security"]
        return self.basic if "basicAuth" in requirement else f"bearer {self.token}"

    def pin_tenant(self, case: Case) -> None:
        """Point a generated case at the demo tenant, unless its path is what is being negated."""
        params = case.path_parameters
        if params is None or "tenantUniqueName" not in params:
            return
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH):
            return
        params["tenantUniqueName"] = self.tenant

    def refresh_bearer(self, case: Case) -> None:
        """Swap a harness token that has since been replaced for the current one."""
        given = case.headers.get("Authorization") if case.headers else None
        if given in {f"bearer {token}" for token in self.issued}:
            case.headers["Authorization"] = f"bearer {self.token}"

    def prepare(self, case: Case) -> None:
        """Seeded world, the demo tenant and a live token for a fuzzed case."""
        self.reset_world()
        self.pin_tenant(case)
        self.refresh_bearer(case)

    def call(self, case: Case) -> Any:
        """``case.call_and_validate()``, with the tokens tidied afterwards whatever happened."""
        try:
            return case.call_and_validate()
        finally:
            self.tidy_tokens()


HARNESS = Harness()


class DriveriAuth:
    """Basic or bearer per operation, as the contract's security says (never cached)."""

    def get(self, case: Case, context: Any) -> str:
        return HARNESS.authorization_for(case.operation.method, case.operation.path)

    def set(self, case: Case, data: str, context: Any) -> None:
        case.headers["Authorization"] = data


def _schema(mode: str) -> Any:
    config = contracts.config(
        mode,
        CHECKS,
        MAX_EXAMPLES,
        operations=OPERATION_OVERRIDES,
        # Only the contract's own links: inferred ones (token -> revoke by id) would spend the
        # stateful budget revoking tokens instead of walking drivers.
        phases={"stateful": {"inference": {"algorithms": []}}},
    )
    schema = contracts.schema(CONTRACT, config, HARNESS.app)
    schema.auth(refresh_interval=None)(DriveriAuth)
    return schema


def _assert_envelope(response: Any) -> None:
    """Beyond the schema: no 5xx, and the HTTP status is error.status on every error."""
    assert response.status_code < 500, response.text
    if response.request.method == "HEAD":
        return  # no body by definition (the coverage phase probes undeclared methods)
    body = response.json()
    if response.status_code < 300:
        assert body["error"] is None
    else:
        assert body["data"] is None
        assert body["error"]["status"] == response.status_code


# -- drift and form ----------------------------------------------------------------------


def _normalise(path: str) -> str:
    """``/a/<path:x>/b`` and ``/a/{x}/b`` both become ``/a/{}/b``."""
    return re.sub(r"<(?:[a-z]+:)?\w+>|\{\w+\}", "{}", path)


def test_contract_lists_exactly_the_operations_the_emulator_routes() -> None:
    routed = {
        (method.upper(), _normalise(op.path)) for op in routes.OPERATIONS for method in op.methods
    }
    contract = {
        (method.upper(), _normalise(path))
        for path, item in CONTRACT["paths"].items()
        for method in item
    }
    assert contract - routed == set(), "in the contract, not routed by the emulator"
    assert routed - contract == set(), "routed by the emulator, missing from the contract"


def test_contract_file_is_pinned_pretty_json_for_openapi_3_0_3() -> None:
    assert CONTRACT_PATH.read_text(encoding="utf-8") == contracts.pretty_json(CONTRACT)
    assert CONTRACT["openapi"] == "3.0.3"
    assert CONTRACT["servers"][0]["url"] == PREFIX
    assert not any(path.startswith("/_mock") for path in CONTRACT["paths"])


def test_contract_is_a_valid_openapi_3_0_document() -> None:
    validator = jsonschema_rs.validator_for(OPENAPI_30)
    assert [error.message for error in validator.iter_errors(CONTRACT)] == []


def test_token_endpoints_use_basic_auth_and_everything_else_bearer() -> None:
    basic = {("POST", "/v1/auth/token"), ("GET", "/v1/auth/tokens")}
    basic.add(("DELETE", "/v1/auth/token/revoke/{accessTokenId}"))
    for path, item in CONTRACT["paths"].items():
        for method, operation in item.items():
            expected = "basicAuth" if (method.upper(), path) in basic else "bearerAuth"
            assert operation["security"] == [{expected: []}], (method, path)


def test_every_error_response_is_the_driveri_error_envelope() -> None:
    for path, item in CONTRACT["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                schema = response["content"]["application/json"]["schema"]["$ref"]
                if int(code) >= 400:
                    assert schema.endswith("/ErrorEnvelope"), (method, path, code)
                    assert 401 in map(int, operation["responses"]), (method, path)


REQUEST_SCHEMAS = ("AddDriverRequest", "EditDriverRequest", "GroupRequest")
TEXT_QUERY = {"driverId", "email", "userName", "group"}


def test_every_request_text_property_and_text_query_parameter_refuses_a_nul() -> None:
    schemas = CONTRACT["components"]["schemas"]
    patterns = {
        f"{name}.{key}": prop.get("pattern")
        for name in REQUEST_SCHEMAS
        for key, prop in schemas[name]["properties"].items()
        if prop.get("type") == "string" and "enum" not in prop
    }
    patterns |= {
        f"{path}?{p['name']}": p["schema"].get("pattern")
        for path, item in CONTRACT["paths"].items()
        for operation in item.values()
        for p in operation.get("parameters", [])
        if p.get("in") == "query" and p["name"] in TEXT_QUERY
    }
    not_blank = {f"{n}.{k}" for n in REQUEST_SCHEMAS[:2] for k in ("driverId", "firstName")}
    assert len(patterns) == 2 * 9 + 1 + 4
    assert {k: v for k, v in patterns.items() if k in not_blank} == dict.fromkeys(
        not_blank, NOT_BLANK_PATTERN
    )
    assert {k: v for k, v in patterns.items() if k not in not_blank} == dict.fromkeys(
        patterns.keys() - not_blank, NO_NUL_PATTERN
    )


@pytest.mark.parametrize(
    ("text", "any_text", "not_blank"),
    [("", True, False), (" \t", True, False), ("Ann", True, True), (" a ", True, True),
     ("\x00", False, False), ("An\x00n", False, False), ("Ann\x00", False, False)],
    ids=repr,
)  # fmt: skip
def test_the_text_patterns_accept_what_the_emulator_accepts(
    text: str, any_text: bool, not_blank: bool
) -> None:
    assert (re.search(NO_NUL_PATTERN, text) is not None) is any_text
    assert (re.search(NOT_BLANK_PATTERN, text) is not None) is not_blank


# -- one known-good and one unauthenticated call per operation ---------------------------

SEEDED_DRIVER = "NEW-CONTRACT/0001"
DELETED_STATUS = 3


def _known_good(method: str, path: str) -> dict[str, Any]:
    """Arguments for a Case that must answer 2xx on the seeded world."""
    HARNESS.reset_world()
    HARNESS.tidy_tokens()
    tenant = {"tenantUniqueName": HARNESS.tenant}
    existing = HARNESS.client.get(
        f"{PREFIX}/v1/tenants/{HARNESS.tenant}/drivers",
        headers={"Authorization": f"bearer {HARNESS.token}"},
        query_string={"limit": 1},
    ).json["data"]["drivers"][0]
    tokens = HARNESS.client.get(
        f"{PREFIX}/v1/auth/tokens", headers={"Authorization": HARNESS.basic}
    ).json["data"]
    by_operation: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/auth/token"): {},
        ("GET", "/v1/auth/tokens"): {},
        ("DELETE", "/v1/auth/token/revoke"): {},
        ("DELETE", "/v1/auth/token/revoke/{accessTokenId}"): {
            "path_parameters": {"accessTokenId": tokens[0]["accessTokenId"]}
        },
        ("GET", "/v1/tenants/{tenantUniqueName}/drivers"): {
            "path_parameters": tenant,
            "query": {"offset": 1, "limit": 2, "showAll": True},
        },
        ("POST", "/v1/tenants/{tenantUniqueName}/drivers"): {
            "path_parameters": tenant,
            "body": {"driverId": SEEDED_DRIVER, "firstName": "Casey", "phone": "555-0100"},
        },
        ("GET", "/v1/tenants/{tenantUniqueName}/driver"): {
            "path_parameters": tenant,
            "query": {"driverId": existing["driverId"]},
        },
        ("POST", "/v1/tenants/{tenantUniqueName}/bulk/drivers"): {
            "path_parameters": tenant,
            "body": {"drivers": [{"driverId": "B1", "firstName": "Bo"}, {"driverId": "B1"}]},
        },
        ("PUT", "/v1/tenants/{tenantUniqueName}/drivers/{driverId}"): {
            "path_parameters": {**tenant, "driverId": existing["driverId"]},
            "body": {"lastName": "Renamed", "group": {"name": "North", "action": "ADD"}},
        },
        ("GET", "/v1/tenants/{tenantUniqueName}/configurations"): {"path_parameters": tenant},
    }
    return by_operation[(method, path)]


OPERATIONS = [
    pytest.param(method.upper(), path, id=f"{method.upper()} {path}")
    for path, item in sorted(CONTRACT["paths"].items())
    for method in item
]
KNOWN_GOOD_SCHEMA = _schema("positive")


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_known_good_call_answers_2xx_matching_the_contract(method: str, path: str) -> None:
    operation = KNOWN_GOOD_SCHEMA[path][method]
    arguments = _known_good(method, path)
    headers = {"Authorization": HARNESS.authorization_for(method, path)}
    if "body" in arguments:
        headers["Content-Type"] = "application/json"
    response = HARNESS.call(operation.Case(headers=headers, **arguments))
    assert response.status_code in (200, 207), response.text
    _assert_envelope(response)


def _unauthenticated_request(method: str, path: str) -> tuple[str, dict[str, Any]]:
    url = PREFIX + path.replace("{tenantUniqueName}", HARNESS.tenant).replace(
        "{driverId}", "DRV%2F1"
    ).replace("{accessTokenId}", "some-token-id")
    if method in ("POST", "PUT"):
        return url, {"json": {"driverId": "X1", "firstName": "Al", "drivers": [{}]}}
    return url, {}


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_without_credentials_answers_401_in_the_driveri_error_shape(
    method: str, path: str
) -> None:
    url, extra = _unauthenticated_request(method, path)
    response = HARNESS.client.open(url, method=method, **extra)
    body = response.json
    assert response.status_code == 401, response.get_data(as_text=True)
    assert body["data"] is None
    assert body["error"]["status"] == 401
    assert body["error"]["error"] == "Unauthorized"
    assert body["error"]["messageCode"] == "UNAUTHORIZED"
    assert body["error"]["path"] == url  # as sent: an id's "/" stays percent-encoded
    assert set(body["error"]) == {"timestamp", "status", "error", "message", "messageCode", "path"}


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_refuses_the_other_auth_scheme_with_401(method: str, path: str) -> None:
    url, extra = _unauthenticated_request(method, path)
    HARNESS.tidy_tokens()
    right = HARNESS.authorization_for(method, path)
    wrong = f"bearer {HARNESS.token}" if right.startswith("Basic") else HARNESS.basic
    response = HARNESS.client.open(url, method=method, headers={"Authorization": wrong}, **extra)
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json["error"]["messageCode"] == "UNAUTHORIZED"


# -- schemathesis: positive, negative, stateful ------------------------------------------


@schemathesis.pytest.parametrize(driveri=_schema("positive"))
def test_positive_cases_never_break_the_contract(case: Case) -> None:
    HARNESS.prepare(case)
    _assert_envelope(HARNESS.call(case))


@schemathesis.pytest.parametrize(driveri=_schema("negative"))
def test_negative_cases_are_rejected_in_the_driveri_envelope(case: Case) -> None:
    HARNESS.prepare(case)
    _assert_envelope(HARNESS.call(case))


SOFT_DELETE_LINK = "DeleteEditedDriver"


class DriveriStateMachine(_schema("positive").as_state_machine()):  # type: ignore[misc]
    """Follows the contract's links from a seeded world, one scenario at a time."""

    def setup(self) -> None:
        HARNESS.reset_world()
        HARNESS.tidy_tokens()

    def step(self, input: StepInput) -> StepOutput:
        # The soft-delete link is followed with its body as the link writes it, {"status": 3}:
        # merged into a generated body, other fields (a licence number alone, a rename) would
        # turn most soft deletes into 400s, and whether one succeeded would be luck.
        transition = input.transition
        if transition is not None and transition.id == SOFT_DELETE_LINK and input.is_applied:
            input.case.body = {"status": DELETED_STATUS}
        return super().step(input)  # type: ignore[no-any-return]

    def before_call(self, case: Case) -> None:
        HARNESS.pin_tenant(case)
        HARNESS.refresh_bearer(case)

    def after_call(self, response: Any, case: Case) -> None:
        super().after_call(response, case)
        _assert_envelope(response)
        STEPS.append((case.operation.label, response.status_code, case.body))


STEPS: list[tuple[str, int, Any]] = []
EDIT = "PUT /v1/tenants/{tenantUniqueName}/drivers/{driverId}"


def test_stateful_add_read_edit_delete_keeps_the_contract() -> None:
    STEPS.clear()
    DriveriStateMachine.run(settings=contracts.stateful_settings(STATEFUL_EXAMPLES, steps=6))
    succeeded = {label for label, status, _ in STEPS if status == 200}
    assert {
        "POST /v1/tenants/{tenantUniqueName}/drivers",
        "GET /v1/tenants/{tenantUniqueName}/driver",
        EDIT,
    } <= succeeded, "the links were not walked"
    assert any(
        label == EDIT
        and status == 200
        and isinstance(body, dict)
        and body.get("status") == DELETED_STATUS
        for label, status, body in STEPS
    ), "no driver was soft-deleted through the status link"
