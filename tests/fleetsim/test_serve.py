"""`fleetsim serve` (what `make run` starts): one process on loopback, ready line, clean stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import requests

from helpers import wait_until

STARTUP_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveStack:
    def __init__(self, db_path: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.engine_port = _free_port()
        self.engine = f"http://127.0.0.1:{self.engine_port}"
        self.db_url = f"sqlite:///{db_path}"
        env = {
            **os.environ,
            "FLEETSIM_SEED": "3",
            "FLEETSIM_VEHICLES": "12",
            "FLEETSIM_DB_URL": self.db_url,  # never touch a developer's demo store
            # No scheduled runs beside the tests' own `sync` (they would hold the lease).
            "FLEETSIM_TELEMATICS_INTERVAL": "0",
        }
        env.pop("FLEETSIM_ENGINE_CLOCK", None)
        env.pop("FLEETSIM_ADMIN_KEY", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleetsim.cli",
                "serve",
                "--port",
                str(self.port),
                "--engine-port",
                str(self.engine_port),
            ],  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(STARTUP_TIMEOUT_S):
            self.proc.kill()
            raise AssertionError("no 'fleetsim ready' line:\n" + "".join(self.lines))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.strip() == "fleetsim ready":
                self.ready.set()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        return self.proc.returncode


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    stack = LiveStack(str(tmp_path_factory.mktemp("serve") / "engine.db"))
    try:
        yield stack
    finally:
        if stack.proc.poll() is None:
            stack.proc.kill()


def test_banner_prints_base_urls_and_demo_credentials(live: LiveStack) -> None:
    text = "".join(live.lines)
    creds = requests.get(f"{live.base}/gpsinsight/_mock/credentials", timeout=5).json()
    master = next(u for u in creds["accounts"][0]["users"] if u["master"])
    assert f"{live.base}/gpsinsight" in text and f"{live.base}/wex" in text
    assert master["username"] in text and master["app_token"] in text


def test_a_printed_app_token_logs_in_and_lists_vehicles(live: LiveStack) -> None:
    creds = requests.get(f"{live.base}/wex/_mock/credentials", timeout=5).json()
    user = creds["accounts"][0]["users"][0]
    login = requests.post(
        f"{live.base}/wex/v2/userauth/login",
        data={"username": user["username"], "app_token": user["app_token"]},
        timeout=5,
    ).json()
    listing = requests.get(
        f"{live.base}/wex/v2/vehicle/list",
        params={"session_token": login["data"]["token"]},
        timeout=5,
    ).json()
    assert listing["head"]["status"] == "OK"
    assert listing["head"]["brand"] == "Wex Telematics"
    assert len(listing["data"]) == 20


def test_ready_comes_after_the_demo_integrations_are_activated(live: LiveStack) -> None:
    lines = [line.strip() for line in live.lines]
    engine_line = next(i for i, line in enumerate(lines) if line.startswith("sync engine"))
    assert "gpsinsight, wex, whiparound" in lines[engine_line]
    assert lines.index("fleetsim ready") > engine_line


def test_the_engine_answers_healthz_once_ready_and_follows_the_stack_clock(
    live: LiveStack,
) -> None:
    lines = [line.strip() for line in live.lines]
    assert f"engine          {live.engine}  (/healthz, /api/runs)" in lines
    assert lines.index("fleetsim ready") > lines.index(f"fleetsim engine on {live.engine}")
    health = requests.get(f"{live.engine}/healthz", timeout=5).json()
    assert health["status"] == "ok" and health["scheduler"]["running"] is True
    names = [i["name"] for i in requests.get(f"{live.engine}/api/integrations", timeout=5).json()[
        "integrations"
    ]]  # fmt: skip
    assert names == ["driveri", "gpsinsight", "wex", "whiparound"]
    # Two virtual hours later, the engine's clock (read at most once a second) says so too.
    clock = requests.post(f"{live.base}/gpsinsight/_mock/clock", json={"advance": 7200}, timeout=5)
    stack_now = datetime.fromisoformat(clock.json()["now"])

    def engine_clock() -> datetime:
        health = requests.get(f"{live.engine}/healthz", timeout=5).json()
        return datetime.fromisoformat(health["scheduler"]["clock"])

    # The engine refreshes the stack clock once a second.
    engine_now = wait_until(
        lambda: (now := engine_clock()) >= stack_now and now, "the engine's clock to follow"
    )
    assert stack_now <= engine_now < stack_now + timedelta(minutes=5)


def test_sync_telematics_runs_against_the_served_demo_and_replays_nothing(
    live: LiveStack,
) -> None:
    # Frozen, so no new fix can arrive between the two runs (vehicles report every minute).
    requests.post(f"{live.base}/gpsinsight/_mock/clock", json={"freeze": True}, timeout=5)
    env = {**os.environ, "FLEETSIM_DB_URL": live.db_url}
    command = [sys.executable, "-m", "fleetsim.cli", "sync", "telematics", "--json"]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    first_writes = {r["integration"]: r["writes"] for r in json.loads(first.stdout)}
    second_writes = {r["integration"]: r["writes"] for r in json.loads(second.stdout)}
    assert first_writes["gpsinsight"] > 0 and first_writes["wex"] > 0
    assert second_writes == {"gpsinsight": 0, "wex": 0}


def test_drop_fault_closes_the_connection_without_an_answer(live: LiveStack) -> None:
    base = f"{live.base}/gpsinsight"
    fault = requests.post(
        f"{base}/_mock/faults", json={"path": "/v2/heartbeat/beat", "drop": True}, timeout=5
    ).json()
    try:
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"{base}/v2/heartbeat/beat", timeout=5)
    finally:
        requests.delete(f"{base}/_mock/faults/{fault['id']}", timeout=5)
    assert requests.get(f"{base}/v2/heartbeat/beat", timeout=5).status_code == 200


def test_ctrl_c_stops_the_stack_cleanly(live: LiveStack) -> None:
    started = time.monotonic()
    assert live.stop() == 0
    assert time.monotonic() - started < 15
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{live.base}/gpsinsight/v2/heartbeat/beat", timeout=2)
    with pytest.raises(requests.exceptions.ConnectionError):  # the engine stopped with it
        requests.get(f"{live.engine}/healthz", timeout=2)
