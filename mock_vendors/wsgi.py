"""Every vendor mounted under ``/<vendor>`` on one WSGI app, sharing one stack."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from mock_vendors._common.jsonio import json_response
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
        super().__init__(_root_app(self.vendors), {f"/{k}": a for k, a in self.vendors.items()})


def _root_app(vendors: dict[str, Flask]) -> Flask:
    root = Flask("fleetsim.root")

    @root.get("/")
    def index() -> Any:
        return json_response({"vendors": {k: f"/{k}" for k in vendors}})

    @root.errorhandler(404)
    def not_found(_: Exception) -> Any:
        return json_response(
            {"error": "not found: vendors live under " + ", ".join(f"/{k}" for k in vendors)},
            404,
        )

    return root


def create_all(settings: StackSettings | None = None, stack: Stack | None = None) -> StackApp:
    """The whole stack as one WSGI app (settings from FLEETSIM_* variables by default)."""
    return StackApp(stack or Stack(settings or StackSettings.from_env()))
