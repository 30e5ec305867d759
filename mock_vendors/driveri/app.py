"""Build the Netradyne Driveri app on a stack."""

from __future__ import annotations

from flask import Flask, Request

from mock_vendors._common.app import VendorSpec, create_vendor_app
from mock_vendors._common.stack import Stack

from .auth import bearer_value
from .backend import DriveriBackend
from .envelope import render_error
from .routes import PAGED_LISTS, encode_path_ids, register_routes


def _make_backend(stack: Stack) -> DriveriBackend:
    return DriveriBackend(
        stack.world["driveri"],
        stack.clock,
        token_ttl_s=stack.settings.driveri_token_ttl_s,
        rate_per_minute=stack.settings.driveri_rate_per_minute,
    )


def _expire_session(backend: DriveriBackend, request: Request) -> None:
    token = bearer_value(request.headers.get("Authorization", ""))
    if token is not None:
        backend.expire_token(token)


def create_app(stack: Stack | None = None) -> Flask:
    """The Driveri app on ``stack`` (a new stack if none)."""
    spec = VendorSpec(
        key="driveri",
        title="Netradyne Driveri",
        make_backend=_make_backend,
        register_routes=register_routes,
        render_error=render_error,
        expire_session=_expire_session,  # type: ignore[arg-type]
        paged_lists=PAGED_LISTS,
    )
    app = create_vendor_app(spec, stack or Stack())
    app.wsgi_app = encode_path_ids(app.wsgi_app)  # type: ignore[method-assign]
    return app
