"""GPS Insight's answer shape: ``{head, data}`` for a success, ``{head, data, errors}`` else.

The head says which method ran, for whom (the session's user, start and request count) and
echoes ``reference_tag``. The RPC dispatcher keeps what it learns about the call in a
:class:`Head` on ``flask.g`` (``gpsi_head``), so an error raised anywhere in the call is
rendered with the same head a success would have had.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, request

from mock_vendors._common.errors import VendorError, retry_after_header
from mock_vendors._common.jsonio import dumps, raw_json_response
from mock_vendors._common.routing import current_backend

from .timefmt import mst_text

MAX_REFERENCE_TAG = 128


@dataclass(slots=True)
class Head:
    """What an answer's head says about its call, filled in as the dispatcher learns it."""

    method: str
    tag: str | None
    brand: str
    clock: Callable[[], float]
    session: dict[str, Any] | None = None

    def render(self, status: str, *, own: bool = True) -> dict[str, Any]:
        """The head; ``own=False`` leaves out the session and tag (a framework answer)."""
        session = self.session if own else None
        head: dict[str, Any] = {
            "status": status,
            "method": self.method,
            "context": session.get("username") if session else None,
            "request_time": mst_text(self.clock()),
            "session_start": mst_text(session["started_at"]) if session else None,
            "request_count": session.get("request_count", 0) if session else 0,
            "brand": self.brand,
        }
        if own and self.tag is not None:
            head["reference_tag"] = self.tag[:MAX_REFERENCE_TAG]
        return head


def method_name(rest: str) -> tuple[str, str, str | None]:
    """(class, method, format) of the path after ``/v2/``; format ``?`` when the path has
    too few or too many segments."""
    parts = [part for part in rest.split("/") if part]
    cls = parts[0].lower() if parts else ""
    name = parts[1].lower() if len(parts) > 1 else ""
    fmt = parts[2].lower() if len(parts) == 3 else None
    if len(parts) not in (2, 3):
        fmt = "?"
    return cls, name, fmt


def ok(head: Head, data: Any) -> Response:
    """A success answering ``data``."""
    return ok_json(head, dumps(data))


def ok_json(head: Head, data: bytes) -> Response:
    """A success whose ``data`` is JSON already (a cached answer is spliced in as it is)."""
    rendered = dumps(head.render("OK"))
    return raw_json_response(b'{"head":' + rendered + b',"data":' + data + b"}")


def render_error(exc: VendorError) -> Response:
    """An error answer: the envelope's error code is the HTTP status."""
    head: Head | None = g.get("gpsi_head")
    if head is None:  # refused before the dispatcher ran (a fault, an unknown path)
        rest = request.path.split("/v2/", 1)[1] if "/v2/" in request.path else ""
        cls, name, _ = method_name(rest)
        brand = current_app.config["FLEETSIM_BRAND"]
        clock = current_backend().now  # type: ignore[attr-defined]
        head = Head(f"{cls}/{name}" if cls else "", None, brand, clock)
    # The call's own errors name its session and tag; the framework's (faults, unknown
    # paths and methods, crashes) answer for the platform, before or beside the call.
    document = {
        "head": head.render("ERROR", own=exc.origin is None),
        "data": None,
        "errors": [{"code": exc.status, "message": exc.message, "error": exc.message}],
    }
    headers = {"Retry-After": retry_after_header(exc.retry_after)} if exc.retry_after else None
    return raw_json_response(dumps(document), exc.status, headers)
