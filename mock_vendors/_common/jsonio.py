"""JSON responses through orjson: the emulators' hot path is serialisation."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response

JSON_MIMETYPE = "application/json"


def dumps(obj: Any, *, sort_keys: bool = False) -> bytes:
    """Serialise to compact JSON bytes (non-str dict keys allowed)."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    return orjson.dumps(obj, option=option)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response from any orjson-serialisable object."""
    return raw_json_response(dumps(obj), status, headers)


def raw_json_response(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response from bytes that are already serialised."""
    return Response(body, status=status, headers=headers, mimetype=JSON_MIMETYPE)
