"""Whip Around public API v4 on the wire: JSON in and out, ``x-api-key``, Laravel errors.

Each request is checked in the vendor's order: the key (401), the key's type (403), the path
(404 / 409), then the body or query (422). Unknown paths and wrong methods answer in the same
Laravel shape, never HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from mock_vendors._common.jsonio import dumps, raw_json_response

from .backend import WhipAroundBackend, asset_row, defect_row, key_id
from .errors import ApiError, invalid
from .schemas import (
    ASSET,
    DEFECT_CREATE,
    DEFECT_PATCH,
    DEFECT_QUERY,
    DTC_REPORT,
    ENGINE_HOURS,
    LOCATION,
    MILEAGE,
    PAGE_QUERY,
    Page,
    load,
)

API_PREFIX = "/api/public/v4"
API_KEY_HEADER = "x-api-key"
FAULT_MESSAGES = {
    429: "Too Many Attempts.",
    500: "Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

NOT_JSON_TYPE = "The request body must be sent as JSON, with Content-Type: application/json."

Handler = Callable[..., Response]


def _backend() -> WhipAroundBackend:
    return current_app.extensions["fleetsim"].backend  # type: ignore[no-any-return]


# -- requests and answers ------------------------------------------------------------------


def _query() -> dict[str, str]:
    return request.args.to_dict()


def _body() -> dict[str, Any]:
    """The JSON object posted; an empty body is an empty object (Laravel then names each
    required field). A body that is not a JSON object, or not sent as JSON, is a 422 on
    ``body`` (Laravel would silently ignore it and complain about every field instead)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise invalid({"body": [NOT_JSON_TYPE]})
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid({"body": ["The request body must be valid JSON."]}) from None
    if not isinstance(body, dict):
        raise invalid({"body": ["The request body must be a JSON object."]})
    return body


def _data(row: dict[str, Any], status: int = 200) -> Response:
    return raw_json_response(b'{"data":' + orjson.dumps(row) + b"}", status)


def render_error(exc: ApiError, headers: dict[str, str] | None = None) -> Response:
    """An ApiError as Laravel writes it: ``{message}`` or ``{message, errors}``."""
    headers = dict(headers or {})
    if exc.retry_after:
        headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
    return raw_json_response(dumps(exc.body()), exc.status, headers or None)


def error_response(status: int, message: str, retry_after: float | None) -> Response:
    """Faults, unknown paths, wrong methods and framework errors, in Laravel's shape."""
    path = request.path.lstrip("/") or "/"
    routing = request.routing_exception
    headers: dict[str, str] = {}
    if g.get("fleetsim_fault") is not None:
        message = FAULT_MESSAGES.get(status, message)
    elif status == 404 and isinstance(routing, NotFound):
        message = f"The route {path} could not be found."
    elif status == 405 and isinstance(routing, MethodNotAllowed):
        allowed = sorted(m for m in routing.valid_methods or [] if m != "OPTIONS")
        headers["Allow"] = ", ".join(allowed)
        message = (
            f"The {request.method} method is not supported for route {path}. "
            f"Supported methods: {', '.join(allowed)}."
        )
    elif status >= 500:
        message = FAULT_MESSAGES.get(status, "Server Error")
    return render_error(ApiError(status, message, retry_after=retry_after), headers)


# -- operations ----------------------------------------------------------------------------


def list_assets(b: WhipAroundBackend) -> Response:
    """``GET assets``."""
    page = Page.from_query(load(PAGE_QUERY, _query()))
    return raw_json_response(b.list_assets(page))


def create_asset(b: WhipAroundBackend) -> Response:
    """``POST assets`` -> 201 ``{data: asset}``."""
    values = load(ASSET, _body())
    return _data(asset_row(b.create_asset(values)), 201)


def read_asset(b: WhipAroundBackend, id: str) -> Response:
    """``GET assets/{id}``."""
    return _data(asset_row(b.asset_by_id(id)))


def update_asset(b: WhipAroundBackend, id: str) -> Response:
    """``PATCH assets/{id}``: partial."""
    asset = b.asset_by_id(id)
    values = load(ASSET, _body(), partial=True)
    return _data(asset_row(b.update_asset(asset, values)))


def delete_asset(b: WhipAroundBackend, id: str) -> Response:
    """``DELETE assets/{id}`` -> 204, no body [assumed]."""
    b.delete_asset(b.asset_by_id(id))
    return Response(status=204)


def post_mileage(b: WhipAroundBackend, idOrVin: str) -> Response:
    """``POST assets/{idOrVin}/mileage`` -> 200 with the updated asset [assumed]."""
    asset = b.resolve_asset(idOrVin)
    v = load(MILEAGE, _body())
    return _data(asset_row(b.post_mileage(asset, v["reading"], v["unit"], v.get("recorded_at"))))


def post_engine_hours(b: WhipAroundBackend, idOrVin: str) -> Response:
    """``POST assets/{idOrVin}/engine-hours`` -> 200 with the updated asset [assumed]."""
    asset = b.resolve_asset(idOrVin)
    v = load(ENGINE_HOURS, _body())
    return _data(asset_row(b.post_engine_hours(asset, v["reading"], v.get("recorded_at"))))


def post_location(b: WhipAroundBackend, idOrVin: str) -> Response:
    """``POST assets/{idOrVin}/location`` -> 200 with the updated asset [assumed]."""
    asset = b.resolve_asset(idOrVin)
    v = load(LOCATION, _body())
    updated = b.post_location(asset, v["latitude"], v["longitude"], v.get("recorded_at"))
    return _data(asset_row(updated))


def post_dtc_defect(b: WhipAroundBackend, idOrVin: str) -> Response:
    """``POST assets/{idOrVin}/dtc-defects`` -> 201 new defect, or 200 the open one repeated."""
    asset = b.resolve_asset(idOrVin)
    v = load(DTC_REPORT, _body())
    defect, created = b.report_dtc(asset, v["dtc_code"], v.get("description"), v.get("occurred_at"))
    return _data(defect_row(defect), 201 if created else 200)


def list_defects(b: WhipAroundBackend) -> Response:
    """``GET defects``."""
    values = load(DEFECT_QUERY, _query())
    return raw_json_response(b.list_defects(values, Page.from_query(values)))


def create_defect(b: WhipAroundBackend) -> Response:
    """``POST defects`` -> 201 ``{data: defect}``."""
    values = load(DEFECT_CREATE, _body())
    return _data(defect_row(b.create_defect(values)), 201)


def update_defect(b: WhipAroundBackend, id: str) -> Response:
    """``PATCH defects/{id}``."""
    defect = b.defect_by_id(id)
    values = load(DEFECT_PATCH, _body(), partial=True)
    return _data(defect_row(b.update_defect(defect, values)))


# -- routing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One operation: method, path under the API base, handler, and whether it is a
    telematics write (integration key only)."""

    method: str
    path: str
    handler: Handler
    telematics: bool = False


ROUTES = (
    Route("GET", "/assets", list_assets),
    Route("POST", "/assets", create_asset),
    Route("GET", "/assets/<id>", read_asset),
    Route("PATCH", "/assets/<id>", update_asset),
    Route("DELETE", "/assets/<id>", delete_asset),
    Route("POST", "/assets/<idOrVin>/mileage", post_mileage, telematics=True),
    Route("POST", "/assets/<idOrVin>/engine-hours", post_engine_hours, telematics=True),
    Route("POST", "/assets/<idOrVin>/location", post_location, telematics=True),
    Route("POST", "/assets/<idOrVin>/dtc-defects", post_dtc_defect, telematics=True),
    Route("GET", "/defects", list_defects),
    Route("POST", "/defects", create_defect),
    Route("PATCH", "/defects/<id>", update_defect),
)
"""Every operation the emulator serves (the contract's drift test reads this)."""


def _view(route: Route) -> Handler:
    def view(**path: str) -> Response:
        backend = _backend()
        try:
            with backend.lock:
                key = backend.authenticate(request.headers.get(API_KEY_HEADER))
                g.fleetsim_app_token_id = key_id(key)
                if route.telematics:
                    backend.require_integration(key)
                return route.handler(backend, **path)
        except ApiError as exc:
            return render_error(exc)

    return view


def register_routes(app: Flask) -> None:
    """Mount every operation under ``/api/public/v4`` on a vendor app."""
    for route in ROUTES:
        app.add_url_rule(
            API_PREFIX + route.path,
            f"whiparound.{route.method.lower()}.{route.path}",
            _view(route),
            methods=[route.method],
            strict_slashes=False,
            merge_slashes=False,
            # OPTIONS is an undeclared method like any other: a JSON 405 with Allow, not
            # Flask's empty text/html 200.
            provide_automatic_options=False,
        )
