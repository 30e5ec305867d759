"""GpsInsightClient's driver pipeline methods against the GPS Insight emulator served on a
loopback port: the drivers listing, the Driver Sync setting (R25) and the driver webhook
subscription. Each test starts from the seeded account with the clock frozen at T0."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from served_vendor import ServedVendor, module_served_stack  # noqa: F401  (a fixture)
from werkzeug.test import Client

from helpers import Sleeper
from sync_engine.clients.base import AuthError, RetriableError, RetryPolicy, VendorError
from sync_engine.clients.gpsinsight import GpsInsightClient

HOOK_URL = "http://127.0.0.1:9/hooks/drivers"  # nothing listens: no event is sent in these tests
HOOK_SECRET = "whsec-7d1f0c2a9b8e"


class Portal(ServedVendor):
    """The served GPS Insight and the demo account's users."""

    vendor = "gpsinsight"

    def __init__(self, control: Client, base: str) -> None:
        super().__init__(control, base)
        accounts = control.get("/gpsinsight/_mock/credentials").json["accounts"]
        self.users: list[dict[str, Any]] = accounts[0]["users"]

    def client(self, master: bool = True, **kwargs: Any) -> GpsInsightClient:
        """A client of the Master User (or of a user who is not)."""
        user = next(u for u in self.users if bool(u["master"]) is master)
        return GpsInsightClient(
            self.url, user["username"], user["app_token"], sleep=Sleeper(),
            retry=RetryPolicy(attempts=3), **kwargs,
        )  # fmt: skip


@pytest.fixture
def portal(served_stack: tuple[Client, str]) -> Portal:
    """GPS Insight reset to its seeded account, no faults, an empty journal, clock at T0."""
    vendor = Portal(*served_stack)
    vendor.reset()
    return vendor


# -- drivers -----------------------------------------------------------------------------------


def test_drivers_are_every_live_driver_of_the_account_with_its_fields(portal: Portal) -> None:
    client = portal.client()
    rows = client.call("driver/list")
    drivers = client.drivers()
    assert [d.id for d in drivers] == [row["id"] for row in rows]
    first, row = drivers[0], rows[0]
    assert (first.first_name, first.last_name, first.email, first.phone) == (
        row["firstname"], row["lastname"], row["email"], row["phone"],
    )  # fmt: skip
    assert (first.ref_id, first.driveri_id, first.version) == (
        row["ref_id"], row["driveri_driver_id"], row["version"],
    )  # fmt: skip


def test_drivers_never_send_the_driver_parameter(portal: Portal) -> None:
    session = requests.Session()
    bodies: list[dict[str, list[str]]] = []

    def record(response: requests.Response, **_: Any) -> None:
        body = response.request.body or ""
        bodies.append(parse_qs(body.decode() if isinstance(body, bytes) else body))

    session.hooks["response"].append(record)
    portal.client(session=session).drivers()
    assert [sorted(b) for b in bodies[1:]] == [["session_token"]]  # after the login


def test_a_deleted_driver_is_not_listed_and_a_change_counts_its_version_up(
    portal: Portal,
) -> None:
    client = portal.client()
    gone, changed = client.drivers()[:2]
    client.call("driver/delete", driver=str(gone.id))
    client.call("driver/update", driver=str(changed.id), driveri_driver_id=" NEW-ID ")
    after = {d.id: d for d in client.drivers()}
    assert gone.id not in after
    assert (after[changed.id].driveri_id, after[changed.id].version) == (
        " NEW-ID ",
        changed.version + 1,
    )
    assert after[changed.id].key == "new-id"


def test_an_emptied_driverid_reads_as_empty(portal: Portal) -> None:
    client = portal.client()
    target = client.drivers()[0]
    client.call("driver/update", driver=str(target.id), driveri_driver_id="")
    (after,) = [d for d in client.drivers() if d.id == target.id]
    assert after.key == ""


# -- Driver Sync (R25) -------------------------------------------------------------------------


def test_driver_sync_is_off_until_the_master_user_turns_it_on(portal: Portal) -> None:
    master, other = portal.client(), portal.client(master=False)
    assert other.driver_sync_enabled() is False
    assert master.set_driver_sync(True) is True
    assert other.driver_sync_enabled() is True
    assert master.set_driver_sync(False) is False
    assert master.driver_sync_enabled() is False


def test_a_user_who_is_not_the_master_cannot_turn_driver_sync_on(portal: Portal) -> None:
    other = portal.client(master=False)
    with pytest.raises(AuthError) as caught:
        other.set_driver_sync(True)
    assert caught.value.status == 403
    assert caught.value.body["errors"][0]["code"] == 403
    assert "Master" in caught.value.body["errors"][0]["message"]
    assert portal.client().driver_sync_enabled() is False


# -- webhooks ----------------------------------------------------------------------------------


def test_a_driver_webhook_is_created_listed_and_deleted(portal: Portal) -> None:
    client = portal.client()
    hook_id = client.webhook_create(HOOK_URL, "fleetsim drivers", HOOK_SECRET)
    (row,) = client.webhooks()
    assert (row["id"], row["url"], row["type"], row["content_type"]) == (
        hook_id, HOOK_URL, "driver", "json",
    )  # fmt: skip
    assert HOOK_SECRET not in str(row)
    client.webhook_delete(hook_id)
    assert client.webhooks() == []


def test_a_webhook_create_whose_answer_is_lost_is_found_in_the_listing(portal: Portal) -> None:
    client = portal.client()
    client.login()
    portal.fault(method="POST", path="/v2/webhook/create", drop=True, first=1)
    hook_id = client.webhook_create(HOOK_URL, "fleetsim drivers", HOOK_SECRET)
    assert [row["id"] for row in client.webhooks()] == [hook_id]
    assert len(portal.journal("POST", "/v2/webhook/create")) == 1  # never sent twice
    assert [f["fired"] for f in portal.faults()] == [1]  # the answer was lost


def test_a_webhook_create_refused_before_it_ran_is_raised_and_not_repeated(
    portal: Portal,
) -> None:
    client = portal.client()
    client.login()
    portal.fault(method="POST", path="/v2/webhook/create", status=503, first=1)
    with pytest.raises(RetriableError) as caught:
        client.webhook_create(HOOK_URL, "fleetsim drivers", HOOK_SECRET)
    assert caught.value.status == 503
    assert client.webhooks() == []
    assert len(portal.journal("POST", "/v2/webhook/create")) == 1


def test_a_refused_webhook_create_never_shows_the_secret(portal: Portal) -> None:
    client = portal.client()
    with pytest.raises(VendorError) as caught:
        client.webhook_create("not a url", "fleetsim drivers", HOOK_SECRET)
    assert caught.value.status == 400
    assert caught.value.body["errors"][0]["code"] == 400
    shown = f"{caught.value} {caught.value!r} {client!r}"
    assert HOOK_SECRET not in shown
