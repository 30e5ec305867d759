"""Build the Whip Around app on a stack: its backend, routes and Laravel-shaped errors."""

from __future__ import annotations

from flask import Flask

from mock_vendors._common.app import VendorSpec, create_vendor_app
from mock_vendors._common.stack import Stack

from .backend import WhipAroundBackend
from .envelope import render_error
from .routes import PAGED_LISTS, register_routes

KEY = "whiparound"


def _make_backend(stack: Stack) -> WhipAroundBackend:
    return WhipAroundBackend(stack.world[KEY], stack.clock)


SPEC = VendorSpec(
    key=KEY,
    title="Whip Around",
    make_backend=_make_backend,
    register_routes=register_routes,
    render_error=render_error,
    paged_lists=PAGED_LISTS,
)


def create_app(stack: Stack | None = None) -> Flask:
    """The Whip Around app on ``stack`` (a new stack if none)."""
    return create_vendor_app(SPEC, stack or Stack())
