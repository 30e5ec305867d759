"""The engine's webhook receiver (R26) and its driver-sync pages, through the Flask test
client: a store in memory, a recorded ``wake`` in place of the background applier, and the
host's wall clock fixed."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from fleetsim.engine_api import WEBHOOK_MAX_BYTES, create_api
from fleetsim.engine_service import Scheduler
from helpers import T0
from sync_engine.store import Store
from sync_engine.store.drivers import APPLIED, IGNORED, PENDING
from sync_engine.web.webhooks import sign

WH_SECRET = "whsec-SECRET-receiver-1"
NOW = 1_800_000_000.0
URL = "/webhooks/gpsinsight/gpsinsight"


class Rig:
    """The API over one pairing (driveri <-> gpsinsight) whose subscription secret is set."""

    def __init__(self) -> None:
        self.store = Store("sqlite://")
        self.store.save_pairing("driveri", "gpsinsight", "acme", T0)
        self.store.save_webhook("driveri", 11, WH_SECRET, T0)
        self.wakes = 0
        self.now = NOW
        app = create_api(self.store, Scheduler(clock=lambda: T0), wake=self.wake,
                         wall_clock=lambda: self.now)  # fmt: skip
        self.client = Client(app)

    def wake(self) -> None:
        self.wakes += 1

    def post(
        self,
        event: dict[str, Any] | bytes,
        *,
        at: float | None = None,
        secret: str = WH_SECRET,
        url: str = URL,
        **headers: str,
    ) -> TestResponse:
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        stamp = str(int(self.now if at is None else at))
        sent = {"X-GPSI-Timestamp": stamp, "X-GPSI-Signature": sign(secret, stamp, body),
                "Content-Type": "application/json", **headers}  # fmt: skip
        return self.client.post(url, data=body, headers=sent)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def event(event_id: str = "ev-1", kind: str = "driver.created", version: int = 1) -> dict[str, Any]:
    return {"schema": 1, "event_id": event_id, "type": kind, "occurred_at": T0.isoformat(),
            "account": "Acme Logistics",
            "driver": {"id": 1001, "firstname": "Ann", "lastname": "Lee",
                       "driveri_driver_id": "D-1", "version": version}}  # fmt: skip


def test_a_signed_event_is_stored_pending_and_wakes_the_applier(rig: Rig) -> None:
    response = rig.post(event())
    assert response.status_code == 202
    assert response.get_json() == {"status": "accepted", "event_id": "ev-1"}
    (row,) = rig.store.inbox_events()
    assert (row["status"], row["portal"], row["type"]) == (PENDING, "gpsinsight", "driver.created")
    assert (row["portal_id"], row["version"]) == (1001, 1)
    assert row["payload"]["driver"]["driveri_driver_id"] == "D-1"
    assert rig.wakes == 1


def test_an_event_delivered_three_times_is_stored_once(rig: Rig) -> None:
    first = rig.post(event())
    again = [rig.post(event(), at=NOW + n) for n in (1, 2)]  # re-signed afresh each attempt
    assert first.status_code == 202
    assert [r.status_code for r in again] == [200, 200]
    assert again[0].get_json() == {"status": "duplicate", "event_id": "ev-1"}
    assert len(rig.store.inbox_events()) == 1 and rig.wakes == 1


def test_a_replayed_request_is_answered_as_a_duplicate_and_applied_once(rig: Rig) -> None:
    assert rig.post(event()).status_code == 202
    rig.store.inbox_mark("ev-1", APPLIED, T0)
    replay = rig.post(event())  # the very same signed request, sent again within 300 s
    assert replay.status_code == 200 and replay.get_json()["status"] == "duplicate"
    assert [e["status"] for e in rig.store.inbox_events()] == [APPLIED]


def test_an_unknown_event_type_is_acknowledged_stored_ignored_and_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fleetsim.engine.webhooks"):
        response = rig.post({"schema": 1, "event_id": "ev-9", "type": "vehicle.moved"})
    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored", "event_id": "ev-9",
                                   "reason": "unknown event type 'vehicle.moved'"}  # fmt: skip
    (row,) = rig.store.inbox_events()
    assert row["status"] == IGNORED and row["done_at"] is not None
    assert rig.wakes == 0
    assert "unknown event type 'vehicle.moved'" in caplog.text


@pytest.mark.parametrize(
    ("case", "options", "reason"),
    [
        ("forged", {"secret": "not-the-secret"}, "signature does not match"),
        ("stale", {"at": NOW - 301}, "stale"),
        ("future", {"at": NOW + 301}, "in the future"),
    ],
)
def test_a_forged_or_mistimed_webhook_is_refused_401_with_its_reason_and_no_secret(
    rig: Rig, caplog: pytest.LogCaptureFixture, case: str, options: dict[str, Any], reason: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = rig.post(event(), **options)
    assert response.status_code == 401, case
    (message,) = response.get_json().values()
    assert message.startswith("webhook rejected: ") and reason in message
    sent_signature = sign(options.get("secret", WH_SECRET), str(int(options.get("at", NOW))),
                          json.dumps(event()).encode())  # fmt: skip
    for text in (response.get_data(as_text=True), caplog.text):
        assert WH_SECRET not in text and sent_signature.removeprefix("sha256=") not in text
    assert reason in caplog.text
    assert rig.store.inbox_events() == [] and rig.wakes == 0


def test_a_webhook_without_a_signature_is_refused_401(rig: Rig) -> None:
    response = rig.client.post(URL, json=event())
    assert response.status_code == 401
    assert response.get_json() == {"error": "webhook rejected: missing X-GPSI-Timestamp header"}


def test_a_webhook_for_an_unpaired_portal_is_404(rig: Rig) -> None:
    response = rig.post(event(), url="/webhooks/gpsinsight/wex")
    assert response.status_code == 404
    assert response.get_json() == {"error": "no driver sync is paired with portal 'wex'"}


def test_a_portal_paired_without_a_subscription_refuses_every_webhook(rig: Rig) -> None:
    rig.store.save_webhook("driveri", None, None, T0)
    response = rig.post(event())
    assert response.status_code == 401
    assert "no webhook subscription" in response.get_json()["error"]


def test_a_body_over_the_cap_is_refused_413_before_it_is_read(rig: Rig) -> None:
    big = event()
    big["driver"]["note"] = "x" * WEBHOOK_MAX_BYTES
    response = rig.post(big)
    assert response.status_code == 413
    assert response.get_json() == {"error": f"a webhook body is at most {WEBHOOK_MAX_BYTES} bytes"}
    assert rig.store.inbox_events() == []


def test_a_signed_body_that_is_not_an_event_is_refused_400(rig: Rig) -> None:
    response = rig.post(b"{not json")
    assert response.status_code == 400
    assert response.get_json() == {"error": "bad event: the body is not JSON"}


def test_the_receiver_keeps_the_host_check_but_not_the_browser_rules(rig: Rig) -> None:
    foreign = rig.post(event(), Host="evil.example")
    assert foreign.status_code == 403
    assert "engine API answers only loopback hosts" in foreign.get_json()["error"]
    # A vendor's delivery may name any Origin or content type: the signature is what counts.
    ok = rig.post(event(), Origin="https://portal.example", **{"Content-Type": "text/plain"})
    assert ok.status_code == 202


def test_the_receiver_takes_post_only(rig: Rig) -> None:
    response = rig.client.get(URL)
    assert response.status_code == 405
    assert response.get_json() == {"error": "the webhook receiver takes POST only"}


# -- /api/drivers/links and /api/drivers/events ---------------------------------------------------


def test_links_page_shows_each_pairing_and_its_links_never_a_secret_or_phone(rig: Rig) -> None:
    rig.store.save_sync_seen("driveri", True, T0)
    rig.store.save_link("driveri", 1001, "D-1", phone="555-0199", version=4,
                        now=T0 + timedelta(minutes=5))  # fmt: skip
    response = rig.client.get("/api/drivers/links")
    assert response.status_code == 200
    assert response.get_json() == {
        "pairings": [
            {"driveri": "driveri", "portal": "gpsinsight", "tenant": "acme",
             "sync_seen_on": True, "webhook_id": 11,
             "links": [{"portal_id": 1001, "driveri_id": "D-1", "version": 4,
                        "updated_at": (T0 + timedelta(minutes=5)).isoformat()}]}
        ]
    }  # fmt: skip
    text = response.get_data(as_text=True)
    assert WH_SECRET not in text and "secret" not in text and "555-0199" not in text


def test_events_page_lists_the_latest_events_newest_first_without_payload(rig: Rig) -> None:
    for n in (1, 2, 3):
        assert rig.post(event(f"ev-{n}", "driver.updated", version=n)).status_code == 202
    rig.store.inbox_mark("ev-1", APPLIED, T0, "updated D-1")
    body = rig.client.get("/api/drivers/events?limit=2").get_json()["events"]
    assert [e["event_id"] for e in body] == ["ev-3", "ev-2"]
    assert body[0] == {"event_id": "ev-3", "portal": "gpsinsight", "type": "driver.updated",
                       "portal_id": 1001, "version": 3, "status": PENDING, "detail": None,
                       "received_at": T0.isoformat(), "done_at": None}  # fmt: skip
    everything = rig.client.get("/api/drivers/events").get_json()["events"]
    assert everything[-1]["status"] == APPLIED and everything[-1]["detail"] == "updated D-1"
    assert rig.client.get("/api/drivers/events?limit=x").status_code == 400
