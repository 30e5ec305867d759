"""R26: a portal event is accepted only when signed with the subscription's secret over
"<timestamp>.<body>" at a timestamp within 300 s of the host clock; its body is read strictly."""

from __future__ import annotations

import json

import pytest

from sync_engine.web.webhooks import (
    BadEvent,
    WebhookRejected,
    parse_event,
    sign,
    verify,
)

SECRET = "whsec-SECRET-abc123"
NOW = 1_800_000_000.0
BODY = json.dumps(
    {"schema": 1, "event_id": "ev-1", "type": "driver.updated",
     "occurred_at": "2026-03-10T17:30:00Z", "account": "Acme",
     "driver": {"id": 1001, "firstname": "Ann", "version": 3}}
).encode()  # fmt: skip


def headers(ts: float | str = NOW, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(ts)) if isinstance(ts, float) else ts
    return {
        "X-GPSI-Event-Id": "ev-1",
        "X-GPSI-Timestamp": stamp,
        "X-GPSI-Signature": sign(secret, stamp, body),
    }


def test_a_signature_made_with_the_secret_now_is_accepted() -> None:
    verify(headers(), BODY, SECRET, NOW)
    assert sign(SECRET, "1", b"x").startswith("sha256=")


def test_header_names_are_matched_without_regard_to_case() -> None:
    lower = {k.lower(): v for k, v in headers().items()}
    verify(lower, BODY, SECRET, NOW)
    assert "x-gpsi-signature" in lower


def test_a_timestamp_299_s_either_side_is_still_accepted() -> None:
    verify(headers(NOW - 299), BODY, SECRET, NOW)
    verify(headers(NOW + 299), BODY, SECRET, NOW)
    with pytest.raises(WebhookRejected):
        verify(headers(NOW + 301), BODY, SECRET, NOW)


@pytest.mark.parametrize(
    ("case", "given", "body", "reason"),
    [
        ("bad signature", {"X-GPSI-Signature": "sha256=" + "0" * 64}, BODY, "does not match"),
        ("wrong secret", headers(secret="another-secret"), BODY, "does not match"),
        ("tampered body", headers(), BODY.replace(b"Ann", b"Bob"), "does not match"),
        ("tampered timestamp", {"X-GPSI-Timestamp": str(int(NOW) - 1)}, BODY, "does not match"),
        ("stale by 301 s", headers(NOW - 301), BODY, "stale"),
        ("future by 301 s", headers(NOW + 301), BODY, "in the future"),
        ("missing timestamp", {"X-GPSI-Timestamp": ""}, BODY, "missing X-GPSI-Timestamp"),
        ("missing signature", {"X-GPSI-Signature": ""}, BODY, "missing X-GPSI-Signature"),
        ("timestamp not a number", {"X-GPSI-Timestamp": "soon"}, BODY, "not epoch seconds"),
        ("signature not hex", {"X-GPSI-Signature": "md5=abc"}, BODY, "sha256=<64 hex digits>"),
    ],
)
def test_a_delivery_that_is_not_provably_the_portals_now_is_rejected_with_a_reason(
    case: str, given: dict[str, str], body: bytes, reason: str
) -> None:
    sent = {**headers(), **given}
    with pytest.raises(WebhookRejected) as caught:
        verify(sent, body, SECRET, NOW)
    assert reason in caught.value.reason, case
    assert SECRET not in str(caught.value)
    signature = sent["X-GPSI-Signature"]
    assert not signature or signature not in str(caught.value)


def test_a_driver_event_is_read_with_its_portal_id_and_version() -> None:
    event = parse_event(BODY)
    assert (event.event_id, event.type, event.portal_id, event.version) == (
        "ev-1", "driver.updated", 1001, 3,
    )  # fmt: skip
    assert event.driver is not None and event.driver["firstname"] == "Ann"
    assert event.ignored_reason is None


def test_an_unknown_type_or_schema_is_read_but_marked_to_ignore() -> None:
    other = parse_event(
        json.dumps({"schema": 1, "event_id": "e", "type": "vehicle.moved"}).encode()
    )
    assert other.ignored_reason == "unknown event type 'vehicle.moved'"
    future = parse_event(
        json.dumps({"schema": 2, "event_id": "f", "type": "driver.created", "driver": {}}).encode()
    )
    assert future.ignored_reason == "unsupported schema 2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"schema": 1, "type": "driver.created"}', "event_id"),
        (b'{"schema": 1, "event_id": "e", "type": 7}', "type must be"),
        (b'{"schema": 1, "event_id": "e", "type": "driver.created"}', "needs a driver object"),
        (b'{"schema": 1, "event_id": "e", "type": "driver.deleted", "driver": {"id": 5}}',
         "whole numbers"),
        (b'{"schema": 1, "event_id": "e", "type": "driver.updated",'
         b' "driver": {"id": 5, "version": true}}', "whole numbers"),
    ],
)  # fmt: skip
def test_a_body_without_an_events_shape_is_refused_clearly(body: bytes, message: str) -> None:
    with pytest.raises(BadEvent, match=message):
        parse_event(body)
