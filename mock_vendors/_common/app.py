"""The vendor app factory: one Flask app per vendor, sharing the stack's clock and world."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask, Request, Response, g, request
from werkzeug.exceptions import HTTPException

from .cache import VersionedCache
from .control import control
from .errors import VendorError
from .faults import FaultPlan, Route, vendor_routes
from .journal import Journal
from .jsonio import json_response
from .limits import refusal
from .stack import Stack

log = logging.getLogger("fleetsim.mock")

CONTROL_PREFIX = "/_mock"
MALFORMED_BODY = b'{"head": {"status": "OK", \x00\x01 <truncated gateway response'


class Backend(Protocol):
    """What the request wrapper, the response cache and the control plane need from every
    vendor backend: a lock, a state version bumped on every mutation, and dump/restore."""

    lock: Any
    version: int

    def dump(self) -> dict[str, Any]: ...
    def restore(self, state: dict[str, Any]) -> None: ...
    def credentials(self) -> dict[str, Any]: ...


ErrorRenderer = Callable[[VendorError], Response]
Mutator = Callable[[Any, Mapping[str, str], int, int, str], None]
"""``(backend, query, delete, insert, seed_key)``: a paged listing shifts (see ``mutate``)."""


@dataclass(frozen=True)
class VendorSpec:
    """Everything that makes one vendor different from another, handed to the factory."""

    key: str
    title: str
    make_backend: Callable[[Stack], Backend]
    register_routes: Callable[[Flask], None]
    render_error: ErrorRenderer
    expire_session: Callable[[Backend, Request], None] = lambda backend, req: None
    # Endpoint name -> how a ``mutate`` fault shifts that paged list (none: no mutation).
    paged_lists: Mapping[str, Mutator] = field(default_factory=dict)


class VendorRuntime:
    """One vendor's live parts: backend state, response cache, faults and journal."""

    def __init__(self, spec: VendorSpec, stack: Stack) -> None:
        self.spec = spec
        self.stack = stack
        self.faults = FaultPlan()
        self.routes: list[Route] = []  # the vendor's own routes, once they are registered
        self.journal = Journal(stack.settings.journal_limit)
        self.responses = VersionedCache()
        self.backend: Backend = spec.make_backend(stack)

    @property
    def key(self) -> str:
        """The vendor's mount name, e.g. ``gpsinsight``."""
        return self.spec.key

    def reset(self) -> None:
        """Back to the freshly seeded world: new backend, no faults, empty journal."""
        self.backend = self.spec.make_backend(self.stack)
        self.responses.clear()
        self.faults.clear()
        self.journal.clear()


def create_vendor_app(spec: VendorSpec, stack: Stack) -> Flask:
    """Build a vendor's Flask app: its routes, the control plane and the fault/journal hooks."""
    app = Flask(f"fleetsim.{spec.key}")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    runtime = VendorRuntime(spec, stack)
    stack.register(runtime)
    app.extensions["fleetsim"] = runtime

    @app.before_request
    def _refuse_oversized_body() -> None:
        # First of all hooks: a body over the limit is refused before anything reads it.
        error = refusal(request.environ, request.content_length, stack.settings.max_body_bytes)
        if error is not None:
            raise error

    app.register_blueprint(control, url_prefix=CONTROL_PREFIX)
    spec.register_routes(app)
    runtime.routes = vendor_routes(app.url_map.iter_rules(), CONTROL_PREFIX)

    @app.before_request
    def _apply_request_faults() -> Response | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        g.fleetsim_t0 = time.perf_counter()
        rule = request.url_rule
        paged = rule is not None and rule.endpoint in spec.paged_lists
        fault = runtime.faults.pick(request.method, request.path, paged)
        g.fleetsim_fault = fault
        if fault is None:
            return None
        g.fleetsim_fault_n = fault.fired  # which firing this is, for a seeded mutation
        spec_ = fault.spec
        if spec_["latency_ms"]:
            time.sleep(spec_["latency_ms"] / 1000)  # a server-side fault, not a test wait
        if spec_["expire_session"]:
            spec.expire_session(runtime.backend, request)
        if spec_["status"] and not spec_["after"]:
            return spec.render_error(_fault_error(spec_["status"], spec_["retry_after"]))
        return None

    @app.after_request
    def _journal_and_mangle(response: Response) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return response
        fault = g.get("fleetsim_fault")
        if fault is not None:
            if fault.spec["after"] and fault.spec["status"]:
                # The request ran (a write is committed), but the client is told it failed.
                response = spec.render_error(
                    _fault_error(fault.spec["status"], fault.spec["retry_after"])
                )
            if fault.spec["mutate"] and response.status_code < 300:
                _mutate(runtime, request, fault)
        started = g.get("fleetsim_t0")
        latency = (time.perf_counter() - started) * 1000 if started else 0.0
        runtime.journal.record(
            stack.clock.now(),
            request.method,
            request.path,
            response.status_code,
            latency,
            g.get("fleetsim_app_token_id"),  # set by vendor routes: an id, never the token
        )
        if fault is not None:
            # After the journal entry: a dropped connection lets the client send its next
            # request at once, and that one must not be journaled before this one.
            response = _mangle(response, fault.spec)
        return response

    @app.errorhandler(VendorError)
    def _vendor_error(exc: VendorError) -> Response:
        return spec.render_error(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return json_response({"error": exc.description}, exc.code or 500)
        origin = {404: "route", 405: "method"}.get(exc.code or 500, "http")
        response = spec.render_error(
            VendorError(exc.code or 500, _http_message(exc), origin=origin)
        )
        for name, value in exc.get_headers():
            if name == "Allow":  # RFC 9110: a 405 names the methods the resource supports
                response.headers["Allow"] = ", ".join(sorted(value.split(", ")))
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Last resort: a bug still answers in the vendor's shape, and the traceback is logged
        # (request parameters are not, since they may carry tokens).
        log.exception("unhandled error in %s %s", request.method, request.path)
        return spec.render_error(VendorError(500, "Internal server error", origin="crash"))

    return app


def _mutate(runtime: VendorRuntime, req: Request, fault: Any) -> None:
    """Shift the paged list this request read, once its page is answered: the client's next
    page request sees the listing moved under it. Seeded by the fault's seed and how often it
    fired, so a replay inserts the same records."""
    mutator = runtime.spec.paged_lists[req.url_rule.endpoint]  # type: ignore[union-attr]
    change = fault.spec["mutate"]
    with runtime.backend.lock:
        mutator(
            runtime.backend,
            req.args.to_dict(),
            change["delete"],
            change["insert"],
            f"{fault.spec['seed']}:{g.get('fleetsim_fault_n', fault.fired)}",
        )


def _fault_error(status: int, retry_after: float | None) -> VendorError:
    return VendorError(status, _fault_message(status), retry_after=retry_after, origin="fault")


def _fault_message(status: int) -> str:
    return {
        429: "too many requests",
        500: "Internal server error",
        502: "Bad gateway",
        503: "Service unavailable",
        504: "Gateway timeout",
    }.get(status, "Injected fault")


def _http_message(exc: HTTPException) -> str:
    if exc.code == 404:
        return "Not found"
    if exc.code == 405:
        return f"Method {request.method} not allowed"
    return exc.description or exc.name


def _mangle(response: Response, spec: dict[str, Any]) -> Response:
    """Body and connection faults, applied after the request was handled (and committed)."""
    if spec["body"] == "truncated":
        body = response.get_data()
        response.set_data(body[: len(body) // 2])
    elif spec["body"] == "malformed":
        response.set_data(MALFORMED_BODY)
    if spec["drop"]:
        _drop_connection(response)
    return response


class DroppedConnection(ConnectionAbortedError):
    """Raised where no socket can be closed (the Flask test client) for a ``drop`` fault."""


def _drop_connection(response: Response) -> None:
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    if sock is None:
        # No socket under the test client: fail when the body is read, as a client would.
        response.response = _raise_dropped()
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone: the effect we wanted


def _raise_dropped() -> Any:
    raise DroppedConnection("fault: connection dropped after the request was handled")
    yield b""  # a generator, so the error comes when the body is read
