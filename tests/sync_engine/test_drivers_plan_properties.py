"""Property tests of the drivers ``plan()`` against a tiny simulation: a fake Driveri that
applies the writes as docs/vendors.md §2.6 describes (exact ids, 409 on a taken id, a
soft-deleted driver edited only to reinstate it) and a link table with the store's rule (one
Driveri driver linked once at most). Applying a plan and planning again converges (R1/R2), and
only linked drivers are ever deleted (R23)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sync_engine.model import (
    DRIVERI_ACTIVE,
    DRIVERI_DELETED,
    DriveriDriver,
    PortalDriver,
    driver_key,
)
from sync_engine.reconcilers.drivers_plan import (
    ADOPT,
    CREATE,
    DELETE,
    RELEASE,
    RENAME,
    UPDATE,
    DriverAction,
    DriverLink,
    Observed,
    Plan,
    Scope,
    plan,
)

DEEP = os.environ.get("FLEETSIM_DEEP") == "1"
EXAMPLES = 1000 if DEEP else 80
SIMULATED = hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True)

DRIVERI_IDS = ("A", "B", "C", "D")  # distinct keys: Driveri's own ids never collide here
PORTAL_KEYS = ("A", " a ", "b", "C", "D", "E", "F", "", None)
PORTAL_IDS = (1, 2, 3, 4, 5)
NAMES = ("Ada", "Eve", "Bo")
EMAILS = (None, "", "ada@example.com", "eve@example.com")
PHONES = (None, "", "555-0101", "555-0102")
SYNCED = {"firstName": "first", "lastName": "last", "email": "email", "phone": "phone"}


@dataclass
class FakeDriveri:
    """Driveri's drivers by exact id, and every write made (for the assertions)."""

    drivers: dict[str, dict[str, Any]]
    writes: list[tuple[str, str]] = field(default_factory=list)

    def put(self, driver_id: str, fields: dict[str, Any]) -> None:
        """A partial update; a soft-deleted driver accepts only a reinstating one."""
        record = self.drivers[driver_id]
        if record["status"] == DRIVERI_DELETED:
            assert fields.get("status") in (1, 2), f"edit of soft-deleted {driver_id}: {fields}"
        for wire, name in SYNCED.items():
            if wire in fields:
                record[name] = fields[wire]
        record["status"] = fields.get("status", record["status"])
        self.writes.append(("PUT", driver_id))

    def observed(self) -> dict[str, DriveriDriver]:
        """What a full listing (showAll) reads, keyed as the reconciler keys it."""
        return {
            driver_key(i): DriveriDriver(i, r["first"], r["last"], r["email"], r["status"])
            for i, r in self.drivers.items()
        }

    def key_taken(self, driver_id: str) -> bool:
        """Whether a driver with this key exists (a create or rename would duplicate it)."""
        return any(driver_key(i) == driver_key(driver_id) for i in self.drivers)


def linked_key(links: dict[int, DriverLink], portal_id: int) -> str | None:
    """The key the link of ``portal_id`` holds."""
    held = links.get(portal_id)
    return driver_key(held.driveri_id) if held else None


def save_link(links: dict[int, DriverLink], action: DriverAction) -> None:
    """The store's ``save_link``: one Driveri driver is linked once at most."""
    for other in links.values():
        if other.portal_id != action.portal_id:
            assert driver_key(other.driveri_id) != driver_key(action.driver_id), action
    links[action.portal_id] = DriverLink(
        action.portal_id, action.driver_id, action.phone, action.version
    )


def apply(result: Plan, driveri: FakeDriveri, links: dict[int, DriverLink]) -> None:
    """Apply a plan's actions in order, as the apply layer does, checking each is legal."""
    for a in result.actions:
        if a.kind == RELEASE:
            assert a.portal_id in links
            del links[a.portal_id]
        elif a.kind == ADOPT:
            assert a.driver_id in driveri.drivers
            save_link(links, a)
            if a.fields:
                driveri.put(a.driver_id, a.fields)
        elif a.kind == UPDATE:
            assert linked_key(links, a.portal_id) == driver_key(a.driver_id)
            driveri.put(a.driver_id, a.fields)
            save_link(links, a)
        elif a.kind == RENAME:
            assert a.old_driver_id is not None
            assert linked_key(links, a.portal_id) == driver_key(a.old_driver_id)
            assert not driveri.key_taken(a.driver_id)
            driveri.drivers[a.driver_id] = driveri.drivers.pop(a.old_driver_id)
            driveri.put(a.driver_id, a.fields)
            save_link(links, a)
        elif a.kind == CREATE:
            assert not driveri.key_taken(a.driver_id), f"duplicate create {a.driver_id}"
            driveri.drivers[a.driver_id] = {
                "first": a.fields["firstName"], "last": a.fields.get("lastName", ""),
                "email": a.fields.get("email"), "phone": a.fields.get("phone"),
                "status": DRIVERI_ACTIVE,
            }  # fmt: skip
            driveri.writes.append(("POST", a.driver_id))
            save_link(links, a)
        else:
            assert a.kind == DELETE
            # R23: only a driver this portal driver links is ever deleted.
            assert linked_key(links, a.portal_id) == driver_key(a.driver_id)
            assert a.fields == {"status": DRIVERI_DELETED}
            driveri.put(a.driver_id, a.fields)
            del links[a.portal_id]


# -- worlds ---------------------------------------------------------------------------------


@dataclass
class World:
    """One generated starting point."""

    portal: list[PortalDriver]
    driveri: FakeDriveri
    links: dict[int, DriverLink]
    scope: Scope


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Portal drivers, Driveri drivers and links (some pointing nowhere), and a scope."""
    portal = []
    for pid in PORTAL_IDS:
        if draw(st.booleans()):
            portal.append(
                PortalDriver(
                    pid,
                    draw(st.sampled_from(NAMES)),
                    draw(st.sampled_from(NAMES)),
                    draw(st.sampled_from(EMAILS)),
                    draw(st.sampled_from(PHONES)),
                    None,
                    draw(st.sampled_from(PORTAL_KEYS)),
                    draw(st.integers(1, 9)),
                )  # fmt: skip
            )
    drivers = {}
    for did in DRIVERI_IDS:
        if draw(st.booleans()):
            drivers[did] = {
                "first": draw(st.sampled_from(NAMES)), "last": draw(st.sampled_from(NAMES)),
                "email": draw(st.sampled_from(EMAILS)), "phone": draw(st.sampled_from(PHONES)),
                "status": draw(st.sampled_from((1, 1, 2, 3))),
            }  # fmt: skip
    targets = draw(st.permutations(DRIVERI_IDS + ("Z",)))  # Z: never in Driveri
    links = {}
    for pid, target in zip(PORTAL_IDS, targets, strict=False):
        if draw(st.booleans()):
            links[pid] = DriverLink(pid, target, draw(st.sampled_from(PHONES)), 1)
            if target in drivers:  # the link remembers the phone pushed last (R24)
                drivers[target]["phone"] = links[pid].phone
    scoped = draw(st.one_of(st.none(), st.frozensets(st.sampled_from(PORTAL_IDS), min_size=1)))
    return World(portal, FakeDriveri(drivers), links, Scope(scoped))


def replan(world: World) -> Plan:
    """Plan a run of the world as it stands now."""
    return plan(Observed(world.portal, world.driveri.observed()), world.links, world.scope)


def settle(world: World) -> tuple[Plan, list[Plan]]:
    """Plan and apply until a plan has nothing to do; the first plan and every later one."""
    first = replan(world)
    later: list[Plan] = []
    current = first
    for _ in range(len(PORTAL_IDS) + 2):
        if not current.actions:
            return first, later
        apply(current, world.driveri, world.links)
        current = replan(world)
        later.append(current)
    raise AssertionError(f"no fixpoint: {current.actions}")


def skipped(result: Plan) -> set[int]:
    """Portal ids a plan skipped."""
    return {n.detail["portal_id"] for n in result.notes if n.kind == "skip"}


@SIMULATED
@given(worlds())
def test_r1_applying_a_plan_without_conflicts_leaves_nothing_to_do(world: World) -> None:
    first = replan(world)
    apply(first, world.driveri, world.links)
    conflicts = [n for n in first.notes if n.reason == "CONFLICT"]
    # A conflict waits for the other portal driver's own change (R22): a later run.
    assert replan(world).actions == [] or conflicts


@SIMULATED
@given(worlds())
def test_r2_plans_reach_a_fixpoint_where_every_synced_driver_matches_the_portal(
    world: World,
) -> None:
    first, later = settle(world)
    final = later[-1] if later else first
    if final.halted:
        assert world.driveri.writes == []
        return
    if world.scope.full:  # R23: every gone portal driver's link is released
        assert set(world.links) <= {p.id for p in world.portal}
    in_scope = [
        p for p in world.portal if world.scope.full or p.id in (world.scope.portal_ids or ())
    ]
    for p in in_scope:
        if p.id in skipped(final):
            continue
        held = world.links[p.id]
        assert driver_key(held.driveri_id) == p.key
        record = world.driveri.drivers[held.driveri_id]
        assert record["status"] == DRIVERI_ACTIVE
        assert (record["first"], record["last"]) == (p.first_name, p.last_name)
        assert (record["email"] or "", held.phone or "") == (p.email or "", p.phone or "")
        if p.phone:  # an empty portal phone is not pushed onto an adopted driver
            assert record["phone"] == p.phone


@SIMULATED
@given(worlds())
def test_r23_only_drivers_linked_at_the_start_of_a_run_are_ever_deleted(world: World) -> None:
    linked = {driver_key(held.driveri_id) for held in world.links.values()}
    result = replan(world)
    deleted = {driver_key(a.driver_id) for a in result.actions if a.kind == DELETE}
    assert deleted <= linked
    live = {p.id for p in world.portal}
    assert all(a.portal_id not in live for a in result.actions if a.kind == DELETE)


@SIMULATED
@given(worlds())
def test_r21a_a_plan_never_creates_a_driver_whose_driverid_driveri_already_has(
    world: World,
) -> None:
    result = replan(world)
    created = [a.driver_id for a in result.actions if a.kind in (CREATE, RENAME)]
    assert not any(world.driveri.key_taken(i) for i in created)


def test_simulation_reaches_every_kind_of_action() -> None:
    # Guards the properties against a simulation that quietly stopped planning anything.
    portal = [
        PortalDriver(1, "Ada", "New", None, None, None, "A", 2),
        PortalDriver(2, "Bo", "Bo", None, None, None, "E", 2),
        PortalDriver(3, "Cy", "Cy", None, None, None, "C", 2),
        PortalDriver(4, "Di", "Di", None, "555-0104", None, "F", 2),
        PortalDriver(8, "Gus", "Gus", None, None, None, "g", 2),
    ]
    drivers = {
        i: {"first": name, "last": name, "email": None, "phone": None, "status": status}
        for i, name, status in [
            ("A", "Ada", 1), ("B", "Bo", 1), ("C", "Cy", 3), ("D", "Di", 1), ("G", "Gus", 1),
        ]
    }  # fmt: skip
    links = {
        pid: DriverLink(pid, did, None, 1)
        for pid, did in [(1, "A"), (2, "B"), (5, "D"), (6, "Z"), (7, "G")]
    }
    world = World(portal, FakeDriveri(drivers), links, Scope())
    first, later = settle(world)
    assert [(a.kind, a.portal_id) for a in first.actions] == [
        (RELEASE, 7), (ADOPT, 3), (ADOPT, 8), (RENAME, 2), (UPDATE, 1), (CREATE, 4),
        (DELETE, 5), (RELEASE, 6),
    ]  # fmt: skip
    assert [len(p.actions) for p in later] == [0]
    assert sorted((k, v.driveri_id) for k, v in world.links.items()) == [
        (1, "A"), (2, "E"), (3, "C"), (4, "F"), (8, "G"),
    ]  # fmt: skip
    assert world.driveri.drivers["D"]["status"] == DRIVERI_DELETED
