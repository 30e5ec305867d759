"""The real ``fleetsim sync telematics`` process, killed with SIGKILL mid-run: its lease stops
being renewed, a rerun takes it over once it expired (FLEETSIM_LEASE_TTL_S) and converges,
and ``fleetsim runs`` lists the killed run as ABANDONED. The stack is served on a loopback
port with its clock frozen at the host's current time (the CLI's engine runs on host time);
every wait polls the journal or a subprocess against a deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import WA_API, activate_integrations, demo_credentials, served
from mock_vendors._common.clock import VirtualClock
from mock_vendors._common.stack import Stack, StackSettings
from mock_vendors.wsgi import create_all
from sync_engine.store import Store

TTL_S = 2.0
BUSY = "a run of telematics:gpsinsight is already in progress"
FLEETSIM = [sys.executable, "-c", "from fleetsim.cli import main; main()"]


@dataclass
class World:
    base: str
    db_url: str
    env: dict[str, str]
    master: dict[str, Any]
    wa_key: str
    http: requests.Session

    def fleetsim(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*FLEETSIM, *args], env=self.env, capture_output=True, text=True, timeout=120
        )

    def wa_posts(self) -> int:
        response = self.http.get(f"{self.base}/whiparound/_mock/journal", params={"method": "POST"})
        response.raise_for_status()
        return len(response.json()["entries"])

    def wa(self, path: str) -> list[dict[str, Any]]:
        response = self.http.get(
            f"{self.base}{WA_API}/{path}",
            params={"limit": 1000},
            headers={"x-api-key": self.wa_key},
        )
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def gps(self, method: str) -> Any:
        login = self.http.post(
            f"{self.base}/gpsinsight/v2/userauth/login",
            data={"username": self.master["username"], "app_token": self.master["app_token"]},
        )
        token = login.json()["data"]["token"]
        body = self.http.post(
            f"{self.base}/gpsinsight/v2/{method}", data={"session_token": token}
        ).json()
        assert body["head"]["status"] == "OK", body
        return body["data"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    now = datetime.now(UTC).replace(microsecond=0)
    stack = Stack(StackSettings(vehicles=12, wex_vehicles=4), clock=VirtualClock(now, frozen=True))
    with served(create_all(stack=stack)) as base, requests.Session() as http:
        users, keys = demo_credentials(base)
        user = next(u for u in users if u["username"] == "acme.dispatch")
        wa_key = next(k["key"] for k in keys if k["type"] == "integration")
        db_url = f"sqlite:///{tmp_path / 'fleetsim.db'}"
        store = Store(db_url)
        activated = now - timedelta(hours=2)  # two hours of history: many writes to make
        activate_integrations(store, base, user, wa_key, activated)
        env = {
            **os.environ,
            "FLEETSIM_DB_URL": db_url,
            "FLEETSIM_LEASE_TTL_S": str(TTL_S),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
        master = next(u for u in users if u["master"])
        yield World(base, db_url, env, master, wa_key, http)


def poll(check: Any, what: str, seconds: float) -> Any:
    """``check()`` until it answers something truthy, failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkilled_sync_is_taken_over_after_its_lease_and_the_rerun_converges(
    world: World,
) -> None:
    # Every Whip Around write takes 150 ms: the run is still writing when it is killed.
    fault = {"method": "POST", "latency_ms": 150}
    world.http.post(f"{world.base}/whiparound/_mock/faults", json=fault).raise_for_status()
    victim = subprocess.Popen(
        [*FLEETSIM, "sync", "telematics"], env=world.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        poll(lambda: world.wa_posts() >= 3, "the killed run's first writes", 60)
    finally:
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    killed_at = time.monotonic()
    written_by_victim = world.wa_posts()
    world.http.delete(f"{world.base}/whiparound/_mock/faults").raise_for_status()
    (victim_row,) = Store(world.db_url).runs()
    assert victim_row["outcome"] is None  # killed: it could record nothing
    assert world.fleetsim("runs").stdout.split()[5] == "RUNNING"

    # Rerun until it is let in: refused only while the killed run's lease can still be live.
    refused_at: list[float] = []

    def rerun() -> dict[str, Any] | None:
        started = time.monotonic()
        result = world.fleetsim("sync", "telematics", "--json")
        (report,) = json.loads(result.stdout)
        if [(e["where"], e["message"]) for e in report["errors"]] == [("lock", BUSY)]:
            assert result.returncode == 1 and report["writes"] == 0
            refused_at.append(started - killed_at)
            return None
        assert result.returncode == 0, result.stdout + result.stderr
        return dict(report)

    report = poll(rerun, "a rerun to take the lease over", TTL_S + 60)
    assert [t for t in refused_at if t > TTL_S] == []
    assert report["outcome"] == "SUCCESS" and report["errors"] == []
    # (writes the victim had in flight may land after the kill: at least what it left undone)
    assert report["writes"] > 0 and world.wa_posts() >= written_by_victim + report["writes"]

    # Converged: one defect per asset and code, targets equal sources, a replay writes nothing.
    defects = [d for d in world.wa("defects") if d.get("dtc_code")]
    assert defects
    per_identity = Counter((d["asset_id"], d["dtc_code"].strip().upper()) for d in defects)
    assert [k for k, n in per_identity.items() if n > 1] == []
    fixes = {f["id"]: f for f in world.gps("vehicle/location")}
    marks = Store(world.db_url).marks()
    assets = {a["id"]: a for a in world.wa("assets")}
    assert len(marks) >= 8
    for asset_id, mark in marks.items():
        location, fix = assets[asset_id]["location"], fixes[mark["vehicle_id"]]
        assert (location["latitude"], location["longitude"]) == (
            fix["latitude"], fix["longitude"],
        ), asset_id  # fmt: skip
    replay = json.loads(world.fleetsim("sync", "telematics", "--json").stdout)
    assert [(r["outcome"], r["writes"]) for r in replay] == [("SUCCESS", 0)]

    # The killed run is ABANDONED, taken over by the rerun that converged.
    lines = world.fleetsim("runs").stdout.splitlines()
    assert [line.split()[5] for line in lines] == ["SUCCESS", "SUCCESS", "ABANDONED"]
    rerun_id = lines[1].split()[0]
    assert lines[2].split()[0] == f"#{victim_row['id']}"
    assert lines[2].endswith(f"taken over by run {rerun_id}")
