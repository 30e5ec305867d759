"""Drivers (GPS portal -> Driveri): the pure half.

``plan`` is a pure function of what was observed, the links the store holds and the scope of
the run: it decides every Driveri write and every skip (R20-R24, R6). ``drivers`` does the I/O
and checks the Driver Sync toggle (R25) and event versions (R26) before calling it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..model import DRIVERI_ACTIVE, DRIVERI_DELETED, DriveriDriver, PortalDriver, driver_key
from ..report import Note

CREATE, ADOPT, UPDATE, RENAME, DELETE, RELEASE = (
    "CREATE", "ADOPT", "UPDATE", "RENAME", "DELETE", "RELEASE",
)  # fmt: skip


@dataclass(frozen=True)
class DriverLink:
    """The store's link of one portal driver to the Driveri driver it is synced to (R21)."""

    portal_id: int
    driveri_id: str  # the Driveri driverId exactly as Driveri spells it
    phone: str | None = None  # the phone last pushed (R24: Driveri never returns it)
    version: int = 0  # the last portal version applied (R26)


@dataclass(frozen=True)
class Observed:
    """What one run read. ``portal`` is every live portal driver (a complete listing, R6).
    ``driveri`` maps ``driver_key`` -> Driveri driver (soft-deleted ones included): every
    Driveri driver in a full run, and at least every key the scope touches otherwise (a key
    absent from it does not exist in Driveri)."""

    portal: list[PortalDriver]
    driveri: dict[str, DriveriDriver]


@dataclass(frozen=True)
class Scope:
    """Which portal drivers this run decides for: ``None`` means all (a full reconcile);
    otherwise the portal ids the events named (live or deleted)."""

    portal_ids: frozenset[int] | None = None

    @property
    def full(self) -> bool:
        """A full reconcile."""
        return self.portal_ids is None


@dataclass(frozen=True)
class DriverAction:
    """One Driveri write (or a store-only link change), in the order ``plan`` gives.

    - CREATE: POST a new Driveri driver ``driver_id`` with ``fields``; link it.
    - ADOPT: link the unlinked Driveri driver ``driver_id`` (R21a), then PUT ``fields``
      (``status`` 1 among them when it was deleted or inactive: reinstated); ``fields`` may be
      empty when it already matches (a link-only action, no write).
    - UPDATE: PUT ``fields`` (a partial update) to the linked ``driver_id``.
    - RENAME: PUT ``{"driverId": driver_id, **fields}`` to ``old_driver_id`` (R22).
    - DELETE: PUT ``{"status": 3}`` to ``driver_id``, then release the link (R23).
    - RELEASE: store only: forget the link of ``portal_id`` (its Driveri driver is already
      deleted or gone).
    ``fields`` use Driveri's names: firstName, lastName, email, phone, status. ``phone`` and
    ``version`` are what the link remembers once the action succeeded.
    """

    kind: str
    portal_id: int
    driver_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    old_driver_id: str | None = None
    phone: str | None = None
    version: int = 0


@dataclass
class Plan:
    """The outcome of ``plan``: writes in order (adopts first), and everything else with why.
    ``halted`` names the guard that stopped the run before any write (MASS_DELETE, R6);
    ``withheld`` then holds the writes it stopped (for reports and the oracle, never applied)."""

    actions: list[DriverAction] = field(default_factory=list)
    withheld: list[DriverAction] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    unchanged: int = 0
    halted: str | None = None

    def note(self, kind: str, reason: str, **detail: Any) -> None:
        """Record a skip, anomaly or warning."""
        self.notes.append(Note(kind, reason, detail))


SYNCED = ("firstName", "lastName", "email", "phone")  # R24: what the portal wins on
ORDER = {ADOPT: 0, RENAME: 1, UPDATE: 2, CREATE: 3, DELETE: 4, RELEASE: 5}


def create_fields(p: PortalDriver) -> dict[str, Any]:
    """The synced fields of a new Driveri driver (absent portal values left out)."""
    values = {
        "firstName": p.first_name, "lastName": p.last_name, "email": p.email, "phone": p.phone,
    }  # fmt: skip
    return {name: value for name, value in values.items() if value is not None}


def diff_fields(p: PortalDriver, d: DriveriDriver, phone: str | None) -> dict[str, Any]:
    """R24: the synced fields where the portal differs from Driveri driver ``d`` (a partial
    update), plus ``status`` 1 when ``d`` is not active. ``phone`` is the phone last pushed
    (Driveri never returns it); None and "" are the same value everywhere."""
    fields: dict[str, Any] = {}
    if p.first_name != d.first_name:
        fields["firstName"] = p.first_name
    if (p.last_name or "") != (d.last_name or ""):
        fields["lastName"] = p.last_name or ""
    if (p.email or "") != (d.email or ""):
        fields["email"] = p.email or ""  # emptied in the portal: emptied in Driveri
    if (p.phone or "") != (phone or ""):
        fields["phone"] = p.phone or ""
    if d.status != DRIVERI_ACTIVE:
        fields["status"] = DRIVERI_ACTIVE  # R24 reactivate, R21a/R23 reinstate
    return fields


def plan(observed: Observed, links: dict[int, DriverLink], scope: Scope) -> Plan:
    """Decide every Driveri write and skip of a run (R20-R24, R6). Pure: no I/O, no clock.

    Actions come in this order, each kind by portal id: the releases of links whose portal
    driver is gone and whose Driveri driver a live portal driver takes over (store only, so
    the adopt can link it: a Driveri driver is linked once at most), then ADOPT (R21a: adopt
    before create), RENAME, UPDATE, CREATE, DELETE, RELEASE.
    """
    return _Planner(observed, links, scope).run()


class _Planner:
    """One ``plan`` call's working state."""

    def __init__(self, observed: Observed, links: dict[int, DriverLink], scope: Scope) -> None:
        self.observed = observed
        self.links = links
        self.scope = scope
        self.result = Plan()
        self.live = {p.id: p for p in observed.portal}
        self.sharing: dict[str, list[int]] = defaultdict(list)  # key -> live portal ids
        for p in observed.portal:
            if p.key:
                self.sharing[p.key].append(p.id)
        self.owners: dict[str, list[int]] = defaultdict(list)  # key -> linked portal ids
        for portal_id, link in sorted(links.items()):
            self.owners[driver_key(link.driveri_id)].append(portal_id)
        self.handed_over: list[DriverAction] = []  # releases that must precede the adopts
        self.released: set[int] = set()
        self.claimed: set[str] = set()  # keys an action of this plan writes to

    def run(self) -> Plan:
        """Plan the live drivers in scope, then the deletes, then apply the R6 guard."""
        in_scope = [p for p in self.observed.portal if self.scope.full or p.id in self._scope_ids()]
        for p in sorted(in_scope, key=lambda d: d.id):
            self._live(p)
        self._deletes()
        actions = sorted(self.result.actions, key=lambda a: (ORDER[a.kind], a.portal_id))
        self.result.actions = sorted(self.handed_over, key=lambda a: a.portal_id) + actions
        self._guard()
        return self.result

    def _scope_ids(self) -> frozenset[int]:
        return self.scope.portal_ids or frozenset()

    # -- live portal drivers -----------------------------------------------------------------

    def _live(self, p: PortalDriver) -> None:
        link = self.links.get(p.id)
        key = p.key
        if not key:
            detail: dict[str, Any] = {"portal_id": p.id, "linked": link is not None}
            if p.ref_id:
                detail["ref_id"] = p.ref_id  # set but never a fallback key (R20)
            self.result.note("skip", "EMPTY_DRIVER_ID", **detail)
            return
        if len(self.sharing[key]) > 1:
            others = [q for q in self.sharing[key] if q != p.id]
            self.result.note(
                "skip", "DUPLICATE_DRIVER_ID", portal_id=p.id, driver_id=p.driveri_id,
                shared_with=others,
            )  # fmt: skip
            return
        holder = self._holder(key, p.id)
        if holder is not None or key in self.claimed:
            self.result.note(
                "skip", "CONFLICT", portal_id=p.id, driver_id=p.driveri_id, linked_to=holder
            )
            return
        self.claimed.add(key)
        if link is not None and driver_key(link.driveri_id) == key:
            self._linked_same_key(p, link)
        elif link is not None:
            self._key_changed(p, link)
        else:
            self._unlinked(p)

    def _holder(self, key: str, portal_id: int) -> int | None:
        """The other portal driver whose link holds ``key`` (R22 conflict), if any. A link
        whose portal driver is gone hands its Driveri driver over: it is released first."""
        for q in self.owners.get(key, []):
            if q == portal_id:
                continue
            if q in self.live:
                return q
            if q not in self.released:
                old = self.links[q]
                self.released.add(q)
                self.handed_over.append(
                    DriverAction(RELEASE, q, old.driveri_id, phone=old.phone, version=old.version)
                )
        return None

    def _linked_same_key(self, p: PortalDriver, link: DriverLink) -> None:
        d = self.observed.driveri.get(p.key)
        if d is None:
            # R24: renamed or removed on the Driveri side; re-resolved by R21a (nothing to
            # adopt under this key, so a create).
            self.result.note("anomaly", "LINK_LOST", portal_id=p.id, driver_id=link.driveri_id)
            self._unlinked(p)
            return
        fields = diff_fields(p, d, link.phone)
        if not fields:
            self.result.unchanged += 1
            return
        self._act(UPDATE, p, d.driver_id, fields)

    def _key_changed(self, p: PortalDriver, link: DriverLink) -> None:
        """R22: the DriverID changed in the portal."""
        target = self.observed.driveri.get(p.key)
        old = self.observed.driveri.get(driver_key(link.driveri_id))
        if target is not None:
            if old is None:
                self.result.note("anomaly", "LINK_LOST", portal_id=p.id, driver_id=link.driveri_id)
            else:
                self.result.note(
                    "warning", "PREVIOUS_LEFT_ALONE", portal_id=p.id, driver_id=old.driver_id,
                    adopted=target.driver_id,
                )  # fmt: skip
            self._act(ADOPT, p, target.driver_id, diff_fields(p, target, None))
            return
        if old is None:
            self.result.note("anomaly", "LINK_LOST", portal_id=p.id, driver_id=link.driveri_id)
            self._create(p)
            return
        self._act(
            RENAME, p, (p.driveri_id or "").strip(), diff_fields(p, old, link.phone),
            old_driver_id=old.driver_id,
        )  # fmt: skip

    def _unlinked(self, p: PortalDriver) -> None:
        """R21a: adopt the Driveri driver of this key when there is one, else create it."""
        target = self.observed.driveri.get(p.key)
        if target is not None:
            self._act(ADOPT, p, target.driver_id, diff_fields(p, target, None))
        else:
            self._create(p)

    def _create(self, p: PortalDriver) -> None:
        self._act(CREATE, p, (p.driveri_id or "").strip(), create_fields(p))

    def _act(
        self,
        kind: str,
        p: PortalDriver,
        driver_id: str,
        fields: dict[str, Any],
        old_driver_id: str | None = None,
    ) -> None:
        self.result.actions.append(
            DriverAction(kind, p.id, driver_id, fields, old_driver_id, p.phone, p.version)
        )

    # -- portal drivers gone (R23) ----------------------------------------------------------

    def _deletes(self) -> None:
        for portal_id, link in sorted(self.links.items()):
            if portal_id in self.live or portal_id in self.released:
                continue
            if not (self.scope.full or portal_id in self._scope_ids()):
                continue
            d = self.observed.driveri.get(driver_key(link.driveri_id))
            kind = DELETE if d is not None and d.status != DRIVERI_DELETED else RELEASE
            self.result.actions.append(
                DriverAction(
                    kind, portal_id, d.driver_id if d is not None else link.driveri_id,
                    {"status": DRIVERI_DELETED} if kind == DELETE else {},
                    phone=link.phone, version=link.version,
                )
            )  # fmt: skip

    def _guard(self) -> None:
        """R6: a run that would delete more than max(5, 10 %) of what it owns writes nothing."""
        deletes = sum(1 for a in self.result.actions if a.kind == DELETE)
        limit = max(5.0, len(self.links) / 10)
        if deletes > limit:
            self.result.halted = "MASS_DELETE"
            self.result.withheld, self.result.actions = self.result.actions, []
            self.result.note(
                "anomaly", "MASS_DELETE", deletes=deletes, owned=len(self.links),
                limit=int(limit),
            )  # fmt: skip
