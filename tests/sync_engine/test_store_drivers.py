"""The store's driver-sync tables: pairings, links (R21), the webhook inbox (R26)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from sync_engine.store import Store
from sync_engine.store.drivers import APPLIED, DROPPED, PENDING

T0 = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)


@pytest.fixture
def store() -> Store:
    s = Store("sqlite://")
    s.save_pairing("driveri", "gpsinsight", "acme", T0)
    return s


def link(store: Store, portal_id: int, driveri_id: str, version: int = 1) -> None:
    store.save_link("driveri", portal_id, driveri_id, phone="555-0100", version=version, now=T0)


def test_driver_tables_are_created_in_an_existing_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    Store(url)
    Store(url)  # opening again keeps the schema
    names = set(inspect(create_engine(url)).get_table_names())
    assert {"driver_pairings", "driver_links", "webhook_inbox"} <= names


def test_a_pairing_names_the_tenant_and_the_portal(store: Store) -> None:
    pairing = store.pairing("driveri")
    assert pairing is not None
    assert (pairing["portal"], pairing["tenant"], pairing["sync_seen_on"]) == (
        "gpsinsight", "acme", None,
    )  # fmt: skip
    assert store.pairing_for_portal("gpsinsight") == pairing


def test_re_pairing_with_the_same_portal_keeps_the_webhook_and_the_seen_toggle(
    store: Store,
) -> None:
    store.save_webhook("driveri", 7, "whsec-1", T0)
    store.save_sync_seen("driveri", True, T0)
    store.save_pairing("driveri", "gpsinsight", "acme-2", T0 + timedelta(hours=1))
    pairing = store.pairing("driveri")
    assert pairing is not None
    assert (pairing["tenant"], pairing["webhook_id"], pairing["sync_seen_on"]) == (
        "acme-2", 7, True,
    )  # fmt: skip


def test_pairing_with_another_portal_starts_afresh(store: Store) -> None:
    store.save_webhook("driveri", 7, "whsec-1", T0)
    store.save_sync_seen("driveri", True, T0)
    store.save_pairing("driveri", "wex", "acme", T0)
    pairing = store.pairing("driveri")
    assert pairing is not None
    assert (pairing["portal"], pairing["webhook_id"], pairing["sync_seen_on"]) == (
        "wex",
        None,
        None,
    )
    assert store.pairing_for_portal("gpsinsight") is None


def test_r21_a_link_is_saved_updated_and_released(store: Store) -> None:
    link(store, 2001, "DRV-1")
    store.save_link("driveri", 2001, "DRV-9", phone=None, version=3, now=T0)
    assert [(r["portal_id"], r["driveri_id"], r["phone"], r["version"]) for r in
            store.driver_links("driveri")] == [(2001, "DRV-9", None, 3)]  # fmt: skip
    store.release_link("driveri", 2001)
    assert store.driver_links("driveri") == []


def test_r21_one_driveri_driver_is_never_linked_to_two_portal_drivers(store: Store) -> None:
    link(store, 2001, "DRV-1")
    with pytest.raises(ValueError, match="already linked"):
        link(store, 2002, " drv-1 ")  # the same driver by the key's rules (R20)
    assert [r["portal_id"] for r in store.driver_links("driveri")] == [2001]


def test_r26_a_version_is_recorded_without_touching_the_link(store: Store) -> None:
    link(store, 2001, "DRV-1", version=2)
    store.save_link_version("driveri", 2001, 5, T0)
    (row,) = store.driver_links("driveri")
    assert (row["driveri_id"], row["phone"], row["version"]) == ("DRV-1", "555-0100", 5)


def test_r26_an_event_id_is_accepted_once(store: Store) -> None:
    first = store.inbox_add(
        "evt-1", "gpsinsight", "driver.updated", portal_id=2001, version=2, payload={}, now=T0
    )
    again = store.inbox_add(
        "evt-1", "gpsinsight", "driver.updated", portal_id=2001, version=2, payload={}, now=T0
    )
    assert (first, again) == (True, False)
    assert [e["event_id"] for e in store.inbox_pending()] == ["evt-1"]


def test_pending_events_come_back_in_arrival_order_until_marked(store: Store) -> None:
    for n in (3, 1, 2):
        store.inbox_add(
            f"evt-{n}", "gpsinsight", "driver.updated", portal_id=n, version=1, payload={}, now=T0
        )
    assert [e["event_id"] for e in store.inbox_pending()] == ["evt-3", "evt-1", "evt-2"]
    store.inbox_mark("evt-3", APPLIED, T0)
    store.inbox_mark("evt-1", DROPPED, T0, "version 1 is older than 2")
    assert [e["event_id"] for e in store.inbox_pending()] == ["evt-2"]
    newest = store.inbox_events()
    assert [(e["event_id"], e["status"]) for e in newest] == [
        ("evt-2", PENDING), ("evt-1", DROPPED), ("evt-3", APPLIED),
    ]  # fmt: skip
    assert newest[1]["detail"] == "version 1 is older than 2"
    assert newest[1]["done_at"] == T0
