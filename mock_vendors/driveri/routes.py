"""Driveri on the wire: ``/v1/...`` JSON in the ``{data, error}`` envelope."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, unquote, urlencode

import orjson
from flask import Flask, Response, current_app, g, request

from mock_vendors._common.jsonio import dumps, raw_json_response

from .backend import DriveriBackend
from .errors import DriveriError, bad_request

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
TRUE_WORDS = {"true", "1"}
FALSE_WORDS = {"false", "0"}
# Paths whose last part is an id that may hold "/" (leading, trailing or doubled included).
ID_PATHS = re.compile(r"^(/v1/tenants/[^/]+/drivers/|/v1/auth/token/revoke/)(.+)$")
ENCODED_ID = "fleetsim.driveri.encoded_id"


def _backend() -> DriveriBackend:
    return current_app.extensions["fleetsim"].backend  # type: ignore[no-any-return]


def _ok(data: Any, status: int = 200, **top: Any) -> Response:
    return raw_json_response(dumps({"data": data, **top, "error": None}), status)


def error_body(status: int, message: str, code: str) -> dict[str, Any]:
    """The ``{data, error}`` document for an error."""
    exc = DriveriError(status, message, code)
    return {
        "data": None,
        "error": {
            "timestamp": _backend().clock.now().isoformat(timespec="milliseconds"),
            "status": status,
            "error": exc.reason,
            "message": message,
            "messageCode": code,
            "path": request.script_root + request.path,
        },
    }


def _error(exc: DriveriError) -> Response:
    headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after else None
    return raw_json_response(
        dumps(error_body(exc.status, exc.message, exc.code)), exc.status, headers
    )


def error_response(status: int, message: str, retry_after: float | None) -> Response:
    """Driveri's error shape for faults, unknown paths and framework errors."""
    code = {
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        429: "TOO_MANY_REQUESTS",
    }.get(status, "INTERNAL_ERROR" if status >= 500 else "INVALID_REQUEST")
    return _error(DriveriError(status, message, code, retry_after))


def _basic_credentials() -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise DriveriError(401, "Basic authentication is required", "UNAUTHORIZED")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise DriveriError(401, "Invalid Basic credentials", "UNAUTHORIZED") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise DriveriError(401, "Invalid Basic credentials", "UNAUTHORIZED")
    return client_id, secret


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise DriveriError(401, "A bearer access token is required", "UNAUTHORIZED")
    return value.strip()


def _json_body() -> Any:
    raw = request.get_data()
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("Request body is not valid JSON") from None


def _flag(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise bad_request(f"{name} must be true or false")


def _int_arg(name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if not lo <= value <= hi:
        raise bad_request(f"{name} must be between {lo} and {hi}")
    return value


def _page_links(offset: int, limit: int, total: int) -> dict[str, str | None]:
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


def _handle(view: Callable[..., Response]) -> Callable[..., Response]:
    def wrapped(**kwargs: Any) -> Response:
        backend = _backend()
        try:
            with backend.lock:
                return view(backend, **kwargs)
        except DriveriError as exc:
            return _error(exc)

    wrapped.__name__ = view.__name__
    return wrapped


def _tenant_call(backend: DriveriBackend, tenant: str) -> None:
    token = backend.bearer(_bearer_token())
    g.fleetsim_app_token_id = token["client_id"]
    backend.check_tenant(token, tenant)
    backend.charge_rate(token["client_id"])


def _basic_client(backend: DriveriBackend) -> dict[str, Any]:
    client = backend.client_for_basic(*_basic_credentials())
    g.fleetsim_app_token_id = client.get("client_id")
    return client


def issue_token(backend: DriveriBackend) -> Response:
    # The SDK posts an empty body with a JSON content type: the body is never read here.
    return _ok(backend.issue_token(_basic_client(backend)))


def list_tokens(backend: DriveriBackend) -> Response:
    return _ok(backend.list_tokens(_basic_client(backend)))


def revoke_token(backend: DriveriBackend) -> Response:
    token = backend.bearer(_bearer_token())
    g.fleetsim_app_token_id = token["client_id"]
    return _ok(backend.revoke(token))


def revoke_token_by_id(backend: DriveriBackend, token_id: str) -> Response:
    return _ok(backend.revoke_by_id(_basic_client(backend), _path_id(token_id)))


def list_drivers(backend: DriveriBackend, tenant: str) -> Response:
    _tenant_call(backend, tenant)
    offset = _int_arg("offset", 0, 0, 10**9) or 0
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
    states = None
    if request.args.get("state"):
        try:
            states = {int(s) for s in request.args["state"].split(",") if s.strip()}
        except ValueError:
            raise bad_request("state must be comma separated status codes") from None
    drivers, total = backend.list_drivers(
        offset=offset,
        limit=limit,
        show_all=_flag("showAll"),
        from_date=_int_arg("fromDate", None, 0, 10**15),
        to_date=_int_arg("toDate", None, 0, 10**15),
        states=states,
        group=request.args.get("group") or None,
    )
    return _ok({"drivers": drivers}, links=_page_links(offset, limit, total), totalCount=total)


def driver_detail(backend: DriveriBackend, tenant: str) -> Response:
    _tenant_call(backend, tenant)
    args = {k: (request.args.get(k) or None) for k in ("driverId", "email", "userName")}
    if not any(args.values()):
        raise bad_request("One of driverId, email or userName is required")
    driver = backend.find_driver(args["driverId"], args["email"], args["userName"])
    return _ok({"drivers": [driver]})


def add_driver(backend: DriveriBackend, tenant: str) -> Response:
    _tenant_call(backend, tenant)
    reinstate = _flag("reinstateDriver")
    return _ok(backend.add_driver(_json_body(), reinstate=reinstate))


def add_bulk(backend: DriveriBackend, tenant: str) -> Response:
    _tenant_call(backend, tenant)
    return _ok(backend.add_bulk(_json_body()), 207)


def edit_driver(backend: DriveriBackend, tenant: str, driver_id: str) -> Response:
    _tenant_call(backend, tenant)
    return _ok(backend.edit_driver(_path_id(driver_id), _json_body()))


def configurations(backend: DriveriBackend, tenant: str) -> Response:
    _tenant_call(backend, tenant)
    return _ok(backend.configurations())


ROUTES: list[tuple[str, str, Callable[..., Response]]] = [
    ("POST", "/v1/auth/token", issue_token),
    ("GET", "/v1/auth/tokens", list_tokens),
    ("DELETE", "/v1/auth/token/revoke", revoke_token),
    ("DELETE", "/v1/auth/token/revoke/<path:token_id>", revoke_token_by_id),
    ("GET", "/v1/tenants/<tenant>/drivers", list_drivers),
    ("POST", "/v1/tenants/<tenant>/drivers", add_driver),
    ("GET", "/v1/tenants/<tenant>/driver", driver_detail),
    ("POST", "/v1/tenants/<tenant>/bulk/drivers", add_bulk),
    ("PUT", "/v1/tenants/<tenant>/drivers/<path:driver_id>", edit_driver),
    ("GET", "/v1/tenants/<tenant>/configurations", configurations),
]


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


def register_routes(app: Flask) -> None:
    """Mount every Driveri operation on a vendor app."""
    for method, rule, view in ROUTES:
        # No automatic OPTIONS: Flask would answer it with an empty text/html 200, and every
        # Driveri path answers JSON (an OPTIONS is a 405 envelope with an Allow header).
        app.add_url_rule(
            rule,
            f"driveri_{view.__name__}",
            _handle(view),
            methods=[method],
            strict_slashes=False,
            provide_automatic_options=False,
        )
