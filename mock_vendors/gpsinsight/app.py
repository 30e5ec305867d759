"""Build a GPS Insight-platform app for a brand: GPS Insight itself, or a rebrand of it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, Request

from mock_vendors._common.app import VendorSpec, create_vendor_app
from mock_vendors._common.stack import Stack

from .backend import GpsInsightBackend
from .delivery import Delivery
from .envelope import render_error
from .routes import register_routes
from .strict_request import StrictRequest


@dataclass(frozen=True)
class Brand:
    """What differs between brands of the platform: mount name, display name, world slice."""

    key: str
    name: str
    webhook_types: tuple[str, ...] = ()  # webhook types the brand adds to the platform's


GPS_INSIGHT = Brand(key="gpsinsight", name="GPS Insight")
DELIVERY = "gpsinsight_delivery"
"""The key of the app's webhook delivery worker in ``app.extensions``."""


def _expire_session(backend: GpsInsightBackend, request: Request) -> None:
    values = request.values
    backend.expire_session(values.get("session_token") or values.get("token"))


def create_app(stack: Stack | None = None, brand: Brand = GPS_INSIGHT) -> Flask:
    """A GPS Insight-platform vendor app for ``brand`` on ``stack`` (a new stack if none)."""
    stack = stack or Stack()
    delivery = Delivery()

    def make_backend(stack: Stack) -> GpsInsightBackend:
        backend = GpsInsightBackend(
            stack.world[brand.key],
            stack.clock,
            session_ttl_hours=stack.settings.session_ttl_hours,
            daily_quota=stack.settings.daily_quota,
            webhook_types=brand.webhook_types,
        )
        backend.wake_delivery = delivery.wake  # each new backend (a reset) posts through it
        return backend

    spec = VendorSpec(
        key=brand.key,
        title=brand.name,
        make_backend=make_backend,
        register_routes=register_routes,
        render_error=render_error,
        expire_session=_expire_session,  # type: ignore[arg-type]
    )
    app = create_vendor_app(spec, stack)
    app.request_class = StrictRequest  # a query or form that is not UTF-8 is a 400
    app.config["FLEETSIM_BRAND"] = brand.name
    delivery.bind(app.extensions["fleetsim"])
    app.extensions[DELIVERY] = delivery
    return app
