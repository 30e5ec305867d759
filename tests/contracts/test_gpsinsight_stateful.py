"""Stateful contract runs on GPS Insight and Wex, and the webhook EVENT contract on what the
emulator really delivers.

A schemathesis state machine follows the contract's links through the two resources with a
lifecycle: drivers (create -> list -> update -> delete) and webhooks (create -> list -> pause
-> resume -> delete), on the GET form of each method (the POST form takes the same fields in a
form, and a link can only name query parameters).

Each scenario starts from the seeded world with Driver Sync on and one driver webhook of the
harness, so every driver the machine creates, changes or deletes is delivered as an event.
Every webhook the machine registers is pointed at the same local receiver (a generated URL
would send events off the machine), under a path of its own so the signature of each delivery
is checked with that webhook's secret. At the end of every scenario the paused webhooks are
resumed and their queues drained; every delivered body must match
``contracts/gpsinsight.webhook-event.schema.json`` and every header its ``x-fleetsim-headers``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from typing import Any

import contract_helpers as contracts
import jsonschema_rs
import pytest
from schemathesis import Case
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from helpers import PLATFORM_VENDORS, make_stack_app, served, wait_until
from mock_vendors.gpsinsight.app import DELIVERY

CONTRACT = contracts.load_contract("gpsinsight")
EVENT_SCHEMA = json.loads(
    (contracts.CONTRACTS / "gpsinsight.webhook-event.schema.json").read_text(encoding="utf-8")
)
LIFECYCLES = ("/v2/driver/", "/v2/webhook/")
WEBHOOK_CREATE = "/v2/webhook/create"
HARNESS_SECRET = "contract-harness-secret"

STATEFUL_EXAMPLES = contracts.budget(quick=12, deep=150)
STATEFUL_STEPS = contracts.budget(quick=6, deep=15)

# As in test_gpsinsight_contract.py: the vendor validates late and across fields (a time zone
# it does not know, a ref_id another driver has), and one URL rule serves every /v2 path.
CHECKS = contracts.checks(off=("positive_data_acceptance", "unsupported_method"))


class Receiver:
    """A webhook endpoint answering 200 to everything, keeping each delivery it got."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.got.append((request.path, dict(request.headers), request.get_data()))
        return Response("ok")(environ, start_response)

    def deliveries(self) -> list[tuple[str, dict[str, str], bytes]]:
        """Every delivery so far: (path, headers, body bytes)."""
        with self._lock:
            return list(self.got)


def _lifecycle_contract(vendor: str, lifecycle: str) -> dict[str, Any]:
    """The contract served at the vendor's mount, trimmed to the GET form of one lifecycle's
    methods (what its links join). One machine per lifecycle: schemathesis starts a walk only
    at operations it believes succeed on random input, and with both lifecycles in one
    machine it judges driver/create too unlikely (a driveri_driver_id looks like a reference
    nothing produces) and starts every walk at webhook/create."""
    paths = {
        path: {"get": item["get"]}
        for path, item in CONTRACT["paths"].items()
        if path.startswith(lifecycle) and not path.endswith("/methods")
    }
    return {**CONTRACT, "paths": paths, "servers": [{"url": f"/{vendor}"}]}


class Harness:
    """One stack and one receiver for a vendor's stateful run."""

    def __init__(self, vendor: str, receiver: Receiver, receiver_url: str) -> None:
        self.vendor = vendor
        self.app = make_stack_app()
        self.client = Client(self.app)
        self.receiver = receiver
        self.receiver_url = receiver_url
        self.secrets: dict[str, str] = {}  # receiver path -> the secret its webhook signs with
        self.token = ""
        self.steps: list[contracts.Step] = []

    def api(self, method: str, **fields: Any) -> Any:
        """A GET of ``method`` with the scenario's session; its 200 answer's data."""
        query = {"session_token": self.token, **fields}
        response = self.client.get(f"/{self.vendor}/v2/{method}", query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json["data"]

    def start_scenario(self) -> None:
        """The seeded world, a Master session, Driver Sync on and the harness's webhook."""
        assert self.client.post(f"/{self.vendor}/_mock/reset").status_code == 200
        accounts = self.client.get(f"/{self.vendor}/_mock/credentials").json["accounts"]
        user = next(u for account in accounts for u in account["users"] if u["master"])
        login = {"username": user["username"], "app_token": user["app_token"]}
        self.token = str(self.api("userauth/login", **login)["token"])
        self.api("driverisync/update", enabled=1)
        self.api("webhook/create", type="driver", secret=HARNESS_SECRET, **self.hook_url())

    def hook_url(self, secret: str = HARNESS_SECRET) -> dict[str, str]:
        """A fresh receiver path for a new webhook, remembering the secret it signs with."""
        path = f"/hooks/{len(self.secrets)}"
        self.secrets[path] = secret
        return {"url": self.receiver_url + path}

    def before_call(self, case: Case) -> None:
        """The scenario's session for a generated one; a new webhook is a driver webhook (the
        only type that is ever sent anything, and what the sync engine registers) and points
        at the receiver."""
        query = case.query if case.query is not None else {}
        query["session_token"] = self.token
        case.query = query
        if case.operation.path == WEBHOOK_CREATE:
            secret = str(query.get("secret") or HARNESS_SECRET)
            query.update(type="driver", content_type="json", secret=secret)
            query.update(self.hook_url(secret))

    def drain(self) -> None:
        """Resume every paused webhook and wait until nothing is left queued."""
        for hook in self.api("webhook/list"):
            if hook["status"] != "running":
                self.api("webhook/resume", id=hook["id"])
        wait_until(
            lambda: all(h["queue_depth"] == 0 for h in self.api("webhook/list")),
            "every queued driver event delivered",
        )

    def stop(self) -> None:
        """Stop the vendor's delivery worker."""
        self.app.vendors[self.vendor].extensions[DELIVERY].stop()


def _machine(harness: Harness, lifecycle: str) -> Any:
    config = contracts.config(
        "positive",
        CHECKS,
        STATEFUL_EXAMPLES,
        phases={"stateful": {"inference": {"algorithms": []}}},  # the contract's links only
    )
    return contracts.recording_machine(
        contracts.schema(_lifecycle_contract(harness.vendor, lifecycle), config, harness.app),
        harness.steps,
        setup=harness.start_scenario,
        before_call=harness.before_call,
        judge=_no_server_error,
        teardown=harness.drain,
    )


def _no_server_error(response: Any) -> None:
    assert response.status_code < 500, response.text


@pytest.fixture(params=PLATFORM_VENDORS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """A vendor's stack and a receiver served on 127.0.0.1 for one test."""
    receiver = Receiver()
    with served(receiver) as base:  # type: ignore[arg-type]
        run = Harness(request.param, receiver, base)
        try:
            yield run
        finally:
            run.stop()


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _event_problems(harness: Harness) -> list[str]:
    """Every delivery that breaks the event schema or the header rules."""
    validator = jsonschema_rs.validator_for(EVENT_SCHEMA)
    problems = []
    for path, headers, body in harness.receiver.deliveries():
        event = json.loads(body)
        problems += [f"{path}: {error.message}" for error in validator.iter_errors(event)]
        timestamp = headers.get("X-Gpsi-Timestamp", "")
        expected = {
            "Content-Type": "application/json",
            "X-Gpsi-Event-Id": event.get("event_id"),
            "X-Gpsi-Signature": _signature(harness.secrets[path], timestamp, body),
        }
        got = {name: headers.get(name) for name in expected}
        if got != expected or not timestamp.isdigit():
            problems.append(f"{path}: headers {got} (timestamp {timestamp!r})")
    return problems


def test_stateful_driver_and_webhook_lifecycles_deliver_events_matching_the_event_contract(
    harness: Harness,
) -> None:
    settings = contracts.stateful_settings(STATEFUL_EXAMPLES, steps=STATEFUL_STEPS)
    for lifecycle in LIFECYCLES:
        _machine(harness, lifecycle).run(settings=settings)
    walked = {label for label, status, _ in harness.steps if status == 200}
    assert {f"GET /v2/driver/{m}" for m in ("create", "list", "update", "delete")} <= walked
    assert {f"GET /v2/webhook/{m}" for m in ("create", "list", "pause", "delete")} <= walked
    events = [json.loads(body) for _, _, body in harness.receiver.deliveries()]
    assert {e["type"] for e in events} == {"driver.created", "driver.updated", "driver.deleted"}
    assert _event_problems(harness) == []
