"""The drivers pipeline end to end (issue 10 §3): the GPS Insight demo account and the demo
Driveri tenant served on 127.0.0.1, the engine on the stack's frozen clock, portal drivers
changed through the portal's own API as the Master User, Driveri checked through its state
dump and its request journal."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from engine_rig import (  # noqa: F401  (fixtures)
    DriverRig,
    Rig,
    driver_rig_fixture,
    rig_fixture,
)

from fleetsim import drivers_cli
from fleetsim.cli import main
from sync_engine.clock import ENV_VAR, record_clock, stack_spec
from sync_engine.engine import Engine
from sync_engine.store import Store
from sync_engine.store.drivers import APPLIED

SHARED = 4  # portal drivers 0-3 share their DriverID with an active Driveri driver
REINSTATED = 4  # portal driver 4's DriverID is a soft-deleted Driveri driver
DRIVERI_ONLY = 4  # Driveri drivers no portal driver names


def first_sync(drivers: DriverRig) -> dict[int, dict[str, Any]]:
    """The first activation's reconcile; returns the portal drivers, by id."""
    report = drivers.sync()
    assert report.outcome == "SUCCESS", report.as_dict()
    drivers.rig.clear_journals("driveri")
    return drivers.portal()


def portal_driver(portal: dict[int, dict[str, Any]], n: int) -> dict[str, Any]:
    return portal[sorted(portal)[n]]


def test_r21a_the_first_activation_adopts_existing_driveri_drivers_and_creates_the_rest(
    drivers: DriverRig,
) -> None:
    before = drivers.tenant()
    report = drivers.sync()
    portal = drivers.portal()
    after = drivers.tenant()
    assert report.as_dict()["detail"] == {"first_activation": True}
    assert report.counts["created"] == len(portal) - SHARED - 1
    assert len(after) == len(portal) + DRIVERI_ONLY  # nobody duplicated
    for p in portal.values():
        d = after[p["driveri_driver_id"]]
        assert (d["firstName"], d["lastName"], d["email"], d["phone"], d["status"]) == (
            p["firstname"], p["lastname"], p["email"], p["phone"], 1,
        )  # fmt: skip
    for n in range(SHARED + 1):  # adopted (and one reinstated): the same Driveri drivers
        driver_id = portal_driver(portal, n)["driveri_driver_id"]
        assert after[driver_id]["createdDate"] == before[driver_id]["createdDate"]
    only = [k for k in before if k.startswith("NR")]
    assert [after[k] for k in only] == [before[k] for k in only]  # never touched
    assert drivers.links() == {p["id"]: p["driveri_driver_id"] for p in portal.values()}


def test_r1_a_second_run_writes_nothing(drivers: DriverRig) -> None:
    portal = first_sync(drivers)
    report = drivers.sync()
    assert drivers.writes() == []
    assert (report.outcome, report.counts["unchanged"], report.writes) == (
        "SUCCESS", len(portal), 0,
    )  # fmt: skip
    assert report.as_dict()["detail"] == {"first_activation": False}


def test_a_driver_created_updated_and_deleted_in_the_portal_follows_in_driveri(
    drivers: DriverRig,
) -> None:
    first_sync(drivers)
    new = drivers.create(firstname="Ada", lastname="Byron", email="ada@example.com",
                         phone="+1-602-555-0111", driveri_driver_id="  NEW-ADA ")  # fmt: skip
    assert drivers.sync().counts["created"] == 1
    assert drivers.tenant()["NEW-ADA"]["firstName"] == "Ada"
    drivers.update(new, lastname="Lovelace", phone="+1-602-555-0122")
    assert drivers.sync().counts["updated"] == 1
    d = drivers.tenant()["NEW-ADA"]
    assert (d["lastName"], d["phone"]) == ("Lovelace", "+1-602-555-0122")
    drivers.delete(new)
    report = drivers.sync()
    assert report.as_dict()["counts"]["deleted"] == 1
    assert drivers.tenant()["NEW-ADA"]["status"] == 3 and new not in drivers.links()


def test_r22_a_driverid_renamed_to_a_new_value_renames_the_same_driveri_driver(
    drivers: DriverRig,
) -> None:
    p = portal_driver(first_sync(drivers), 7)
    created = drivers.tenant()[p["driveri_driver_id"]]["createdDate"]
    drivers.update(p["id"], driveri_driver_id="RENAMED-7")
    report = drivers.sync()
    tenant = drivers.tenant()
    assert p["driveri_driver_id"] not in tenant and tenant["RENAMED-7"]["createdDate"] == created
    assert [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in drivers.writes()] == [
        ("PUT", p["driveri_driver_id"])
    ]
    assert report.outcome == "SUCCESS" and drivers.links()[p["id"]] == "RENAMED-7"


def test_r22_a_driverid_moved_onto_an_unlinked_driveri_driver_adopts_it_and_leaves_the_old(
    drivers: DriverRig,
) -> None:
    p = portal_driver(first_sync(drivers), 7)
    old = drivers.tenant()[p["driveri_driver_id"]]
    target = next(k for k in drivers.tenant() if k.startswith("NR"))
    drivers.update(p["id"], driveri_driver_id=target.lower())
    report = drivers.sync()
    tenant = drivers.tenant()
    assert tenant[p["driveri_driver_id"]] == old  # left alone
    assert (tenant[target]["firstName"], tenant[target]["email"]) == (p["firstname"], p["email"])
    assert drivers.links()[p["id"]] == target
    assert [(w["reason"], w["driver_id"]) for w in report.warnings] == [
        ("PREVIOUS_LEFT_ALONE", p["driveri_driver_id"])
    ]


def test_r22_a_driverid_moved_onto_a_linked_driveri_driver_is_a_conflict_with_no_write(
    drivers: DriverRig,
) -> None:
    portal = first_sync(drivers)
    p, other = portal_driver(portal, 7), portal_driver(portal, 8)
    # The other portal driver's DriverID is emptied: it keeps its link (R20), so the Driveri
    # driver stays linked to it while p moves onto that DriverID.
    drivers.update(other["id"], driveri_driver_id="")
    drivers.update(p["id"], driveri_driver_id=other["driveri_driver_id"], firstname="Zed")
    report = drivers.sync()
    assert drivers.writes() == []
    conflicts = [
        (s["portal_id"], s["linked_to"]) for s in report.skips if s["reason"] == "CONFLICT"
    ]
    assert conflicts == [(p["id"], other["id"])]
    assert drivers.links()[p["id"]] == p["driveri_driver_id"]  # link kept


def test_r20_duplicate_and_empty_driverids_are_skipped_and_reported(drivers: DriverRig) -> None:
    first_sync(drivers)
    a = drivers.create(firstname="Dup", lastname="One", driveri_driver_id="DUP-1")
    b = drivers.create(firstname="Dup", lastname="Two", driveri_driver_id="dup-1 ")
    c = drivers.create(firstname="No", lastname="Id", ref_id="EMP-77777")
    report = drivers.sync()
    assert drivers.writes() == []
    reasons = {(s["reason"], s["portal_id"]) for s in report.skips}
    assert reasons == {("DUPLICATE_DRIVER_ID", a), ("DUPLICATE_DRIVER_ID", b),
                       ("EMPTY_DRIVER_ID", c)}  # fmt: skip
    assert "EMP-77777" not in drivers.tenant()  # ref_id is never the key
    assert report.counts["skipped"] == 3 and report.outcome == "SUCCESS"


def test_r20_a_linked_driver_whose_driverid_is_emptied_keeps_its_link_and_gets_no_write(
    drivers: DriverRig,
) -> None:
    p = portal_driver(first_sync(drivers), 7)
    drivers.update(p["id"], driveri_driver_id="")
    report = drivers.sync()
    assert drivers.writes() == [] and drivers.links()[p["id"]] == p["driveri_driver_id"]
    assert drivers.tenant()[p["driveri_driver_id"]]["status"] == 1
    assert [s["reason"] for s in report.skips] == ["EMPTY_DRIVER_ID"]


def test_r23_a_driver_deleted_then_created_again_is_reinstated_not_duplicated(
    drivers: DriverRig,
) -> None:
    p = portal_driver(first_sync(drivers), 7)
    created = drivers.tenant()[p["driveri_driver_id"]]["createdDate"]
    drivers.delete(p["id"])
    drivers.sync()
    assert drivers.tenant()[p["driveri_driver_id"]]["status"] == 3
    again = drivers.create(firstname=p["firstname"], lastname=p["lastname"], ref_id=p["ref_id"],
                           driveri_driver_id=p["driveri_driver_id"])  # fmt: skip
    assert again == p["id"]  # the portal undeleted it
    count = len(drivers.tenant())
    drivers.sync()
    d = drivers.tenant()[p["driveri_driver_id"]]
    assert (d["status"], d["createdDate"], len(drivers.tenant())) == (1, created, count)
    assert drivers.links()[p["id"]] == p["driveri_driver_id"]


def test_r24_a_driveri_side_edit_is_overridden_by_the_next_reconcile_a_day_later(
    drivers: DriverRig,
) -> None:
    p = portal_driver(first_sync(drivers), 7)
    drivers.edit_in_driveri(p["driveri_driver_id"], firstName="Edited", status=2)
    drivers.rig.advance(25 * 3600)  # every token has expired by now
    report = drivers.sync()
    d = drivers.tenant()[p["driveri_driver_id"]]
    assert (d["firstName"], d["status"], report.outcome) == (p["firstname"], 1, "SUCCESS")
    assert report.counts["updated"] == 1


def test_r24_a_delete_made_on_the_driveri_side_is_undone(drivers: DriverRig) -> None:
    p = portal_driver(first_sync(drivers), 7)
    drivers.edit_in_driveri(p["driveri_driver_id"], status=3)
    report = drivers.sync()
    assert drivers.tenant()[p["driveri_driver_id"]]["status"] == 1
    assert (report.counts["updated"], drivers.links()[p["id"]]) == (1, p["driveri_driver_id"])


def test_r24_a_driver_renamed_on_the_driveri_side_is_link_lost_and_resolved_again(
    drivers: DriverRig,
) -> None:
    p = portal_driver(first_sync(drivers), 7)
    drivers.edit_in_driveri(p["driveri_driver_id"], driverId="RENAMED-IN-DRIVERI")
    report = drivers.sync()
    assert [(a["reason"], a["portal_id"]) for a in report.anomalies] == [("LINK_LOST", p["id"])]
    tenant = drivers.tenant()
    assert tenant[p["driveri_driver_id"]]["firstName"] == p["firstname"]  # created again
    assert tenant["RENAMED-IN-DRIVERI"]["status"] == 1  # not linked: never touched
    assert drivers.links()[p["id"]] == p["driveri_driver_id"]


def test_r25_toggle_off_writes_nothing_to_driveri_and_on_again_adopts_first(
    drivers: DriverRig,
) -> None:
    first_sync(drivers)
    drivers.toggle(False)
    new = drivers.create(firstname="Off", lastname="Line", driveri_driver_id="OFF-1")
    report = drivers.sync()
    assert drivers.rig.journal("driveri") == []  # not even a read
    assert [w["reason"] for w in report.warnings] == ["DRIVER_SYNC_OFF"]
    drivers.edit_in_driveri("NRDRV544767", firstName="Before")  # then adopted by a newcomer
    drivers.update(new, driveri_driver_id="NRDRV544767")
    drivers.toggle(True)
    report = drivers.sync()
    assert report.as_dict()["detail"] == {"first_activation": True}
    assert drivers.links()[new] == "NRDRV544767" and "OFF-1" not in drivers.tenant()
    assert drivers.tenant()["NRDRV544767"]["firstName"] == "Off"


def test_r26_pending_events_are_applied_with_lookups_of_only_their_drivers(
    drivers: DriverRig,
) -> None:
    p = portal_driver(first_sync(drivers), 7)
    drivers.update(p["id"], firstname="Eve")
    version = drivers.portal()[p["id"]]["version"]
    drivers.store.inbox_add(
        "evt-1", "gpsinsight", "driver.updated", portal_id=p["id"], version=version,
        payload={}, now=drivers.rig.now(),
    )  # fmt: skip
    report = drivers.rig.engine.apply_driver_events("driveri")
    assert report is not None and report.outcome == "SUCCESS"
    reads = [e for e in drivers.rig.journal("driveri", method="GET") if "/auth/" not in e["path"]]
    assert [e["path"].rsplit("/", 1)[-1] for e in reads] == ["driver"]  # no tenant listing
    assert drivers.tenant()[p["driveri_driver_id"]]["firstName"] == "Eve"
    (event,) = drivers.store.inbox_events()
    assert event["status"] == APPLIED


def test_r26_an_event_arriving_after_a_newer_one_was_applied_is_dropped(
    drivers: DriverRig,
) -> None:
    p = portal_driver(first_sync(drivers), 7)
    drivers.update(p["id"], firstname="Two")
    drivers.update(p["id"], firstname="Three")
    newest = drivers.portal()[p["id"]]["version"]
    for event_id, version in (("evt-new", newest), ("evt-old", newest - 1)):
        drivers.store.inbox_add(
            event_id, "gpsinsight", "driver.updated", portal_id=p["id"], version=version,
            payload={}, now=drivers.rig.now(),
        )  # fmt: skip
        drivers.rig.engine.apply_driver_events("driveri")
    status = {e["event_id"]: (e["status"], e["detail"]) for e in drivers.store.inbox_events()}
    assert status == {
        "evt-new": (APPLIED, None),
        "evt-old": ("DROPPED", f"version {newest - 1} is older than the applied version {newest}"),
    }
    assert drivers.tenant()[p["driveri_driver_id"]]["firstName"] == "Three"


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def cli_store(drivers: DriverRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A store file set up like the rig's, for the CLI (FLEETSIM_DB_URL)."""
    url = f"sqlite:///{tmp_path / 'fleetsim.db'}"
    monkeypatch.setenv("FLEETSIM_DB_URL", url)
    monkeypatch.delenv(ENV_VAR, raising=False)
    store = Store(url)
    for row in drivers.store.integrations():
        store.save_integration(row["name"], row["kind"], row["base_url"], row["secret"],
                               row["activated_at"], username=row["username"])  # fmt: skip
    store.save_pairing("driveri", "gpsinsight", drivers.driveri["tenant"], drivers.rig.now())
    record_clock(store, stack_spec(drivers.rig.base))

    def engine(s: Store, clock: Any) -> Engine:
        return Engine(s, clock=clock, sleep=drivers.rig.sleeper, rng=random.Random(1))

    monkeypatch.setattr(drivers_cli, "Engine", engine)
    return store


def test_sync_drivers_dry_run_prints_the_plan_and_writes_nothing(
    drivers: DriverRig, cli_store: Store
) -> None:
    result = CliRunner().invoke(main, ["sync", "drivers", "--dry-run"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert drivers.writes() == [] and cli_store.driver_links("driveri") == []
    lines = result.output.splitlines()
    assert sum(1 for line in lines if line.strip().startswith("CREATE")) == 15
    assert sum(1 for line in lines if line.strip().startswith("ADOPT")) == SHARED + 1
    assert "dry run: 20 planned write(s), nothing written" in result.output
    assert drivers.driveri["client_secret"] not in result.output


def test_sync_drivers_json_reports_and_exits_0_on_success(
    drivers: DriverRig, cli_store: Store
) -> None:
    result = CliRunner().invoke(main, ["sync", "drivers", "--full", "--json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)
    assert (report["pipeline"], report["outcome"], report["counts"]["created"]) == (
        "drivers", "SUCCESS", 15,
    )  # fmt: skip
    assert len(cli_store.driver_links("driveri")) == 20


def test_sync_drivers_for_an_unknown_integration_says_so(
    drivers: DriverRig, cli_store: Store
) -> None:
    result = CliRunner().invoke(main, ["sync", "drivers", "--integration", "nope"])
    assert result.exit_code == 1
    assert "no Driveri integration named 'nope'" in result.output


def test_r6a_r8_a_refused_driveri_write_is_reported_without_any_secret(
    drivers: DriverRig,
) -> None:
    drivers.edit_in_driveri("NRDRV544767", firstName="Token")  # a second bearer token lives
    drivers.rig.fault("driveri", method="PUT", path="/v1/tenants/*/drivers/*", status=400, first=1)
    report = drivers.sync()
    assert report.outcome == "PARTIAL" and len(report.errors) == 1
    assert len(drivers.links()) == len(drivers.portal()) and report.counts["created"] == 15
    text = json.dumps([report.as_dict(), drivers.store.runs()], default=str)
    secrets = [drivers.driveri["client_secret"], drivers.driveri["basic_token"],
               *drivers.rig.secrets()]  # fmt: skip
    assert [s for s in secrets if s in text] == []
