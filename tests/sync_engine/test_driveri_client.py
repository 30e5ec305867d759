"""DriveriClient against the Driveri emulator served on a loopback port: shared tokens (R9),
paging, ``showAll``, exact ids, and writes whose answer was lost settled by reading back.

Each test starts from a freshly reset Driveri (seeded tenant, no tokens, no faults, clock
frozen at T0). "Another user" of the API client (the official SDK, say) is played by raw
Basic calls through the in-process control client."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests
from served_vendor import ServedVendor, module_served_stack  # noqa: F401  (a fixture)
from werkzeug.test import Client

from helpers import Sleeper
from sync_engine.clients.base import AuthError, RetryPolicy, UnconfirmedWrite, VendorError
from sync_engine.clients.driveri import DriveriClient, message_code
from sync_engine.model import DRIVERI_ACTIVE, DRIVERI_DELETED

TENANT = "demo-fleet"
TENANT_PATH = f"/v1/tenants/{TENANT}"


class Driveri(ServedVendor):
    """The served Driveri and the demo API client."""

    vendor = "driveri"

    def __init__(self, control: Client, base: str) -> None:
        super().__init__(control, base)
        answer = control.get("/driveri/_mock/credentials")
        self.credentials: dict[str, Any] = answer.json["clients"][0]

    def client(self, **kwargs: Any) -> DriveriClient:
        """An engine client of the demo API client, never sleeping."""
        kwargs.setdefault("sleep", Sleeper())
        kwargs.setdefault("retry", RetryPolicy(attempts=3))
        return DriveriClient(
            self.url, self.credentials["client_id"], self.credentials["client_secret"],
            kwargs.pop("tenant", TENANT), **kwargs,
        )  # fmt: skip

    def basic(self) -> dict[str, str]:
        """The demo API client's Basic header."""
        return {"Authorization": f"Basic {self.credentials['basic_token']}"}

    def active_tokens(self) -> list[dict[str, Any]]:
        """The API client's active tokens."""
        return self.control.get("/driveri/v1/auth/tokens", headers=self.basic()).json["data"]

    def mint(self) -> str:
        """Another user of the API client takes a token."""
        answer = self.control.post("/driveri/v1/auth/token", headers=self.basic())
        assert answer.status_code == 200, answer.json
        return str(answer.json["data"]["accessToken"])

    def bulk_add(self, driver_ids: list[str]) -> None:
        """Add drivers in bulk, as another user."""
        headers = {"Authorization": f"bearer {self.active_tokens()[0]['accessToken']}"}
        body = {"drivers": [{"driverId": i, "firstName": "Bulk"} for i in driver_ids]}
        path = f"/driveri{TENANT_PATH}/bulk/drivers"
        assert self.control.post(path, json=body, headers=headers).status_code == 207


@pytest.fixture
def driveri(served_stack: tuple[Client, str]) -> Driveri:
    """Driveri reset: seeded drivers, no tokens, no faults, the journal empty, clock at T0."""
    vendor = Driveri(*served_stack)
    vendor.reset()
    return vendor


# -- tokens (R9) -------------------------------------------------------------------------------


def test_a_client_mints_a_token_only_when_none_is_active(driveri: Driveri) -> None:
    client = driveri.client()
    client.drivers()
    client.drivers()
    assert client.tokens_minted == 1
    assert len(driveri.active_tokens()) == 1


def test_a_second_client_reuses_the_active_token_and_mints_nothing(driveri: Driveri) -> None:
    first, second = driveri.client(), driveri.client()
    first.drivers()
    second.drivers()
    assert (first.tokens_minted, second.tokens_minted) == (1, 0)
    assert len(driveri.active_tokens()) == 1


def test_the_token_that_expires_last_is_the_one_reused(driveri: Driveri) -> None:
    driveri.mint()
    driveri.advance(60)
    latest = driveri.mint()
    client = driveri.client()
    client.drivers()
    assert client._token == latest
    assert client.tokens_minted == 0


def test_three_clients_never_hold_more_than_two_active_tokens(driveri: Driveri) -> None:
    driveri.mint()
    driveri.mint()  # another user holds the two the vendor allows
    clients = [driveri.client() for _ in range(3)]
    for client in clients:
        client.drivers()
    assert [c.tokens_minted for c in clients] == [0, 0, 0]
    assert len(driveri.active_tokens()) == 2


def test_a_token_limit_met_in_a_race_is_settled_by_reusing_an_active_token(
    driveri: Driveri,
) -> None:
    session = requests.Session()
    raced: list[str] = []

    def other_user_mints_between_list_and_mint(response: requests.Response, **_: Any) -> None:
        if response.request.method == "GET" and response.url.endswith("/auth/tokens"):
            if not raced:
                raced.extend([driveri.mint(), driveri.mint()])

    session.hooks["response"].append(other_user_mints_between_list_and_mint)
    client = driveri.client(session=session)
    assert len(client.drivers()) > 0
    assert client.tokens_minted == 0
    assert client._token in raced
    refused = driveri.journal("POST", "/v1/auth/token")
    assert [e["status"] for e in refused] == [200, 200, 400]  # the other user's two, then ours


def test_a_401_refreshes_the_token_once_and_repeats_the_call(driveri: Driveri) -> None:
    client = driveri.client()
    client.drivers()
    driveri.fault(method="GET", path=f"{TENANT_PATH}/drivers", expire_session=True, first=1)
    assert len(client.drivers()) > 0
    assert (client.refreshes, client.tokens_minted) == (1, 2)
    statuses = [e["status"] for e in driveri.journal("GET", f"{TENANT_PATH}/drivers")]
    assert statuses == [200, 401, 200]


def test_a_second_401_in_a_row_is_raised_with_the_vendors_body(driveri: Driveri) -> None:
    client = driveri.client()
    driveri.fault(method="GET", path=f"{TENANT_PATH}/drivers", expire_session=True)
    with pytest.raises(AuthError) as caught:
        client.drivers()
    assert caught.value.status == 401
    assert message_code(caught.value) == "UNAUTHORIZED"
    assert client.refreshes == 1
    assert len(driveri.journal("GET", f"{TENANT_PATH}/drivers")) == 2


def test_threads_that_meet_one_expired_token_refresh_it_once(driveri: Driveri) -> None:
    client = driveri.client()
    client.drivers()
    driveri.advance(3601)  # past the token's hour: every call now meets a 401 first
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait(timeout=5)
            client.driver("nobody")
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert errors == []
    assert (client.refreshes, client.tokens_minted) == (1, 2)
    assert len(driveri.active_tokens()) == 1


def test_wrong_credentials_raise_an_auth_error_that_never_shows_the_secret(
    driveri: Driveri,
) -> None:
    client = DriveriClient(driveri.url, driveri.credentials["client_id"], "wrong-secret", TENANT)
    with pytest.raises(AuthError) as caught:
        client.drivers()
    assert message_code(caught.value) == "UNAUTHORIZED"
    assert caught.value.body["error"]["message"] == "Invalid client credentials"
    shown = f"{caught.value} {caught.value!r} {client!r}"
    assert "wrong-secret" not in shown and client._basic not in shown


# -- reads -------------------------------------------------------------------------------------


def test_paging_reads_every_driver_of_a_tenant_with_more_than_two_hundred(
    driveri: Driveri,
) -> None:
    client = driveri.client()
    seeded = len(client.drivers())
    driveri.bulk_add([f"BULK-{i:03d}" for i in range(450)])
    drivers = client.drivers()
    assert len(drivers) == seeded + 450
    assert len({d.driver_id for d in drivers}) == len(drivers)
    pages = driveri.journal("GET", f"{TENANT_PATH}/drivers")
    assert len(pages) == 1 + 3  # the first listing, then three pages of at most 200


def test_show_all_includes_soft_deleted_drivers_and_only_then(driveri: Driveri) -> None:
    client = driveri.client()
    everyone = client.drivers(show_all=True)
    deleted = [d for d in everyone if d.status == DRIVERI_DELETED]
    assert deleted
    visible = {d.driver_id for d in client.drivers(show_all=False)}
    assert visible == {d.driver_id for d in everyone} - {d.driver_id for d in deleted}


def test_one_driver_is_read_by_its_exact_id_and_none_when_there_is_none(
    driveri: Driveri,
) -> None:
    client = driveri.client()
    first = client.drivers()[0]
    assert client.driver(first.driver_id) == first
    assert client.driver(first.driver_id.lower() + "-not") is None


def test_an_unknown_tenant_raises_instead_of_reading_as_no_driver(driveri: Driveri) -> None:
    client = driveri.client(tenant="someone-else")
    with pytest.raises(VendorError) as caught:
        client.driver("D-1")
    assert (caught.value.status, message_code(caught.value)) == (404, "TENANT_NOT_FOUND")


# -- writes ------------------------------------------------------------------------------------


def test_create_update_rename_and_soft_delete_address_the_exact_id(driveri: Driveri) -> None:
    client = driveri.client()
    client.create("NEW/1", {"firstName": "Ada", "lastName": "Byron", "phone": "555-0101"})
    client.update("NEW/1", {"email": "ada@example.com"})
    client.update("NEW/1", {"driverId": "NEW/2"})
    client.update("NEW/2", {"status": DRIVERI_DELETED})
    assert client.driver("NEW/1") is None
    renamed = client.driver("NEW/2")
    assert renamed is not None
    assert (renamed.first_name, renamed.email, renamed.status) == (
        "Ada", "ada@example.com", DRIVERI_DELETED,
    )  # fmt: skip


def test_create_with_reinstate_brings_back_a_soft_deleted_driver(driveri: Driveri) -> None:
    client = driveri.client()
    client.create("R-1", {"firstName": "Ada"})
    client.update("R-1", {"status": DRIVERI_DELETED})
    assert client.create("R-1", {"firstName": "Eve"}, reinstate=True) == (
        "Driver reinstated successfully"
    )
    back = client.driver("R-1")
    assert back is not None and (back.first_name, back.status) == ("Eve", DRIVERI_ACTIVE)


def test_a_create_whose_answer_is_lost_is_success_when_the_driver_landed(
    driveri: Driveri,
) -> None:
    client = driveri.client()
    client.drivers()
    driveri.fault(method="POST", path=f"{TENANT_PATH}/drivers", drop=True, first=1)
    assert client.create("LOST-1", {"firstName": "Ada", "lastName": "Byron"}) == "already done"
    assert len(driveri.journal("POST", f"{TENANT_PATH}/drivers")) == 1  # never repeated


def test_a_create_refused_by_a_5xx_before_it_ran_is_sent_once_more(driveri: Driveri) -> None:
    client = driveri.client()
    client.drivers()
    driveri.fault(method="POST", path=f"{TENANT_PATH}/drivers", status=503, first=1)
    assert client.create("RETRY-1", {"firstName": "Ada"}) == "Driver added successfully"
    statuses = [e["status"] for e in driveri.journal("POST", f"{TENANT_PATH}/drivers")]
    assert statuses == [503, 200]


def test_a_409_after_a_lost_answer_is_success_when_the_driver_matches(driveri: Driveri) -> None:
    client = driveri.client()
    fields = {"firstName": "Ada", "lastName": "Byron", "email": None}
    client.create("DUP-1", fields)
    assert client.create("DUP-1", fields, after_lost=True) == "already done"


def test_a_409_after_a_lost_answer_that_does_not_match_is_raised(driveri: Driveri) -> None:
    client = driveri.client()
    client.create("DUP-2", {"firstName": "Ada"})
    with pytest.raises(VendorError) as caught:
        client.create("DUP-2", {"firstName": "Eve"}, after_lost=True)
    assert (caught.value.status, message_code(caught.value)) == (409, "DRIVER_ALREADY_EXISTS")
    assert caught.value.body["error"]["message"] == "Driver with driverId 'DUP-2' already exists"


def test_a_409_without_a_lost_answer_is_raised_even_when_it_matches(driveri: Driveri) -> None:
    client = driveri.client()
    client.create("DUP-3", {"firstName": "Ada"})
    with pytest.raises(VendorError) as caught:
        client.create("DUP-3", {"firstName": "Ada"})
    assert message_code(caught.value) == "DRIVER_ALREADY_EXISTS"


def test_an_update_whose_answer_is_lost_after_it_ran_is_not_repeated(driveri: Driveri) -> None:
    client = driveri.client()
    client.create("U-1", {"firstName": "Ada"})
    driveri.fault(method="PUT", path=f"{TENANT_PATH}/drivers/*", status=503, after=True, first=1)
    assert client.update("U-1", {"driverId": "U-2", "lastName": "King"}) == "already done"
    assert len(driveri.journal("PUT", f"{TENANT_PATH}/drivers/*")) == 1
    assert client.driver("U-2") is not None


def test_an_update_dropped_before_it_shows_is_repeated_once(driveri: Driveri) -> None:
    client = driveri.client()
    client.create("U-3", {"firstName": "Ada"})
    driveri.fault(method="PUT", path=f"{TENANT_PATH}/drivers/*", status=502, first=1)
    assert client.update("U-3", {"lastName": "King"}) == "Driver updated successfully"
    assert len(driveri.journal("PUT", f"{TENANT_PATH}/drivers/*")) == 2


def test_a_write_to_an_unknown_driver_raises_the_vendors_404(driveri: Driveri) -> None:
    client = driveri.client()
    with pytest.raises(VendorError) as caught:
        client.update("NOBODY", {"firstName": "Ada"})
    assert (caught.value.status, message_code(caught.value)) == (404, "DRIVER_NOT_FOUND")


def test_a_write_whose_outcome_cannot_be_read_back_is_raised_as_unconfirmed(
    driveri: Driveri,
) -> None:
    client = driveri.client()
    client.drivers()
    driveri.fault(method="POST", path=f"{TENANT_PATH}/drivers", drop=True)
    driveri.fault(method="GET", path=f"{TENANT_PATH}/driver", status=503)
    with pytest.raises(UnconfirmedWrite) as caught:
        client.create("LOST-2", {"firstName": "Ada"})
    assert caught.value.status is None
    assert len(driveri.journal("POST", f"{TENANT_PATH}/drivers")) == 1
