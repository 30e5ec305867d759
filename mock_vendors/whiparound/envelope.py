"""Whip Around's answer shape: ``{data: ...}`` on success, Laravel's ``{message}`` or
``{message, errors}`` on error, JSON in both cases (never HTML, not even for an unknown path)."""

from __future__ import annotations

from typing import Any

from flask import Response, g, request

from mock_vendors._common.errors import VendorError, retry_after_header
from mock_vendors._common.jsonio import dumps, raw_json_response

from .errors import FAULT_MESSAGES, SERVER_ERROR, method_not_supported, route_not_found


def data(value: Any, status: int = 200) -> Response:
    """``{"data": value}``."""
    return raw_json_response(dumps({"data": value}), status)


def page(body: bytes) -> Response:
    """A collection page (``{data, pagination}``), already serialised by the response cache."""
    return raw_json_response(body)


def no_content() -> Response:
    """204 without a body."""
    return Response(status=204)


def render_error(exc: VendorError) -> Response:
    """A VendorError as Laravel writes it; framework errors (faults, unknown paths, wrong
    methods, crashes) in Laravel's own words."""
    headers: dict[str, str] = {}
    message = exc.message if exc.origin is None else _framework_message(exc, headers)
    if exc.retry_after:
        headers["Retry-After"] = retry_after_header(exc.retry_after)
    body = (
        {"message": message} if exc.fields is None else {"message": message, "errors": exc.fields}
    )
    return raw_json_response(dumps(body), exc.status, headers or None)


def _framework_message(exc: VendorError, headers: dict[str, str]) -> str:
    path = request.path.lstrip("/") or "/"
    # Whenever a fault was picked for the request (a latency, body or drop fault too), its
    # framework errors take the fault texts: the wire has always answered so.
    if exc.origin == "fault" or g.get("fleetsim_fault") is not None:
        return FAULT_MESSAGES.get(exc.status, exc.message)
    if exc.origin == "route":
        return route_not_found(path)
    if exc.origin == "method":
        valid = getattr(request.routing_exception, "valid_methods", None) or []
        allowed = sorted(m for m in valid if m != "OPTIONS")
        headers["Allow"] = ", ".join(allowed)
        return method_not_supported(request.method, path, allowed)
    if exc.status >= 500:
        return FAULT_MESSAGES.get(exc.status, SERVER_ERROR)
    return exc.message
