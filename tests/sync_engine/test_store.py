"""The engine's store: schema on first use, integrations, cursors, marks, ledger, runs, leases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from sync_engine.engine import Engine
from sync_engine.store import Lease, RunBusy, Store, default_url
from sync_engine.store import store as store_module

T0 = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)
TABLES = {"integrations", "asset_marks", "defect_ledger", "cursors", "runs", "leases"}
HOUR = timedelta(hours=1)


@pytest.fixture
def store() -> Store:
    return Store("sqlite://")


def add_gps(store: Store, now: datetime = T0, secret: str = "a1b2c3d4e5f60") -> None:
    store.save_integration(
        "gpsinsight", "gpsinsight", "http://gps.test", secret, now, username="acme.api"
    )


# -- schema -----------------------------------------------------------------------------------


def test_schema_is_created_on_first_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    Store(url)
    assert TABLES <= set(inspect(create_engine(url)).get_table_names())


def test_opening_an_existing_database_keeps_its_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    add_gps(Store(url))
    assert [row["name"] for row in Store(url).integrations()] == ["gpsinsight"]


def test_in_memory_store_is_shared_between_threads(store: Store) -> None:
    add_gps(store)
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(len(store.integrations())))
    thread.start()
    thread.join()
    assert seen == [1]


# -- integrations -----------------------------------------------------------------------------


def test_saved_integration_reads_back_with_utc_times(store: Store) -> None:
    add_gps(store)
    row = store.integration("gpsinsight")
    assert row is not None
    assert (row["kind"], row["base_url"], row["username"]) == (
        "gpsinsight",
        "http://gps.test",
        "acme.api",
    )
    assert row["activated_at"] == T0 and row["activated_at"].tzinfo is not None


def test_updating_an_integration_keeps_its_activation_time(store: Store) -> None:
    add_gps(store, T0)
    add_gps(store, T0 + timedelta(days=3), secret="0fedcba987654")
    row = store.integration("gpsinsight")
    assert row is not None
    assert row["activated_at"] == T0
    assert row["updated_at"] == T0 + timedelta(days=3)
    assert row["secret"] == "0fedcba987654"


def test_unknown_integration_is_none(store: Store) -> None:
    assert store.integration("nope") is None


def test_integrations_filter_by_kind_and_sort_by_name(store: Store) -> None:
    store.save_integration("wa", "whiparound", "http://wa.test", "k" * 40, T0)
    store.save_integration("wex", "wex", "http://wex.test", "b" * 13, T0, username="w")
    add_gps(store)
    assert [r["name"] for r in store.integrations()] == ["gpsinsight", "wa", "wex"]
    assert [r["name"] for r in store.integrations("whiparound")] == ["wa"]


# -- cursors ------------------------------------------------------------------------------------


def test_cursor_is_none_until_saved(store: Store) -> None:
    assert store.cursor("gpsinsight", "history") is None


def test_cursor_save_then_update(store: Store) -> None:
    store.save_cursor("gpsinsight", "history", T0.isoformat(), T0)
    store.save_cursor("gpsinsight", "history", (T0 + HOUR).isoformat(), T0 + HOUR)
    assert store.cursor("gpsinsight", "history") == (T0 + HOUR).isoformat()


def test_cursors_are_per_integration(store: Store) -> None:
    store.save_cursor("gpsinsight", "history", "a", T0)
    store.save_cursor("wex", "history", "b", T0)
    assert (store.cursor("gpsinsight", "history"), store.cursor("wex", "history")) == ("a", "b")


# -- asset marks ----------------------------------------------------------------------------------


def test_mark_upsert_updates_only_the_given_fields(store: Store) -> None:
    store.save_mark(7001, "gpsinsight", "CA1", last_fix_at=T0)
    store.save_mark(7001, "gpsinsight", "CA1", odometer_mi=48211.4, odometer_at=T0 + HOUR)
    mark = store.marks()[7001]
    assert mark["last_fix_at"] == T0
    assert (mark["odometer_mi"], mark["odometer_at"]) == (48211.4, T0 + HOUR)


def test_marks_come_back_utc_aware(store: Store) -> None:
    local = T0.astimezone(UTC).replace(tzinfo=None)  # a naive time is taken as UTC
    store.save_mark(7002, "gpsinsight", "CA2", last_fix_at=local)
    assert store.marks()[7002]["last_fix_at"] == T0


# -- defect ledger ------------------------------------------------------------------------------


def test_ledger_upsert_keeps_one_row_per_asset_and_code(store: Store) -> None:
    store.save_ledger(7001, "P0420", T0, defect_id=9001, status="New", last_occurrence=T0)
    store.save_ledger(7001, "P0420", T0 + HOUR, last_occurrence=T0 + HOUR, posted_day="2026-03-10")
    store.save_ledger(7001, "P0300", T0, defect_id=9002, status="New")
    ledger = store.ledger()
    assert sorted(ledger) == [(7001, "P0300"), (7001, "P0420")]
    row = ledger[(7001, "P0420")]
    assert (row["defect_id"], row["status"], row["posted_day"]) == (9001, "New", "2026-03-10")
    assert row["last_occurrence"] == T0 + HOUR
    assert row["updated_at"] == T0 + HOUR


# -- runs ---------------------------------------------------------------------------------------


def test_run_is_recorded_with_its_report(store: Store) -> None:
    run_id = store.start_run("telematics", "gpsinsight", T0)
    report = {"outcome": "PARTIAL", "counts": {"read": 12, "errors": 1}}
    store.finish_run(run_id, "PARTIAL", report, T0 + timedelta(seconds=5))
    (run,) = store.runs()
    assert (run["id"], run["pipeline"], run["integration"]) == (run_id, "telematics", "gpsinsight")
    assert (run["outcome"], run["report"]) == ("PARTIAL", report)
    assert run["started_at"] == T0
    assert run["finished_at"] == T0 + timedelta(seconds=5)


def test_unfinished_run_has_no_outcome(store: Store) -> None:
    store.start_run("telematics", "gpsinsight", T0)
    (run,) = store.runs()
    assert run["outcome"] is None and run["finished_at"] is None


def test_runs_are_listed_newest_first_and_limited(store: Store) -> None:
    ids = [store.start_run("telematics", "gpsinsight", T0 + n * HOUR) for n in range(5)]
    assert [r["id"] for r in store.runs(limit=3)] == ids[::-1][:3]


# -- the run lease (takeover between processes: test_leases.py) --------------------------------


def lease(store: Store, holder: str, now: datetime, integration: str = "gpsinsight") -> Lease:
    return store.start_leased_run("telematics", integration, holder, now, HOUR)


def test_second_acquire_raises_run_busy_with_the_lock_name(store: Store) -> None:
    lease(store, "owner-a", T0)
    with pytest.raises(RunBusy) as caught:
        lease(store, "owner-b", T0 + timedelta(minutes=1))
    assert str(caught.value) == "a run of telematics:gpsinsight is already in progress"


def test_lease_is_not_reentrant_for_its_own_holder(store: Store) -> None:
    lease(store, "owner-a", T0)
    with pytest.raises(RunBusy):
        lease(store, "owner-a", T0)


def test_leased_run_start_records_the_run(store: Store) -> None:
    held = lease(store, "owner-a", T0)
    (run,) = store.runs()
    assert (run["id"], run["pipeline"], run["integration"], run["started_at"]) == (
        held.run_id, "telematics", "gpsinsight", T0,
    )  # fmt: skip
    assert run["outcome"] is None


def test_lease_can_be_taken_again_after_its_run_finished(store: Store) -> None:
    held = lease(store, "owner-a", T0)
    store.finish_leased_run(held, "SUCCESS", {"outcome": "SUCCESS"}, T0)
    assert lease(store, "owner-b", T0).generation == 2


def test_finishing_with_another_holders_lease_leaves_the_lease_held(store: Store) -> None:
    held = lease(store, "owner-a", T0)
    forged = Lease(held.name, "owner-b", held.generation, held.run_id, held.expires_at)
    assert store.finish_leased_run(forged, "SUCCESS", {}, T0) is False
    with pytest.raises(RunBusy):
        lease(store, "owner-b", T0)


def test_expired_lease_can_be_taken_over(store: Store) -> None:
    lease(store, "crashed-owner", T0)
    lease(store, "owner-b", T0 + HOUR + timedelta(seconds=1))
    with pytest.raises(RunBusy):
        lease(store, "owner-c", T0 + HOUR + timedelta(seconds=2))


def test_leases_of_different_integrations_are_independent(store: Store) -> None:
    lease(store, "owner-a", T0)
    assert lease(store, "owner-a", T0, integration="wex").generation == 1


def test_sync_with_a_held_lock_reports_busy_and_writes_nothing(store: Store) -> None:
    # Nothing listens on port 9: any vendor call would show up as a connection error.
    store.save_integration("whiparound", "whiparound", "http://127.0.0.1:9/wa", "k" * 40, T0)
    store.save_integration(
        "gpsinsight", "gpsinsight", "http://127.0.0.1:9/gps", "a1b2c3d4e5f60", T0, username="u"
    )
    held = lease(store, "someone-else", T0)
    waits: list[float] = []
    engine = Engine(store, clock=lambda: T0 + timedelta(minutes=5), sleep=waits.append)
    (report,) = engine.sync_telematics()
    assert [(e["where"], e["message"]) for e in report.errors] == [
        ("lock", "a run of telematics:gpsinsight is already in progress")
    ]
    assert report.outcome != "SUCCESS"
    assert report.writes == 0 and report.counts["read"] == 0
    assert [r["id"] for r in store.runs()] == [held.run_id]  # only the holder's run
    assert store.cursor("gpsinsight", "history") is None
    assert store.marks() == {} and store.ledger() == {}
    assert waits == []


def test_lease_is_freed_after_a_run_that_failed(store: Store) -> None:
    store.save_integration("whiparound", "whiparound", "http://127.0.0.1:9/wa", "k" * 40, T0)
    store.save_integration(
        "gpsinsight", "gpsinsight", "http://127.0.0.1:9/gps", "a1b2c3d4e5f60", T0, username="u"
    )
    engine = Engine(store, clock=lambda: T0, sleep=lambda s: None)
    (report,) = engine.sync_telematics()
    assert report.outcome == "FAILED"
    assert lease(store, "next-owner", T0).generation == 2


# -- where the store lives --------------------------------------------------------------------


def test_default_url_honours_fleetsim_db_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETSIM_DB_URL", "postgresql://fleet@db.example/fleetsim")
    assert default_url() == "postgresql://fleet@db.example/fleetsim"


def test_default_url_is_a_sqlite_file_under_dot_fleetsim(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FLEETSIM_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_url() == "sqlite:///.fleetsim/fleetsim.db"
    assert (tmp_path / ".fleetsim").is_dir()


def test_store_without_url_uses_fleetsim_db_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLEETSIM_DB_URL", f"sqlite:///{tmp_path / 'from-env.db'}")
    add_gps(Store())
    assert (tmp_path / "from-env.db").is_file()
    assert [r["name"] for r in Store().integrations()] == ["gpsinsight"]


def test_store_repr_hides_the_password_in_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    def sqlite_posing_as(url: str):  # no database server: SQLite behind the given URL
        engine = create_engine("sqlite://")
        engine.url = make_url(url)
        return engine

    monkeypatch.setattr(store_module, "_create_engine", sqlite_posing_as)
    store = Store("postgresql://fleet:s3cret-pw@db.example/fleetsim")
    assert repr(store) == "Store('postgresql://fleet:***@db.example/fleetsim')"
    assert "s3cret-pw" not in str(store)
