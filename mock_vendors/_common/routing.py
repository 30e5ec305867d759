"""The request wrapper and route table every vendor goes through.

A vendor's ``routes.py`` declares its operations as :class:`Operation` rows. Each view is
called as ``view(backend, **path_args)`` under the backend's lock; it parses the request with
the vendor's schemas, calls the backend with typed arguments and renders plain data in the
vendor's envelope. A :class:`~mock_vendors._common.errors.VendorError` raised anywhere on the
way is rendered by the vendor's ``render_error`` (registered once, in the app factory).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app
from marshmallow import Schema

from .jsonio import dumps

if TYPE_CHECKING:
    from .app import Backend, VendorRuntime

View = Callable[..., Response]


@dataclass(frozen=True)
class Operation:
    """One operation a vendor serves, as its route table, the wrapper and the drift test see it.

    ``path`` is the Flask rule under the vendor's mount; ``query`` and ``body`` are the
    schemas its inputs are loaded with (their ``data_key`` names are the wire names);
    ``statuses`` every status the operation can answer (faults aside).
    """

    methods: tuple[str, ...]
    path: str
    view: View
    name: str
    query: Schema | None = None
    body: Schema | None = None
    statuses: tuple[int, ...] = (200,)


def current_runtime() -> VendorRuntime:
    """The vendor runtime of the app handling this request."""
    return current_app.extensions["fleetsim"]  # type: ignore[no-any-return]


def current_backend() -> Backend:
    """The backend of the app handling this request."""
    return current_runtime().backend


def vendor_view(view: View) -> View:
    """Wrap a view: it receives the backend and runs under its lock."""

    @functools.wraps(view)
    def wrapped(**path_args: Any) -> Response:
        backend = current_runtime().backend
        with backend.lock:
            return view(backend, **path_args)

    return wrapped


def register_operations(app: Flask, operations: tuple[Operation, ...], prefix: str = "") -> None:
    """Mount every operation on a vendor app, each view behind :func:`vendor_view`."""
    for op in operations:
        app.add_url_rule(
            prefix + op.path,
            f"{op.name}",
            vendor_view(op.view),
            methods=list(op.methods),
            strict_slashes=False,
            merge_slashes=False,
            # No automatic OPTIONS: Flask would answer it with an empty text/html 200, and
            # every vendor answers an undeclared method with its own 405 and an Allow header.
            provide_automatic_options=False,
        )


def cached_json(key: Hashable, build: Callable[[], Any]) -> bytes:
    """The JSON of ``build()``, serialised once per state version and ``key``.

    Only for answers that depend on nothing but the key and the state (and whatever time
    bucket the key carries).
    """
    runtime = current_runtime()
    return runtime.responses.get(runtime.backend.version, key, lambda: dumps(build()))
