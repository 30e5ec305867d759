"""The real ``fleetsim sync telematics`` / ``fleetsim sync drivers`` process SIGKILLed at
seeded points (fixtures/chaos_plans.py KILLS: once N requests reached the emulators), as
tests/fleetsim/test_engine_kill.py does once; here 5 times in ``make test`` and 20 in ``make
chaos``, on both pipelines, over the chaos world (dirty data, a DTC per vehicle, Driveri
paired). The next run takes the killed run's lease over and converges: zero drift, no
duplicate defect, no duplicate or lost driver, the killed run ABANDONED.

The engine follows the stack's frozen clock (FLEETSIM_ENGINE_CLOCK=stack:...), so the killed
run's lease expires when the test moves that clock past FLEETSIM_LEASE_TTL_S: nothing waits
for real. Every wait polls the journal or the fault counters against a deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chaos import chaos_rig as chaos
from chaos.chaos_rig import ChaosWorld
from engine_rig import Rig, rig_fixture  # noqa: F401  (the fixture)

from fixtures.chaos_plans import KILLS, TELEMATICS, KillPoint
from helpers import wait_until
from sync_engine.store import ABANDONED
from sync_engine.verify_observe import verify

TTL_S = 5
LATENCY_MS = 40  # every request of the victim is this slow: it is still running when killed
FLEETSIM = [sys.executable, "-c", "from fleetsim.cli import main; main()"]
PARAMS = [
    pytest.param(k, id=k.name, marks=() if k.short else pytest.mark.chaos_full) for k in KILLS
]


def engine_env(world: ChaosWorld, db_url: str) -> dict[str, str]:
    """The CLI's environment: the test's store file, a short lease, the stack's clock."""
    return {
        **os.environ,
        "FLEETSIM_DB_URL": db_url,
        "FLEETSIM_LEASE_TTL_S": str(TTL_S),
        "FLEETSIM_ENGINE_CLOCK": f"stack:{world.rig.base}",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }


def counters(world: ChaosWorld) -> dict[str, tuple[int, int]]:
    """Per vendor: (requests arrived, as the latency fault counted them; requests answered,
    as the journal recorded them)."""
    found = {}
    for vendor in chaos.VENDORS:
        (fault,) = world.control(vendor, "GET", "faults")["faults"]
        found[vendor] = (fault["seen"], len(world.rig.journal(vendor)))
    return found


def kill_after(world: ChaosWorld, env: dict[str, str], point: KillPoint) -> None:
    """Start ``fleetsim sync <pipeline>`` with every request slowed, SIGKILL it once
    ``point.after`` requests reached the emulators, and wait for the requests it had in
    flight to be answered (they still land: a write sent is a write made)."""
    world.clear_journals()
    for vendor in chaos.VENDORS:
        world.rig.fault(vendor, latency_ms=LATENCY_MS)
    victim = subprocess.Popen(
        [*FLEETSIM, "sync", point.pipeline], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(
            lambda: sum(seen for seen, _ in counters(world).values()) >= point.after,
            f"{point.after} requests of the run to be killed", deadline_s=60,
        )  # fmt: skip
        assert victim.poll() is None, "the run ended before it could be killed"
    finally:
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    wait_until(
        lambda: all(seen == answered for seen, answered in counters(world).values()),
        "the killed run's requests in flight to be answered",
    )
    world.clear_faults()


def fleetsim(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI to the end."""
    return subprocess.run([*FLEETSIM, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("point", PARAMS)
def test_after_a_sigkill_the_next_run_takes_over_and_converges_without_duplicates(
    point: KillPoint, rig: Rig, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'fleetsim.db'}"
    world = chaos.chaos_world(rig, point.seed, db_url)
    before = chaos.driveri_ids(world.drivers)
    env = engine_env(world, db_url)

    kill_after(world, env, point)
    (killed,) = world.rig.store.runs()
    assert killed["outcome"] is None  # killed: it could record nothing
    world.rig.advance(TTL_S + 1)  # its lease expires on the engine's clock
    rerun = fleetsim(env, "sync", point.pipeline, "--json")

    (report,) = json.loads(rerun.stdout)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert (report["outcome"], report["errors"]) == ("SUCCESS", [])
    runs: dict[int, dict[str, Any]] = {r["id"]: r for r in world.rig.store.runs()}
    assert runs[killed["id"]]["outcome"] == ABANDONED and len(runs) == 2
    verdicts = [v for v in verify(world.engine) if v.pipeline == point.pipeline]
    assert [(v.error, [d.as_dict() for d in v.drift]) for v in verdicts] == [(None, [])]
    if point.pipeline == TELEMATICS:
        assert chaos.duplicate_defects(world.rig) == [] and world.rig.defects()
    else:
        assert chaos.driver_faults(world.drivers, before) == {}
