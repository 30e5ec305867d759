"""The one error type every vendor backend raises; each vendor only renders it in its shape."""

from __future__ import annotations

import math
from collections.abc import Mapping


class VendorError(Exception):
    """An error answer, independent of any vendor's wire shape.

    ``status`` is the HTTP status; ``message`` the human text; ``code`` a vendor's symbolic
    code where it has one (Driveri's ``messageCode``); ``fields`` the per-field messages of a
    validation failure (Whip Around's ``errors``); ``retry_after`` the seconds a client must
    wait (rendered as ``Retry-After``). ``origin`` says where the framework raised it
    (``fault``, ``route``, ``method``, ``crash``) so a vendor can word those in its own voice;
    it is None for a backend's own errors.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, list[str]] | None = None,
        retry_after: float | None = None,
        origin: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.fields = dict(fields) if fields is not None else None
        self.retry_after = retry_after
        self.origin = origin


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, rounded up (never less than the real wait), >= 1."""
    # round() first so that 3.0000000001 (float noise) stays 3 rather than becoming 4.
    return str(max(1, math.ceil(round(seconds, 6))))
