"""Driver-sync queries: pairings (Driveri tenant <-> portal), links (R21), the webhook inbox
(R26). Rows go out as plain dicts; the reconciler turns them into its own types."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from .tables import driver_links, driver_pairings, webhook_inbox
from .times import utc

PENDING, APPLIED, DROPPED, IGNORED, FAILED = "PENDING", "APPLIED", "DROPPED", "IGNORED", "FAILED"


def _link_of(driveri: str, portal_id: int) -> Any:
    return and_(driver_links.c.driveri == driveri, driver_links.c.portal_id == portal_id)


def _fold(driver_id: str) -> str:
    # The same fold as the engine's key (R20); the store keeps no import of the model.
    return driver_id.strip().casefold()


class DriverQueries:
    """The driver-sync queries of the Store (it supplies ``engine`` and ``_write``)."""

    engine: Engine
    _write: threading.Lock

    # -- pairings ----------------------------------------------------------------------------

    def save_pairing(self, driveri: str, portal: str, tenant: str, now: datetime) -> None:
        """Pair a Driveri integration with a portal integration (re-pairing keeps the
        webhook subscription and the last seen toggle only when the portal is unchanged)."""
        with self._write, self.engine.begin() as conn:
            old = conn.execute(
                select(driver_pairings).where(driver_pairings.c.driveri == driveri)
            ).first()
            if old is not None and old._mapping["portal"] == portal:
                conn.execute(
                    update(driver_pairings)
                    .where(driver_pairings.c.driveri == driveri)
                    .values(tenant=tenant, updated_at=now)
                )
                return
            conn.execute(delete(driver_pairings).where(driver_pairings.c.driveri == driveri))
            conn.execute(
                insert(driver_pairings).values(
                    driveri=driveri, portal=portal, tenant=tenant, updated_at=now
                )
            )

    def pairing(self, driveri: str) -> dict[str, Any] | None:
        """The pairing of a Driveri integration (webhook secret included: engine use only)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(driver_pairings).where(driver_pairings.c.driveri == driveri)
            ).first()
        return _pairing(row._mapping) if row else None

    def pairing_for_portal(self, portal: str) -> dict[str, Any] | None:
        """The pairing whose portal integration is ``portal``."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(driver_pairings).where(driver_pairings.c.portal == portal)
            ).first()
        return _pairing(row._mapping) if row else None

    def pairings(self) -> list[dict[str, Any]]:
        """Every pairing, by Driveri integration name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(driver_pairings).order_by(driver_pairings.c.driveri))
            return [_pairing(r._mapping) for r in rows]

    def save_webhook(
        self, driveri: str, webhook_id: int | None, secret: str | None, now: datetime
    ) -> None:
        """Remember the portal's webhook subscription and its signing secret."""
        self._update_pairing(driveri, now, webhook_id=webhook_id, webhook_secret=secret)

    def save_sync_seen(self, driveri: str, enabled: bool, now: datetime) -> None:
        """Remember the Driver Sync setting as last read (R25)."""
        self._update_pairing(driveri, now, sync_seen_on=enabled)

    def _update_pairing(self, driveri: str, now: datetime, **values: Any) -> None:
        with self._write, self.engine.begin() as conn:
            conn.execute(
                update(driver_pairings)
                .where(driver_pairings.c.driveri == driveri)
                .values(updated_at=now, **values)
            )

    # -- links -------------------------------------------------------------------------------

    def driver_links(self, driveri: str) -> list[dict[str, Any]]:
        """Every link of a pairing: portal_id, driveri_id, phone, version, updated_at."""
        query = (
            select(driver_links)
            .where(driver_links.c.driveri == driveri)
            .order_by(driver_links.c.portal_id)
        )
        with self.engine.connect() as conn:
            return [
                {
                    "portal_id": r["portal_id"],
                    "driveri_id": r["driveri_id"],
                    "phone": r["phone"],
                    "version": r["version"],
                    "updated_at": utc(r["updated_at"]),
                }
                for r in conn.execute(query).mappings()
            ]

    def save_link(
        self,
        driveri: str,
        portal_id: int,
        driveri_id: str,
        *,
        phone: str | None,
        version: int,
        now: datetime,
    ) -> None:
        """Link (or re-link) a portal driver to a Driveri driver. A Driveri driver is linked to
        one portal driver at most: linking one already linked elsewhere raises ValueError."""
        values = {
            "driveri_id": driveri_id,
            "driveri_key": _fold(driveri_id),
            "phone": phone,
            "version": version,
            "updated_at": now,
        }
        key = _link_of(driveri, portal_id)
        try:
            with self._write, self.engine.begin() as conn:
                if not conn.execute(update(driver_links).where(key).values(values)).rowcount:
                    conn.execute(
                        insert(driver_links).values(driveri=driveri, portal_id=portal_id, **values)
                    )
        except IntegrityError:
            raise ValueError(
                f"Driveri driver {driveri_id!r} is already linked to another portal driver"
            ) from None

    def save_link_version(self, driveri: str, portal_id: int, version: int, now: datetime) -> None:
        """Record that ``version`` of a linked portal driver was applied (R26), no write made."""
        with self._write, self.engine.begin() as conn:
            conn.execute(
                update(driver_links)
                .where(_link_of(driveri, portal_id))
                .values(version=version, updated_at=now)
            )

    def release_link(self, driveri: str, portal_id: int) -> None:
        """Forget a portal driver's link (R23: after its Driveri driver was deleted)."""
        with self._write, self.engine.begin() as conn:
            conn.execute(delete(driver_links).where(_link_of(driveri, portal_id)))

    # -- webhook inbox -----------------------------------------------------------------------

    def inbox_add(
        self,
        event_id: str,
        portal: str,
        event_type: str,
        *,
        portal_id: int | None,
        version: int | None,
        payload: Any,
        now: datetime,
        status: str = PENDING,
    ) -> bool:
        """Record a received event; False when its id was seen before (R26: a duplicate)."""
        try:
            with self._write, self.engine.begin() as conn:
                conn.execute(
                    insert(webhook_inbox).values(
                        event_id=event_id, portal=portal, type=event_type, portal_id=portal_id,
                        version=version, payload=payload, received_at=now, status=status,
                        done_at=None if status == PENDING else now,
                    )
                )  # fmt: skip
        except IntegrityError:
            return False
        return True

    def inbox_pending(self, limit: int = 100) -> list[dict[str, Any]]:
        """Events not yet applied, in arrival order."""
        query = (
            select(webhook_inbox)
            .where(webhook_inbox.c.status == PENDING)
            .order_by(webhook_inbox.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_event(r) for r in conn.execute(query).mappings()]

    def inbox_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest events received, newest first."""
        query = select(webhook_inbox).order_by(webhook_inbox.c.seq.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_event(r) for r in conn.execute(query).mappings()]

    def inbox_mark(self, event_id: str, status: str, now: datetime, detail: str = "") -> None:
        """Record what became of an event (APPLIED, DROPPED with why, FAILED with why)."""
        with self._write, self.engine.begin() as conn:
            conn.execute(
                update(webhook_inbox)
                .where(webhook_inbox.c.event_id == event_id)
                .values(status=status, detail=detail or None, done_at=now)
            )


def _pairing(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["updated_at"] = utc(data["updated_at"])
    return data


def _event(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["received_at"] = utc(data["received_at"])
    data["done_at"] = utc(data["done_at"])
    return data
