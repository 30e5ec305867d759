"""Driver sync through the REAL real-time path (issue 10 §3): the stack served on 127.0.0.1 on
its frozen virtual clock, the engine's API (the webhook receiver) served on another port with
the background applier and the scheduler running, the demo Driveri tenant paired and the
receiver subscribed by ``make run``'s own code, Driver Sync on. Portal drivers change through
the GPS Insight API as the Master User; the emulator's delivery worker posts the signed events.

The rule-by-rule cases through the inbox live in tests/sync_engine/test_drivers_e2e.py, the
receiver's refusals one by one in tests/fleetsim/test_webhook_receiver.py: here every event
crosses HTTP. Nothing sleeps: each wait polls with a deadline (helpers.wait_until).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from engine_rig import ENGINE_USER, DriverRig, Rig
from flask import Flask
from gpsinsight_helpers import assert_error, backend_of, ok, post
from werkzeug.test import Client

from fleetsim.demo import activate_demo, activate_driver_sync
from fleetsim.engine_api import create_api
from fleetsim.engine_service import build_scheduler
from helpers import Sleeper, demo_credentials, make_stack_app, served, wait_until
from mock_vendors.gpsinsight.app import DELIVERY
from mock_vendors.gpsinsight.delivery import signed_headers
from mock_vendors.gpsinsight.errors import FORBIDDEN_DRIVER_SYNC
from sync_engine.clock import ENV_VAR
from sync_engine.engine import Engine
from sync_engine.store import Store
from sync_engine.store.times import utc

VISIBLE_WITHIN_S = 1.0  # issue 10: a portal change shows up in Driveri within one second
FAST_BACKOFF_S = (0.02, 0.2)  # the emulator's retry backoff, turned down so retries are quick
PORTAL = "gpsinsight"


@dataclass
class Live:
    """The live set-up, and what the tests do to the portal, the receiver and Driveri."""

    drivers: DriverRig
    store: Store
    api: Flask
    port: int
    receiving: ExitStack  # the receiver's server, while it serves

    @property
    def rig(self) -> Rig:
        return self.drivers.rig

    @property
    def engine_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- the engine's receiver -----------------------------------------------------------------

    def stop_receiver(self) -> None:
        """The engine's API down: the port refuses connections (the applier keeps running)."""
        self.receiving.close()

    def start_receiver(self) -> None:
        """The engine's API back, on the port the portal posts to."""
        self.receiving = ExitStack()
        self.receiving.enter_context(served(self.api, port=self.port))  # type: ignore[arg-type]

    def send(self, body: str, *, secret: str | None = None, at: float | None = None) -> Any:
        """POST an event body to the receiver as the portal would, signed at ``at`` (the host's
        wall clock; now by default) with ``secret`` (the subscription's by default)."""
        pairing = self.store.pairing("driveri")
        assert pairing is not None
        data = body.encode()
        event_id = json.loads(body)["event_id"]
        headers = signed_headers(secret or pairing["webhook_secret"], event_id, data,
                                 time.time() if at is None else at)  # fmt: skip
        return self.rig.http.post(
            f"{self.engine_url}/webhooks/gpsinsight/{PORTAL}", data=data, headers=headers
        )

    def events(self) -> list[dict[str, Any]]:
        """The receiver's inbox, in arrival order, from /api/drivers/events."""
        response = self.rig.http.get(f"{self.engine_url}/api/drivers/events")
        response.raise_for_status()
        return list(reversed(response.json()["events"]))

    def all_settled(self) -> list[dict[str, Any]]:
        """The inbox once the applier is done with every event in it (empty while one is
        pending: a change shows in Driveri a moment before its event is marked)."""
        events = self.events()
        return events if all(e["status"] != "PENDING" for e in events) else []

    def settled(self, event_id: str) -> dict[str, Any] | None:
        """The event once the applier is done with it (None while it is pending or unseen)."""
        event = next((e for e in self.events() if e["event_id"] == event_id), None)
        return event if event is not None and event["status"] != "PENDING" else None

    # -- the portal's subscription -------------------------------------------------------------

    def hook(self) -> dict[str, Any]:
        (row,) = self.rig.gps("webhook/list")
        return dict(row)

    def pause(self) -> None:
        """Deliveries held: events keep being queued (what the tests then deliver by hand)."""
        self.rig.gps("webhook/pause", id=self.hook()["id"])

    def queued(self) -> list[str]:
        """The event bodies queued on the subscription, oldest first (the control plane's
        state dump: the API lists only the queue's depth)."""
        response = self.rig.http.get(f"{self.rig.base}/gpsinsight/_mock/state")
        response.raise_for_status()
        (sub,) = response.json()["state"]["webhooks"]["subscriptions"]
        return [e["body"] for e in sub["queue"]]

    def deliveries(self) -> list[dict[str, Any]]:
        """The portal's delivery attempts (outbound journal entries), oldest first."""
        return [e for e in self.rig.journal("gpsinsight") if e.get("direction") == "out"]

    # -- Driveri -------------------------------------------------------------------------------

    def driveri(self, driver_id: str) -> dict[str, Any] | None:
        return self.drivers.tenant().get(driver_id)

    def assert_driveri_is_the_portal(self) -> None:
        """Every portal driver linked, and its linked Driveri driver active with the portal's
        synced fields; no link left to a driver the portal deleted."""
        portal = self.drivers.portal()
        tenant = self.drivers.tenant()
        links = self.drivers.links()
        assert set(links) == set(portal)
        for p in portal.values():
            d = tenant[links[p["id"]]]
            assert links[p["id"]] == p["driveri_driver_id"]
            assert (d["firstName"], d["lastName"], d["email"], d["phone"], d["status"]) == (
                p["firstname"], p["lastname"], p["email"], p["phone"], 1,
            ), p["id"]  # fmt: skip


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """The whole live set-up for one test; everything stops at teardown."""
    app = make_stack_app(vehicles=2, wex_vehicles=0)
    backend_of(app, PORTAL).webhook_backoff_s = FAST_BACKOFF_S
    db_url = f"sqlite:///{tmp_path / 'fleetsim.db'}"
    monkeypatch.setenv("FLEETSIM_DB_URL", db_url)  # make run's code uses the default store
    monkeypatch.delenv(ENV_VAR, raising=False)
    with served(app) as base, ExitStack() as cleanup:
        cleanup.callback(app.vendors[PORTAL].extensions[DELIVERY].stop)
        store = Store(db_url)
        activate_demo(app, base)

        def clock() -> Any:
            return app.stack.clock.now()

        # Telematics off: a 25 h clock jump would start hours of readings beside the drivers.
        scheduler = build_scheduler(
            store, clock, env={"FLEETSIM_TELEMATICS_INTERVAL": "0"}, sleep=Sleeper()
        )
        assert scheduler.applier is not None
        api = create_api(store, scheduler, wake=scheduler.applier.wake)
        receiving = ExitStack()
        engine_url = receiving.enter_context(served(api))  # type: ignore[arg-type]
        holder: list[Live] = []
        # The receiver serving at teardown (a test may have stopped and started it again).
        cleanup.callback(lambda: (holder[0].receiving if holder else receiving).close())
        activate_driver_sync(app, base, engine_url)  # pairs, subscribes, Driver Sync on

        users, keys = demo_credentials(base)
        master = next(u for u in users if u["master"])
        user = next(u for u in users if u["username"] == ENGINE_USER)
        wa_key = next(k["key"] for k in keys if k["type"] == "integration")
        engine = Engine(store, clock=clock, sleep=Sleeper(), rng=random.Random(1))
        rig = Rig(app, base, store, Sleeper(), engine, user, master, wa_key)
        cleanup.callback(rig.http.close)
        creds = rig.http.get(f"{base}/driveri/_mock/credentials").json()["clients"][0]
        drivers = DriverRig(rig, creds)
        first = drivers.sync()  # R25: the first activation's adopt-first reconcile
        assert first.outcome == "SUCCESS", first.as_dict()
        rig.clear_journals("driveri", PORTAL)

        port = int(engine_url.rsplit(":", 1)[1])
        live = Live(drivers, store, api, port, receiving)
        holder.append(live)
        scheduler.start()
        cleanup.callback(scheduler.shutdown)
        yield live


def linked_driver(live: Live, n: int = 7) -> dict[str, Any]:
    """The n-th portal driver (by id), linked since the first reconcile."""
    portal = live.drivers.portal()
    return portal[sorted(portal)[n]]


def held_change(live: Live, portal_id: int, **fields: Any) -> tuple[str, str]:
    """A portal change whose event the paused subscription holds (for a test to deliver by
    hand, as the portal would): (the event's body, its id)."""
    live.pause()
    live.drivers.update(portal_id, **fields)
    (body,) = live.queued()
    return body, json.loads(body)["event_id"]


def timed(condition: Any, what: str) -> float:
    """Seconds until ``condition`` held (polled with a deadline well past the goal)."""
    started = time.monotonic()
    wait_until(condition, what)
    return time.monotonic() - started


def test_a_driver_created_updated_and_deleted_in_the_portal_reaches_driveri_within_a_second(
    live: Live,
) -> None:
    drivers = live.drivers
    new = drivers.create(firstname="Ada", lastname="Byron", email="ada@example.com",
                         phone="+1-602-555-0111", driveri_driver_id="LIVE-ADA")  # fmt: skip
    created = timed(lambda: live.driveri("LIVE-ADA"), "the created driver in Driveri")
    drivers.update(new, lastname="Lovelace")
    updated = timed(
        lambda: (live.driveri("LIVE-ADA") or {}).get("lastName") == "Lovelace",
        "the updated last name in Driveri",
    )
    drivers.delete(new)
    deleted = timed(
        lambda: (live.driveri("LIVE-ADA") or {}).get("status") == 3, "the soft delete in Driveri"
    )
    assert max(created, updated, deleted) <= VISIBLE_WITHIN_S, (created, updated, deleted)
    d = live.driveri("LIVE-ADA")
    assert d is not None
    assert (d["firstName"], d["lastName"], d["email"], d["phone"]) == (
        "Ada", "Lovelace", "ada@example.com", "+1-602-555-0111",
    )  # fmt: skip
    events = wait_until(live.all_settled, "the three events settled")
    assert [(e["type"], e["status"]) for e in events] == [
        ("driver.created", "APPLIED"), ("driver.updated", "APPLIED"), ("driver.deleted", "APPLIED"),
    ]  # fmt: skip
    assert new not in drivers.links()  # R23: the link released


def test_r22_a_driverid_renamed_in_the_portal_renames_the_same_driveri_driver(
    live: Live,
) -> None:
    p = linked_driver(live)
    old = p["driveri_driver_id"]
    born = live.drivers.tenant()[old]["createdDate"]
    live.drivers.update(p["id"], driveri_driver_id="LIVE-RENAMED")
    renamed = wait_until(lambda: live.driveri("LIVE-RENAMED"), "the renamed Driveri driver")
    assert renamed["createdDate"] == born and renamed["firstName"] == p["firstname"]
    assert live.driveri(old) is None  # renamed, not copied
    (event,) = wait_until(live.all_settled, "the event settled")
    assert event["status"] == "APPLIED"
    writes = [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in live.drivers.writes()]
    assert writes == [("PUT", old)]
    assert live.drivers.links()[p["id"]] == "LIVE-RENAMED"


def test_r26_an_event_delivered_three_times_has_one_effect(live: Live) -> None:
    p = linked_driver(live)
    body, event_id = held_change(live, p["id"], email="three.times@example.com")
    now = time.time()
    answers = [live.send(body, at=now + n) for n in range(3)]  # each attempt signed afresh
    assert [a.status_code for a in answers] == [202, 200, 200]
    assert answers[1].json() == answers[2].json() == {"status": "duplicate", "event_id": event_id}
    settled = wait_until(lambda: live.settled(event_id), "the event applied")
    assert settled["status"] == "APPLIED"
    assert [e["event_id"] for e in live.events()] == [event_id]  # one inbox row
    writes = [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in live.drivers.writes()]
    assert writes == [("PUT", p["driveri_driver_id"])]
    assert live.drivers.tenant()[p["driveri_driver_id"]]["email"] == "three.times@example.com"


def test_r26_an_older_version_delivered_after_a_newer_one_is_dropped(live: Live) -> None:
    p = linked_driver(live)
    live.pause()
    live.drivers.update(p["id"], firstname="Second")
    live.drivers.update(p["id"], firstname="Third")
    older, newer = live.queued()
    old_version = json.loads(older)["driver"]["version"]
    new_version = json.loads(newer)["driver"]["version"]
    assert new_version == old_version + 1
    assert live.send(newer).status_code == 202
    newer_id, older_id = json.loads(newer)["event_id"], json.loads(older)["event_id"]
    assert wait_until(lambda: live.settled(newer_id), "the newer event")["status"] == "APPLIED"
    assert live.send(older).status_code == 202  # a new event id: accepted, then judged
    dropped = wait_until(lambda: live.settled(older_id), "the older event")
    assert (dropped["status"], dropped["version"], dropped["detail"]) == (
        "DROPPED", old_version,
        f"version {old_version} is older than the applied version {new_version}",
    )  # fmt: skip
    assert live.drivers.tenant()[p["driveri_driver_id"]]["firstName"] == "Third"
    assert len(live.drivers.writes()) == 1


def test_r26_forged_stale_and_replayed_webhooks_write_nothing_to_driveri(live: Live) -> None:
    p = linked_driver(live)
    body, event_id = held_change(live, p["id"], lastname="Genuine")
    forged = live.send(body, secret="whsec-not-the-subscriptions")
    stale = live.send(body, at=time.time() - 301)
    assert (forged.status_code, stale.status_code) == (401, 401)
    assert forged.json() == {
        "error": "webhook rejected: signature does not match the body and timestamp"
    }
    assert stale.json() == {"error": "webhook rejected: timestamp is stale: more than 300 s old"}
    assert live.events() == [] and live.rig.journal("driveri") == []
    genuine_stamp = time.time()
    assert live.send(body, at=genuine_stamp).status_code == 202
    wait_until(lambda: live.settled(event_id), "the genuine event applied")
    writes = live.drivers.writes()
    replayed = live.send(body, at=genuine_stamp)  # the very same request, within 300 s
    assert replayed.status_code == 200
    assert replayed.json() == {"status": "duplicate", "event_id": event_id}
    assert live.store.inbox_pending() == []  # nothing for the applier to do
    assert live.drivers.writes() == writes and len(writes) == 1
    assert [e["status"] for e in live.events()] == ["APPLIED"]


def test_r26_events_sent_while_the_engine_is_down_are_delivered_in_order_once_it_is_back(
    live: Live,
) -> None:
    drivers = live.drivers
    gone = linked_driver(live, 3)
    live.stop_receiver()
    new = drivers.create(firstname="Dee", lastname="Down", driveri_driver_id="LIVE-DOWN")
    drivers.update(new, email="dee.down@example.com")
    drivers.delete(gone["id"])
    sent = [json.loads(b)["event_id"] for b in live.queued()]
    assert len(sent) == 3
    # The portal retries the head event with backoff while the port refuses connections.
    refused = wait_until(
        lambda: [e for e in live.deliveries() if e["status"] is None][1:],
        "a retried delivery",
    )
    assert {(e["event_id"], e["error"]) for e in refused} == {(sent[0], "ConnectionRefusedError")}
    assert live.driveri("LIVE-DOWN") is None
    live.start_receiver()  # the same port: the subscription's URL is unchanged
    wait_until(lambda: live.hook()["queue_depth"] == 0, "the queue delivered")
    wait_until(lambda: all(live.settled(event_id) for event_id in sent), "the three events settled")
    assert [e["event_id"] for e in live.events()] == sent  # in order, each once
    assert {e["status"] for e in live.events()} == {"APPLIED"}
    accepted = [e["event_id"] for e in live.deliveries() if e["status"] == 202]
    assert accepted == sent
    live.assert_driveri_is_the_portal()
    assert live.drivers.tenant()[gone["driveri_driver_id"]]["status"] == 3


def test_r26_a_change_made_while_the_subscription_is_paused_is_repaired_by_the_daily_reconcile(
    live: Live,
) -> None:
    p = linked_driver(live)
    live.pause()
    live.drivers.update(p["id"], firstname="Missed", phone="+1-602-555-0199")
    assert live.hook()["queue_depth"] == 1  # held: the engine never hears of it
    live.rig.advance(25 * 3600)  # the scheduler's next look starts the daily reconcile
    jumped = live.rig.now()

    def repairs() -> list[dict[str, Any]]:
        """Finished runs since the jump that updated a driver."""
        return [
            r for r in live.store.runs()
            if utc(r["started_at"]) >= jumped and r["outcome"]
            and (r["report"] or {}).get("counts", {}).get("updated")
        ]  # fmt: skip

    (run,) = wait_until(repairs, "the daily reconcile's run")
    assert (run["pipeline"], run["outcome"], run["report"]["counts"]["updated"]) == (
        "drivers", "SUCCESS", 1,
    )  # fmt: skip
    assert live.drivers.tenant()[p["driveri_driver_id"]]["firstName"] == "Missed"
    assert live.events() == []  # not through an event
    live.assert_driveri_is_the_portal()


def test_r25_with_driver_sync_turned_off_a_portal_change_emits_nothing_and_driveri_is_untouched(
    live: Live,
) -> None:
    live.drivers.toggle(False)  # as the Master User, through the API
    before = live.hook()["total"]
    p = linked_driver(live)
    live.drivers.update(p["id"], firstname="Unsynced")
    created = live.drivers.create(firstname="Not", lastname="Synced", driveri_driver_id="OFF-1")
    live.drivers.delete(created)
    hook = live.hook()
    assert (hook["total"], hook["queue_depth"]) == (before, 0)  # no event queued
    assert live.deliveries() == [] and live.events() == []
    assert live.rig.journal("driveri") == []  # not a read, not a write
    assert live.driveri("OFF-1") is None


def test_r25_an_event_arriving_after_driver_sync_was_turned_off_is_dropped(live: Live) -> None:
    p = linked_driver(live)
    body, event_id = held_change(live, p["id"], firstname="Late")  # while Driver Sync is on
    live.drivers.toggle(False)
    assert live.send(body).status_code == 202
    settled = wait_until(lambda: live.settled(event_id), "the late event")
    assert (settled["status"], settled["detail"]) == ("DROPPED", "Driver Sync is off")
    assert live.drivers.writes() == []
    assert live.drivers.tenant()[p["driveri_driver_id"]]["firstName"] == p["firstname"]


def test_r25_the_restricted_user_is_refused_turning_driver_sync_on(live: Live) -> None:
    live.drivers.toggle(False)
    users, _keys = demo_credentials(live.rig.base)
    restricted = next(u for u in users if "ALL VEHICLES" not in u["vehicle_groups"])
    client = Client(live.rig.app)
    login = ok(post(client, PORTAL, "userauth/login", username=restricted["username"],
                    app_token=restricted["app_token"]))  # fmt: skip
    refused = post(client, PORTAL, "driverisync/update", login["token"], enabled=1)
    assert assert_error(refused, 403)["message"] == FORBIDDEN_DRIVER_SYNC
    assert live.rig.gps("driverisync/read")["enabled"] is False
    assert live.rig.journal("driveri") == []
