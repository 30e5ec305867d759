"""Each emulator serves its pinned contract at ``/<vendor>/_mock/openapi.json``, pointed at
its own mount, so schemathesis can test a running stack from that URL alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug.test import Client

from mock_vendors._common import contracts

REPO = Path(__file__).resolve().parents[2]
SERVED = {
    "gpsinsight": ("gpsinsight", "/gpsinsight"),
    "wex": ("gpsinsight", "/wex"),
    "driveri": ("driveri", "/driveri"),
    "whiparound": ("whiparound", "/whiparound/api/public/v4"),
}


def pinned(name: str) -> dict:
    return json.loads((REPO / "contracts" / f"{name}.openapi.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("vendor", SERVED)
def test_each_vendor_serves_its_pinned_contract_pointed_at_its_own_mount(
    client: Client, vendor: str
) -> None:
    name, mount = SERVED[vendor]
    response = client.get(f"/{vendor}/_mock/openapi.json", headers={"Host": "127.0.0.1:8100"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    served = response.json
    assert [s["url"] for s in served.pop("servers")] == [f"http://127.0.0.1:8100{mount}"]
    expected = pinned(name)
    del expected["servers"]
    assert served == expected


def test_the_contracts_are_read_from_the_repository_beside_the_package() -> None:
    assert contracts.CONTRACTS_DIR == REPO / "contracts"


def test_a_stack_installed_without_its_contracts_says_so(
    client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(contracts, "CONTRACTS_DIR", tmp_path)
    contracts._load.cache_clear()
    try:
        response = client.get("/driveri/_mock/openapi.json")
    finally:
        contracts._load.cache_clear()
    assert response.status_code == 404
    assert "contracts are not installed" in response.json["error"]
