"""Run leases: one per (pipeline, integration), shared by every engine process on a store.

A run holds its lease while it renews it. A lease whose holder stopped renewing (the process
was killed, the host died) is taken over once it has expired, and the dead run is recorded as
ABANDONED. Acquisition, takeover, renewal and release are each one conditional statement on
the lease's ``generation`` (a fencing token), so two processes can never both hold a lease and
a holder that was taken over can change nothing: its next renewal raises ``LeaseLost``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from .tables import leases, runs
from .times import utc

ABANDONED = "ABANDONED"


class RunBusy(Exception):
    """Another run of the same pipeline and integration holds the lease."""


class LeaseLost(Exception):
    """This run's lease was taken over by another run: it must stop and write nothing more."""


@dataclass(frozen=True)
class Lease:
    """A lease this process holds, as of its last acquisition or renewal."""

    name: str
    holder: str
    generation: int
    run_id: int
    expires_at: datetime
    took_over_run: int | None = None  # the abandoned run this acquisition took over


class LeaseQueries:
    """The lease queries of the Store (it supplies ``engine`` and ``_write``)."""

    engine: Engine
    _write: threading.Lock

    def start_leased_run(
        self, pipeline: str, integration: str, holder: str, now: datetime, ttl: timedelta
    ) -> Lease:
        """Take the lease of (pipeline, integration) and record the run's start, in one
        transaction. A live lease of anyone (this holder included) raises RunBusy; an expired
        one is taken over and its run, if unfinished, is recorded as ABANDONED."""
        name = f"{pipeline}:{integration}"
        busy = RunBusy(f"a run of {name} is already in progress")
        with self.engine.connect() as conn:
            seen = conn.execute(select(leases).where(leases.c.name == name)).mappings().first()
        if seen is not None and seen["holder"] is not None and utc(seen["expires_at"]) >= now:
            raise busy
        with self._write, self.engine.begin() as conn:
            # The compare-and-set comes first, so on SQLite it takes the write lock (waiting
            # for other writers) before anything of this transaction was read.
            if seen is None:
                generation = 1
                try:
                    conn.execute(
                        insert(leases).values(
                            name=name, holder=holder, generation=1, expires_at=now + ttl
                        )
                    )
                except IntegrityError:
                    raise busy from None
            else:
                generation = seen["generation"] + 1
                won = conn.execute(
                    update(leases)
                    .where(
                        and_(
                            leases.c.name == name,
                            leases.c.generation == seen["generation"],
                            or_(leases.c.holder.is_(None), leases.c.expires_at < now),
                        )
                    )
                    .values(holder=holder, generation=generation, expires_at=now + ttl)
                ).rowcount
                if won != 1:
                    raise busy
            key = conn.execute(
                insert(runs).values(pipeline=pipeline, integration=integration, started_at=now)
            ).inserted_primary_key
            assert key is not None  # an insert into a table with an integer primary key
            run_id = int(key[0])
            conn.execute(
                update(leases)
                .where(and_(leases.c.name == name, leases.c.generation == generation))
                .values(run_id=run_id)
            )
            took_over = None
            if seen is not None and seen["holder"] is not None and seen["run_id"] is not None:
                took_over = _abandon(conn, seen["run_id"], pipeline, integration, holder,
                                     run_id, now)  # fmt: skip
        return Lease(name, holder, generation, run_id, now + ttl, took_over)

    def renew(self, lease: Lease, now: datetime, ttl: timedelta) -> Lease:
        """Extend a held lease to ``now + ttl``; LeaseLost when it was taken over."""
        with self._write, self.engine.begin() as conn:
            done = conn.execute(
                update(leases).where(_held(lease)).values(expires_at=now + ttl)
            ).rowcount
        if done != 1:
            raise LeaseLost(f"the lease of {lease.name} was taken over by another run")
        return replace(lease, expires_at=now + ttl)

    def finish_leased_run(
        self, lease: Lease, outcome: str, report: dict[str, Any], now: datetime
    ) -> bool:
        """Record the run's outcome and free its lease, in one transaction. When the lease
        was taken over meanwhile, the run stays ABANDONED (its report is kept with it) and
        the lease is left to its new holder. Returns whether the lease was still held."""
        with self._write, self.engine.begin() as conn:
            held = conn.execute(
                update(leases).where(_held(lease)).values(holder=None, run_id=None)
            ).rowcount
            if held == 1:
                values: dict[str, Any] = {"finished_at": now, "outcome": outcome, "report": report}
            else:
                row = conn.execute(select(runs.c.report).where(runs.c.id == lease.run_id)).first()
                abandoned = (row[0] if row else None) or {}
                values = {"report": {**report, **abandoned, "lease_lost_at": now.isoformat()}}
            conn.execute(update(runs).where(runs.c.id == lease.run_id).values(**values))
        return held == 1

    def lease(self, pipeline: str, integration: str) -> dict[str, Any] | None:
        """The stored lease of (pipeline, integration), if one was ever taken."""
        name = f"{pipeline}:{integration}"
        with self.engine.connect() as conn:
            row = conn.execute(select(leases).where(leases.c.name == name)).mappings().first()
        return {**row, "expires_at": utc(row["expires_at"])} if row else None


def _held(lease: Lease) -> Any:
    return and_(
        leases.c.name == lease.name,
        leases.c.generation == lease.generation,
        leases.c.holder == lease.holder,
    )


def _abandon(
    conn: Connection,
    run_id: int,
    pipeline: str,
    integration: str,
    holder: str,
    new_run_id: int,
    now: datetime,
) -> int | None:
    report = {
        "pipeline": pipeline,
        "integration": integration,
        "outcome": ABANDONED,
        "abandoned_at": now.isoformat(),
        "taken_over_by": holder,
        "taken_over_by_run": new_run_id,
    }
    done = conn.execute(
        update(runs)
        .where(and_(runs.c.id == run_id, runs.c.outcome.is_(None)))
        .values(outcome=ABANDONED, finished_at=now, report=report)
    ).rowcount
    return run_id if done else None


class LeaseKeeper:
    """Keeps a run's lease: ``checkpoint()`` is the run's safe point (called before each
    vendor request and around each wait). It renews the lease once a third of its time has
    gone by on the engine's clock, and raises LeaseLost, then and at every later call, once
    the lease was taken over."""

    def __init__(
        self,
        store: LeaseQueries,
        lease: Lease,
        clock: Callable[[], datetime],
        ttl: timedelta,
    ) -> None:
        self.store = store
        self.lease = lease
        self.clock = clock
        self.ttl = ttl
        self.renewed_at = clock()
        self.renewals = 0
        self.lost: LeaseLost | None = None
        self._lock = threading.Lock()

    def checkpoint(self) -> None:
        """Renew when due; raise LeaseLost when the lease is no longer this run's."""
        with self._lock:
            if self.lost is not None:
                raise LeaseLost(str(self.lost))
            now = self.clock()
            if now - self.renewed_at < self.ttl / 3:
                return
            try:
                self.lease = self.store.renew(self.lease, now, self.ttl)
            except LeaseLost as exc:
                self.lost = exc
                raise
            self.renewed_at = now
            self.renewals += 1
