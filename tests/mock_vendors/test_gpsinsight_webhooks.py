"""GPS Insight API v2 (and Wex) webhooks (``webhook/*``) and the driver events they deliver:
the subscription methods, who may call them, events only while Driver Sync is on, signing,
order and retries, the queue cap, the journal, dump/reset, and the pinned event contract.

Deliveries go to a real receiver: a tiny WSGI app served on 127.0.0.1 (a free port) for the
test, answering a scripted list of statuses. Nothing sleeps: every wait polls with a deadline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from gpsinsight_helpers import assert_error, backend_of, call, ok, post
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from helpers import PLATFORM_VENDORS, served, wait_until
from mock_vendors.gpsinsight.app import DELIVERY
from mock_vendors.gpsinsight.errors import FORBIDDEN_WEBHOOKS
from mock_vendors.gpsinsight.webhooks import QUEUE_CAP
from mock_vendors.wsgi import StackApp

SECRET = "whsec-test-0123456789"
EVENT_SCHEMA = json.loads(
    (Path(__file__).parents[2] / "contracts/gpsinsight.webhook-event.schema.json").read_text()
)
ROW_KEYS = {
    "id", "name", "email", "url", "type", "content_type", "username", "status", "total",
    "queue_depth",
}  # fmt: skip


class Receiver:
    """A webhook endpoint: answers the scripted statuses in turn (then 200) and keeps every
    request it got with the host time it arrived at."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.got: list[dict[str, Any]] = []
        self.on_request: Callable[[], None] = lambda: None
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.on_request()
        with self._lock:
            status = self.statuses.pop(0) if self.statuses else 200
            self.got.append(
                {
                    "at": time.time(),
                    "path": request.full_path,
                    "headers": dict(request.headers),
                    "body": request.get_data(),
                    "status": status,
                }
            )
        return Response("ok", status=status)(environ, start_response)

    def events(self) -> list[dict[str, Any]]:
        """The bodies received, parsed."""
        with self._lock:
            return [json.loads(r["body"]) for r in self.got]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A receiver served on a free loopback port for the test; (receiver, its URL)."""
    rx = Receiver()
    with served(rx) as base:  # type: ignore[arg-type]
        yield rx, f"{base}/hooks/fleetsim"


@pytest.fixture(autouse=True)
def fast_and_stopped(stack_app: StackApp) -> Iterator[None]:
    """Short backoff on every platform vendor; every delivery worker stopped afterwards."""
    for vendor in PLATFORM_VENDORS:
        backend_of(stack_app, vendor).webhook_backoff_s = (0.02, 0.2)
    yield
    for vendor in PLATFORM_VENDORS:
        stack_app.vendors[vendor].extensions[DELIVERY].stop()


def create_hook(client: Client, vendor: str, token: str, url: str, **params: Any) -> int:
    fields = {"url": url, "type": "driver", "secret": SECRET, "name": "sync", **params}
    data = ok(post(client, vendor, "webhook/create", token, **fields))
    assert data["registered"] is True and data["error"] == ""
    return int(data["id"])


def hooks(client: Client, vendor: str, token: str) -> list[dict[str, Any]]:
    return ok(call(client, vendor, "webhook/list", token))


def sync_on(client: Client, vendor: str, token: str, enabled: int = 1) -> None:
    ok(post(client, vendor, "driverisync/update", token, enabled=enabled))


def new_driver(client: Client, vendor: str, token: str, last: str = "Hook") -> int:
    return int(
        ok(post(client, vendor, "driver/create", token, lastname=last, firstname="Al"))["id"]
    )


def paused_with_one_event(client: Client, login: Any, url: str, last: str) -> tuple[str, int]:
    """A driver webhook to ``url``, paused, with the event of a new driver ``last`` queued:
    (the Master's session, the webhook's id)."""
    token = login("gpsinsight")
    hook_id = create_hook(client, "gpsinsight", token, url)
    sync_on(client, "gpsinsight", token)
    ok(call(client, "gpsinsight", "webhook/pause", token, id=hook_id))
    new_driver(client, "gpsinsight", token, last)
    return token, hook_id


def outbound(client: Client, vendor: str) -> list[dict[str, Any]]:
    entries = client.get(f"/{vendor}/_mock/journal").json["entries"]
    return [e for e in entries if e.get("direction") == "out"]


def expected_signature(timestamp: str, body: bytes) -> str:
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# -- the subscription methods ------------------------------------------------------------------


@pytest.mark.parametrize("vendor", PLATFORM_VENDORS)
def test_create_registers_a_webhook_that_list_shows_without_its_secret(client, login, vendor):
    token = login(vendor)
    url = "https://receiver.example.com/hooks?account=7"
    hook_id = create_hook(client, vendor, token, url, email="ops@example.com")
    rows = hooks(client, vendor, token)
    assert rows == [
        {
            "id": hook_id, "name": "sync", "email": "ops@example.com", "url": url,
            "type": "driver", "content_type": "json", "username": rows[0]["username"],
            "status": "running", "total": 0, "queue_depth": 0,
        }
    ]  # fmt: skip
    assert set(rows[0]) == ROW_KEYS
    assert SECRET not in call(client, vendor, "webhook/list", token).get_data(as_text=True)


def test_pause_resume_and_delete_change_the_webhook_and_answer_its_id(client, login):
    token = login("gpsinsight")
    hook_id = create_hook(client, "gpsinsight", token, "http://127.0.0.1:9/x")
    for method, status in (("webhook/pause", "paused"), ("webhook/resume", "running")):
        assert ok(call(client, "gpsinsight", method, token, id=hook_id)) == {
            "success": True,
            "id": str(hook_id),
        }
        assert hooks(client, "gpsinsight", token)[0]["status"] == status
    ok(call(client, "gpsinsight", "webhook/delete", token, id=hook_id))
    assert hooks(client, "gpsinsight", token) == []
    assert_error(
        call(client, "gpsinsight", "webhook/pause", token, id=hook_id), 404, "Webhook not found"
    )


def test_a_user_without_all_vehicles_may_not_create_a_webhook(client, login):
    token = login("gpsinsight", "restricted")
    response = post(
        client,
        "gpsinsight",
        "webhook/create",
        token,
        url="http://a.test/",
        type="driver",
        secret=SECRET,
    )
    assert assert_error(response, 403)["message"] == FORBIDDEN_WEBHOOKS
    assert hooks(client, "gpsinsight", token) == []


def test_a_user_sees_and_changes_only_its_own_webhooks_and_the_master_all(client, login):
    master, dispatch = login("gpsinsight"), login("gpsinsight", "dispatch")
    mine = create_hook(client, "gpsinsight", dispatch, "http://127.0.0.1:9/d")
    theirs = create_hook(client, "gpsinsight", master, "http://127.0.0.1:9/m")
    assert [r["id"] for r in hooks(client, "gpsinsight", dispatch)] == [mine]
    assert [r["id"] for r in hooks(client, "gpsinsight", master)] == [mine, theirs]
    response = call(client, "gpsinsight", "webhook/delete", dispatch, id=theirs)
    assert_error(response, 404, "Webhook not found")
    ok(call(client, "gpsinsight", "webhook/pause", master, id=mine))  # the Master's to change


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"type": "gossip"}, "Invalid parameter type: must be one of: location"),
        ({"type": "driver_assignment"}, "Invalid parameter type: must be one of"),
        ({"url": "ftp://a.test/x"}, "Invalid parameter url: must be an absolute http or https"),
        ({"url": "http:///nohost"}, "Invalid parameter url: must be an absolute http or https"),
        ({"content_type": "xml"}, "Invalid parameter content_type: must be one of: json, form"),
        (
            {"content_type": "form"},
            "Invalid parameter content_type: driver events are sent as json",
        ),
        ({"secret": ""}, "Missing required parameter: secret"),
        ({"url": ""}, "Missing required parameter: url"),
    ],
)
def test_create_refuses_bad_parameters_with_the_vendors_400(client, login, params, message):
    token = login("gpsinsight")
    fields = {"url": "http://a.test/", "type": "driver", "secret": SECRET, **params}
    assert_error(post(client, "gpsinsight", "webhook/create", token, **fields), 400, message)
    assert hooks(client, "gpsinsight", token) == []


def test_wex_offers_driver_assignment_and_the_platform_types_are_accepted(client, login):
    token = login("wex")
    ok(post(client, "wex", "webhook/create", token, url="http://a.test/", type="Driver_Assignment"))
    ok(
        post(
            client,
            "wex",
            "webhook/create",
            token,
            url="http://a.test/",
            type="location",
            content_type="form",
        )
    )
    assert [(r["type"], r["content_type"]) for r in hooks(client, "wex", token)] == [
        ("driver_assignment", "json"),
        ("location", "form"),
    ]


def test_the_id_parameter_must_be_a_positive_integer(client, login):
    token = login("gpsinsight")
    assert_error(
        call(client, "gpsinsight", "webhook/pause", token, id="x"),
        400,
        "Invalid parameter id: expected an integer",
    )
    assert_error(
        call(client, "gpsinsight", "webhook/resume", token), 400, "Missing required parameter: id"
    )


def test_a_dump_carries_the_webhooks_and_a_reset_clears_them(client, login):
    token = login("gpsinsight")
    hook_id = create_hook(client, "gpsinsight", token, "http://127.0.0.1:9/x")
    dump = client.get("/gpsinsight/_mock/state").json["state"]
    assert [s["id"] for s in dump["webhooks"]["subscriptions"]] == [hook_id]
    assert client.post("/gpsinsight/_mock/reset").status_code == 200
    token = login("gpsinsight")
    assert hooks(client, "gpsinsight", token) == []
    assert client.post("/gpsinsight/_mock/state", json={"state": dump}).status_code == 200
    assert [r["id"] for r in hooks(client, "gpsinsight", token)] == [hook_id]


# -- events ----------------------------------------------------------------------------------


def test_no_event_is_queued_while_driver_sync_is_off(client, login, receiver):
    rx, url = receiver
    token = login("gpsinsight")
    create_hook(client, "gpsinsight", token, url)
    new_driver(client, "gpsinsight", token)
    ok(post(client, "gpsinsight", "driver/update", token, driver="2001", phone="1"))
    assert hooks(client, "gpsinsight", token)[0]["total"] == 0
    assert rx.got == []
    assert outbound(client, "gpsinsight") == []


@pytest.mark.parametrize("vendor", PLATFORM_VENDORS)
def test_create_update_delete_and_undelete_are_delivered_in_order_with_versions(
    client, login, receiver, vendor
):
    rx, url = receiver
    token = login(vendor)
    create_hook(client, vendor, token, url)
    sync_on(client, vendor, token)
    driver = new_driver(client, vendor, token, "Evented")
    ok(post(client, vendor, "driver/update", token, driver=str(driver), phone="602-555-0100"))
    ok(post(client, vendor, "driver/delete", token, driver=str(driver)))
    again = ok(post(client, vendor, "driver/create", token, lastname="Evented", firstname="Al"))
    assert again == {"message": "Driver undeleted", "id": driver}
    events = wait_until(lambda: len(rx.events()) == 4 and rx.events(), "four deliveries")
    assert [(e["type"], e["driver"]["id"], e["driver"]["version"]) for e in events] == [
        ("driver.created", driver, 1),
        ("driver.updated", driver, 2),
        ("driver.deleted", driver, 3),
        ("driver.created", driver, 4),
    ]
    assert events[1]["driver"]["phone"] == "602-555-0100"
    assert len({e["event_id"] for e in events}) == 4
    assert all(e["account"] and e["schema"] == 1 for e in events)


def test_delivered_events_match_the_pinned_event_contract(client, login, receiver):
    rx, url = receiver
    token = login("gpsinsight")
    create_hook(client, "gpsinsight", token, url)
    sync_on(client, "gpsinsight", token)
    driver = new_driver(client, "gpsinsight", token)
    ok(post(client, "gpsinsight", "driver/delete", token, driver=str(driver)))
    events = wait_until(lambda: len(rx.events()) == 2 and rx.events(), "two deliveries")
    validator = jsonschema_rs.validator_for(EVENT_SCHEMA)
    for event in events:
        validator.validate(event)
    assert events[0]["occurred_at"].startswith("2026-03-10T17:30:00")  # the frozen stack clock
    bad = {**events[0], "extra": 1}
    assert not validator.is_valid(bad)


def test_every_attempt_is_signed_over_timestamp_and_body_with_the_host_clock(
    client, login, receiver
):
    rx, url = receiver
    rx.statuses = [500]
    token = login("gpsinsight")
    create_hook(client, "gpsinsight", token, url)
    sync_on(client, "gpsinsight", token)
    delivery = client.application.vendors["gpsinsight"].extensions[DELIVERY]
    ticks = iter(range(1_900_000_000, 1_900_001_000, 7))
    delivery.wall = lambda: float(next(ticks))  # a host clock that moves 7 s per reading
    new_driver(client, "gpsinsight", token)
    wait_until(lambda: len(rx.got) == 2, "a failed and a successful attempt")
    first, second = rx.got
    assert first["body"] == second["body"]  # the same bytes every attempt
    stamps = [r["headers"]["X-Gpsi-Timestamp"] for r in rx.got]
    assert stamps[0] != stamps[1] and all(s.isdigit() for s in stamps)
    for r in rx.got:
        headers = r["headers"]
        assert headers["X-Gpsi-Signature"] == expected_signature(
            headers["X-Gpsi-Timestamp"], r["body"]
        )
        assert headers["X-Gpsi-Event-Id"] == json.loads(r["body"])["event_id"]
        assert headers["Content-Type"] == "application/json"


def test_the_timestamp_is_the_host_wall_clock_not_the_virtual_one(client, login, receiver):
    rx, url = receiver
    token = login("gpsinsight")
    create_hook(client, "gpsinsight", token, url)
    sync_on(client, "gpsinsight", token)
    new_driver(client, "gpsinsight", token)  # the stack's clock is frozen in March 2026
    wait_until(lambda: rx.got, "a delivery")
    stamp = int(rx.got[0]["headers"]["X-Gpsi-Timestamp"])
    assert abs(stamp - time.time()) < 300


def test_the_next_event_waits_until_the_previous_one_got_a_2xx(client, login, receiver):
    rx, url = receiver
    rx.statuses = [500, 503]
    token = login("gpsinsight")
    create_hook(client, "gpsinsight", token, url)
    sync_on(client, "gpsinsight", token)
    first = new_driver(client, "gpsinsight", token, "First")
    second = new_driver(client, "gpsinsight", token, "Second")
    wait_until(lambda: len(rx.got) == 4, "four attempts")
    ids = [json.loads(r["body"])["driver"]["id"] for r in rx.got]
    assert ids == [first, first, first, second]
    assert [r["status"] for r in rx.got] == [500, 503, 200, 200]
    assert wait_until(lambda: hooks(client, "gpsinsight", token)[0]["queue_depth"] == 0, "empty")


def test_a_failed_attempt_is_requeued_with_exponential_backoff_on_wall_time(
    client, login, receiver
):
    rx, url = receiver
    rx.statuses = [500, 500, 500]
    token = login("gpsinsight")
    backend_of(client.application, "gpsinsight").webhook_backoff_s = (0.1, 0.25)
    create_hook(client, "gpsinsight", token, url)
    sync_on(client, "gpsinsight", token)
    new_driver(client, "gpsinsight", token)
    wait_until(lambda: len(rx.got) == 4, "four attempts")
    gaps = [b["at"] - a["at"] for a, b in zip(rx.got, rx.got[1:], strict=False)]
    # base 0.1 s doubling, capped at 0.25 s: at least 0.1, 0.2 and 0.25 s apart.
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19 and gaps[2] >= 0.24
    assert gaps[2] < 2.0  # the cap holds


def test_a_paused_webhook_keeps_queueing_and_delivers_on_resume(client, login, receiver):
    rx, url = receiver
    token, hook_id = paused_with_one_event(client, login, url, "Held")
    assert hooks(client, "gpsinsight", token)[0]["queue_depth"] == 1
    assert rx.got == []
    ok(call(client, "gpsinsight", "webhook/resume", token, id=hook_id))
    wait_until(lambda: len(rx.got) == 1, "the queued event")


def test_at_the_queue_cap_the_webhook_is_paused_and_its_queue_flushed(client, login, receiver):
    rx, url = receiver
    rx.statuses = [500] * 1000
    token = login("gpsinsight")
    backend_of(client.application, "gpsinsight").webhook_queue_cap = 3
    hook_id = create_hook(client, "gpsinsight", token, url)
    sync_on(client, "gpsinsight", token)
    for n in range(3):
        new_driver(client, "gpsinsight", token, f"Capped{n}")
    row = hooks(client, "gpsinsight", token)[0]
    assert (row["status"], row["queue_depth"], row["total"]) == ("paused", 0, 3)
    rx.statuses = []
    new_driver(client, "gpsinsight", token, "WhilePaused")  # queued, not sent
    assert hooks(client, "gpsinsight", token)[0]["queue_depth"] == 1
    assert "WhilePaused" not in json.dumps(rx.events())
    ok(call(client, "gpsinsight", "webhook/resume", token, id=hook_id))
    last = lambda: rx.events() and rx.events()[-1]["driver"]["lastname"]  # noqa: E731
    wait_until(lambda: last() == "WhilePaused", "the event queued after the pause")
    assert [e["driver"]["lastname"] for e in rx.events()].count("WhilePaused") == 1


def test_the_default_cap_pauses_at_5000_queued_events_for_a_receiver_that_is_down(client, login):
    token = login("gpsinsight")
    create_hook(client, "gpsinsight", token, "http://127.0.0.1:9/down")  # nothing listens
    sync_on(client, "gpsinsight", token)
    backend = backend_of(client.application, "gpsinsight")
    master = next(u for u in backend.state["users"].values() if u.get("master"))
    with backend.lock:  # straight to the backend: 5,000 API calls would only be slower
        for n in range(QUEUE_CAP - 1):
            backend.driver_update(master, driver="2001", changes={"phone": str(n)})
    row = hooks(client, "gpsinsight", token)[0]
    assert (row["status"], row["queue_depth"]) == ("running", QUEUE_CAP - 1)
    ok(post(client, "gpsinsight", "driver/update", token, driver="2001", phone="last"))
    row = hooks(client, "gpsinsight", token)[0]
    assert (row["status"], row["queue_depth"], row["total"]) == ("paused", 0, QUEUE_CAP)


def test_every_attempt_is_an_outbound_journal_entry_without_the_query(client, login, receiver):
    rx, url = receiver
    rx.statuses = [502]
    token = login("gpsinsight")
    create_hook(client, "gpsinsight", token, f"{url}?token=receiver-secret")
    create_hook(client, "gpsinsight", token, "http://127.0.0.1:9/down?k=other-secret")
    sync_on(client, "gpsinsight", token)
    new_driver(client, "gpsinsight", token)
    event_id = wait_until(lambda: len(rx.got) == 2 and rx.events()[0]["event_id"], "2 attempts")
    assert rx.got[0]["path"].endswith("?token=receiver-secret")  # the receiver gets its query
    entries = wait_until(
        lambda: len(outbound(client, "gpsinsight")) >= 3 and outbound(client, "gpsinsight"),
        "entries",
    )
    mine = [e for e in entries if e["url"] == url]
    assert [(e["attempt"], e["status"], e["error"]) for e in mine] == [
        (1, 502, "HTTP 502"),
        (2, 200, None),
    ]
    assert all(e["event_id"] == event_id and e["method"] == "POST" for e in mine)
    down = [e for e in entries if e["url"] == "http://127.0.0.1:9/down"]
    assert down[0]["status"] is None and down[0]["error"] == "ConnectionRefusedError"
    text = json.dumps(client.get("/gpsinsight/_mock/journal").json)
    assert "secret" not in text and SECRET not in text


def test_delivery_posts_without_holding_the_backend_lock(client, login, receiver):
    rx, url = receiver
    backend = backend_of(client.application, "gpsinsight")
    free: list[bool] = []

    def try_lock() -> None:
        got = backend.lock.acquire(timeout=2)
        free.append(got)
        if got:
            backend.lock.release()

    rx.on_request = try_lock
    token = login("gpsinsight")
    create_hook(client, "gpsinsight", token, url)
    sync_on(client, "gpsinsight", token)
    new_driver(client, "gpsinsight", token)
    wait_until(lambda: rx.got, "a delivery")
    assert free == [True]


def test_the_worker_ends_when_nothing_is_left_and_after_a_reset(client, login, receiver):
    rx, url = receiver
    delivery = client.application.vendors["gpsinsight"].extensions[DELIVERY]
    token = login("gpsinsight")
    create_hook(client, "gpsinsight", token, url)
    sync_on(client, "gpsinsight", token)
    new_driver(client, "gpsinsight", token)
    wait_until(lambda: rx.got and not delivery.running, "the worker to end")
    rx.statuses = [500] * 1000  # keeps failing: the worker would retry forever
    new_driver(client, "gpsinsight", token, "Again")
    wait_until(lambda: len(rx.got) >= 2, "a retry")
    assert delivery.running
    assert client.post("/gpsinsight/_mock/reset").status_code == 200
    wait_until(lambda: not delivery.running, "the worker to leave the old backend")


def test_the_backoff_stays_at_its_cap_however_many_attempts_failed(client, login):
    # Paused, so the worker stays out of it.
    _, hook_id = paused_with_one_event(client, login, "http://127.0.0.1:9/down", "Capped")
    backend = backend_of(client.application, "gpsinsight")
    with backend.lock:
        head = backend.state["webhooks"]["subscriptions"][0]["queue"][0]
        head["attempts"] = 5_000  # 2**4999 seconds would overflow a float
        backend.webhook_attempted(hook_id, head["event_id"], False, 1_000.0)
        assert head["attempts"] == 5_001
        assert head["retry_at"] == 1_000.0 + backend.webhook_backoff_s[1]


def test_events_queued_in_a_restored_dump_are_delivered(client, login, receiver):
    rx, url = receiver
    paused_with_one_event(client, login, url, "Dumped")
    dump = client.get("/gpsinsight/_mock/state").json["state"]
    assert client.post("/gpsinsight/_mock/reset").status_code == 200
    dump["webhooks"]["subscriptions"][0]["status"] = "running"
    assert client.post("/gpsinsight/_mock/state", json={"state": dump}).status_code == 200
    events = wait_until(lambda: rx.events(), "the restored event")
    assert [e["driver"]["lastname"] for e in events] == ["Dumped"]


def test_a_dump_whose_webhooks_have_the_wrong_shape_is_refused(client):
    dump = client.get("/gpsinsight/_mock/state").json["state"]
    dump["webhooks"] = {"next_id": 1, "subscriptions": [{"id": 1}]}
    response = client.post("/gpsinsight/_mock/state", json={"state": dump})
    assert response.status_code == 400
    assert "'webhooks' must be" in response.json["error"]
