"""Netradyne's official Python SDK (driveri-python-sdk), unmodified, against the emulator.

The SDK speaks urllib, so the whole stack is served on a real loopback socket for the
module. Each test starts from a freshly reset Driveri vendor (seeded drivers, no tokens,
clock back at T0) and builds its client the way the SDK documents it: ``from_basic_token``
or ``from_client_credentials`` with ``NetradyneConfig.with_base_url(...)``. Control-plane
calls (reset, clock, faults) go in-process to the same app object. Clients are built with
``max_retries=0`` (one test retries with a zero back-off): the SDK retries 429 and 5xx with
real sleeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from netradyne_sdk import NetradyneClient, NetradyneConfig, NetradyneError
from netradyne_sdk.models.add_driver_request import AddDriverRequest
from netradyne_sdk.models.edit_driver_request import EditDriverRequest
from netradyne_sdk.models.get_driver_list_request import GetDriverListRequest
from netradyne_sdk.models.group_request import GroupRequest
from werkzeug.serving import make_server
from werkzeug.test import Client

from helpers import T0, make_stack_app
from mock_vendors.wsgi import StackApp

TENANT = "demo-fleet"
T0_MS = int(T0.timestamp() * 1000)
DELETED = 3


class Served:
    """The stack on a loopback port, and an in-process client for its control plane."""

    def __init__(self, app: StackApp, base_url: str) -> None:
        self.app = app
        self.base_url = base_url
        self.control = Client(app)

    @property
    def config(self) -> NetradyneConfig:
        """The SDK config pointing at the emulator."""
        return NetradyneConfig.with_base_url(self.base_url)

    @property
    def credentials(self) -> dict[str, Any]:
        """The demo API client's credential row."""
        return self.control.get("/driveri/_mock/credentials").json["clients"][0]

    def sdk(self, **kwargs: Any) -> NetradyneClient:
        """An SDK client from the Basic token, tenant preset, no retries by default."""
        kwargs.setdefault("max_retries", 0)
        return NetradyneClient.from_basic_token(
            self.credentials["basic_token"],
            config=self.config,
            tenant_unique_name=TENANT,
            **kwargs,
        )

    def active_tokens(self) -> list[dict[str, Any]]:
        """The demo client's active tokens, read over the wire with Basic auth."""
        headers = {"Authorization": f"Basic {self.credentials['basic_token']}"}
        return self.control.get("/driveri/v1/auth/tokens", headers=headers).json["data"]

    def advance(self, seconds: float) -> None:
        """Move the virtual clock."""
        response = self.control.post("/driveri/_mock/clock", json={"advance": seconds})
        assert response.status_code == 200

    def fault(self, **spec: Any) -> None:
        """Register a Driveri fault."""
        response = self.control.post("/driveri/_mock/faults", json=spec)
        assert response.status_code == 201, response.get_data(as_text=True)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The whole stack served threaded on 127.0.0.1 (a free port) for this module."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = make_stack_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="driveri-sdk-server", daemon=True)
    thread.start()
    try:
        yield Served(app, f"http://127.0.0.1:{server.server_port}/driveri")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def fresh(served: Served) -> Served:
    """The served stack with Driveri reset (seeded drivers, no tokens, no faults) at T0."""
    assert served.control.post("/driveri/_mock/reset").status_code == 200
    clock = served.control.post("/driveri/_mock/clock", json={"set": T0.isoformat()})
    assert clock.json == {"now": T0.isoformat(), "frozen": True}
    return served


@pytest.fixture
def sdk(fresh: Served) -> NetradyneClient:
    """An SDK client built with from_basic_token."""
    return fresh.sdk()


def all_drivers(sdk: NetradyneClient) -> list[Any]:
    """Every driver (soft-deleted ones included) as SDK models."""
    request = GetDriverListRequest(limit=200, show_all=True)
    return sdk.drivers.get_driver_list(request=request).body.data.drivers


def details(sdk: NetradyneClient, driver_id: str) -> Any:
    """One driver as the SDK's Drivers model."""
    response = sdk.drivers.get_driver_details(request={"driver_id": driver_id})
    (found,) = response.body.data.drivers
    return found


def error_of(excinfo: pytest.ExceptionInfo[NetradyneError]) -> dict[str, Any]:
    """The Driveri error object inside a NetradyneError's body."""
    body = excinfo.value.body
    assert isinstance(body, dict), body
    assert body["data"] is None
    assert body["error"]["status"] == excinfo.value.status
    return body["error"]


# -- token resolution ----------------------------------------------------------------------


def test_from_basic_token_resolves_a_bearer_token(fresh: Served) -> None:
    client = fresh.sdk()
    assert [t["accessToken"] for t in fresh.active_tokens()] == [client.token]


def test_from_basic_token_takes_a_full_basic_header_value(fresh: Served) -> None:
    header = f"Basic {fresh.credentials['basic_token']}"
    client = NetradyneClient.from_basic_token(header, config=fresh.config, max_retries=0)
    assert client.token == fresh.active_tokens()[0]["accessToken"]


def test_from_client_credentials_resolves_a_bearer_token(fresh: Served) -> None:
    row = fresh.credentials
    client = NetradyneClient.from_client_credentials(
        row["client_id"], row["client_secret"], config=fresh.config, max_retries=0
    )
    assert client.drivers.get_driver_list(TENANT).status_code == 200


def test_a_second_client_reuses_the_active_token_instead_of_issuing_one(fresh: Served) -> None:
    first = fresh.sdk()
    row = fresh.credentials
    second = NetradyneClient.from_client_credentials(
        row["client_id"], row["client_secret"], config=fresh.config, max_retries=0
    )
    third = fresh.sdk()
    assert first.token == second.token == third.token
    assert len(fresh.active_tokens()) == 1


def test_token_resolution_picks_the_token_that_expires_last(fresh: Served) -> None:
    older = fresh.sdk()
    fresh.advance(600)
    newer = older.access_token.generate_access_token().body.data
    assert fresh.sdk().token == newer.access_token


def test_token_resolution_issues_a_new_token_once_the_old_one_expired(fresh: Served) -> None:
    old = fresh.sdk().token
    fresh.advance(3601)
    new = fresh.sdk().token
    assert new != old
    assert [t["accessToken"] for t in fresh.active_tokens()] == [new]


def test_wrong_basic_credentials_fail_token_resolution_with_401(fresh: Served) -> None:
    row = fresh.credentials
    with pytest.raises(NetradyneError) as excinfo:
        NetradyneClient.from_client_credentials(
            row["client_id"], "wrong", config=fresh.config, max_retries=0
        )
    assert excinfo.value.status == 401
    assert error_of(excinfo)["messageCode"] == "UNAUTHORIZED"


def test_generated_token_is_parsed_into_the_sdk_model(sdk: NetradyneClient) -> None:
    token = sdk.access_token.generate_access_token().body.data
    assert token.token_type == "Bearer"
    assert token.expires_on == T0_MS + 3_600_000
    assert token.created_on == T0_MS
    assert token.access_token_id


def test_a_third_token_is_refused_with_token_limit(sdk: NetradyneClient) -> None:
    sdk.access_token.generate_access_token()
    with pytest.raises(NetradyneError) as excinfo:
        sdk.access_token.generate_access_token()
    assert excinfo.value.status == 400
    assert error_of(excinfo)["messageCode"] == "TOKEN_LIMIT"


def test_get_active_access_tokens_lists_the_clients_token(sdk: NetradyneClient) -> None:
    tokens = sdk.access_token.get_active_access_tokens().body.data
    assert [t.access_token for t in tokens] == [sdk.token]


def test_revoke_access_token_ends_the_clients_own_token(sdk: NetradyneClient) -> None:
    response = sdk.access_token.revoke_access_token()
    assert response.body.data.message == "Access token revoked successfully"
    with pytest.raises(NetradyneError) as excinfo:
        sdk.drivers.get_driver_list()
    assert excinfo.value.status == 401
    assert error_of(excinfo)["messageCode"] == "UNAUTHORIZED"


def test_revoke_access_token_by_id_uses_basic_credentials(sdk: NetradyneClient) -> None:
    (token,) = sdk.access_token.get_active_access_tokens().body.data
    response = sdk.access_token.revoke_access_token_by_id(token.access_token_id)
    assert response.body.data.message == "Access token revoked successfully"
    assert sdk.access_token.get_active_access_tokens().body.data == []


def test_revoke_by_an_unknown_id_raises_404(sdk: NetradyneClient) -> None:
    with pytest.raises(NetradyneError) as excinfo:
        sdk.access_token.revoke_access_token_by_id("no-such-token")
    assert excinfo.value.status == 404
    assert error_of(excinfo)["messageCode"] == "TOKEN_NOT_FOUND"


# -- drivers: list and paging --------------------------------------------------------------


def test_driver_list_is_parsed_into_sdk_models(sdk: NetradyneClient) -> None:
    first = sdk.drivers.get_driver_list(request=GetDriverListRequest(limit=1)).body.data.drivers[0]
    assert first.driver_id and first.first_name
    assert first.status == 1
    assert isinstance(first.created_date, int)
    assert first.group.group_unique_name == "default"
    assert isinstance(first.enable_driveri_app, bool)


def test_paging_with_the_links_visits_every_driver_once(sdk: NetradyneClient) -> None:
    seen: list[str] = []
    request = GetDriverListRequest(offset=0, limit=3, show_all=True)
    while True:
        body = sdk.drivers.get_driver_list(request=request).body
        seen += [d.driver_id for d in body.data.drivers]
        if body.links.next is None:
            break
        query = parse_qs(urlsplit(body.links.next).query)
        request = GetDriverListRequest(
            offset=int(query["offset"][0]), limit=int(query["limit"][0]), show_all=True
        )
    assert seen == [d.driver_id for d in all_drivers(sdk)]
    assert len(seen) == body.total_count


def test_page_links_are_full_urls_under_the_sdks_base_url(fresh: Served) -> None:
    body = fresh.sdk().drivers.get_driver_list(request={"limit": 2, "offset": 2}).body
    prefix = f"{fresh.base_url}/v1/tenants/{TENANT}/drivers?"
    for url in (body.links.self, body.links.next, body.links.prev, body.links.first):
        assert url.startswith(prefix), url
    assert body.links.self.endswith("offset=2&limit=2")


def test_show_all_true_as_the_sdk_sends_it_includes_soft_deleted(sdk: NetradyneClient) -> None:
    default = sdk.drivers.get_driver_list().body
    everyone = sdk.drivers.get_driver_list(request={"show_all": True}).body
    assert DELETED not in {d.status for d in default.data.drivers}
    assert DELETED in {d.status for d in everyone.data.drivers}
    assert everyone.total_count == default.total_count + 1


# -- drivers: add, bulk, details, edit -----------------------------------------------------


def test_add_driver_then_read_its_details(sdk: NetradyneClient) -> None:
    body = AddDriverRequest(
        driver_id="SDK-1",
        first_name="Sam",
        last_name="Dee",
        phone="+1 555 0101",
        email="sam.dee@example.com",
        group=GroupRequest(name="North", action="ADD"),
    )
    response = sdk.drivers.add_driver(body=body)
    assert response.body.data.message == "Driver added successfully"
    found = details(sdk, "SDK-1")
    assert (found.first_name, found.last_name, found.status) == ("Sam", "Dee", 1)
    assert found.group.group_name == "North"
    assert found.created_date == T0_MS


def test_driver_details_by_email_and_by_user_name(sdk: NetradyneClient) -> None:
    seeded = all_drivers(sdk)[0]
    by_email = sdk.drivers.get_driver_details(request={"email": seeded.email}).body.data.drivers
    by_user = sdk.drivers.get_driver_details(request={"user_name": seeded.user_name}).body.data
    assert [d.driver_id for d in by_email] == [seeded.driver_id]
    assert [d.driver_id for d in by_user.drivers] == [seeded.driver_id]


def test_details_of_an_unknown_driver_raise_404_with_the_error_body(sdk: NetradyneClient) -> None:
    with pytest.raises(NetradyneError) as excinfo:
        sdk.drivers.get_driver_details(request={"driver_id": "NOPE-1"})
    assert excinfo.value.status == 404
    error = error_of(excinfo)
    assert error["messageCode"] == "DRIVER_NOT_FOUND"
    assert error["path"] == f"/driveri/v1/tenants/{TENANT}/driver"


def test_adding_an_existing_driver_id_raises_409(sdk: NetradyneClient) -> None:
    taken = all_drivers(sdk)[0].driver_id
    with pytest.raises(NetradyneError) as excinfo:
        sdk.drivers.add_driver(body={"driver_id": taken, "first_name": "Dup"})
    assert excinfo.value.status == 409
    assert error_of(excinfo)["messageCode"] == "DRIVER_ALREADY_EXISTS"


def test_licence_number_without_country_and_state_raises_400(sdk: NetradyneClient) -> None:
    with pytest.raises(NetradyneError) as excinfo:
        sdk.drivers.add_driver(
            body={"driver_id": "SDK-L", "first_name": "Lee", "licence_number": "D1"}
        )
    assert excinfo.value.status == 400
    error = error_of(excinfo)
    assert error["messageCode"] == "INVALID_REQUEST"
    assert "licenseCountry and licenseState are required" in error["message"]


def test_add_bulk_drivers_answers_207_with_one_result_each(sdk: NetradyneClient) -> None:
    taken = all_drivers(sdk)[0].driver_id
    request = {
        "drivers": [
            {"driver_id": "SDK-B1", "first_name": "Bea"},
            {"driver_id": taken, "first_name": "Dup"},
        ]
    }
    response = sdk.drivers.add_bulk_drivers(request=request)
    assert response.status_code == 207
    assert response.body.data.message == "1 of 2 drivers added"
    assert details(sdk, "SDK-B1").first_name == "Bea"


def test_edit_driver_changes_only_the_fields_sent(sdk: NetradyneClient) -> None:
    seeded = all_drivers(sdk)[0]
    response = sdk.drivers.edit_driver(
        driver_id=seeded.driver_id, request=EditDriverRequest(last_name="Edited")
    )
    assert response.body.data.message == "Driver updated successfully"
    after = details(sdk, seeded.driver_id)
    assert after.last_name == "Edited"
    assert (after.first_name, after.email, after.status) == (
        seeded.first_name,
        seeded.email,
        seeded.status,
    )


def test_edit_driver_with_a_new_driver_id_renames_it(sdk: NetradyneClient) -> None:
    seeded = all_drivers(sdk)[1]
    sdk.drivers.edit_driver(driver_id=seeded.driver_id, request={"driver_id": "SDK-RENAMED"})
    renamed = details(sdk, "SDK-RENAMED")
    assert renamed.created_date == seeded.created_date
    with pytest.raises(NetradyneError) as excinfo:
        details(sdk, seeded.driver_id)
    assert excinfo.value.status == 404


def test_renaming_onto_an_existing_driver_id_raises_409(sdk: NetradyneClient) -> None:
    first, second = all_drivers(sdk)[:2]
    with pytest.raises(NetradyneError) as excinfo:
        sdk.drivers.edit_driver(driver_id=first.driver_id, request={"driver_id": second.driver_id})
    assert excinfo.value.status == 409
    assert error_of(excinfo)["messageCode"] == "DRIVER_ALREADY_EXISTS"


def test_status_change_to_deleted_hides_the_driver_until_show_all(sdk: NetradyneClient) -> None:
    target = all_drivers(sdk)[2].driver_id
    sdk.drivers.edit_driver(driver_id=target, request={"status": DELETED})
    listed = {d.driver_id for d in sdk.drivers.get_driver_list().body.data.drivers}
    everyone = {d.driver_id: d.status for d in all_drivers(sdk)}
    assert target not in listed
    assert everyone[target] == DELETED


def test_deleted_driver_edit_raises_400_unless_it_reinstates(sdk: NetradyneClient) -> None:
    gone = next(d.driver_id for d in all_drivers(sdk) if d.status == DELETED)
    with pytest.raises(NetradyneError) as excinfo:
        sdk.drivers.edit_driver(driver_id=gone, request={"last_name": "Nope"})
    assert excinfo.value.status == 400
    assert "can only be reinstated" in error_of(excinfo)["message"]


def test_reinstate_driver_revives_a_soft_deleted_one(sdk: NetradyneClient) -> None:
    gone = next(d for d in all_drivers(sdk) if d.status == DELETED)
    response = sdk.drivers.add_driver(
        request={"reinstate_driver": True},
        body={"driver_id": gone.driver_id, "first_name": "Again"},
    )
    assert response.body.data.message == "Driver reinstated successfully"
    revived = details(sdk, gone.driver_id)
    assert (revived.status, revived.first_name) == (1, "Again")
    assert revived.created_date == gone.created_date


def test_reinstating_an_active_driver_raises_409(sdk: NetradyneClient) -> None:
    active = all_drivers(sdk)[0].driver_id
    with pytest.raises(NetradyneError) as excinfo:
        sdk.drivers.add_driver(
            request={"reinstate_driver": True}, body={"driver_id": active, "first_name": "X"}
        )
    assert excinfo.value.status == 409


def test_a_driver_id_with_a_slash_round_trips(sdk: NetradyneClient) -> None:
    sdk.drivers.add_driver(body={"driver_id": "FLEET/9", "first_name": "Sly"})
    sdk.drivers.edit_driver(driver_id="FLEET/9", request={"last_name": "Slash"})
    assert details(sdk, "FLEET/9").last_name == "Slash"


def test_a_driver_id_starting_with_a_slash_round_trips(sdk: NetradyneClient) -> None:
    sdk.drivers.add_driver(body={"driver_id": "/lead", "first_name": "Sly"})
    sdk.drivers.edit_driver(driver_id="/lead", request={"driver_id": "trail/"})
    assert details(sdk, "trail/").first_name == "Sly"


# -- configurations, faults ----------------------------------------------------------------


def test_tenant_configuration_lists_driver_statuses_1_2_3(sdk: NetradyneClient) -> None:
    config = sdk.configurations.get_tenant_configuration_details().body.data.configuration
    assert [(s.status, s.description) for s in config.driver_status] == [
        (1, "Active"),
        (2, "Inactive"),
        (3, "Deleted"),
    ]
    assert [s.authorized_to_drive for s in config.authorized_to_drive_status] == [0, 1]


def test_tenant_that_is_not_the_clients_raises_404(sdk: NetradyneClient) -> None:
    with pytest.raises(NetradyneError) as excinfo:
        sdk.drivers.get_driver_list("another-fleet")
    assert excinfo.value.status == 404
    assert error_of(excinfo)["messageCode"] == "TENANT_NOT_FOUND"


def test_quota_fault_raises_429_with_a_retry_after_the_sdk_can_parse(fresh: Served) -> None:
    client = fresh.sdk(max_retries=0)
    fresh.fault(status=429, retry_after=3, path="/v1/tenants/*")
    with pytest.raises(NetradyneError) as excinfo:
        client.drivers.get_driver_list()
    assert excinfo.value.status == 429
    assert float(excinfo.value.headers["retry-after"]) == 3
    assert error_of(excinfo)["messageCode"] == "TOO_MANY_REQUESTS"


def test_sdk_retries_a_5xx_and_gets_the_answer(fresh: Served) -> None:
    # retry_backoff=0: the SDK's back-off sleep is time.sleep(0.0), no real wait.
    client = fresh.sdk(max_retries=1, retry_backoff=0)
    fresh.fault(status=503, first=1, path="/v1/tenants/*")
    assert client.drivers.get_driver_list().status_code == 200
