"""The Wex Telematics app: GPS Insight's app factory with the Wex brand."""

from __future__ import annotations

from flask import Flask

from mock_vendors._common.stack import Stack
from mock_vendors.gpsinsight.app import Brand
from mock_vendors.gpsinsight.app import create_app as create_platform_app

# The vendor's webhook/list example shows a driver_assignment type; Wex offers it.
WEX = Brand(key="wex", name="Wex Telematics", webhook_types=("driver_assignment",))


def create_app(stack: Stack | None = None) -> Flask:
    """A Wex Telematics app on ``stack``: its own accounts, tokens and world slice."""
    return create_platform_app(stack, WEX)
