"""The telematics sync at scale: a 10,000-vehicle, ~20,000-DTC world, served as `make run`
serves it, synced by the engine in its own process.

Prints a table: full-sync time, requests, requests/s, the emulators' own capacity for the
same request mix (measured in the same run, per request type, with wrk or a Python loop),
their ratio, the no-change re-sync, and the engine's peak RSS.

    .venv/bin/python benchmarks/sync.py [--vehicles 10000] [--dtcs-per-vehicle 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # noqa: E402  (the sibling benchmark's helpers: one load generator)
    Load,
    free_port,
    login,
    measure,
    server_pids,
    start_stack,
)

ROOT = Path(__file__).resolve().parent.parent
FLEETSIM = ROOT / ".venv" / "bin" / "fleetsim"
WA = "/whiparound/api/public/v4"


def fleetsim(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = str(FLEETSIM) if FLEETSIM.exists() else "fleetsim"
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=3600)


def timed_sync(env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    done = fleetsim("sync", "telematics", "--integration", "gpsinsight", "--json", env=env)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"sync failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed, json.loads(done.stdout)[0]


def request_type(method: str, path: str) -> str:
    """Collapse ids so the journal groups into request types."""
    return f"{method} {re.sub(r'/assets/[^/]+/', '/assets/{id}/', path)}"


def mix_of(base: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for vendor in ("gpsinsight", "whiparound"):
        entries = requests.get(f"{base}/{vendor}/_mock/journal", timeout=60).json()["entries"]
        counts.update(f"{vendor} {request_type(e['method'], e['path'])}" for e in entries)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=10_000)
    parser.add_argument("--dtcs-per-vehicle", type=float, default=2.0)
    parser.add_argument("--seconds", type=int, default=5, help="per request type, capacity")
    args = parser.parse_args()

    os.environ.update(
        {
            "FLEETSIM_WEX_VEHICLES": "0",
            "FLEETSIM_DTCS_PER_VEHICLE": str(args.dtcs_per_vehicle),
            "FLEETSIM_JOURNAL_LIMIT": "400000",
        }
    )
    port = free_port()
    t0 = time.perf_counter()
    proc = start_stack(port, vehicles=args.vehicles)
    startup = time.perf_counter() - t0
    base = f"http://127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix="fleetsim-bench-")
    env = {**os.environ, "FLEETSIM_DB_URL": f"sqlite:///{workdir}/engine.db"}
    try:
        pids = server_pids(proc.pid)
        requests.post(f"{base}/gpsinsight/_mock/clock", json={"freeze": True}, timeout=10)
        creds = requests.get(f"{base}/gpsinsight/_mock/credentials", timeout=10).json()
        master = next(u for u in creds["accounts"][0]["users"] if u["master"])
        keys = requests.get(f"{base}/whiparound/_mock/credentials", timeout=10).json()["keys"]
        key = next(k["key"] for k in keys if k["type"] == "integration")
        for command in (
            ["gpsinsight", "--username", master["username"], "--app-token", master["app_token"],
             "--base-url", f"{base}/gpsinsight"],
            ["whiparound", "--api-key", key, "--base-url", f"{base}{WA}"],
        ):  # fmt: skip
            added = fleetsim("integrations", "add", *command, env=env)
            if added.returncode:
                raise SystemExit(added.stderr)
        active_dtcs = sum(
            len(row["dtc"])
            for row in requests.post(
                f"{base}/gpsinsight/v2/vehicle/dtc",
                data={"session_token": login(base)},
                timeout=120,
            ).json()["data"]
        )
        for vendor in ("gpsinsight", "whiparound"):
            requests.delete(f"{base}/{vendor}/_mock/journal", timeout=10)

        first_s, first = timed_sync(env)
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        mix = mix_of(base)
        for vendor in ("gpsinsight", "whiparound"):
            requests.delete(f"{base}/{vendor}/_mock/journal", timeout=10)
        second_s, second = timed_sync(env)
        rss_mb = max(rss_mb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)

        # The emulators' capacity for the same mix: the busy time each request type costs,
        # measured alone at full load, summed over the mix.
        assets = requests.get(
            f"{base}{WA}/assets", headers={"x-api-key": key}, params={"limit": 1}, timeout=30
        ).json()["data"]
        asset_id = assets[0]["id"]
        json_headers = {"x-api-key": key, "Content-Type": "application/json"}
        shapes = {
            "whiparound POST /api/public/v4/assets/{id}/location": Load(
                "location", f"{base}{WA}/assets/{asset_id}/location", "POST", json_headers,
                '{"latitude": 33.4, "longitude": -112.0, "recorded_at": "2026-01-01T00:00:00Z"}',
            ),
            "whiparound POST /api/public/v4/assets/{id}/mileage": Load(
                "mileage", f"{base}{WA}/assets/{asset_id}/mileage", "POST", json_headers,
                '{"value": 1{n}, "unit": "mi", "recorded_at": "2026-01-01T00:00:00Z"}',
            ),
            "whiparound POST /api/public/v4/assets/{id}/dtc-defects": Load(
                "dtc-defects", f"{base}{WA}/assets/{asset_id}/dtc-defects", "POST", json_headers,
                '{"code": "P{n}", "description": "bench"}',
            ),
        }  # fmt: skip
        busy_s = 0.0
        rows = []
        for kind, count in mix.most_common():
            if kind in shapes:
                result = measure(shapes[kind], pids, args.seconds, 8)
                per_request = 1 / result["req/s"]
            else:
                per_request = single_latency(base, kind, key)
            busy_s += count * per_request
            rows.append((kind, count, 1 / per_request))
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    total = first["requests"]
    engine_rate = total / first_s
    capacity = sum(mix.values()) / busy_s if busy_s else float("nan")
    print(
        f"\nfleetsim telematics sync benchmark ({os.cpu_count()} cores; stack start "
        f"{startup:.1f} s for {args.vehicles} vehicles, {active_dtcs} active DTCs)\n"
    )
    print("| measure | value | goal |")
    print("|---|---|---|")
    print(f"| full sync time | {first_s:.1f} s | |")
    print(f"| requests made (engine) | {total} | |")
    print(f"| writes | {first['writes']} | |")
    print(f"| engine requests/s | {engine_rate:.0f} | |")
    print(f"| emulator capacity, same mix | {capacity:.0f} req/s | |")
    print(f"| ratio | {engine_rate / capacity:.2f} | >= 0.6 |")
    print(
        f"| no-change re-sync | {second_s:.1f} s, {second['writes']} writes, "
        f"{second['requests']} requests ({100 * second_s / first_s:.0f} %) | 0 writes, <= 20 % |"
    )
    print(f"| engine peak RSS | {rss_mb:.0f} MB | <= 300 MB |")
    print(f"| outcome | {first['outcome']} / {second['outcome']} | |")
    print("\nrequest mix of the full sync (count, measured capacity of that type alone):")
    for kind, count, cap in rows:
        print(f"  {count:>7}  {kind:<58} {cap:>8.0f} req/s")


def single_latency(base: str, kind: str, key: str) -> float:
    """Seconds one request of a rare, heavy type takes (sequentially, best of three)."""
    vendor, method, path = kind.split(" ", 2)
    session = login(base) if vendor == "gpsinsight" else ""

    def call() -> None:
        if vendor == "gpsinsight":
            requests.post(
                f"{base}/gpsinsight{path}",
                data={"session_token": session, "details": 1},
                timeout=120,
            )
        else:
            requests.request(
                method,
                f"{base}/whiparound{path}",
                headers={"x-api-key": key},
                params={"limit": 1000},
                timeout=120,
            )

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


if __name__ == "__main__":
    sys.exit(main())
