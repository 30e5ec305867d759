"""Run leases: compare-and-set acquisition and takeover between engine processes sharing one
store (two Store objects on one SQLite file stand for two processes), renewal on the engine's
clock, ABANDONED runs, and a run that lost its lease stopping at its next safe point."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import event

from helpers import T0, activate_integrations, demo_credentials, make_stack_app, served
from sync_engine import engine as engine_module
from sync_engine.engine import ConfigError, Engine, lease_ttl_from_env
from sync_engine.store import Lease, LeaseKeeper, LeaseLost, RunBusy, Store

TTL = timedelta(seconds=30)
BUSY = "a run of telematics:gpsinsight is already in progress"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'shared.db'}"


def take(store: Store, holder: str, at: datetime, ttl: timedelta = TTL) -> Lease:
    return store.start_leased_run("telematics", "gpsinsight", holder, at, ttl)


def run_row(store: Store, run_id: int) -> dict[str, Any]:
    return next(r for r in store.runs(100) if r["id"] == run_id)


# -- compare-and-set between two stores on one file -------------------------------------------


def test_a_live_lease_of_one_process_refuses_another_until_it_expires(url: str) -> None:
    first, second = Store(url), Store(url)
    lease = take(first, "host:1-a", T0)
    assert (lease.generation, lease.expires_at, lease.took_over_run) == (1, T0 + TTL, None)
    for at in (T0, T0 + timedelta(seconds=10), T0 + TTL):
        with pytest.raises(RunBusy) as caught:
            take(second, "host:2-b", at)
        assert str(caught.value) == BUSY
    assert [r["id"] for r in second.runs()] == [lease.run_id]
    assert second.lease("telematics", "gpsinsight") == {
        "name": "telematics:gpsinsight", "holder": "host:1-a", "generation": 1,
        "run_id": lease.run_id, "expires_at": T0 + TTL,
    }  # fmt: skip


def test_an_expired_lease_is_taken_over_and_its_run_recorded_abandoned(url: str) -> None:
    first, second = Store(url), Store(url)
    dead = take(first, "host:1-a", T0)
    later = T0 + TTL + timedelta(seconds=1)
    lease = take(second, "host:2-b", later)
    assert (lease.generation, lease.took_over_run) == (2, dead.run_id)
    row = run_row(first, dead.run_id)
    assert (row["outcome"], row["finished_at"]) == ("ABANDONED", later)
    assert row["report"] == {
        "pipeline": "telematics", "integration": "gpsinsight", "outcome": "ABANDONED",
        "abandoned_at": later.isoformat(), "taken_over_by": "host:2-b",
        "taken_over_by_run": lease.run_id,
    }  # fmt: skip
    assert run_row(first, lease.run_id)["outcome"] is None  # the new run is under way


def test_a_finished_run_frees_its_lease_at_once_and_is_not_abandoned(url: str) -> None:
    first, second = Store(url), Store(url)
    lease = take(first, "host:1-a", T0)
    assert first.finish_leased_run(lease, "SUCCESS", {"outcome": "SUCCESS"}, T0) is True
    again = take(second, "host:2-b", T0)  # same instant: no wait for the expiry
    assert (again.generation, again.took_over_run) == (2, None)
    assert run_row(second, lease.run_id)["outcome"] == "SUCCESS"


def test_renewal_keeps_a_lease_past_its_first_expiry(url: str) -> None:
    first, second = Store(url), Store(url)
    lease = first.renew(take(first, "host:1-a", T0), T0 + timedelta(seconds=20), TTL)
    assert lease.expires_at == T0 + timedelta(seconds=50)
    with pytest.raises(RunBusy):
        take(second, "host:2-b", T0 + timedelta(seconds=31))
    assert take(second, "host:2-b", T0 + timedelta(seconds=51)).generation == 2


def test_a_taken_over_holder_can_neither_renew_nor_free_nor_finish_the_lease(url: str) -> None:
    first, second = Store(url), Store(url)
    dead = take(first, "host:1-a", T0)
    later = T0 + timedelta(minutes=2)
    lease = take(second, "host:2-b", later)
    with pytest.raises(LeaseLost) as caught:
        first.renew(dead, later, TTL)
    assert str(caught.value) == "the lease of telematics:gpsinsight was taken over by another run"
    report = {"outcome": "PARTIAL", "counts": {"created": 3}}
    assert first.finish_leased_run(dead, "PARTIAL", report, later) is False
    row = run_row(first, dead.run_id)
    assert row["outcome"] == "ABANDONED"
    assert row["report"]["counts"] == {"created": 3}
    assert row["report"]["outcome"] == "ABANDONED"
    assert row["report"]["taken_over_by_run"] == lease.run_id
    assert row["report"]["lease_lost_at"] == later.isoformat()
    stored = second.lease("telematics", "gpsinsight")
    assert stored is not None
    assert (stored["holder"], stored["generation"], stored["run_id"]) == (
        "host:2-b", 2, lease.run_id,
    )  # fmt: skip
    assert second.renew(lease, later, TTL).generation == 2


def test_a_takeover_whose_read_went_stale_loses_the_compare_and_set(url: str) -> None:
    first, second, third = Store(url), Store(url), Store(url)
    take(first, "host:1-a", T0)
    later = T0 + timedelta(minutes=2)
    winner: list[Lease] = []

    # ``third`` has read the expired lease; ``second`` takes it over before third's update.
    @event.listens_for(third.engine, "before_cursor_execute")
    def race(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE leases") and not winner:
            winner.append(take(second, "host:2-b", later))

    with pytest.raises(RunBusy):
        take(third, "host:3-c", later)
    assert winner[0].generation == 2
    stored = first.lease("telematics", "gpsinsight")
    assert stored is not None and stored["holder"] == "host:2-b"
    assert [r["outcome"] for r in first.runs()] == [None, "ABANDONED"]


def test_of_many_processes_racing_for_an_expired_lease_exactly_one_wins(url: str) -> None:
    take(Store(url), "host:0-dead", T0)
    stores = [Store(url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    won: list[Lease] = []
    refused: list[str] = []

    def race(index: int) -> None:
        barrier.wait()
        try:
            won.append(take(stores[index], f"host:{index + 1}", T0 + timedelta(minutes=2)))
        except RunBusy as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and refused == [BUSY] * (len(stores) - 1)
    assert won[0].generation == 2
    assert [r["outcome"] for r in stores[0].runs()] == [None, "ABANDONED"]


# -- the keeper: renewal on the engine's clock ------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_keeper_renews_once_a_third_of_the_ttl_has_passed_on_the_engine_clock(url: str) -> None:
    store, clock = Store(url), Clock()
    keeper = LeaseKeeper(store, take(store, "host:1-a", T0), clock, TTL)
    clock.now = T0 + timedelta(seconds=9)
    keeper.checkpoint()
    assert (keeper.renewals, keeper.lease.expires_at) == (0, T0 + TTL)
    clock.now = T0 + timedelta(seconds=10)
    keeper.checkpoint()
    assert (keeper.renewals, keeper.lease.expires_at) == (1, T0 + timedelta(seconds=40))
    stored = store.lease("telematics", "gpsinsight")
    assert stored is not None and stored["expires_at"] == T0 + timedelta(seconds=40)


def test_keeper_raises_lease_lost_after_a_takeover_and_at_every_later_safe_point(
    url: str,
) -> None:
    store, clock = Store(url), Clock()
    keeper = LeaseKeeper(store, take(store, "host:1-a", T0), clock, TTL)
    clock.now = T0 + timedelta(minutes=2)
    take(Store(url), "host:2-b", clock.now)
    for _ in range(2):
        with pytest.raises(LeaseLost):
            keeper.checkpoint()
    assert keeper.renewals == 0


# -- the TTL ----------------------------------------------------------------------------------


def test_lease_ttl_is_30_seconds_unless_fleetsim_lease_ttl_s_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLEETSIM_LEASE_TTL_S", raising=False)
    assert lease_ttl_from_env() == timedelta(seconds=30)
    monkeypatch.setenv("FLEETSIM_LEASE_TTL_S", "2.5")
    assert lease_ttl_from_env() == timedelta(seconds=2.5)
    assert Engine(Store("sqlite://")).lease_ttl == timedelta(seconds=2.5)


@pytest.mark.parametrize("raw", ["0", "-3", "soon", "1e9"])
def test_a_bad_fleetsim_lease_ttl_s_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("FLEETSIM_LEASE_TTL_S", raw)
    with pytest.raises(ConfigError) as caught:
        lease_ttl_from_env()
    assert str(caught.value) == (
        f"FLEETSIM_LEASE_TTL_S must be seconds between 0 and 86400, not {raw!r}"
    )


# -- the engine against a served stack --------------------------------------------------------


@pytest.fixture
def stack(url: str) -> Iterator[tuple[str, Store]]:
    app = make_stack_app(vehicles=12, wex_vehicles=4)
    with served(app) as base:
        users, keys = demo_credentials(base)
        user = next(u for u in users if u["username"] == "acme.dispatch")
        wa_key = next(k["key"] for k in keys if k["type"] == "integration")
        store = Store(url)
        activate_integrations(store, base, user, wa_key, T0)
        yield base, store


def wa_posts(base: str) -> list[dict[str, Any]]:
    response = requests.get(f"{base}/whiparound/_mock/journal", params={"method": "POST"})
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_a_dead_runs_lease_refuses_a_rerun_only_until_it_expires(
    stack: tuple[str, Store], url: str
) -> None:
    base, store = stack
    dead = take(Store(url), "host:9-dead", T0)
    clock = Clock()
    engine = Engine(store, clock=clock, sleep=lambda s: None, rng=random.Random(1), lease_ttl=TTL)
    clock.now = T0 + timedelta(seconds=29)
    (refused,) = engine.sync_telematics()
    assert [(e["where"], e["message"]) for e in refused.errors] == [("lock", BUSY)]
    assert wa_posts(base) == []
    clock.now = T0 + timedelta(seconds=31)
    (report,) = engine.sync_telematics()
    assert report.outcome == "SUCCESS", report.errors
    assert report.writes > 0 and len(wa_posts(base)) == report.writes
    newest, abandoned = store.runs(2)
    assert (newest["outcome"], abandoned["id"], abandoned["outcome"]) == (
        "SUCCESS", dead.run_id, "ABANDONED",
    )  # fmt: skip
    assert abandoned["report"]["taken_over_by"] == engine.owner
    assert abandoned["report"]["taken_over_by_run"] == newest["id"]
    stored = store.lease("telematics", "gpsinsight")
    assert stored is not None and (stored["holder"], stored["generation"]) == (None, 2)


def test_a_run_taken_over_mid_apply_stops_at_its_next_request_and_writes_nothing_more(
    stack: tuple[str, Store], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, store = stack
    clock = Clock()
    engine = Engine(
        store, clock=clock, sleep=lambda s: None, rng=random.Random(1), concurrency=1,
        lease_ttl=TTL,
    )  # fmt: skip
    rival = Store(url)
    build = engine_module.Engine.target_client
    taken: list[Lease] = []

    def target_client(self: Engine, row: dict[str, Any], keeper: Any = None) -> Any:
        client = build(self, row, keeper)
        post = client.post_location

        def post_then_lose_the_lease(*args: Any, **kwargs: Any) -> None:
            post(*args, **kwargs)
            if len(wa_posts(base)) == 3 and not taken:  # the engine hung for two minutes
                clock.now = T0 + timedelta(minutes=2)
                taken.append(take(rival, "host:2-rival", clock.now))

        client.post_location = post_then_lose_the_lease  # type: ignore[method-assign]
        return client

    monkeypatch.setattr(engine_module.Engine, "target_client", target_client)
    (report,) = engine.sync_telematics()
    assert taken and len(wa_posts(base)) == 3
    assert report.writes == 3
    assert [(e["where"], e["message"]) for e in report.errors] == [
        ("lease", "the lease of telematics:gpsinsight was taken over by another run"),
    ]
    assert store.cursor("gpsinsight", "history") is None
    (row,) = [r for r in store.runs() if r["id"] != taken[0].run_id]
    assert row["outcome"] == "ABANDONED"
    assert row["report"]["writes"] == 3
    assert row["report"]["taken_over_by"] == "host:2-rival"
    assert row["report"]["lease_lost_at"] == clock.now.isoformat()
    stored = store.lease("telematics", "gpsinsight")
    assert stored is not None and stored["holder"] == "host:2-rival"
