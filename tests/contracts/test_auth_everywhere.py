"""Auth on every operation, the operations read from each pinned contract (never a hand list):
a call without credentials, or with credentials the vendor does not know (made up, logged out,
revoked), gets the vendor's own auth error and nothing else -- never a 2xx, never a 5xx.

- GPS Insight and Wex: auth is the ``session_token`` parameter; the answer is the envelope's
  403 "Forbidden (session does not exist)" on GET and POST of every session-bound method, and
  login refuses a wrong App Token with its own 403. Only login and heartbeat/* go without one.
- Driveri: a bearer token it never issued or has revoked, and Basic credentials with a wrong
  secret, answer its 401 error body. (No credentials at all and the other scheme:
  ``test_driveri_contract.py``.)
- Whip Around: no key and an unknown key answer Laravel's 401 on every operation, and a
  personal key its 403 on the telematics writes: ``test_whiparound_contract.py``.

One request per operation and kind, made from the operation's parameters: well-formed values,
so auth is the only thing wrong with it.
"""

from __future__ import annotations

import base64
from typing import Any

import contract_helpers as contracts
import pytest
from werkzeug.test import Client

from helpers import PLATFORM_VENDORS, make_stack_app
from mock_vendors.gpsinsight.errors import FORBIDDEN_LOGIN, FORBIDDEN_SESSION

GPS = contracts.load_contract("gpsinsight")
DRIVERI = contracts.load_contract("driveri")
LOGIN = "/v2/userauth/login"
UNKNOWN_SESSION = "0123456789abcdef" * 2  # matches the contract's SessionToken pattern
BRANDS = {"gpsinsight": "GPS Insight", "wex": "Wex Telematics"}


@pytest.fixture(scope="module")
def client() -> Client:
    """One in-process stack for the module (every request here is refused: nothing changes)."""
    return Client(make_stack_app())


# -- GPS Insight and Wex -------------------------------------------------------------------


def _session_bound(path: str) -> bool:
    """Whether the contract makes the method take a ``session_token``."""
    refs = [p.get("$ref", "") for p in GPS["paths"][path]["get"]["parameters"]]
    return "#/components/parameters/SessionToken" in refs


def _gps_call(client: Client, vendor: str, path: str, verb: str, fields: dict[str, str]) -> Any:
    url = f"/{vendor}{path}"
    if verb == "get":
        return client.get(url, query_string=fields)
    return client.post(url, data=fields)


def _gps_refusal(response: Any, vendor: str, status: int, message: str) -> str | None:
    """What is wrong with ``response`` as the vendor's envelope error, or None."""
    body = response.json
    expected = [{"code": status, "message": message, "error": message}]
    if response.status_code != status or body is None:
        return f"{response.status_code}: {response.get_data(as_text=True)[:120]}"
    head = body["head"]
    if (head["status"], head["brand"], body["data"], body["errors"]) != (
        "ERROR",
        BRANDS[vendor],
        None,
        expected,
    ):
        return f"not the envelope error: {body}"
    return None


def _logged_out_session(client: Client, vendor: str) -> str:
    """A real session of the Master User, logged out again."""
    accounts = client.get(f"/{vendor}/_mock/credentials").json["accounts"]
    user = next(u for account in accounts for u in account["users"] if u["master"])
    login = {"username": user["username"], "app_token": user["app_token"]}
    token = str(client.get(f"/{vendor}{LOGIN}", query_string=login).json["data"]["token"])
    assert client.get(f"/{vendor}/v2/userauth/logout", query_string={"session_token": token})
    return token


SESSION_KINDS = ["none", "unknown", "logged-out"]


def test_only_login_and_heartbeat_go_without_a_session_in_the_contract() -> None:
    sessionless = {path for path in GPS["paths"] if not _session_bound(path)}
    assert sessionless == {LOGIN, "/v2/heartbeat/beat", "/v2/heartbeat/repeat"}


@pytest.mark.parametrize("kind", SESSION_KINDS)
@pytest.mark.parametrize("vendor", PLATFORM_VENDORS)
def test_every_session_bound_method_refuses_a_missing_or_dead_session_with_the_envelope_403(
    client: Client, vendor: str, kind: str
) -> None:
    token = {"none": None, "unknown": UNKNOWN_SESSION}.get(kind)
    if kind == "logged-out":
        token = _logged_out_session(client, vendor)
    fields = {} if token is None else {"session_token": token}
    problems, checked = {}, 0
    for path in sorted(GPS["paths"]):
        if not _session_bound(path):
            continue
        for verb in ("get", "post"):
            response = _gps_call(client, vendor, path, verb, fields)
            problem = _gps_refusal(response, vendor, 403, FORBIDDEN_SESSION)
            checked += 1
            if problem:
                problems[f"{verb.upper()} {path}"] = problem
    assert checked == 2 * (len(GPS["paths"]) - 3)
    assert problems == {}


@pytest.mark.parametrize("verb", ["get", "post"])
@pytest.mark.parametrize("vendor", PLATFORM_VENDORS)
def test_login_refuses_a_wrong_app_token_with_the_envelope_403(
    client: Client, vendor: str, verb: str
) -> None:
    accounts = client.get(f"/{vendor}/_mock/credentials").json["accounts"]
    username = accounts[0]["users"][0]["username"]
    fields = {"username": username, "app_token": "f" * 32}
    response = _gps_call(client, vendor, LOGIN, verb, fields)
    assert _gps_refusal(response, vendor, 403, FORBIDDEN_LOGIN) is None


@pytest.mark.parametrize("verb", ["get", "post"])
@pytest.mark.parametrize("vendor", PLATFORM_VENDORS)
def test_login_without_credentials_answers_the_envelope_400_naming_the_username(
    client: Client, vendor: str, verb: str
) -> None:
    response = _gps_call(client, vendor, LOGIN, verb, {})
    message = "Missing required parameter: username"
    assert _gps_refusal(response, vendor, 400, message) is None


# -- Driveri -------------------------------------------------------------------------------

DRIVERI_OPERATIONS = [
    pytest.param(method.upper(), path, id=f"{method.upper()} {path}")
    for path, item in sorted(DRIVERI["paths"].items())
    for method in item
]


def _uses_basic(method: str, path: str) -> bool:
    return "basicAuth" in DRIVERI["paths"][path][method.lower()]["security"][0]


def _driveri_url(client: Client, path: str) -> str:
    tenant = client.get("/driveri/_mock/credentials").json["clients"][0]["tenant"]
    values = {"tenantUniqueName": tenant, "driverId": "DRV-1", "accessTokenId": "some-token-id"}
    return "/driveri" + path.format(**values)


def _driveri_body(method: str) -> dict[str, Any]:
    if method in ("POST", "PUT"):
        return {"json": {"driverId": "X1", "firstName": "Al", "drivers": [{}]}}
    return {}


def _revoked_bearer(client: Client) -> str:
    """A bearer token the vendor issued and then revoked."""
    basic = client.get("/driveri/_mock/credentials").json["clients"][0]["basic_token"]
    headers = {"Authorization": f"Basic {basic}"}
    token = client.post("/driveri/v1/auth/token", headers=headers).json["data"]["accessToken"]
    mine = {"Authorization": f"bearer {token}"}
    revoke = client.delete("/driveri/v1/auth/token/revoke", headers=mine)
    assert revoke.status_code == 200, revoke.get_data(as_text=True)
    return f"bearer {token}"


def _bad_authorization(client: Client, method: str, path: str, kind: str) -> str:
    """Made up: a client id or token the vendor never issued. Dead: the right client id with
    a wrong secret, or a token the vendor issued and revoked."""
    if _uses_basic(method, path):
        client_id = client.get("/driveri/_mock/credentials").json["clients"][0]["client_id"]
        pair = f"{client_id}:wrong-secret" if kind == "dead" else "no-such-client:secret"
        return "Basic " + base64.b64encode(pair.encode()).decode()
    return _revoked_bearer(client) if kind == "dead" else "bearer " + "0" * 40


@pytest.mark.parametrize("kind", ["made-up", "dead"])
@pytest.mark.parametrize(("method", "path"), DRIVERI_OPERATIONS)
def test_every_driveri_operation_refuses_credentials_it_does_not_know_with_its_401(
    client: Client, method: str, path: str, kind: str
) -> None:
    url = _driveri_url(client, path)
    headers = {"Authorization": _bad_authorization(client, method, path, kind)}
    response = client.open(url, method=method, headers=headers, **_driveri_body(method))
    body = response.json
    assert response.status_code == 401, response.get_data(as_text=True)
    assert body["data"] is None
    assert (body["error"]["status"], body["error"]["messageCode"]) == (401, "UNAUTHORIZED")
    assert body["error"]["path"] == url
