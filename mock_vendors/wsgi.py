"""Every vendor mounted under ``/<vendor>`` on one WSGI app, sharing one stack."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from mock_vendors._common.jsonio import json_response
from mock_vendors._common.limits import refusal
from mock_vendors._common.stack import Stack, StackSettings
from mock_vendors.driveri.app import create_app as create_driveri
from mock_vendors.gpsinsight.app import create_app as create_gpsinsight
from mock_vendors.wex.app import create_app as create_wex
from mock_vendors.whiparound.app import create_app as create_whiparound

VENDOR_FACTORIES = {
    "gpsinsight": create_gpsinsight,
    "wex": create_wex,
    "driveri": create_driveri,
    "whiparound": create_whiparound,
}


class StackApp(DispatcherMiddleware):
    """The WSGI app of a whole stack; ``.stack`` and ``.vendors`` are there for tests and CLI."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.vendors: dict[str, Flask] = {
            key: factory(stack) for key, factory in VENDOR_FACTORIES.items()
        }
        root = _root_app(self.vendors, stack)
        super().__init__(root, {f"/{k}": a for k, a in self.vendors.items()})

    @property
    def max_body_bytes(self) -> int:
        """Request bodies over this many bytes are refused unread (the serving worker reads it)."""
        return self.stack.settings.max_body_bytes

    @property
    def request_timeout_s(self) -> float:
        """Seconds a served request's head and body have to arrive."""
        return self.stack.settings.request_timeout_s


def _root_app(vendors: dict[str, Flask], stack: Stack) -> Flask:
    root = Flask("fleetsim.root")

    @root.before_request
    def refuse_oversized_body() -> None:
        error = refusal(request.environ, request.content_length, stack.settings.max_body_bytes)
        if error is not None:
            raise error

    @root.get("/")
    def index() -> Any:
        return json_response({"vendors": {k: f"/{k}" for k in vendors}})

    @root.errorhandler(404)
    def not_found(_: Exception) -> Any:
        return json_response(
            {"error": "not found: vendors live under " + ", ".join(f"/{k}" for k in vendors)},
            404,
        )

    @root.errorhandler(HTTPException)
    def framework_error(exc: HTTPException) -> Any:
        return json_response({"error": exc.description}, exc.code or 500)

    return root


def create_all(settings: StackSettings | None = None, stack: Stack | None = None) -> StackApp:
    """The whole stack as one WSGI app (settings from FLEETSIM_* variables by default)."""
    return StackApp(stack or Stack(settings or StackSettings.from_env()))
