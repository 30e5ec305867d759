"""Calls and assertions shared by the GPS Insight / Wex test modules."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client, TestResponse


def call(
    client: Client, vendor: str, path: str, token: str | None = None, **params: Any
) -> TestResponse:
    """GET ``/<vendor>/v2/<path>`` with query parameters (and the session, if given)."""
    if token is not None:
        params.setdefault("session_token", token)
    return client.get(f"/{vendor}/v2/{path}", query_string=params)


def advance(client: Client, vendor: str, seconds: float) -> None:
    """Move the stack's virtual clock forward."""
    response = client.post(f"/{vendor}/_mock/clock", json={"advance": seconds})
    assert response.status_code == 200, response.get_data(as_text=True)


def assert_error(response: TestResponse, code: int, *fragments: str) -> dict[str, Any]:
    """The vendor's error envelope with ``code`` as HTTP status and body code."""
    body = response.json
    assert response.status_code == code, response.get_data(as_text=True)
    assert body["head"]["status"] == "ERROR"
    assert body["data"] is None
    error = body["errors"][0]
    assert error["code"] == code
    assert error["message"] == error["error"]
    for fragment in fragments:
        assert fragment in error["message"]
    return error


def post(client: Client, vendor: str, path: str, token: str | None = None, **params: Any):
    """POST ``/<vendor>/v2/<path>`` with a form-encoded body and no query string."""
    if token is not None:
        params.setdefault("session_token", token)
    return client.post(f"/{vendor}/v2/{path}", data={k: str(v) for k, v in params.items()})


def ok(response: TestResponse) -> Any:
    """The ``data`` of a successful answer."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["head"]["status"] == "OK"
    return response.json["data"]


def backend_of(app: Any, vendor: str) -> Any:
    """The live backend of a vendor in a stack app (for state the API does not show)."""
    return app.vendors[vendor].extensions["fleetsim"].backend


def role_row(users: dict[str, dict[str, Any]], role: str) -> dict[str, Any]:
    """The credential row of the ``master``, ``dispatch`` (all vehicles) or ``restricted``
    user among ``creds(vendor)``."""
    rows = list(users.values())
    if role == "master":
        return next(u for u in rows if u["master"])
    if role == "dispatch":
        return next(u for u in rows if not u["master"] and "ALL VEHICLES" in u["vehicle_groups"])
    return next(u for u in rows if "ALL VEHICLES" not in u["vehicle_groups"])
