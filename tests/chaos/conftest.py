"""The chaos set's split: ``make test`` runs the short set (5 fault plans, 5 kills); the
rest carry the ``chaos_full`` marker and are deselected (not skipped) unless
FLEETSIM_CHAOS=full (``make chaos``), as FLEETSIM_DEEP=1 widens the contract budgets."""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("FLEETSIM_CHAOS") == "full"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line(
        "markers", "chaos_full: the long chaos set, run by `make chaos` (FLEETSIM_CHAOS=full)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the long chaos set unless FLEETSIM_CHAOS=full."""
    if FULL:
        return
    long_set = [item for item in items if item.get_closest_marker("chaos_full")]
    if long_set:
        config.hook.pytest_deselected(items=long_set)
        items[:] = [item for item in items if not item.get_closest_marker("chaos_full")]
