"""GPS Insight API v2 on the wire: ``/v2/{class}/{method}[/{format}]``, GET or form POST."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, request

from mock_vendors._common.jsonio import dumps, raw_json_response

from .backend import METHODS, Ctx, GpsInsightBackend, Raw
from .errors import ApiError
from .schemas import Params
from .timefmt import mst_text

MAX_REFERENCE_TAG = 128


def register_routes(app: Flask) -> None:
    """Mount the RPC dispatcher on a vendor app."""
    app.add_url_rule(
        "/v2/<path:rest>", "gpsinsight_rpc", dispatch, methods=["GET", "POST"], strict_slashes=False
    )


def _backend() -> GpsInsightBackend:
    return current_app.extensions["fleetsim"].backend  # type: ignore[no-any-return]


def _params() -> Params:
    values = request.args.to_dict()
    if request.method == "POST":
        values.update(request.form.to_dict())  # a form body wins over the query string
    return Params(values)


def _method_name(rest: str) -> tuple[str, str, str | None]:
    parts = [part for part in rest.split("/") if part]
    cls = parts[0].lower() if parts else ""
    name = parts[1].lower() if len(parts) > 1 else ""
    fmt = parts[2].lower() if len(parts) == 3 else None
    if len(parts) not in (2, 3):
        fmt = "?"
    return cls, name, fmt


def dispatch(rest: str) -> Response:
    """Run one API method and answer in the ``{head, data, errors}`` envelope."""
    cls, name, fmt = _method_name(rest)
    method = f"{cls}/{name}"
    backend = _backend()
    p = _params()
    token = p.get("session_token") or p.get("token")
    g.gpsi_method = method
    with backend.lock:
        session: dict[str, Any] | None = None
        try:
            tag = p.get("reference_tag")
            if tag is not None and len(tag) > MAX_REFERENCE_TAG:
                raise ApiError(400, "Invalid parameter reference_tag: at most 128 characters")
            if fmt == "?" or (cls, name) not in _ALL_METHODS:
                raise ApiError(404, f"Method not found: {method}")
            if fmt not in (None, "json"):
                raise ApiError(400, f"Unsupported format: {fmt} (only json is served)")
            if (cls, name) == ("userauth", "login"):
                data: Any = backend.login(p)
                session = backend.sessions.get(data["token"])
                token = data["token"]
            elif (cls, name) == ("userauth", "logout"):
                session = backend.sessions.get(token) if token else None
                data = backend.logout(token)
            elif (cls, name) == ("heartbeat", "beat"):
                data = backend.heartbeat(p)
            else:
                ctx: Ctx = backend.authenticate(token)
                session = ctx.session
                data = METHODS[(cls, name)].handler(backend, ctx, p)
            g.fleetsim_app_token_id = session.get("app_id") if session else None
            return _answer(backend, method, session, data, p)
        except ApiError as exc:
            g.fleetsim_app_token_id = backend.app_id_of(token)
            return _error(backend, method, exc, session, p)


_ALL_METHODS = {*METHODS, ("userauth", "login"), ("userauth", "logout"), ("heartbeat", "beat")}


def _head(
    backend: GpsInsightBackend,
    status: str,
    method: str,
    session: dict[str, Any] | None,
    p: Params | None,
) -> dict[str, Any]:
    head: dict[str, Any] = {
        "status": status,
        "method": method,
        "context": session.get("username") if session else None,
        "request_time": mst_text(backend.now()),
        "session_start": mst_text(session["started_at"]) if session else None,
        "request_count": session.get("request_count", 0) if session else 0,
        "brand": current_app.config["FLEETSIM_BRAND"],
    }
    tag = p.get("reference_tag") if p is not None else None
    if tag is not None:
        head["reference_tag"] = tag[:MAX_REFERENCE_TAG]
    return head


def _answer(
    backend: GpsInsightBackend,
    method: str,
    session: dict[str, Any] | None,
    data: Any,
    p: Params,
) -> Response:
    body = data.body if isinstance(data, Raw) else dumps(data)
    head = dumps(_head(backend, "OK", method, session, p))
    return raw_json_response(b'{"head":' + head + b',"data":' + body + b"}")


def _error(
    backend: GpsInsightBackend,
    method: str,
    exc: ApiError,
    session: dict[str, Any] | None,
    p: Params | None,
) -> Response:
    document = {
        "head": _head(backend, "ERROR", method, session, p),
        "data": None,
        "errors": [{"code": exc.code, "message": exc.message, "error": exc.message}],
    }
    headers = {"Retry-After": _retry_after(exc.retry_after)} if exc.retry_after else None
    return raw_json_response(dumps(document), exc.code, headers)


def _retry_after(seconds: float) -> str:
    return str(max(1, int(seconds + 0.999)))


def error_response(status: int, message: str, retry_after: float | None) -> Response:
    """The vendor's error envelope for faults, unknown paths and other framework errors."""
    method = g.get("gpsi_method")
    if method is None:
        rest = request.path.split("/v2/", 1)[1] if "/v2/" in request.path else ""
        cls, name, _ = _method_name(rest)
        method = f"{cls}/{name}" if cls else ""
    return _error(_backend(), method, ApiError(status, message, retry_after), None, None)
