"""The portal's signed driver events (R26), checked and read without any web framework.

Wire format (ours to define; contracts/README.md pins it): a POST whose JSON body is
``{"schema": 1, "event_id", "type", "occurred_at", "account", "driver": {...row, version}}``,
with headers ``X-GPSI-Event-Id``, ``X-GPSI-Timestamp`` (the sender's wall-clock epoch
seconds) and ``X-GPSI-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` keyed
with the subscription's secret. :func:`verify` checks the signature and the timestamp;
:func:`parse_event` reads the body. Neither ever puts the secret or a signature in an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HEADER_EVENT_ID = "X-GPSI-Event-Id"
HEADER_TIMESTAMP = "X-GPSI-Timestamp"
HEADER_SIGNATURE = "X-GPSI-Signature"
SCHEMA = 1
EVENT_TYPES = ("driver.created", "driver.updated", "driver.deleted")
TOLERANCE_S = 300.0
MAX_EVENT_ID = 200  # the inbox column's width
_TIMESTAMP = re.compile(r"\d{1,12}(\.\d{1,6})?")
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


class WebhookRejected(Exception):
    """A delivery that is not provably the portal's, now: ``reason`` says why (safe to answer:
    it never holds the secret or the signature)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadEvent(ValueError):
    """A signed body that is not an event this engine can read (bad JSON or shape)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-GPSI-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Header names are case-insensitive on the wire; a plain dict is not.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    now: float,
    tolerance_s: float = TOLERANCE_S,
) -> None:
    """Raise WebhookRejected unless ``body`` carries a valid signature made with ``secret`` at
    a timestamp within ``tolerance_s`` of ``now`` (the HOST's wall clock, epoch seconds)."""
    timestamp = _header(headers, HEADER_TIMESTAMP)
    signature = _header(headers, HEADER_SIGNATURE)
    if not timestamp:
        raise WebhookRejected(f"missing {HEADER_TIMESTAMP} header")
    if not signature:
        raise WebhookRejected(f"missing {HEADER_SIGNATURE} header")
    timestamp = timestamp.strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookRejected(f"{HEADER_TIMESTAMP} is not epoch seconds")
    match = _SIGNATURE.fullmatch(signature.strip())
    if match is None:
        raise WebhookRejected(f"{HEADER_SIGNATURE} is not sha256=<64 hex digits>")
    expected = sign(secret, timestamp, body).removeprefix("sha256=")
    # Constant time: the comparison must not tell a forger how many digits were right.
    if not hmac.compare_digest(expected, match.group(1).lower()):
        raise WebhookRejected("signature does not match the body and timestamp")
    # Checked after the signature, so the reason never tells a forger about our clock first.
    skew = float(timestamp) - now
    if skew < -tolerance_s:
        raise WebhookRejected(f"timestamp is stale: more than {tolerance_s:g} s old")
    if skew > tolerance_s:
        raise WebhookRejected(f"timestamp is in the future: more than {tolerance_s:g} s ahead")


@dataclass(frozen=True)
class Event:
    """One portal event as the inbox stores it."""

    event_id: str
    type: str
    schema: Any
    portal_id: int | None
    version: int | None
    driver: dict[str, Any] | None
    account: Any = None
    occurred_at: Any = None

    @property
    def ignored_reason(self) -> str | None:
        """Why this event is acknowledged but not applied (None: it is a driver event)."""
        if self.schema != SCHEMA:
            return f"unsupported schema {self.schema!r}"
        if self.type not in EVENT_TYPES:
            return f"unknown event type {self.type!r}"
        return None


def _whole(value: Any) -> int | None:
    # bool is an int in Python, never a driver id or a version.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def parse_event(body: bytes) -> Event:
    """Read an event body; BadEvent when it is not JSON or lacks what every event has. A
    driver event (known schema and type) must carry the driver's numeric id and version."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadEvent("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadEvent("the body is not a JSON object")
    event_id, event_type = data.get("event_id"), data.get("type")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_EVENT_ID:
        raise BadEvent(f"event_id must be a string of 1 to {MAX_EVENT_ID} characters")
    if not isinstance(event_type, str) or not event_type:
        raise BadEvent("type must be a non-empty string")
    driver = data.get("driver")
    row = driver if isinstance(driver, dict) else None
    event = Event(
        event_id=event_id,
        type=event_type,
        schema=data.get("schema"),
        portal_id=_whole(row.get("id")) if row else None,
        version=_whole(row.get("version")) if row else None,
        driver=row,
        account=data.get("account"),
        occurred_at=data.get("occurred_at"),
    )
    if event.ignored_reason is None:
        if row is None:
            raise BadEvent(f"a {event_type} event needs a driver object")
        if event.portal_id is None or event.version is None:
            raise BadEvent("driver.id and driver.version must be whole numbers")
    return event
