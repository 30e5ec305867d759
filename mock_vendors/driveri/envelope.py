"""Driveri's answer shape: ``{"data": ..., "error": null}`` on success (paged lists add
``links`` and ``totalCount``), ``{"data": null, "error": {...}}`` with the HTTP status as
``error.status`` on failure, as Spring Boot renders it."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from mock_vendors._common.errors import VendorError, retry_after_header
from mock_vendors._common.jsonio import dumps, raw_json_response
from mock_vendors._common.routing import current_runtime

# messageCode of the errors the framework raises (faults, unknown paths, wrong methods, bugs).
FRAMEWORK_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 429: "TOO_MANY_REQUESTS"}


def ok(data: Any, status: int = 200, **top: Any) -> Response:
    """A success answer: ``data``, any extra top-level members, then a null ``error``."""
    return raw_json_response(dumps({"data": data, **top, "error": None}), status)


def paged(data: Any, offset: int, limit: int, total: int) -> Response:
    """A page of a list with its ``links`` (full URLs) and ``totalCount``."""
    return ok(data, links=page_links(offset, limit, total), totalCount=total)


def page_links(offset: int, limit: int, total: int) -> dict[str, str | None]:
    """self/next/prev/first/last URLs: this request's query with another offset."""
    base = request.host_url.rstrip("/") + request.script_root + request.path
    other = [(k, v) for k, v in request.args.items(multi=True) if k not in ("offset", "limit")]

    def at(start: int) -> str:
        return f"{base}?{urlencode([*other, ('offset', start), ('limit', limit)])}"

    last_start = max(0, (total - 1) // limit * limit) if total else 0
    return {
        "self": at(offset),
        "next": at(offset + limit) if offset + limit < total else None,
        "prev": at(max(0, offset - limit)) if offset > 0 else None,
        "first": at(0),
        "last": at(last_start),
    }


def render_error(exc: VendorError) -> Response:
    """Any error in Driveri's shape, with ``Retry-After`` when the client must wait."""
    code = exc.code or FRAMEWORK_CODES.get(
        exc.status, "INTERNAL_ERROR" if exc.status >= 500 else "INVALID_REQUEST"
    )
    body = {
        "data": None,
        "error": {
            "timestamp": current_runtime().stack.clock.now().isoformat(timespec="milliseconds"),
            "status": exc.status,
            "error": _reason(exc.status),
            "message": exc.message,
            "messageCode": code,
            "path": request.script_root + request.path,
        },
    }
    headers = {"Retry-After": retry_after_header(exc.retry_after)} if exc.retry_after else None
    return raw_json_response(dumps(body), exc.status, headers)


def _reason(status: int) -> str:
    """The HTTP reason phrase (Spring puts it under ``error``)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
