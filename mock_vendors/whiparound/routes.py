"""Whip Around public API v4 on the wire: JSON in and out, ``x-api-key``, Laravel errors.

Each request is checked in the vendor's order: the key (401), the key's type (403), the path
(404 / 409), then the body or query (422). The key is checked around every view (the table's
``_behind_key``); a view looks its path up (``find_asset``, ``resolve_asset``, ``find_defect``)
before it loads the body, then makes the write with the id it got. Unknown paths and wrong
methods answer in the same Laravel shape, never HTML (``envelope.render_error``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson
from flask import Flask, Response, g, request

from mock_vendors._common.routing import Operation, cached_json, register_operations

from . import envelope
from .auth import key_id, require_integration
from .backend import WhipAroundBackend
from .errors import NOT_AN_OBJECT, NOT_JSON, NOT_JSON_TYPE, invalid_body
from .schemas import (
    ASSET,
    ASSET_PATCH,
    DEFECT_CREATE,
    DEFECT_PATCH,
    DEFECT_QUERY,
    DTC_REPORT,
    ENGINE_HOURS,
    LOCATION,
    MILEAGE,
    PAGE_QUERY,
    load,
)

API_PREFIX = "/api/public/v4"
API_KEY_HEADER = "x-api-key"
INTEGRATION_ONLY = frozenset({"postMileage", "postEngineHours", "postLocation", "postDtcDefect"})
"""The telematics writes: operations only an integration key may call (403 for a personal one)."""


# -- requests ------------------------------------------------------------------------------


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
        raise invalid_body(NOT_JSON_TYPE)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_body(NOT_JSON) from None
    if not isinstance(body, dict):
        raise invalid_body(NOT_AN_OBJECT)
    return body


# -- assets --------------------------------------------------------------------------------


def list_assets(b: WhipAroundBackend) -> Response:
    """``GET assets``: one page, served from the response cache while the state stands."""
    page = load(PAGE_QUERY, _query())["page"]
    return envelope.page(cached_json(("assets", page), lambda: b.list_assets(page=page)))


def create_asset(b: WhipAroundBackend) -> Response:
    """``POST assets`` -> 201 ``{data: asset}``."""
    return envelope.data(b.create_asset(**load(ASSET, _body())), 201)


def read_asset(b: WhipAroundBackend, id: str) -> Response:
    """``GET assets/{id}``."""
    return envelope.data(b.read_asset(b.find_asset(id)))


def update_asset(b: WhipAroundBackend, id: str) -> Response:
    """``PATCH assets/{id}``: partial."""
    asset_id = b.find_asset(id)
    return envelope.data(b.update_asset(asset_id, **load(ASSET_PATCH, _body())))


def delete_asset(b: WhipAroundBackend, id: str) -> Response:
    """``DELETE assets/{id}`` -> 204, no body [assumed]."""
    b.delete_asset(b.find_asset(id))
    return envelope.no_content()


# -- telematics writes ---------------------------------------------------------------------


def post_mileage(b: WhipAroundBackend, idOrVin: str) -> Response:
    """``POST assets/{idOrVin}/mileage`` -> 200 with the updated asset [assumed]."""
    asset_id = b.resolve_asset(idOrVin)
    return envelope.data(b.post_mileage(asset_id, **load(MILEAGE, _body())))


def post_engine_hours(b: WhipAroundBackend, idOrVin: str) -> Response:
    """``POST assets/{idOrVin}/engine-hours`` -> 200 with the updated asset [assumed]."""
    asset_id = b.resolve_asset(idOrVin)
    return envelope.data(b.post_engine_hours(asset_id, **load(ENGINE_HOURS, _body())))


def post_location(b: WhipAroundBackend, idOrVin: str) -> Response:
    """``POST assets/{idOrVin}/location`` -> 200 with the updated asset [assumed]."""
    asset_id = b.resolve_asset(idOrVin)
    return envelope.data(b.post_location(asset_id, **load(LOCATION, _body())))


def post_dtc_defect(b: WhipAroundBackend, idOrVin: str) -> Response:
    """``POST assets/{idOrVin}/dtc-defects`` -> 201 new defect, or 200 the open one repeated."""
    asset_id = b.resolve_asset(idOrVin)
    defect, created = b.report_dtc(asset_id, **load(DTC_REPORT, _body()))
    return envelope.data(defect, 201 if created else 200)


# -- defects -------------------------------------------------------------------------------


def list_defects(b: WhipAroundBackend) -> Response:
    """``GET defects``: one filtered page, served from the response cache while the state
    stands."""
    v = load(DEFECT_QUERY, _query())
    # The time bounds load as canonical text (UTC, whole seconds): one instant, one key.
    key = (
        "defects",
        v.get("asset_id"),
        v.get("status"),
        v.get("created_after"),
        v.get("created_before"),
        v["page"],
    )
    return envelope.page(cached_json(key, lambda: b.list_defects(**v)))


def create_defect(b: WhipAroundBackend) -> Response:
    """``POST defects`` -> 201 ``{data: defect}``."""
    return envelope.data(b.create_defect(**load(DEFECT_CREATE, _body())), 201)


def update_defect(b: WhipAroundBackend, id: str) -> Response:
    """``PATCH defects/{id}``."""
    defect_id = b.find_defect(id)
    return envelope.data(b.update_defect(defect_id, **load(DEFECT_PATCH, _body())))


# -- pagination under mutation ---------------------------------------------------------------


def shift_assets(
    b: WhipAroundBackend, query: Mapping[str, str], delete: int, insert: int, key: str
) -> None:
    """A ``mutate`` fault after a page of ``GET assets`` (the page itself does not matter)."""
    b.shift_assets(delete=delete, insert=insert, key=key)


def shift_defects(
    b: WhipAroundBackend, query: Mapping[str, str], delete: int, insert: int, key: str
) -> None:
    """A ``mutate`` fault after a page of ``GET defects``: the listing its filters give."""
    filters = load(DEFECT_QUERY, query)
    del filters["page"]
    b.shift_defects(filters=filters, delete=delete, insert=insert, key=key)


PAGED_LISTS = {"listAssets": shift_assets, "listDefects": shift_defects}
"""The paged lists a ``mutate`` fault can shift, by endpoint."""


# -- the table -----------------------------------------------------------------------------


def _behind_key(op: Operation) -> Operation:
    """``op`` with its view behind the API key: 401 without a known key, then 403 for a
    personal key on an INTEGRATION_ONLY operation. The key's name goes to the journal."""
    view, integration_only = op.view, op.name in INTEGRATION_ONLY

    @functools.wraps(view)
    def checked(b: WhipAroundBackend, **path: str) -> Response:
        key = b.authenticate(request.headers.get(API_KEY_HEADER))
        g.fleetsim_app_token_id = key_id(key)
        if integration_only:
            require_integration(key)
        return view(b, **path)

    return replace(op, view=checked)


# The statuses each kind of operation answers (faults aside).
READ = (200, 401, 404)
LIST = (200, 401, 422)
CREATE = (201, 401, 422)
UPDATE = (200, 401, 404, 422)
WRITE = (200, 401, 403, 404, 409, 422)  # a telematics write: key, key type, path, body

OPERATIONS = tuple(
    _behind_key(op)
    for op in (
        Operation(("GET",), "/assets", list_assets, "listAssets", query=PAGE_QUERY, statuses=LIST),
        Operation(("POST",), "/assets", create_asset, "createAsset", body=ASSET, statuses=CREATE),
        Operation(("GET",), "/assets/<id>", read_asset, "readAsset", statuses=READ),
        Operation(
            ("PATCH",),
            "/assets/<id>",
            update_asset,
            "updateAsset",
            body=ASSET_PATCH,
            statuses=UPDATE,
        ),
        Operation(
            ("DELETE",), "/assets/<id>", delete_asset, "deleteAsset", statuses=(204, 401, 404)
        ),
        Operation(
            ("POST",),
            "/assets/<idOrVin>/mileage",
            post_mileage,
            "postMileage",
            body=MILEAGE,
            statuses=WRITE,
        ),
        Operation(
            ("POST",),
            "/assets/<idOrVin>/engine-hours",
            post_engine_hours,
            "postEngineHours",
            body=ENGINE_HOURS,
            statuses=WRITE,
        ),
        Operation(
            ("POST",),
            "/assets/<idOrVin>/location",
            post_location,
            "postLocation",
            body=LOCATION,
            statuses=WRITE,
        ),
        Operation(
            ("POST",),
            "/assets/<idOrVin>/dtc-defects",
            post_dtc_defect,
            "postDtcDefect",
            body=DTC_REPORT,
            statuses=(201, *WRITE),
        ),
        Operation(
            ("GET",), "/defects", list_defects, "listDefects", query=DEFECT_QUERY, statuses=LIST
        ),
        Operation(
            ("POST",),
            "/defects",
            create_defect,
            "createDefect",
            body=DEFECT_CREATE,
            statuses=CREATE,
        ),
        Operation(
            ("PATCH",),
            "/defects/<id>",
            update_defect,
            "updateDefect",
            body=DEFECT_PATCH,
            statuses=UPDATE,
        ),
    )
)
"""Every operation the emulator serves, named by the contract's operationId (the drift test
compares this table with ``contracts/whiparound.openapi.json``)."""


def register_routes(app: Flask) -> None:
    """Mount every operation under ``/api/public/v4`` on a vendor app."""
    register_operations(app, OPERATIONS, prefix=API_PREFIX)
