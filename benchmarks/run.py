"""Emulator throughput as `make run` serves it: one gunicorn process, loopback load.

Prints a table: requests/s, server CPU ms per request (from the server process's own CPU
time), latency p50/p99. Uses wrk when it is installed (Debian package `wrk`), otherwise a
bounded Python load loop (slower client, so it measures less of the server's capacity).

    .venv/bin/python benchmarks/run.py [--seconds 8] [--connections 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
FLEETSIM = ROOT / ".venv" / "bin" / "fleetsim"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_stack(port: int, vehicles: int) -> subprocess.Popen[str]:
    env = {**os.environ, "FLEETSIM_VEHICLES": str(vehicles)}
    exe = str(FLEETSIM) if FLEETSIM.exists() else "fleetsim"
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--no-demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "fleetsim ready":
            break
        if time.monotonic() > deadline:
            break
    else:
        raise SystemExit("the stack did not start")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
    return proc


def server_pids(root_pid: int) -> list[int]:
    """The gunicorn master and its worker(s)."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(root_pid)], capture_output=True, text=True
    ).stdout
    return [root_pid, *(int(p) for p in out.split())]


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / CLK_TCK


def login(base: str, vendor: str = "gpsinsight") -> str:
    creds = requests.get(f"{base}/{vendor}/_mock/credentials", timeout=10).json()
    user = next(u for u in creds["accounts"][0]["users"] if u["master"])
    answer = requests.get(
        f"{base}/{vendor}/v2/userauth/login",
        params={"username": user["username"], "app_token": user["app_token"]},
        timeout=10,
    ).json()
    return str(answer["data"]["token"])


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


@dataclass(frozen=True)
class Load:
    """One request shape to hammer; ``{n}`` in the body becomes a per-request counter."""

    name: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


def _lua(load: Load) -> str:
    headers = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in load.headers.items())
    body = json.dumps(load.body) if load.body is not None else "nil"
    return f"""
local n = 0
local headers = {{{headers}}}
request = function()
  n = n + 1
  local body = {body}
  if body then body = string.gsub(body, "{{n}}", tostring(n)) end
  return wrk.format({json.dumps(load.method)}, nil, headers, body)
end
"""


def load_wrk(load: Load, seconds: int, connections: int) -> tuple[int, float, float, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(load))
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
             "-s", script.name, load.url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} error responses from {load.name}")
    return done, float(seconds), p50, p99


def load_python(load: Load, seconds: int, connections: int) -> tuple[int, float, float, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    counter = iter(range(1, 10**9))

    def worker() -> None:
        session = requests.Session()
        mine = []
        while time.monotonic() < stop:
            body = load.body.replace("{n}", str(next(counter))) if load.body else None
            t = time.perf_counter()
            response = session.request(
                load.method, load.url, headers=load.headers, data=body, timeout=10
            )
            response.raise_for_status()
            mine.append((time.perf_counter() - t) * 1000)
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    q = statistics.quantiles(latencies, n=100)
    return len(latencies), elapsed, q[49], q[98]


def measure(load: Load, pids: list[int], seconds: int, connections: int) -> dict:
    run = load_wrk if shutil.which("wrk") else load_python
    cpu0 = cpu_seconds(pids)
    done, elapsed, p50, p99 = run(load, seconds, connections)
    cpu = cpu_seconds(pids) - cpu0
    return {
        "scenario": load.name,
        "requests": done,
        "req/s": done / elapsed,
        "cpu ms/req": cpu * 1000 / max(done, 1),
        "p50 ms": p50,
        "p99 ms": p99,
        "client": run.__name__.removeprefix("load_"),
    }


def sequential_latency(url: str, count: int) -> tuple[float, float, float]:
    """Cold first answer, then p50 and p99 of ``count`` sequential requests (ms)."""
    session = requests.Session()
    t = time.perf_counter()
    session.get(url, timeout=60).raise_for_status()
    cold = (time.perf_counter() - t) * 1000
    samples = []
    for _ in range(count):
        t = time.perf_counter()
        session.get(url, timeout=60).raise_for_status()
        samples.append((time.perf_counter() - t) * 1000)
    q = statistics.quantiles(samples, n=100)
    return cold, q[49], q[98]


def driveri_token(base: str) -> tuple[str, str, str]:
    """(bearer token, tenant, a driverId) for the demo Driveri tenant."""
    client = requests.get(f"{base}/driveri/_mock/credentials", timeout=10).json()["clients"][0]
    auth = {"Authorization": f"Basic {client['basic_token']}"}
    token = requests.post(f"{base}/driveri/v1/auth/token", headers=auth, timeout=10).json()
    bearer = token["data"]["accessToken"]
    drivers = requests.get(
        f"{base}/driveri/v1/tenants/{client['tenant']}/drivers",
        headers={"Authorization": f"bearer {bearer}"},
        timeout=10,
    ).json()["data"]["drivers"]
    return bearer, client["tenant"], drivers[0]["driverId"]


def whiparound_target(base: str) -> tuple[str, int]:
    """(integration key, an asset id) for the demo Whip Around account."""
    keys = requests.get(f"{base}/whiparound/_mock/credentials", timeout=10).json()["keys"]
    key = next(k["key"] for k in keys if k["type"] == "integration")
    assets = requests.get(
        f"{base}/whiparound/api/public/v4/assets", headers={"x-api-key": key}, timeout=10
    ).json()["data"]
    return key, int(assets[0]["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    port = free_port()
    proc = start_stack(port, vehicles=100)
    base = f"http://127.0.0.1:{port}"
    try:
        pids = server_pids(proc.pid)
        session = urlencode({"session_token": login(base)})
        bearer, tenant, driver_id = driveri_token(base)
        key, asset_id = whiparound_target(base)
        loads = [
            Load("gpsinsight vehicle/location, 100 vehicles",
                 f"{base}/gpsinsight/v2/vehicle/location?{session}"),
            Load("gpsinsight heartbeat/beat (floor)", f"{base}/gpsinsight/v2/heartbeat/beat"),
            Load(
                "driveri driver edit (PUT)",
                f"{base}/driveri/v1/tenants/{tenant}/drivers/{driver_id}",
                "PUT",
                {"Authorization": f"bearer {bearer}", "Content-Type": "application/json"},
                '{"firstName": "Bench{n}"}',
            ),
            Load(
                "whiparound dtc-defect create (POST)",
                f"{base}/whiparound/api/public/v4/assets/{asset_id}/dtc-defects",
                "POST",
                {"x-api-key": key, "Content-Type": "application/json"},
                '{"code": "P{n}", "description": "bench"}',
            ),
        ]  # fmt: skip
        rows = [measure(load, pids, args.seconds, args.connections) for load in loads]
        requests.post(f"{base}/gpsinsight/_mock/seed", json={"vehicles": 10_000}, timeout=120)
        token = login(base)
        list_url = f"{base}/gpsinsight/v2/vehicle/list?{urlencode({'session_token': token})}"
        cold, p50, p99 = sequential_latency(list_url, 200)
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    print(
        f"\nfleetsim emulator benchmark ({os.cpu_count()} cores, one gunicorn worker, "
        f"{args.connections} connections, {args.seconds} s each)\n"
    )
    header = ["scenario", "requests", "req/s", "cpu ms/req", "p50 ms", "p99 ms", "client"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print(
            f"| {row['scenario']} | {row['requests']} | {row['req/s']:.0f} | "
            f"{row['cpu ms/req']:.3f} | {row['p50 ms']:.2f} | {row['p99 ms']:.2f} | "
            f"{row['client']} |"
        )
    print(
        f"\nvehicle/list, 10,000 vehicles, sequential: first answer {cold:.1f} ms, "
        f"then p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    print("Targets: location >= 2,160 req/s (1.5x Prism), <= 0.45 CPU ms/req, p99 <= 70 ms;")
    print("         10,000-vehicle vehicle/list p50 <= 10 ms;")
    print("         driver edit and dtc-defect create >= 1,000 req/s, p99 <= 50 ms.")


if __name__ == "__main__":
    sys.exit(main())
