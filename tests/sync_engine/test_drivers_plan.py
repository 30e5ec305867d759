"""Table tests of the drivers ``plan()`` (R20-R24, R6): a pure function of what was observed,
the links the store holds and the scope of the run. Each test is named with its rule id."""

from __future__ import annotations

from sync_engine.model import (
    DRIVERI_ACTIVE,
    DRIVERI_DELETED,
    DRIVERI_INACTIVE,
    DriveriDriver,
    PortalDriver,
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

FULL = Scope()


# -- factories ------------------------------------------------------------------------------


def portal(
    id: int = 1,
    driver_id: str | None = "D-1",
    first: str = "Ada",
    last: str = "Byron",
    email: str | None = "ada@example.com",
    phone: str | None = "555-0101",
    ref_id: str | None = None,
    version: int = 1,
) -> PortalDriver:
    """A live portal driver."""
    return PortalDriver(id, first, last, email, phone, ref_id, driver_id, version)


def driveri(
    driver_id: str = "D-1",
    first: str = "Ada",
    last: str = "Byron",
    email: str | None = "ada@example.com",
    status: int = DRIVERI_ACTIVE,
) -> DriveriDriver:
    """A Driveri driver."""
    return DriveriDriver(driver_id, first, last, email, status)


def link(
    portal_id: int = 1, driver_id: str = "D-1", phone: str | None = "555-0101", version: int = 1
) -> DriverLink:
    """A link the store holds."""
    return DriverLink(portal_id, driver_id, phone, version)


def observed(portals: list[PortalDriver], drivers: list[DriveriDriver]) -> Observed:
    """What a run read (Driveri drivers keyed as the reconciler keys them)."""
    return Observed(portals, {d.key: d for d in drivers})


def links_of(*items: DriverLink) -> dict[int, DriverLink]:
    """The store's links by portal id."""
    return {item.portal_id: item for item in items}


def run(
    portals: list[PortalDriver],
    drivers: list[DriveriDriver],
    links: dict[int, DriverLink] | None = None,
    scope: Scope = FULL,
) -> Plan:
    """Plan one run."""
    return plan(observed(portals, drivers), links or {}, scope)


def reasons(result: Plan) -> list[tuple[str, str]]:
    """Every note as (kind, reason)."""
    return [(n.kind, n.reason) for n in result.notes]


def kinds(result: Plan) -> list[tuple[str, int]]:
    """Every action as (kind, portal id), in plan order."""
    return [(a.kind, a.portal_id) for a in result.actions]


# -- R20 key ----------------------------------------------------------------------------------


def test_r20_empty_driverid_is_not_synced_and_reported() -> None:
    result = run([portal(driver_id="")], [])
    assert result.actions == []
    assert reasons(result) == [("skip", "EMPTY_DRIVER_ID")]
    assert result.notes[0].detail == {"portal_id": 1, "linked": False}


def test_r20_whitespace_only_driverid_counts_as_empty() -> None:
    result = run([portal(driver_id="   ")], [])
    assert result.actions == []
    assert reasons(result) == [("skip", "EMPTY_DRIVER_ID")]


def test_r20_ref_id_is_never_a_fallback_key() -> None:
    result = run([portal(driver_id=None, ref_id="D-9")], [driveri("D-9")])
    assert result.actions == []
    assert result.notes[0].reason == "EMPTY_DRIVER_ID"
    assert result.notes[0].detail == {"portal_id": 1, "linked": False, "ref_id": "D-9"}


def test_r20_ref_id_equal_to_an_existing_driverid_is_not_used_to_adopt() -> None:
    result = run([portal(driver_id="D-2", ref_id="D-1")], [driveri("D-1")])
    assert [(a.kind, a.driver_id) for a in result.actions] == [(CREATE, "D-2")]


def test_r20_linked_driver_whose_driverid_is_emptied_keeps_its_link_and_gets_no_write() -> None:
    result = run([portal(driver_id="")], [driveri("D-1")], links_of(link()))
    assert result.actions == []  # no write, no delete, no release
    assert result.notes[0].reason == "EMPTY_DRIVER_ID"
    assert result.notes[0].detail["linked"] is True


def test_r20_driverid_is_compared_trimmed_and_without_regard_to_case() -> None:
    result = run([portal(driver_id="  d-1 ")], [driveri("D-1")], links_of(link()))
    assert result.actions == []
    assert result.unchanged == 1


def test_r20_two_portal_drivers_with_one_driverid_are_both_skipped() -> None:
    result = run([portal(1, "D-1"), portal(2, " d-1")], [])
    assert result.actions == []
    assert reasons(result) == [("skip", "DUPLICATE_DRIVER_ID")] * 2
    assert [n.detail["shared_with"] for n in result.notes] == [[2], [1]]


def test_r20_duplicate_counts_portal_drivers_outside_the_scope() -> None:
    scope = Scope(frozenset({1}))
    result = run([portal(1, "D-1"), portal(2, "D-1")], [], scope=scope)
    assert result.actions == []
    assert reasons(result) == [("skip", "DUPLICATE_DRIVER_ID")]


def test_r20_linked_duplicate_keeps_its_link_and_is_never_deleted() -> None:
    result = run(
        [portal(1, "D-1", first="New"), portal(2, "D-1")],
        [driveri("D-1")],
        links_of(link(1, "D-1")),
    )
    assert result.actions == []
    assert reasons(result) == [("skip", "DUPLICATE_DRIVER_ID")] * 2


# -- R21 / R21a links, adopt before create --------------------------------------------------


def test_r21a_unlinked_driver_whose_driverid_exists_is_adopted_not_created() -> None:
    result = run([portal(first="Ada Jr")], [driveri("D-1")])
    assert result.actions == [
        DriverAction(ADOPT, 1, "D-1", {"firstName": "Ada Jr", "phone": "555-0101"},
                     phone="555-0101", version=1)
    ]  # fmt: skip


def test_r21a_adopting_a_matching_driver_without_a_phone_is_link_only() -> None:
    result = run([portal(phone=None)], [driveri("D-1")])
    assert [(a.kind, a.fields) for a in result.actions] == [(ADOPT, {})]


def test_r21a_adopt_sends_the_portal_phone_because_driveri_never_returns_it() -> None:
    result = run([portal(phone="555-0199")], [driveri("D-1")])
    assert result.actions[0].fields == {"phone": "555-0199"}


def test_r21a_adopt_reinstates_a_soft_deleted_driver() -> None:
    result = run([portal(phone=None)], [driveri("D-1", status=DRIVERI_DELETED)])
    assert [(a.kind, a.fields) for a in result.actions] == [(ADOPT, {"status": DRIVERI_ACTIVE})]


def test_r21a_adopt_reactivates_an_inactive_driver() -> None:
    result = run([portal(phone=None)], [driveri("D-1", status=DRIVERI_INACTIVE)])
    assert result.actions[0].fields == {"status": DRIVERI_ACTIVE}


def test_r21a_adopt_addresses_the_driver_by_driveris_own_spelling_of_the_id() -> None:
    result = run([portal(driver_id=" d-1 ", phone=None)], [driveri("D-1")])
    assert [(a.kind, a.driver_id) for a in result.actions] == [(ADOPT, "D-1")]


def test_r21a_driver_linked_to_another_portal_driver_is_not_adopted() -> None:
    result = run(
        [portal(1, "D-1"), portal(2, "D-2")],
        [driveri("D-1")],
        links_of(link(2, "D-1")),
    )
    conflict = [n for n in result.notes if n.reason == "CONFLICT"]
    assert [n.detail for n in conflict] == [{"portal_id": 1, "driver_id": "D-1", "linked_to": 2}]
    assert all(a.portal_id != 1 for a in result.actions)


def test_r21a_a_new_driverid_is_created_with_the_synced_fields() -> None:
    result = run([portal(driver_id=" D-7 ", email=None)], [])
    assert result.actions == [
        DriverAction(CREATE, 1, "D-7", {"firstName": "Ada", "lastName": "Byron",
                                         "phone": "555-0101"}, phone="555-0101", version=1)
    ]  # fmt: skip


def test_r21a_adopts_come_before_every_other_action() -> None:
    result = run(
        [portal(1, "NEW-1"), portal(2, "OLD-2", first="X"), portal(3, "OLD-3", phone=None)],
        [driveri("OLD-2"), driveri("OLD-3")],
        links_of(link(2, "OLD-2")),
    )
    assert kinds(result) == [(ADOPT, 3), (UPDATE, 2), (CREATE, 1)]


def test_r21_actions_of_one_kind_come_in_portal_id_order() -> None:
    result = run([portal(3, "C"), portal(1, "A"), portal(2, "B")], [])
    assert kinds(result) == [(CREATE, 1), (CREATE, 2), (CREATE, 3)]


# -- R22 DriverID changed ---------------------------------------------------------------------


def test_r22_driverid_changed_to_unknown_value_renames_the_linked_driver() -> None:
    result = run([portal(driver_id=" D-2 ")], [driveri("D-1")], links_of(link()))
    assert result.actions == [
        DriverAction(RENAME, 1, "D-2", {}, old_driver_id="D-1", phone="555-0101", version=1)
    ]


def test_r22_rename_carries_the_synced_fields_that_differ() -> None:
    result = run(
        [portal(driver_id="D-2", last="King", phone="555-0199")],
        [driveri("D-1")],
        links_of(link()),
    )
    assert result.actions[0].kind == RENAME
    assert result.actions[0].fields == {"lastName": "King", "phone": "555-0199"}


def test_r22_rename_of_a_soft_deleted_linked_driver_reinstates_it() -> None:
    result = run(
        [portal(driver_id="D-2")], [driveri("D-1", status=DRIVERI_DELETED)], links_of(link())
    )
    assert [(a.kind, a.fields) for a in result.actions] == [(RENAME, {"status": DRIVERI_ACTIVE})]


def test_r22_driverid_changed_to_an_unlinked_existing_value_adopts_it() -> None:
    result = run(
        [portal(driver_id="d-2")], [driveri("D-1"), driveri("D-2", first="Eve")], links_of(link())
    )
    assert [(a.kind, a.driver_id, a.fields) for a in result.actions] == [
        (ADOPT, "D-2", {"firstName": "Ada", "phone": "555-0101"})
    ]


def test_r22_the_previously_linked_driver_is_left_alone_and_reported() -> None:
    result = run([portal(driver_id="D-2")], [driveri("D-1"), driveri("D-2")], links_of(link()))
    assert all(a.driver_id != "D-1" for a in result.actions)
    assert reasons(result) == [("warning", "PREVIOUS_LEFT_ALONE")]
    assert result.notes[0].detail == {"portal_id": 1, "driver_id": "D-1", "adopted": "D-2"}


def test_r22_driverid_changed_to_a_value_linked_to_another_portal_driver_is_a_conflict() -> None:
    result = run(
        [portal(1, "D-2"), portal(2, "D-2-moved")],
        [driveri("D-1"), driveri("D-2")],
        links_of(link(1, "D-1"), link(2, "D-2")),
    )
    assert all(a.portal_id != 1 for a in result.actions)  # no write at all, link kept
    assert ("skip", "CONFLICT") in reasons(result)


def test_r22_conflict_holds_when_the_other_portal_driver_is_outside_the_scope() -> None:
    result = run(
        [portal(1, "D-2"), portal(2, "D-2-moved")],
        [driveri("D-1"), driveri("D-2")],
        links_of(link(1, "D-1"), link(2, "D-2")),
        Scope(frozenset({1})),
    )
    assert result.actions == []
    assert reasons(result) == [("skip", "CONFLICT")]


def test_r22_driverid_changed_while_the_linked_driver_is_gone_creates_and_reports() -> None:
    result = run([portal(driver_id="D-2")], [], links_of(link()))
    assert [(a.kind, a.driver_id) for a in result.actions] == [(CREATE, "D-2")]
    assert reasons(result) == [("anomaly", "LINK_LOST")]
    assert result.notes[0].detail == {"portal_id": 1, "driver_id": "D-1"}


# -- R23 deleted in the portal ----------------------------------------------------------------


def test_r23_portal_driver_deleted_soft_deletes_its_linked_driveri_driver() -> None:
    result = run([], [driveri("D-1")], links_of(link()))
    assert result.actions == [
        DriverAction(DELETE, 1, "D-1", {"status": DRIVERI_DELETED}, phone="555-0101", version=1)
    ]


def test_r23_link_to_an_already_deleted_driveri_driver_is_only_released() -> None:
    result = run([], [driveri("D-1", status=DRIVERI_DELETED)], links_of(link()))
    assert [(a.kind, a.fields) for a in result.actions] == [(RELEASE, {})]


def test_r23_link_to_a_missing_driveri_driver_is_only_released() -> None:
    result = run([], [], links_of(link()))
    assert [(a.kind, a.driver_id) for a in result.actions] == [(RELEASE, "D-1")]


def test_r23_an_unlinked_driveri_driver_is_never_deleted() -> None:
    result = run([], [driveri("D-1"), driveri("D-2")])
    assert result.actions == []


def test_r23_an_event_run_deletes_only_for_the_portal_ids_it_names() -> None:
    result = run(
        [],
        [driveri("D-1"), driveri("D-2")],
        links_of(link(1, "D-1"), link(2, "D-2")),
        Scope(frozenset({2})),
    )
    assert kinds(result) == [(DELETE, 2)]


def test_r23_a_recreated_portal_driver_reinstates_its_soft_deleted_driveri_driver() -> None:
    result = run([portal(phone=None)], [driveri("D-1", status=DRIVERI_DELETED)])
    assert [(a.kind, a.driver_id, a.fields) for a in result.actions] == [
        (ADOPT, "D-1", {"status": DRIVERI_ACTIVE})
    ]


def test_r23_a_gone_portal_drivers_driveri_driver_passes_to_the_new_holder_of_its_id() -> None:
    result = run([portal(2, "D-1", phone=None)], [driveri("D-1")], links_of(link(1, "D-1")))
    # Released first (store only, so the adopt can link it), then adopted; never deleted.
    assert [(a.kind, a.portal_id, a.driver_id) for a in result.actions] == [
        (RELEASE, 1, "D-1"),
        (ADOPT, 2, "D-1"),
    ]


# -- R24 portal wins --------------------------------------------------------------------------


def test_r24_portal_wins_on_first_last_and_email_and_sends_only_what_differs() -> None:
    result = run(
        [portal(first="Ada", last="King", email="ada@new.example")],
        [driveri("D-1", first="Ada", last="Byron", email="old@example.com")],
        links_of(link()),
    )
    assert result.actions == [
        DriverAction(UPDATE, 1, "D-1", {"lastName": "King", "email": "ada@new.example"},
                     phone="555-0101", version=1)
    ]  # fmt: skip


def test_r24_an_unchanged_driver_gets_no_write_and_counts_as_unchanged() -> None:
    result = run([portal(version=7)], [driveri("D-1")], links_of(link(version=3)))
    assert result.actions == []
    assert result.unchanged == 1
    assert result.notes == []


def test_r24_no_email_and_an_empty_email_are_equal() -> None:
    result = run([portal(email="")], [driveri("D-1", email=None)], links_of(link()))
    assert result.actions == []


def test_r24_an_email_emptied_in_the_portal_is_emptied_in_driveri() -> None:
    result = run([portal(email=None)], [driveri("D-1")], links_of(link()))
    assert [(a.kind, a.fields) for a in result.actions] == [(UPDATE, {"email": ""})]


def test_r24_phone_is_compared_with_the_last_value_pushed() -> None:
    result = run([portal(phone="555-0199")], [driveri("D-1")], links_of(link(phone="555-0101")))
    assert [(a.kind, a.fields, a.phone) for a in result.actions] == [
        (UPDATE, {"phone": "555-0199"}, "555-0199")
    ]


def test_r24_a_phone_emptied_in_the_portal_is_emptied_in_driveri() -> None:
    result = run([portal(phone=None)], [driveri("D-1")], links_of(link(phone="555-0101")))
    assert [(a.fields, a.phone) for a in result.actions] == [({"phone": ""}, None)]


def test_r24_a_linked_driver_deleted_in_driveri_is_reactivated() -> None:
    result = run([portal()], [driveri("D-1", status=DRIVERI_DELETED)], links_of(link()))
    assert [(a.kind, a.fields) for a in result.actions] == [(UPDATE, {"status": DRIVERI_ACTIVE})]


def test_r24_a_linked_driver_inactive_in_driveri_is_reactivated() -> None:
    result = run([portal()], [driveri("D-1", status=DRIVERI_INACTIVE)], links_of(link()))
    assert [(a.kind, a.fields) for a in result.actions] == [(UPDATE, {"status": DRIVERI_ACTIVE})]


def test_r24_a_link_that_points_nowhere_is_reported_link_lost_and_re_resolved() -> None:
    result = run([portal()], [driveri("D-1-renamed")], links_of(link()))
    assert reasons(result) == [("anomaly", "LINK_LOST")]
    assert [(a.kind, a.driver_id) for a in result.actions] == [(CREATE, "D-1")]


def test_r24_each_action_carries_the_phone_and_version_the_link_should_hold() -> None:
    result = run([portal(first="B", phone="555-0123", version=9)], [driveri()], links_of(link()))
    assert (result.actions[0].phone, result.actions[0].version) == ("555-0123", 9)


def test_r24_update_addresses_the_driver_by_driveris_spelling_of_the_id() -> None:
    result = run([portal(driver_id="d-1", first="B")], [driveri("D-1")], links_of(link()))
    assert [(a.kind, a.driver_id) for a in result.actions] == [(UPDATE, "D-1")]


# -- R6 mass-delete guard -----------------------------------------------------------------------


def owned(n: int) -> tuple[list[DriveriDriver], dict[int, DriverLink]]:
    """``n`` linked Driveri drivers, ids D-1..D-n, portal ids 1..n."""
    drivers = [driveri(f"D-{i}") for i in range(1, n + 1)]
    return drivers, links_of(*(link(i, f"D-{i}") for i in range(1, n + 1)))


def test_r6_a_plan_deleting_more_than_five_of_a_few_halts_before_any_write() -> None:
    drivers, links = owned(10)
    live = [portal(i, f"D-{i}", phone="555-0101") for i in range(7, 11)]
    result = run(live + [portal(11, "NEW")], drivers, links)
    assert result.halted == "MASS_DELETE"
    assert result.actions == []
    assert sorted((a.kind, a.portal_id) for a in result.withheld) == [
        ("CREATE", 11), *(("DELETE", i) for i in range(1, 7)),
    ]  # fmt: skip
    mass = [n for n in result.notes if n.reason == "MASS_DELETE"]
    assert [(n.kind, n.detail) for n in mass] == [
        ("anomaly", {"deletes": 6, "owned": 10, "limit": 5})
    ]


def test_r6_five_deletes_are_allowed_whatever_the_size() -> None:
    drivers, links = owned(5)
    result = run([], drivers, links)
    assert result.halted is None
    assert [a.kind for a in result.actions] == [DELETE] * 5


def test_r6_ten_percent_of_a_large_ownership_may_be_deleted_and_no_more() -> None:
    drivers, links = owned(100)
    keep_90 = [portal(i, f"D-{i}") for i in range(11, 101)]
    keep_89 = [portal(i, f"D-{i}") for i in range(12, 101)]
    assert run(keep_90, drivers, links).halted is None
    assert run(keep_89, drivers, links).halted == "MASS_DELETE"


def test_r6_releases_of_already_deleted_drivers_do_not_count_as_deletes() -> None:
    drivers, links = owned(8)
    gone = [driveri(d.driver_id, status=DRIVERI_DELETED) for d in drivers]
    result = run([], gone, links)
    assert result.halted is None
    assert [a.kind for a in result.actions] == [RELEASE] * 8


# -- scope --------------------------------------------------------------------------------------


def test_an_event_run_plans_only_the_portal_drivers_it_names() -> None:
    result = run([portal(1, "A"), portal(2, "B")], [], scope=Scope(frozenset({2})))
    assert kinds(result) == [(CREATE, 2)]
