"""The drivers pipeline's I/O half and runs (issue 10 §2) against fake vendors: the Driver
Sync toggle (R25), dry runs, independent writes (R6a), event versions (R26), the lease and
the mass-delete guard (R6). The real emulators are in test_drivers_e2e.py."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_engine.clients.base import UnconfirmedWrite, VendorError
from sync_engine.engine import ConfigError, Engine
from sync_engine.model import DRIVERI_ACTIVE, DRIVERI_DELETED, DriveriDriver, PortalDriver
from sync_engine.reconcilers.drivers import DriverReport
from sync_engine.store import Store
from sync_engine.store.drivers import APPLIED, DROPPED, FAILED, PENDING

T0 = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)
REFUSED = "firstName: Not a valid string."


class FakeClient:
    """What the engine reads off every client besides its calls."""

    vendor = "fake"

    def __init__(self) -> None:
        self.integration: str | None = None
        self.requests_made = 0

    def stats(self) -> dict[str, Any]:
        return {"integration": self.integration, "requests": self.requests_made, "retries": 0,
                "waited_s": 0.0, "quota_hits": 0}  # fmt: skip


class FakePortal(FakeClient):
    vendor = "gpsinsight"

    def __init__(self, drivers: list[PortalDriver], enabled: bool = True) -> None:
        super().__init__()
        self.portal = drivers
        self.enabled = enabled

    def drivers(self) -> list[PortalDriver]:
        self.requests_made += 1
        return list(self.portal)

    def driver_sync_enabled(self) -> bool:
        self.requests_made += 1
        return self.enabled


class FakeDriveri(FakeClient):
    vendor = "driveri"

    def __init__(self, drivers: list[DriveriDriver]) -> None:
        super().__init__()
        self.tenant = {d.driver_id: d for d in drivers}
        self.writes: list[tuple[str, str, dict[str, Any]]] = []
        self.reads: list[str] = []
        self.refuse: set[str] = set()  # driver ids whose writes get a 400
        self.lose_answer = False  # the next write lands but its answer is lost

    def drivers(self, show_all: bool = True) -> list[DriveriDriver]:
        self.reads.append("list")
        return [d for d in self.tenant.values() if show_all or d.status != DRIVERI_DELETED]

    def driver(self, driver_id: str) -> DriveriDriver | None:
        self.reads.append(driver_id)
        return self.tenant.get(driver_id)

    def create(self, driver_id: str, fields: dict[str, Any], reinstate: bool = False) -> None:
        self._check("create", driver_id, fields)
        self.tenant[driver_id] = DriveriDriver(
            driver_id, fields["firstName"], fields.get("lastName", ""), fields.get("email"),
            DRIVERI_ACTIVE,
        )  # fmt: skip
        self._answer()

    def update(self, driver_id: str, fields: dict[str, Any]) -> None:
        self._check("update", driver_id, fields)
        d = self.tenant.pop(driver_id)
        names = {"driverId": "driver_id", "firstName": "first_name", "lastName": "last_name",
                 "email": "email", "status": "status"}  # fmt: skip
        d = replace(d, **{names[k]: v for k, v in fields.items() if k in names})
        self.tenant[d.driver_id] = d
        self._answer()

    def _check(self, kind: str, driver_id: str, fields: dict[str, Any]) -> None:
        self.requests_made += 1
        if driver_id in self.refuse:
            raise VendorError("driveri", f"drivers/{driver_id}", 400, REFUSED)
        self.writes.append((kind, driver_id, dict(fields)))

    def _answer(self) -> None:
        if self.lose_answer:
            self.lose_answer = False
            raise UnconfirmedWrite("driveri", "drivers", None, "connection failed")


def a_portal_driver(
    portal_id: int, driver_id: str | None, first: str = "Ann", version: int = 1, **more: Any
) -> PortalDriver:
    values: dict[str, Any] = {
        "email": f"d{portal_id}@example.com", "phone": None, "ref_id": f"EMP-{portal_id}",
        **more,
    }  # fmt: skip
    return PortalDriver(
        portal_id, first, f"Last{portal_id}", values["email"], values["phone"], values["ref_id"],
        driver_id, version,
    )  # fmt: skip


def a_driveri_driver(
    driver_id: str, portal_id: int, first: str = "Ann", status: int = DRIVERI_ACTIVE
) -> DriveriDriver:
    return DriveriDriver(driver_id, first, f"Last{portal_id}", f"d{portal_id}@example.com", status)


class FakeEngine(Engine):
    """The engine with its two clients replaced by fakes."""

    def __init__(self, store: Store, portal: FakePortal, target: FakeDriveri) -> None:
        super().__init__(store, clock=lambda: T0, sleep=lambda s: None, rng=random.Random(1))
        self.portal, self.target = portal, target

    def source_client(self, row: dict[str, Any], keeper: Any = None) -> Any:
        return self.portal

    def driveri_client(self, row: dict[str, Any], tenant: str, keeper: Any = None) -> Any:
        return self.target


@pytest.fixture
def store() -> Store:
    s = Store("sqlite://")
    s.save_integration("gpsinsight", "gpsinsight", "http://gps.invalid", "app-token", T0, "api")
    s.save_integration("driveri", "driveri", "http://driveri.invalid", "client-secret", T0, "cid")
    s.save_pairing("driveri", "gpsinsight", "demo-fleet", T0)
    return s


def make_engine(
    store: Store,
    portal: list[PortalDriver],
    tenant: list[DriveriDriver],
    *,
    enabled: bool = True,
    seen: bool | None = True,
) -> FakeEngine:
    if seen is not None:
        store.save_sync_seen("driveri", seen, T0)
    return FakeEngine(store, FakePortal(portal, enabled), FakeDriveri(tenant))


def link(store: Store, portal_id: int, driver_id: str, version: int = 1) -> None:
    store.save_link("driveri", portal_id, driver_id, phone=None, version=version, now=T0)


def links(store: Store) -> dict[int, tuple[str, int]]:
    return {r["portal_id"]: (r["driveri_id"], r["version"]) for r in store.driver_links("driveri")}


def two_linked_drivers_renamed_in_the_portal(store: Store) -> FakeEngine:
    """Portal drivers 1 and 2 linked to DRV1 and DRV2, both first names changed since."""
    link(store, 1, "DRV1")
    link(store, 2, "DRV2")
    portal = [a_portal_driver(1, "DRV1", first="Bea", version=2),
              a_portal_driver(2, "DRV2", first="Cid", version=2)]  # fmt: skip
    return make_engine(store, portal, [a_driveri_driver("DRV1", 1), a_driveri_driver("DRV2", 2)])


def one_run(engine: Engine, **kwargs: Any) -> DriverReport:
    (report,) = engine.sync_drivers(**kwargs)
    assert isinstance(report, DriverReport)
    return report


def event(
    store: Store, event_id: str, portal_id: int | None, version: int, kind: str = "updated"
) -> None:
    store.inbox_add(
        event_id, "gpsinsight", f"driver.{kind}", portal_id=portal_id, version=version,
        payload={}, now=T0,
    )  # fmt: skip


def statuses(store: Store) -> dict[str, tuple[str, str | None]]:
    return {e["event_id"]: (e["status"], e["detail"]) for e in store.inbox_events()}


# -- R25: the toggle ---------------------------------------------------------------------------


def test_r25_toggle_off_makes_zero_driveri_writes_and_says_why(store: Store) -> None:
    engine = make_engine(store, [a_portal_driver(1, "DRV1")], [], enabled=False)
    report = one_run(engine)
    assert engine.target.writes == [] and engine.target.reads == []
    assert (report.outcome, [w["reason"] for w in report.warnings]) == (
        "SUCCESS", ["DRIVER_SYNC_OFF"],
    )  # fmt: skip
    assert links(store) == {}
    pairing = store.pairing("driveri")
    assert pairing is not None and pairing["sync_seen_on"] is False


def test_r25_first_activation_adopts_before_it_creates_and_remembers_it_saw_the_toggle_on(
    store: Store,
) -> None:
    portal = [a_portal_driver(1, "NEW1"), a_portal_driver(2, "drv2")]
    engine = make_engine(store, portal, [a_driveri_driver("DRV2", 2)], seen=None)
    report = one_run(engine)
    assert [(k, d) for k, d, _ in engine.target.writes] == [("create", "NEW1")]
    assert links(store) == {1: ("NEW1", 1), 2: ("DRV2", 1)}  # adopted in Driveri's spelling
    assert report.detail == {"first_activation": True}
    assert (report.counts["created"], report.counts["matched"], report.outcome) == (
        1, 1, "SUCCESS",
    )  # fmt: skip
    pairing = store.pairing("driveri")
    assert pairing is not None and pairing["sync_seen_on"] is True


def test_r25_a_later_full_reconcile_is_not_a_first_activation(store: Store) -> None:
    engine = make_engine(store, [], [], seen=True)
    assert one_run(engine).detail == {"first_activation": False}


def test_r25_turning_driver_sync_on_is_noticed_without_waiting_for_an_event(
    store: Store,
) -> None:
    engine = make_engine(store, [a_portal_driver(1, "NEW1")], [], seen=False)
    report = engine.check_driver_sync("driveri")
    assert report is not None and report.detail == {"first_activation": True}
    assert [(k, d) for k, d, _ in engine.target.writes] == [("create", "NEW1")]
    assert engine.check_driver_sync("driveri") is None  # seen on now: nothing more to do


def test_r25_a_check_with_the_setting_unchanged_reads_one_setting_and_writes_nothing(
    store: Store,
) -> None:
    engine = make_engine(store, [a_portal_driver(1, "NEW1")], [], enabled=False, seen=False)
    assert engine.check_driver_sync("driveri") is None
    assert (engine.portal.requests_made, engine.target.writes, store.runs()) == (1, [], [])


def test_r25_turning_driver_sync_off_is_remembered_so_on_again_is_a_change(store: Store) -> None:
    engine = make_engine(store, [], [], enabled=False, seen=True)
    assert engine.check_driver_sync("driveri") is None
    pairing = store.pairing("driveri")
    assert pairing is not None and pairing["sync_seen_on"] is False


def test_r25_a_setting_the_portal_cannot_answer_changes_nothing(store: Store) -> None:
    engine = make_engine(store, [a_portal_driver(1, "NEW1")], [], seen=False)

    def down() -> bool:
        raise VendorError("gpsinsight", "driverisync/read", 503, "unavailable")

    engine.portal.driver_sync_enabled = down  # type: ignore[method-assign]
    assert engine.check_driver_sync("driveri") is None
    assert (engine.target.writes, store.runs()) == ([], [])


# -- dry run ---------------------------------------------------------------------------------


def test_a_dry_run_plans_every_action_and_writes_nothing(store: Store) -> None:
    link(store, 2, "DRV2")
    link(store, 3, "DRV3")
    portal = [a_portal_driver(1, "NEW1"), a_portal_driver(2, "DRV2", first="Bea")]
    tenant = [a_driveri_driver("DRV2", 2), a_driveri_driver("DRV3", 3)]
    engine = make_engine(store, portal, tenant, seen=None)
    before = store.driver_links("driveri")
    report = one_run(engine, dry_run=True)
    assert engine.target.writes == []
    assert store.driver_links("driveri") == before
    assert report.planned == [
        {"kind": "UPDATE", "portal_id": 2, "driver_id": "DRV2", "fields": {"firstName": "Bea"}},
        {"kind": "CREATE", "portal_id": 1, "driver_id": "NEW1",
         "fields": {"firstName": "Ann", "lastName": "Last1", "email": "d1@example.com"}},
        {"kind": "DELETE", "portal_id": 3, "driver_id": "DRV3", "fields": {"status": 3}},
    ]  # fmt: skip
    pairing = store.pairing("driveri")
    assert pairing is not None and pairing["sync_seen_on"] is None  # not even the toggle
    (run,) = store.runs()
    assert run["report"]["planned"] == report.planned


def test_a_dry_run_with_the_toggle_off_plans_what_turning_it_on_would_do(store: Store) -> None:
    engine = make_engine(store, [a_portal_driver(1, "NEW1")], [], enabled=False, seen=None)
    report = one_run(engine, dry_run=True)
    assert [a["kind"] for a in report.planned or []] == ["CREATE"]
    assert [w["reason"] for w in report.warnings] == ["DRIVER_SYNC_OFF"]
    assert report.detail == {"first_activation": True} and engine.target.writes == []


# -- R6a, R6 ---------------------------------------------------------------------------------


def test_r6a_a_refused_write_affects_only_itself_and_makes_the_run_partial(store: Store) -> None:
    engine = two_linked_drivers_renamed_in_the_portal(store)
    engine.target.refuse = {"DRV1"}
    report = one_run(engine)
    assert report.outcome == "PARTIAL"
    assert [(e["where"], e["portal_id"]) for e in report.errors] == [("write", 1)]
    assert REFUSED in report.errors[0]["message"]
    assert engine.target.tenant["DRV2"].first_name == "Cid"
    assert links(store) == {1: ("DRV1", 1), 2: ("DRV2", 2)}  # the refused one not recorded


def test_r6_a_run_that_would_delete_too_many_stops_before_writing(store: Store) -> None:
    for n in range(1, 7):
        link(store, n, f"DRV{n}")
    engine = make_engine(store, [], [a_driveri_driver(f"DRV{n}", n) for n in range(1, 7)])
    report = one_run(engine)
    assert engine.target.writes == [] and len(links(store)) == 6
    assert report.outcome == "PARTIAL"
    assert [a["reason"] for a in report.anomalies] == ["MASS_DELETE"]
    assert report.errors[0]["message"].startswith("MASS_DELETE")


def test_r23_a_portal_delete_soft_deletes_the_linked_driver_and_releases_the_link(
    store: Store,
) -> None:
    link(store, 1, "DRV1")
    engine = make_engine(store, [], [a_driveri_driver("DRV1", 1)])
    report = one_run(engine)
    assert engine.target.writes == [("update", "DRV1", {"status": DRIVERI_DELETED})]
    assert links(store) == {} and report.as_dict()["counts"]["deleted"] == 1


def test_a_create_whose_outcome_stayed_unknown_is_reported_and_adopted_by_the_next_run(
    store: Store,
) -> None:
    engine = make_engine(store, [a_portal_driver(1, "NEW1")], [])
    engine.target.lose_answer = True
    report = one_run(engine)
    assert (report.outcome, report.errors[0]["portal_id"], links(store)) == ("PARTIAL", 1, {})
    report = one_run(engine)
    assert (report.outcome, report.counts["created"], links(store)) == (
        "SUCCESS", 0, {1: ("NEW1", 1)},
    )  # fmt: skip
    assert [kind for kind, _, _ in engine.target.writes] == ["create"]


def test_r26_an_unchanged_linked_driver_has_its_version_recorded(store: Store) -> None:
    link(store, 1, "DRV1", version=1)
    engine = make_engine(
        store, [a_portal_driver(1, "DRV1", version=4)], [a_driveri_driver("DRV1", 1)]
    )
    report = one_run(engine)
    assert (engine.target.writes, report.counts["unchanged"]) == ([], 1)
    assert links(store) == {1: ("DRV1", 4)}


def test_a_driveri_integration_that_does_not_exist_is_a_config_error(store: Store) -> None:
    engine = make_engine(store, [], [])
    with pytest.raises(ConfigError, match="no Driveri integration named 'nope'"):
        engine.sync_drivers("nope")


def test_a_driveri_integration_is_found_by_its_portals_name_too(store: Store) -> None:
    engine = make_engine(store, [], [])
    assert [r.integration for r in engine.sync_drivers("gpsinsight")] == ["driveri"]


# -- R26: events -----------------------------------------------------------------------------


def test_r26_an_event_older_than_the_applied_version_is_dropped(store: Store) -> None:
    link(store, 1, "DRV1", version=5)
    engine = make_engine(store, [a_portal_driver(1, "DRV1", first="Old", version=5)],
                         [a_driveri_driver("DRV1", 1)])  # fmt: skip
    event(store, "e1", 1, 4)
    report = engine.apply_driver_events("driveri")
    assert report is not None and engine.target.writes == []
    status, detail = statuses(store)["e1"]
    assert (status, detail) == (DROPPED, "version 4 is older than the applied version 5")
    assert [s["reason"] for s in report.skips] == ["STALE_EVENT"]


def test_r26_an_event_is_applied_with_lookups_of_only_the_drivers_it_names(store: Store) -> None:
    engine = two_linked_drivers_renamed_in_the_portal(store)
    event(store, "e1", 1, 2)
    report = engine.apply_driver_events("driveri")
    assert report is not None and report.detail == {"events": 1}
    assert engine.target.reads == ["DRV1"]  # no listing of the tenant
    assert engine.target.writes == [("update", "DRV1", {"firstName": "Bea"})]
    assert statuses(store)["e1"] == (APPLIED, None)
    assert links(store) == {1: ("DRV1", 2), 2: ("DRV2", 1)}


def test_r26_an_event_whose_driveri_id_is_not_found_exactly_reads_the_whole_tenant(
    store: Store,
) -> None:
    engine = make_engine(store, [a_portal_driver(1, "drv1")], [a_driveri_driver("DRV1", 1)])
    event(store, "e1", 1, 1, "created")
    engine.apply_driver_events("driveri")
    assert engine.target.reads == ["drv1", "list"]
    assert engine.target.writes == [] and links(store) == {1: ("DRV1", 1)}  # adopted, no dup


def test_r26_a_refused_write_marks_its_event_failed_with_the_vendors_message(
    store: Store,
) -> None:
    link(store, 1, "DRV1")
    engine = make_engine(store, [a_portal_driver(1, "DRV1", first="Bea", version=2)],
                         [a_driveri_driver("DRV1", 1)])  # fmt: skip
    engine.target.refuse = {"DRV1"}
    event(store, "e1", 1, 2)
    report = engine.apply_driver_events("driveri")
    assert report is not None and report.outcome == "PARTIAL"
    status, detail = statuses(store)["e1"]
    assert status == FAILED and detail is not None and REFUSED in detail


def test_r25_events_are_dropped_while_driver_sync_is_off(store: Store) -> None:
    engine = make_engine(store, [a_portal_driver(1, "DRV1")], [], enabled=False)
    event(store, "e1", 1, 1, "created")
    report = engine.apply_driver_events("driveri")
    assert report is not None and engine.target.writes == []
    assert statuses(store)["e1"] == (DROPPED, "Driver Sync is off")


def test_r25_an_event_after_the_toggle_came_on_runs_the_full_reconcile(store: Store) -> None:
    portal = [a_portal_driver(1, "DRV1"), a_portal_driver(2, "NEW2")]
    engine = make_engine(store, portal, [a_driveri_driver("DRV1", 1)], seen=False)
    event(store, "e1", 2, 1, "created")
    report = engine.apply_driver_events("driveri")
    assert report is not None and report.detail == {"events": 1, "first_activation": True}
    assert engine.target.reads == ["list"]
    assert links(store) == {1: ("DRV1", 1), 2: ("NEW2", 1)}
    assert statuses(store)["e1"] == (APPLIED, None)


def test_r26_events_wait_while_another_run_holds_the_lease(store: Store) -> None:
    engine = make_engine(store, [a_portal_driver(1, "DRV1")], [])
    event(store, "e1", 1, 1, "created")
    store.start_leased_run("drivers", "driveri", "someone-else", T0, timedelta(seconds=30))
    assert engine.apply_driver_events("driveri") is None
    assert statuses(store)["e1"] == (PENDING, None)
    assert engine.target.writes == []


def test_r26_no_pending_event_makes_no_run(store: Store) -> None:
    engine = make_engine(store, [], [])
    event(store, "e1", 1, 1)
    store.inbox_mark("e1", APPLIED, T0)
    assert engine.apply_driver_events("driveri") is None and store.runs() == []


def test_sync_drivers_not_full_applies_only_the_pending_events(store: Store) -> None:
    engine = make_engine(store, [a_portal_driver(1, "NEW1"), a_portal_driver(2, "NEW2")], [])
    event(store, "e1", 2, 1, "created")
    (report,) = engine.sync_drivers(full=False)
    assert [(k, d) for k, d, _ in engine.target.writes] == [("create", "NEW2")]
    assert report.as_dict()["detail"] == {"events": 1}
    assert engine.sync_drivers(full=False) == []  # nothing pending: no run


def test_an_unexpected_exception_is_recorded_as_a_failed_run_and_raised(store: Store) -> None:
    engine = make_engine(store, [], [])
    engine.portal.drivers = lambda: [][0]  # type: ignore[method-assign]
    with pytest.raises(IndexError):
        engine.sync_drivers()
    (run,) = store.runs()
    assert run["outcome"] == "FAILED"
    assert run["report"]["errors"][0]["message"] == "unexpected IndexError: see the engine's log"
