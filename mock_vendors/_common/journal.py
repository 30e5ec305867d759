"""The request journal: what each vendor was asked (and, for webhooks, what it sent), never
with a secret in it."""

from __future__ import annotations

import fnmatch
import threading
from collections import deque
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from marshmallow import Schema, ValidationError, fields, validate

from .faults import norm_path


class JournalEntrySchema(Schema):
    """One entry as ``GET /journal`` lists it (the items of ``PUT /journal``)."""

    at = fields.String(required=True, validate=lambda text: _is_iso(text))
    method = fields.String(required=True)
    path = fields.String(required=True)
    status = fields.Integer(required=True, allow_none=True, strict=True)
    latency_ms = fields.Float(required=True)
    app_token_id = fields.String(required=True, allow_none=True)
    direction = fields.String(validate=validate.OneOf(["out"]))
    url = fields.String()
    event_id = fields.String()
    attempt = fields.Integer(strict=True)
    error = fields.String(allow_none=True)


class JournalSchema(Schema):
    """``PUT /journal``: every entry, oldest first, as ``GET /journal`` listed them."""

    entries = fields.List(fields.Nested(JournalEntrySchema), required=True)


def _is_iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("Not an ISO-8601 date-time.") from None
    return True


class Journal:
    """A bounded, thread-safe list of vendor requests (control-plane calls are not recorded)."""

    def __init__(self, limit: int = 50_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)

    def record(
        self,
        at: datetime,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        app_token_id: str | None,
    ) -> None:
        """Append one request. ``path`` carries no query string, so no token can leak in."""
        entry = {
            "at": at.isoformat(),
            "method": method,
            "path": path,
            "status": status,
            "latency_ms": round(latency_ms, 3),
            "app_token_id": app_token_id,
        }
        with self._lock:
            self._entries.append(entry)

    def record_outbound(
        self,
        at: datetime,
        url: str,
        status: int | None,
        latency_ms: float,
        *,
        event_id: str,
        attempt: int,
        error: str | None = None,
    ) -> None:
        """Append one request the vendor made (a webhook delivery attempt): ``direction``
        ``out``, the ``url`` without query or credentials, the answer's status (None when
        there was none, ``error`` saying why), the event and the attempt's number."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
        netloc = f"{host}:{parts.port}" if parts.port else host
        entry = {
            "at": at.isoformat(),
            "direction": "out",
            "method": "POST",
            "url": urlunsplit((parts.scheme, netloc, parts.path, "", "")),
            "path": parts.path or "/",
            "status": status,
            "latency_ms": round(latency_ms, 3),
            "app_token_id": None,
            "event_id": event_id,
            "attempt": attempt,
            "error": error,
        }
        with self._lock:
            self._entries.append(entry)

    def query(
        self, method: str | None = None, path: str | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Entries filtered by method, path glob and virtual time; the glob is compared as a
        fault's is (case and a trailing slash ignored), so a fault's path lists what it hits."""
        with self._lock:
            entries = list(self._entries)
        if method:
            entries = [e for e in entries if e["method"] == method.upper()]
        if path:
            pattern = norm_path(path)
            entries = [e for e in entries if fnmatch.fnmatchcase(norm_path(e["path"]), pattern)]
        if since is not None:
            entries = [e for e in entries if datetime.fromisoformat(e["at"]) >= since]
        return entries

    def restore(self, entries: list[dict[str, Any]]) -> None:
        """Replace every entry with ``entries`` (checked by :class:`JournalSchema`), taken
        verbatim so a restored journal lists exactly as the saved one did."""
        with self._lock:
            self._entries.clear()
            self._entries.extend(dict(e) for e in entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
