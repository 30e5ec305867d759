"""The pinned GPS Insight API v2 contract against the GPS Insight and Wex emulators.

Three kinds of test: a drift check (the contract's methods are exactly the ones the emulator
dispatches), a known-good call per operation (every 200 schema is exercised with real ids), and
schemathesis fuzzing in positive and negative mode against the in-process WSGI stack.

Every fuzzed case starts from the freshly seeded world with a session of its own: the vendor is
reset through its control plane and the Master User logs in again. Writes the generator makes
(a random VIN, a deactivated or rotated App Token, a logout, a new password) therefore never
leak into the next case as a misleading 403, and a failing case reproduces from itself alone,
which is also what keeps Hypothesis's shrinking sound.
"""

from __future__ import annotations

import re
from typing import Any

import contract_helpers as contracts
import jsonschema_rs
import pytest
import schemathesis
from schemathesis import Case
from werkzeug.test import Client

from helpers import make_stack_app
from mock_vendors.gpsinsight.catalogue import CATALOGUE, METHODS
from mock_vendors.gpsinsight.routes import OPERATIONS, SESSIONLESS
from mock_vendors.wsgi import StackApp

CONTRACT_PATH = contracts.contract_path("gpsinsight")
CONTRACT = contracts.load_contract("gpsinsight")
VENDORS = ("gpsinsight", "wex")
PATH_RE = re.compile(r"^/v2/([a-z]+)/([a-z]+)$")

MAX_EXAMPLES = contracts.budget(quick=10, deep=200)

# Every built-in check, each chosen on purpose (schemathesis' default would be "all of them").
# Of the common ones, response_schema_conformance validates formats (date-time) too, and
# response_headers_conformance sees Retry-After on 429. negative_data_rejection is on because
# the contract states the vendor's tolerance (blank = absent, flags read true/false, unknown
# fields ignored), so whatever it still calls invalid must be refused with a 4xx.
CHECKS = contracts.checks(
    "allow_header_conformance",  # OPTIONS lists GET and POST
    # On but inert here, kept so nothing is silently off: no required headers, no
    # securitySchemes (auth is the session_token parameter: negative mode, and
    # test_auth_everywhere.py), no stateful phase in this module (test_gpsinsight_stateful.py
    # walks the links); the common ignored_auth, use_after_free and
    # ensure_resource_availability are inert here for the same reasons.
    "missing_required_header",
    "object_level_authorization",
    off=(
        # Off, on purpose: the vendor validates late and across fields, which no JSON Schema
        # can say. vehicle/update with no field to change, an unknown detail column or time
        # zone, a text with a NUL character, a history window over 7 days, an end before its
        # start or 2/30/2026 are schema-valid and all answer 400 -- documented vendor
        # behaviour, not a bug (see contracts/README.md).
        "positive_data_acceptance",
        # Replaced, not dropped: one URL rule serves every /v2 path, so "an undeclared HTTP
        # method answers 405 with an Allow header" is route-level behaviour outside the
        # contract that the check would report once per path and vendor (40 times).
        # test_undeclared_http_methods_... below asserts it for every contract path and verb
        # in one place.
        "unsupported_method",
    ),
)


def _schema(vendor: str, mode: str, app: StackApp) -> Any:
    served_at = {**CONTRACT, "servers": [{"url": f"/{vendor}"}]}
    return contracts.schema(served_at, contracts.config(mode, CHECKS, MAX_EXAMPLES), app)


def _schemas(mode: str) -> dict[str, Any]:
    """One schema per vendor, under the vendor's name (what schemathesis names its cases by)."""
    return {vendor: _schema(vendor, mode, HARNESS.app) for vendor in VENDORS}


class Harness:
    """One in-process stack; each case gets a freshly reset vendor and a new Master session."""

    def __init__(self) -> None:
        self.app = make_stack_app()
        self.client = Client(self.app)
        self._masters: dict[str, dict[str, Any]] = {}

    def master(self, vendor: str) -> dict[str, Any]:
        """The Master User's credential row from ``/_mock/credentials`` (fetched once)."""
        if vendor not in self._masters:
            body = self.client.get(f"/{vendor}/_mock/credentials").json
            users = [u for account in body["accounts"] for u in account["users"]]
            self._masters[vendor] = next(u for u in users if u["master"])
        return self._masters[vendor]

    def fresh_session(self, vendor: str) -> str:
        """Reset the vendor to its seeded world and log the Master User in."""
        reset = self.client.post(f"/{vendor}/_mock/reset")
        assert reset.status_code == 200, reset.get_data(as_text=True)
        user = self.master(vendor)
        login = self.client.get(
            f"/{vendor}/v2/userauth/login",
            query_string={"username": user["username"], "app_token": user["app_token"]},
        )
        assert login.status_code == 200, login.get_data(as_text=True)
        return str(login.json["data"]["token"])

    def prepare(self, case: Case) -> str:
        """Fresh world and session for ``case``; a schema-valid session_token becomes the real one.

        A session_token the generator made invalid or left out (a negative case) is kept as it is,
        so the case still tests what its metadata says it tests.
        """
        vendor = _vendor_of(case)
        token = self.fresh_session(vendor)
        fields = case.query if case.method.upper() == "GET" else case.body
        if isinstance(fields, dict):
            value = fields.get("session_token")
            if isinstance(value, str) and SESSION_TOKEN_RE.match(value):
                fields["session_token"] = token
        return vendor


SESSION_TOKEN_RE = re.compile(CONTRACT["components"]["schemas"]["SessionToken"]["pattern"])
HARNESS = Harness()


def _vendor_of(case: Case) -> str:
    return str(case.operation.schema.raw_schema["servers"][0]["url"]).strip("/")


def _assert_envelope(case: Case, response: Any, vendor: str) -> None:
    """Beyond the schema: head.status mirrors the HTTP status, brand names the vendor."""
    assert response.status_code < 500, response.text
    if case.method.upper() not in ("GET", "POST"):
        return  # an undeclared verb the coverage phase probes (OPTIONS is Flask's, bodiless)
    body = response.json()
    ok = response.status_code == 200
    assert body["head"]["status"] == ("OK" if ok else "ERROR")
    assert body["head"]["brand"] == {"gpsinsight": "GPS Insight", "wex": "Wex Telematics"}[vendor]
    if not ok:
        assert [e["code"] for e in body["errors"]] == [response.status_code]


# -- drift -------------------------------------------------------------------------------


def _contract_methods() -> set[tuple[str, str]]:
    found = set()
    for path in CONTRACT["paths"]:
        match = PATH_RE.match(path)
        assert match, f"contract path {path} is not /v2/<class>/<method> in lower case"
        found.add((match.group(1), match.group(2)))
    return found


def test_contract_lists_exactly_the_methods_the_emulator_dispatches() -> None:
    dispatched = {tuple(PATH_RE.match(op.path).groups()) for op in OPERATIONS}  # type: ignore[union-attr]
    contract = _contract_methods()
    assert contract - dispatched == set(), "in the contract, not served by the emulator"
    assert dispatched - contract == set(), "served by the emulator, missing from the contract"


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = CONTRACT["components"][section][name]
    return node


def test_every_contract_path_has_get_and_post_with_the_same_fields() -> None:
    for path, item in CONTRACT["paths"].items():
        assert set(item) == {"get", "post"}, path
        params = [_resolve(p) for p in item["get"]["parameters"]]
        assert all(p["in"] == "query" for p in params), path
        query = {p["name"]: (p["required"], _resolve(p["schema"])) for p in params}
        content = item["post"]["requestBody"]["content"]
        assert set(content) == {"application/x-www-form-urlencoded"}, path
        form = _resolve(content["application/x-www-form-urlencoded"]["schema"])
        required = set(form.get("required", []))
        assert {
            name: (name in required, _resolve(schema))
            for name, schema in form["properties"].items()
        } == query, path
        assert item["get"]["responses"] == item["post"]["responses"], path
        assert "reference_tag" in query, path
        # Auth is a parameter, never a header: only login and heartbeat/* go without one.
        method = tuple(PATH_RE.match(path).groups())  # type: ignore[union-attr]
        needs_session = "/".join(method) not in SESSIONLESS
        assert query.get("session_token", (None,))[0] is (True if needs_session else None), path
    assert "securitySchemes" not in CONTRACT["components"]


def test_the_contract_carries_the_catalogue_of_the_platforms_methods() -> None:
    assert CONTRACT["x-fleetsim-catalogue"] == {k: list(v) for k, v in CATALOGUE.items()}
    served = {tuple(PATH_RE.match(op.path).groups()) for op in OPERATIONS}  # type: ignore[union-attr]
    lower = {(k, m.lower()) for k, names in CATALOGUE.items() for m in [*names, METHODS]}
    assert served - lower == set(), "served methods must be catalogued"


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("path", ["alert/list", "vehicle/scorecard", "drivergroup/methods"])
def test_a_catalogued_method_not_served_answers_the_contracts_501(vendor: str, path: str) -> None:
    response = HARNESS.client.get(f"/{vendor}/v2/{path}")
    assert response.status_code == 501
    schema = CONTRACT["components"]["responses"]["NotEmulated"]["content"]["application/json"]
    assert schema["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
    envelope = {**CONTRACT["components"]["schemas"]["ErrorEnvelope"]}
    envelope["components"] = CONTRACT["components"]  # its $refs resolve in the contract
    jsonschema_rs.validate(envelope, response.json)
    assert response.json["errors"][0]["message"] == f"Method not emulated: {path}"


def test_contract_file_is_canonical_pretty_json() -> None:
    assert CONTRACT_PATH.read_text(encoding="utf-8") == contracts.pretty_json(CONTRACT)
    assert CONTRACT["openapi"].startswith("3.1")
    assert not any(path.startswith("/_mock") for path in CONTRACT["paths"])


# -- one known-good call per operation ----------------------------------------------------


def _valid_fields(vendor: str, method: tuple[str, str]) -> dict[str, Any]:
    """Request fields that must succeed on the seeded world (ids read from the emulator)."""
    user = HARNESS.master(vendor)
    token = HARNESS.fresh_session(vendor)
    fleet = HARNESS.client.get(
        f"/{vendor}/v2/vehicle/list", query_string={"session_token": token}
    ).json["data"]
    dtc = HARNESS.client.get(
        f"/{vendor}/v2/vehicle/dtc", query_string={"session_token": token}
    ).json["data"]
    others = [
        a["app_token"]
        for a in HARNESS.client.get(
            f"/{vendor}/v2/apiapp/list", query_string={"session_token": token}
        ).json["data"]
        if a["app_token"] != user["app_token"]
    ]
    vehicle = fleet[0]["id"]
    hook = {"url": "http://127.0.0.1:9/hook", "type": "driver", "secret": "contract-secret"}
    webhook = HARNESS.client.get(
        f"/{vendor}/v2/webhook/create", query_string={"session_token": token, **hook}
    ).json["data"]["id"]  # Driver Sync is off: nothing is ever sent to it
    fields: dict[tuple[str, str], dict[str, Any]] = {
        ("userauth", "login"): {"username": user["username"], "app_token": user["app_token"]},
        ("userauth", "logout"): {},
        ("heartbeat", "beat"): {},
        ("heartbeat", "repeat"): {"word": "bulbous bouffant"},
        ("vehicle", "list"): {"detail": 1},
        ("vehicle", "read"): {"vehicle": vehicle},
        ("vehicle", "location"): {"vehicle": vehicle},
        ("vehicle", "history"): {"vehicle": vehicle, "start": "2026-03-09", "end": "2026-03-10"},
        ("vehicle", "runtime"): {"date": "3/10/2026"},
        ("vehicle", "dtc"): {"vehicle": dtc[0]["serial_number"]},
        ("vehicle", "update"): {"vehicle": vehicle, "label": "Contract 0001", "odometer": 1234.5},
        ("vehicle", "setodometerwaypoint"): {"vehicle": vehicle, "odometer": 99.5},
        ("vehicle", "getdriver"): {"vehicle": vehicle},
        ("vehicle", "listvehiclegroups"): {"vehicle": vehicle},
        ("vehicle", "lifetimeutilization"): {},
        ("vehicle", "distance"): {"date": "3/9/2026"},
        ("vehicle", "trips"): {"vehicle": vehicle, "start": "2026-03-09", "include_points": 1},
        ("diagnostic", "list"): {},
        ("user", "list"): {},
        ("user", "listvehicles"): {},
        ("user", "update"): {"firstname": "Casey", "timezone": "US/Arizona"},
        ("user", "listusers"): {},
        ("user", "read"): {},
        ("user", "listvehiclegroups"): {},
        ("vehiclegroup", "list"): {},
        ("vehiclegroup", "listvehicles"): {"vehicle_group": "ALL VEHICLES"},
        ("vehiclegroup", "read"): {"vehicle_group": "south"},
        ("vehiclegroup", "listmembers"): {"group": "North Region"},
        ("vehiclegroup", "listusers"): {"vehicle_group": "ALL VEHICLES"},
        ("vehiclegroup", "location"): {"vehicle_group": "1012003"},
        ("vehiclegroup", "dtc"): {"vehicle_group": "all", "start": "2026-03-08"},
        ("vehiclegroup", "runtime"): {"vehicle_group": "Service", "date": "2026-03-09"},
        ("vin", "decode"): {"vin": next(v["vin"] for v in fleet if v["vin"])},
        ("apiapp", "create"): {"app_name": "contract test", "description": "made by a test"},
        ("apiapp", "list"): {},
        ("apiapp", "update"): {"app_token": others[0], "active": 1, "app_name": "renamed"},
        ("driver", "list"): {"driver": "2001"},
        ("driver", "create"): {
            "lastname": "Contract",
            "firstname": "Casey",
            "ref_id": "CT-1",
            "email": "casey@example.com",
            "phone": "602-555-0100",
            "alert_pref": 3,
            "timezone": "US/Arizona",
            "driveri_driver_id": "DRV-CT-1",
        },
        ("driver", "update"): {"driver": "2002", "phone": "602-555-0101", "alert_pref": 1},
        ("driver", "delete"): {"driver": "2003"},
        ("driverisync", "read"): {},
        ("driverisync", "update"): {"enabled": 1},
        ("webhook", "create"): {
            "url": "https://receiver.example.com/hooks?account=1",
            "email": "ops@example.com",
            "name": "contract hook",
            "type": "driver",
            "content_type": "json",
            "secret": "s3cret-contract",
        },
        ("webhook", "list"): {},
        ("webhook", "pause"): {"id": webhook},
        ("webhook", "resume"): {"id": webhook},
        ("webhook", "delete"): {"id": webhook},
    }
    # Every served service answers {service}/methods without parameters.
    out = dict({} if method[1] == METHODS else fields[method])
    if "/".join(method) not in SESSIONLESS:
        out["session_token"] = token
    out["reference_tag"] = "contract-check"
    return out


KNOWN_GOOD = [
    pytest.param(vendor, path, verb, id=f"{vendor}-{verb.upper()} {path}")
    for vendor in VENDORS
    for path in sorted(CONTRACT["paths"])
    for verb in ("get", "post")
]


@pytest.mark.parametrize(("vendor", "path", "verb"), KNOWN_GOOD)
def test_known_good_call_answers_200_matching_the_contract(
    vendor: str, path: str, verb: str
) -> None:
    schema = _schema(vendor, "positive", HARNESS.app)
    operation = schema[path][verb.upper()]
    method = tuple(PATH_RE.match(path).groups())  # type: ignore[union-attr]
    fields = _valid_fields(vendor, method)  # type: ignore[arg-type]
    if verb == "get":
        case = operation.Case(query=fields)
    else:
        case = operation.Case(
            body={k: str(v) for k, v in fields.items()},
            media_type="application/x-www-form-urlencoded",
        )
    response = case.call_and_validate()
    assert response.status_code == 200, response.text
    _assert_envelope(case, response, vendor)
    assert response.json()["head"]["reference_tag"] == "contract-check"


@pytest.mark.parametrize("vendor", VENDORS)
def test_spent_quota_answers_429_matching_the_contract(vendor: str) -> None:
    """The quota is off by default, so fuzzing never sees a 429; a quota of 2 makes one."""
    app = make_stack_app(daily_quota=2)
    client = Client(app)
    users = client.get(f"/{vendor}/_mock/credentials").json["accounts"][0]["users"]
    user = next(u for u in users if u["master"])
    login = {"username": user["username"], "app_token": user["app_token"]}
    token = client.get(f"/{vendor}/v2/userauth/login", query_string=login).json["data"]["token"]
    operation = _schema(vendor, "positive", app)["/v2/vehicle/list"]["GET"]
    assert operation.Case(query={"session_token": token}).call_and_validate().status_code == 200
    response = operation.Case(query={"session_token": token}).call_and_validate()
    assert response.status_code == 429
    assert response.json()["errors"][0]["message"] == "too many requests"
    assert int(response.headers["retry-after"][0]) > 0  # schemathesis lower-cases names


UNDECLARED_VERBS = ("PUT", "PATCH", "DELETE", "TRACE")


@pytest.mark.parametrize("vendor", VENDORS)
def test_undeclared_http_methods_answer_405_with_an_allow_header(vendor: str) -> None:
    """RFC 9110 15.5.6: a 405 MUST carry Allow; the body stays the vendor's error envelope."""
    problems = []
    for path in sorted(CONTRACT["paths"]):
        for verb in UNDECLARED_VERBS:
            response = HARNESS.client.open(f"/{vendor}{path}", method=verb)
            body = response.json
            allowed = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
            if (
                response.status_code != 405
                or body["head"]["status"] != "ERROR"
                or [e["code"] for e in body["errors"]] != [405]
                or not {"GET", "POST"} <= allowed
            ):
                problems.append(f"{verb} {path}: {response.status_code}, Allow={sorted(allowed)}")
    assert problems == [], f"{len(problems)} bad answers, e.g. {problems[:3]}"


# -- schemathesis: positive and negative --------------------------------------------------


@schemathesis.pytest.parametrize(**_schemas("positive"))
def test_positive_cases_never_break_the_contract(case: Case) -> None:
    """Schema-valid input: never a 5xx, always an answer the contract describes."""
    vendor = HARNESS.prepare(case)
    response = case.call_and_validate()
    _assert_envelope(case, response, vendor)


@schemathesis.pytest.parametrize(**_schemas("negative"))
def test_negative_cases_never_break_the_contract(case: Case) -> None:
    """Schema-invalid input: refused with a documented 4xx in the vendor's error envelope."""
    vendor = HARNESS.prepare(case)
    response = case.call_and_validate()
    _assert_envelope(case, response, vendor)
