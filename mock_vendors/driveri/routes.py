"""Driveri on the wire: ``/v1/...`` JSON in the ``{data, error}`` envelope.

Every operation is a row of :data:`OPERATIONS`. A view authenticates (Basic for the token
endpoints, a bearer token for the rest), loads its query and body with :mod:`.schemas`,
calls the backend and renders the plain data it gets back with :mod:`.envelope`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

import orjson
from flask import Flask, Response, g, request

from mock_vendors._common.errors import VendorError
from mock_vendors._common.routing import Operation, register_operations

from .auth import basic_credentials, bearer_token
from .backend import DriveriBackend
from .envelope import ok, paged
from .errors import bad_request
from .schemas import (
    ADD_DRIVER,
    ADD_QUERY,
    BULK_DRIVERS,
    DETAIL_QUERY,
    EDIT_DRIVER,
    LIST_QUERY,
    load_bulk,
    load_detail_query,
    load_driver_edit,
    load_new_driver,
    load_query,
)

# Paths whose last part is an id that may hold "/" (leading, trailing or doubled included).
ID_PATHS = re.compile(r"^(/v1/tenants/[^/]+/drivers/|/v1/auth/token/revoke/)(.+)$")
ENCODED_ID = "fleetsim.driveri.encoded_id"
# What every tenant call can answer besides its own statuses: no or a dead token (401),
# someone else's tenant (403), an unknown tenant (404), the quota spent (429).
TENANT_CALL = (401, 403, 404, 429)


# -- request parts ----------------------------------------------------------------------


def _authorization() -> str:
    return request.headers.get("Authorization", "")


def _json_body() -> Any:
    """The JSON body (None when there is none); 400 when it is not JSON."""
    raw = request.get_data()
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("Request body is not valid JSON") from None


def _basic_client(backend: DriveriBackend) -> dict[str, Any]:
    # The journal records the client id (never a secret) of every authenticated call.
    client = backend.client_for_basic(*basic_credentials(_authorization()))
    g.fleetsim_app_token_id = client.get("client_id")
    return client


def _bearer(backend: DriveriBackend) -> dict[str, Any]:
    token = backend.bearer(bearer_token(_authorization()))
    g.fleetsim_app_token_id = token["client_id"]
    return token


def _tenant_call(backend: DriveriBackend, tenant: str) -> None:
    """A bearer call on a tenant: a live token, the caller's tenant, a call left in the quota."""
    token = _bearer(backend)
    backend.check_tenant(token, tenant)
    backend.charge_rate(token["client_id"])


# -- views ------------------------------------------------------------------------------


def issue_token(backend: DriveriBackend) -> Response:
    """``POST /v1/auth/token``."""
    # The SDK posts an empty body with a JSON content type: the body is never read here.
    return ok(backend.issue_token(_basic_client(backend)))


def list_tokens(backend: DriveriBackend) -> Response:
    """``GET /v1/auth/tokens``."""
    return ok(backend.list_tokens(_basic_client(backend)))


def revoke_token(backend: DriveriBackend) -> Response:
    """``DELETE /v1/auth/token/revoke``: the bearer token revokes itself."""
    return ok(backend.revoke(_bearer(backend)))


def revoke_token_by_id(backend: DriveriBackend, token_id: str) -> Response:
    """``DELETE /v1/auth/token/revoke/{accessTokenId}``."""
    return ok(backend.revoke_by_id(_basic_client(backend), _path_id(token_id)))


def list_drivers(backend: DriveriBackend, tenant: str) -> Response:
    """``GET drivers``: a page of drivers with links and the total."""
    _tenant_call(backend, tenant)
    query = load_query(LIST_QUERY, request.args)
    drivers, total = backend.list_drivers(**query)
    return paged({"drivers": drivers}, query["offset"], query["limit"], total)


def shift_drivers(
    backend: DriveriBackend, query: Mapping[str, str], delete: int, insert: int, key: str
) -> None:
    """A ``mutate`` fault after a page of ``GET drivers``: the listing its filters give."""
    filters = load_query(LIST_QUERY, query)
    backend.shift_drivers(filters=filters, delete=delete, insert=insert, key=key)


PAGED_LISTS = {"driveri_list_drivers": shift_drivers}
"""The paged lists a ``mutate`` fault can shift, by endpoint."""


def driver_detail(backend: DriveriBackend, tenant: str) -> Response:
    """``GET driver``: one driver by driverId, email or userName."""
    _tenant_call(backend, tenant)
    return ok({"drivers": [backend.find_driver(**load_detail_query(request.args))]})


def add_driver(backend: DriveriBackend, tenant: str) -> Response:
    """``POST drivers``."""
    _tenant_call(backend, tenant)
    reinstate = load_query(ADD_QUERY, request.args)["reinstate"]
    return ok(backend.add_driver(load_new_driver(_json_body()), reinstate=reinstate))


def add_bulk(backend: DriveriBackend, tenant: str) -> Response:
    """``POST bulk/drivers``: each driver succeeds or fails on its own, reported in a 207."""
    _tenant_call(backend, tenant)
    results = [_bulk_result(backend, item) for item in load_bulk(_json_body())]
    added = sum(1 for r in results if r["status"] == 200)
    return ok({"message": f"{added} of {len(results)} drivers added", "results": results}, 207)


def _bulk_result(backend: DriveriBackend, item: Any) -> dict[str, Any]:
    driver_id = item.get("driverId") if isinstance(item, dict) else None
    driver_id = driver_id if isinstance(driver_id, str) else None  # echoed only as a string
    try:
        message = backend.add_driver(load_new_driver(item), reinstate=False)["message"]
    except VendorError as exc:
        return {"driverId": driver_id, "status": exc.status, "message": exc.message}
    return {"driverId": driver_id, "status": 200, "message": message}


def edit_driver(backend: DriveriBackend, tenant: str, driver_id: str) -> Response:
    """``PUT drivers/{driverId}``: a partial update."""
    _tenant_call(backend, tenant)
    driver_id = _path_id(driver_id)
    body = _json_body()
    # Driveri looks the driver up before it reads the body: an unknown id is a 404 whatever
    # the body holds.
    backend.find_driver(driver_id)
    return ok(backend.edit_driver(driver_id, load_driver_edit(body)))


def configurations(backend: DriveriBackend, tenant: str) -> Response:
    """``GET configurations``: the tenant's status codes."""
    _tenant_call(backend, tenant)
    return ok(backend.configurations())


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        ("POST",), "/v1/auth/token", issue_token, "driveri_issue_token", statuses=(200, 400, 401)
    ),
    Operation(("GET",), "/v1/auth/tokens", list_tokens, "driveri_list_tokens", statuses=(200, 401)),
    Operation(
        ("DELETE",),
        "/v1/auth/token/revoke",
        revoke_token,
        "driveri_revoke_token",
        statuses=(200, 401),
    ),
    Operation(
        ("DELETE",),
        "/v1/auth/token/revoke/<path:token_id>",
        revoke_token_by_id,
        "driveri_revoke_token_by_id",
        statuses=(200, 401, 404),
    ),
    Operation(
        ("GET",),
        "/v1/tenants/<tenant>/drivers",
        list_drivers,
        "driveri_list_drivers",
        query=LIST_QUERY,
        statuses=(200, 400, *TENANT_CALL),
    ),
    Operation(
        ("POST",),
        "/v1/tenants/<tenant>/drivers",
        add_driver,
        "driveri_add_driver",
        query=ADD_QUERY,
        body=ADD_DRIVER,
        statuses=(200, 400, *TENANT_CALL, 409),
    ),
    Operation(
        ("GET",),
        "/v1/tenants/<tenant>/driver",
        driver_detail,
        "driveri_driver_detail",
        query=DETAIL_QUERY,
        statuses=(200, 400, *TENANT_CALL),
    ),
    Operation(
        ("POST",),
        "/v1/tenants/<tenant>/bulk/drivers",
        add_bulk,
        "driveri_add_bulk",
        body=BULK_DRIVERS,
        statuses=(207, 400, *TENANT_CALL),
    ),
    Operation(
        ("PUT",),
        "/v1/tenants/<tenant>/drivers/<path:driver_id>",
        edit_driver,
        "driveri_edit_driver",
        body=EDIT_DRIVER,
        statuses=(200, 400, *TENANT_CALL, 409),
    ),
    Operation(
        ("GET",),
        "/v1/tenants/<tenant>/configurations",
        configurations,
        "driveri_configurations",
        statuses=(200, *TENANT_CALL),
    ),
)


def register_routes(app: Flask) -> None:
    """Mount every Driveri operation on a vendor app."""
    register_operations(app, OPERATIONS)


# -- ids holding "/" --------------------------------------------------------------------


def encode_path_ids(wsgi_app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware: re-encode a path id as one segment before Flask routes the request.

    The server has already decoded ``%2F``, and Werkzeug's router cannot match an id that
    starts or ends with "/" or holds "//" (it redirects or answers 404/405). Everything after
    ``drivers/`` (or ``revoke/``) is the id, so it is percent-encoded again here and decoded
    once more in the view.
    """

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        match = ID_PATHS.match(path)
        if match:
            raw_id = match.group(2).encode("latin-1").decode("utf-8", "replace")
            environ["PATH_INFO"] = match.group(1) + quote(raw_id, safe="")
            environ[ENCODED_ID] = True
        return wsgi_app(environ, start_response)

    return middleware


def _path_id(value: str) -> str:
    """The id a path carried (undoing :func:`encode_path_ids`)."""
    return unquote(value) if request.environ.get(ENCODED_ID) else value
