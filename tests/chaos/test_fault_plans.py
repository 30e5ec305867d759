"""The 20 seeded fault plans (fixtures/chaos_plans.py) on both pipelines: faults on for the
plan's rounds (runs may end PARTIAL or FAILED), the engine graded from the journals, faults
off, then ONE full run (telematics + drivers) must converge: zero drift by the oracle
(sync_engine.verify), no duplicate defect, no duplicate, lost or extra driver. ``make test``
runs the five short plans (one per fault kind); ``make chaos`` all 20 (docs/chaos.md)."""

from __future__ import annotations

from typing import Any

import pytest
from chaos.chaos_rig import (
    VENDORS,
    ChaosWorld,
    chaos_world,
    driver_faults,
    driveri_ids,
    duplicate_defects,
)
from engine_rig import Rig, rig_fixture  # noqa: F401  (the fixture)

from fixtures.chaos_plans import (
    BURST_429,
    DROP_AFTER_CREATE,
    KINDS,
    MUTATION,
    PLANS,
    ChaosPlan,
)
from fleetsim import grading
from sync_engine.clients import driveri as driveri_client
from sync_engine.clients import whiparound as whiparound_client
from sync_engine.verify_observe import verify

# Pages small enough that the fleet takes several of them: a listing shifting between two
# page fetches is then something the clients must notice (sync_engine/clients/base.py).
SMALL_PAGES = {driveri_client: 4, whiparound_client: 5}
PARAMS = [
    pytest.param(p, id=p.name, marks=() if p.short else pytest.mark.chaos_full) for p in PLANS
]


def faulted_rounds(world: ChaosWorld, plan: ChaosPlan) -> dict[str, Any]:
    """Switch the plan's faults on (on clean journals), run its rounds, and return what the
    grader needs plus each fault's counters, read before the faults go."""
    world.clear_journals()
    for vendor, specs in plan.faults.items():
        for spec in specs:
            world.rig.fault(vendor, **spec)
    for _ in range(plan.rounds):
        world.engine.sync_telematics()  # PARTIAL or FAILED is fine while faults are on
        world.engine.sync_drivers()
    evidence = grading.load(world.rig.base, VENDORS, session=world.rig.http)
    world.clear_faults()
    return {"evidence": evidence, "faults": evidence.faults}


def small_pages(plan: ChaosPlan, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listings paged finely when the plan shifts them, so the shift falls between pages."""
    if MUTATION in plan.kinds:
        for module, limit in SMALL_PAGES.items():
            monkeypatch.setattr(module, "PAGE_LIMIT", limit)


@pytest.mark.parametrize("plan", PARAMS)
def test_after_the_faults_stop_one_full_run_converges_without_duplicates_and_grades_clean(
    plan: ChaosPlan, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_pages(plan, monkeypatch)
    world = chaos_world(rig, plan.seed)
    before = driveri_ids(world.drivers)
    chaos = faulted_rounds(world, plan)

    final = world.engine.sync_telematics() + world.engine.sync_drivers()
    verdicts = verify(world.engine)

    # Every fault of the plan really fired: a plan that never bit proves nothing.
    idle = [
        (vendor, f["id"]) for vendor, faults in chaos["faults"].items()
        for f in faults if not f["fired"]
    ]  # fmt: skip
    assert idle == [], chaos["faults"]
    assert [(r.pipeline, r.outcome, r.errors) for r in final if r.outcome != "SUCCESS"] == []
    assert {v.pipeline for v in verdicts} == {"telematics", "drivers"}
    drift = [(v.pipeline, v.error, [d.as_dict() for d in v.drift]) for v in verdicts]
    assert [d for d in drift if d[1] or d[2]] == []
    assert duplicate_defects(world.rig) == []
    assert driver_faults(world.drivers, before) == {}

    evidence = chaos["evidence"]
    grade = grading.grade(evidence.journals, evidence.faults)
    assert grade.passed(), grade.render()
    assert grade.notes == [], grade.render()  # every fault effect was graded
    assert grade.graded[grading.TOKEN_CAP] > 0
    if BURST_429 in plan.kinds:
        assert grade.graded[grading.RETRY_AFTER] > 0
    if DROP_AFTER_CREATE in plan.kinds:
        assert grade.graded[grading.BLIND_CREATE] > 0


def journal_of(rig: Rig, plan: ChaosPlan) -> dict[str, list[tuple[Any, ...]]]:
    """What each vendor was asked under ``plan``'s faults, when and how it answered."""
    journals = faulted_rounds(chaos_world(rig, plan.seed), plan)["evidence"].journals
    return {
        vendor: [(e["at"], e["method"], e["path"], e["status"]) for e in entries]
        for vendor, entries in journals.items()
    }


def test_a_seeded_plan_replays_request_for_request(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = next(p for p in PLANS if set(p.kinds) == set(KINDS))
    small_pages(everything, monkeypatch)
    first = journal_of(rig, everything)
    statuses = {entry[3] for entries in first.values() for entry in entries}
    assert sum(map(len, first.values())) > 200 and {429, 500, 502} <= statuses
    assert journal_of(rig, everything) == first
