"""Pagination under mutation: a ``mutate`` fault shifts a paged list right after one of its
pages is answered — on the wire, and as the engine's own clients read it."""

from __future__ import annotations

from typing import Any

import pytest
from served_vendor import ServedVendor, module_served_stack  # noqa: F401  (a fixture)
from werkzeug.test import Client
from whiparound_helpers import Api

import sync_engine.clients.driveri as driveri_client
import sync_engine.clients.whiparound as whiparound_client
from helpers import Sleeper, make_stack_app
from sync_engine.clients.base import RetryPolicy
from sync_engine.clients.driveri import DriveriClient
from sync_engine.clients.whiparound import WhipAroundClient

WA = "/api/public/v4"
DRIVERS = "/v1/tenants/demo-fleet/drivers"


def add_fault(client: Client, vendor: str, **spec: Any) -> str:
    response = client.post(f"/{vendor}/_mock/faults", json=spec)
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def ids(rows: list[dict[str, Any]], key: str = "id") -> list[Any]:
    return [row[key] for row in rows]


def bearer(client: Client) -> dict[str, str]:
    """A Driveri bearer header for the demo API client."""
    basic = client.get("/driveri/_mock/credentials").json["clients"][0]["basic_token"]
    token = client.post(
        "/driveri/v1/auth/token",
        headers={"Authorization": f"Basic {basic}"},
        content_type="application/json",
    ).json["data"]["accessToken"]
    return {"Authorization": f"bearer {token}"}


def driver_page(client: Client, auth: dict[str, str], offset: int, limit: int) -> list[str]:
    query = {"offset": offset, "limit": limit, "showAll": "true"}
    answer = client.get(f"/driveri{DRIVERS}", headers=auth, query_string=query)
    assert answer.status_code == 200, answer.json
    return ids(answer.json["data"]["drivers"], "driverId")


def report_dtcs(api: Api, count: int) -> None:
    """``count`` DTC defects, one per asset, through the vendor's own API."""
    for asset in api.assets()[:count]:
        answer = api("POST", f"/assets/{asset['id']}/dtc-defects", json={"code": "P0420"})
        assert answer.status_code == 201, answer.json


# -- on the wire -------------------------------------------------------------------------------


def test_an_insert_puts_new_assets_at_the_head_so_the_next_page_repeats_records(
    client: Client,
) -> None:
    api = Api(client)
    before = ids(api.assets())
    add_fault(client, "whiparound", path=f"{WA}/assets", mutate={"insert": 3}, first=1)
    page1 = api("GET", "/assets", query_string={"limit": 10}).json
    page2 = api("GET", "/assets", query_string={"limit": 10, "page": 2}).json
    assert ids(page1["data"]) == before[:10]
    assert ids(page2["data"]) == before[7:17]
    assert page2["pagination"]["total"] == len(before) + 3
    inserted = api.assets()[:3]
    assert ids(inserted) == list(range(max(before) + 1, max(before) + 4))
    assert all(len(a["vin"]) == 17 and a["make"] and a["year"] for a in inserted)


def test_a_delete_really_removes_the_head_of_the_listing_so_the_next_page_skips(
    client: Client,
) -> None:
    api = Api(client)
    before = ids(api.assets())
    add_fault(client, "whiparound", path=f"{WA}/assets", mutate={"delete": 2}, first=1)
    api("GET", "/assets", query_string={"limit": 10})
    page2 = api("GET", "/assets", query_string={"limit": 10, "page": 2}).json["data"]
    assert ids(page2) == before[12:22]
    assert api("GET", f"/assets/{before[0]}").status_code == 404
    assert ids(api.assets()) == before[2:]


def test_a_defect_mutation_shifts_the_filtered_listing_the_page_came_from(
    client: Client,
) -> None:
    api = Api(client)
    report_dtcs(api, 4)
    asset_id = api.assets()[1]["id"]
    add_fault(client, "whiparound", path=f"{WA}/defects", mutate={"insert": 2}, first=1)
    api("GET", "/defects", query_string={"asset_id": asset_id})
    listed = api("GET", "/defects", query_string={"asset_id": asset_id}).json["data"]
    assert [(d["asset_id"], d["source"], d["dtc_code"]) for d in listed[:2]] == [
        (asset_id, "manual", None)
    ] * 2
    assert len(listed) == 3


def test_a_defect_delete_removes_the_defects_for_good(client: Client) -> None:
    api = Api(client)
    report_dtcs(api, 4)
    before = ids(api("GET", "/defects").json["data"])
    add_fault(client, "whiparound", path=f"{WA}/defects", mutate={"delete": 1}, first=1)
    api("GET", "/defects", query_string={"limit": 2})
    assert ids(api("GET", "/defects").json["data"]) == before[1:]
    assert api("PATCH", f"/defects/{before[0]}", json={"status": "Completed"}).status_code == 404


def test_driveri_inserts_active_drivers_at_the_head_and_removes_deleted_ones(
    client: Client,
) -> None:
    auth = bearer(client)
    before = driver_page(client, auth, 0, 200)
    add_fault(client, "driveri", path=DRIVERS, mutate={"insert": 2, "delete": 1}, first=1)
    assert driver_page(client, auth, 0, 4) == before[:4]
    after = driver_page(client, auth, 0, 200)
    assert after[2:] == before[1:] and len(after) == len(before) + 1
    gone = client.get(f"/driveri{DRIVERS[:-1]}", headers=auth, query_string={"driverId": before[0]})
    assert gone.status_code == 404
    new = client.get(f"/driveri{DRIVERS[:-1]}", headers=auth, query_string={"driverId": after[0]})
    assert new.json["data"]["drivers"][0]["status"] == 1


def test_the_same_fault_seed_inserts_the_same_records_on_another_stack(client: Client) -> None:
    def inserted(c: Client) -> list[dict[str, Any]]:
        api = Api(c)
        add_fault(c, "whiparound", path=f"{WA}/assets", mutate={"insert": 2}, seed=9, first=1)
        api("GET", "/assets")
        return api.assets()[:2]

    assert inserted(client) == inserted(Client(make_stack_app()))


def test_a_mutation_counts_only_pages_of_a_paged_list(client: Client) -> None:
    api = Api(client)
    asset_id = api.assets()[0]["id"]
    add_fault(client, "whiparound", path="*", mutate={"insert": 1}, first=1)
    api("GET", f"/assets/{asset_id}")
    api("POST", f"/assets/{asset_id}/mileage", json={"reading": 1, "unit": "mi"})
    assert client.get("/whiparound/_mock/faults").json["faults"][0]["seen"] == 0


def test_a_refused_page_does_not_shift_the_listing(client: Client) -> None:
    api = Api(client)
    count = len(api.assets())
    add_fault(client, "whiparound", path=f"{WA}/assets", mutate={"insert": 1})
    assert api("GET", "/assets", key=None).status_code == 401
    assert len(api.assets()) == count


@pytest.mark.parametrize(
    ("vendor", "spec", "message"),
    [
        (
            "whiparound",
            {"path": f"{WA}/assets/*/mileage"},
            "a mutation needs a paged list: GET '/api/public/v4/assets/*/mileage' can match "
            "none (GET /api/public/v4/assets, GET /api/public/v4/defects)",
        ),
        (
            "whiparound",
            {"method": "POST", "path": f"{WA}/assets"},
            "a mutation needs a paged list: POST '/api/public/v4/assets' can match none "
            "(GET /api/public/v4/assets, GET /api/public/v4/defects)",
        ),
        (
            "driveri",
            {"path": "/v1/auth/*"},
            "a mutation needs a paged list: GET '/v1/auth/*' can match none "
            "(GET /v1/tenants/<tenant>/drivers)",
        ),
        (
            "gpsinsight",
            {"path": "/v2/vehicle/list"},
            "a mutation needs a paged list: GET '/v2/vehicle/list' can match none "
            "(gpsinsight has none)",
        ),
    ],
)
def test_a_mutation_on_a_path_that_is_no_paged_list_is_refused(
    client: Client, vendor: str, spec: dict[str, Any], message: str
) -> None:
    response = client.post(f"/{vendor}/_mock/faults", json={**spec, "mutate": {"insert": 1}})
    assert response.status_code == 400
    assert response.json == {"error": "invalid fault", "fields": {"path": [message]}}


@pytest.mark.parametrize("mutate", [{}, {"insert": 0}, {"insert": -1}, {"grow": 2}])
def test_a_mutation_that_changes_nothing_is_refused(client: Client, mutate: Any) -> None:
    response = client.post("/whiparound/_mock/faults", json={"path": "*", "mutate": mutate})
    assert response.status_code == 400
    assert list(response.json["fields"]) == ["mutate"]


# -- the engine's clients on a shifting listing -----------------------------------------------


class Stack:
    """The served stack: its control client, the Whip Around API and the engine's clients."""

    def __init__(self, control: Client, base: str) -> None:
        self.control = control
        self.base = base
        self.api = Api(control)

    def whiparound(self) -> WhipAroundClient:
        """The engine's Whip Around client with the demo integration key."""
        return WhipAroundClient(
            f"{self.base}/whiparound{WA}", self.api.keys["integration"], sleep=Sleeper()
        )

    def driveri(self) -> DriveriClient:
        """The engine's Driveri client of the demo API client."""
        row = self.control.get("/driveri/_mock/credentials").json["clients"][0]
        return DriveriClient(
            f"{self.base}/driveri", row["client_id"], row["client_secret"], "demo-fleet",
            sleep=Sleeper(), retry=RetryPolicy(attempts=3),
        )  # fmt: skip


class Driveri(ServedVendor):
    vendor = "driveri"


class WhipAround(ServedVendor):
    vendor = "whiparound"


@pytest.fixture
def served(served_stack: tuple[Client, str]) -> Stack:
    """The served stack with Driveri and Whip Around reset (seeded, no faults, clock at T0)."""
    for vendor in (Driveri(*served_stack), WhipAround(*served_stack)):
        vendor.reset()
    return Stack(*served_stack)


def fired(served: Stack, vendor: str) -> int:
    """How often the vendor's one fault fired (so a test proves the listing did shift)."""
    (fault,) = served.control.get(f"/{vendor}/_mock/faults").json["faults"]
    return int(fault["fired"])


def wa_fault(served: Stack, **spec: Any) -> None:
    add_fault(served.control, "whiparound", first=1, **spec)


CHANGES = [{"insert": 3}, {"delete": 2}, {"insert": 2, "delete": 3}]


@pytest.mark.parametrize("change", CHANGES)
def test_the_driveri_client_neither_repeats_nor_misses_a_driver_on_a_shifting_listing(
    served: Stack, monkeypatch: pytest.MonkeyPatch, change: dict[str, int]
) -> None:
    monkeypatch.setattr(driveri_client, "PAGE_LIMIT", 4)
    before = [d.driver_id for d in served.driveri().drivers()]
    add_fault(served.control, "driveri", path=DRIVERS, mutate=change, first=1)
    listed = [d.driver_id for d in served.driveri().drivers()]
    assert fired(served, "driveri") == 1
    assert len(listed) == len(set(listed))
    assert set(before[change.get("delete", 0) :]) <= set(listed)


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("listing", ["assets", "defects"])
def test_the_whiparound_client_neither_repeats_nor_misses_a_record_on_a_shifting_listing(
    served: Stack, monkeypatch: pytest.MonkeyPatch, listing: str, change: dict[str, int]
) -> None:
    monkeypatch.setattr(whiparound_client, "PAGE_LIMIT", 5)
    report_dtcs(served.api, 12)
    before = ids(served.api("GET", f"/{listing}", query_string={"limit": 1000}).json["data"])
    wa_fault(served, path=f"{WA}/{listing}", mutate=change)
    client = served.whiparound()
    listed = [r.id for r in (client.assets() if listing == "assets" else client.defects())]
    assert fired(served, "whiparound") == 1
    assert len(listed) == len(set(listed))
    assert set(before[change.get("delete", 0) :]) <= set(listed)
