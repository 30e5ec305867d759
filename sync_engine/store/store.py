"""Queries over the engine's tables. Times go in as UTC and come back UTC-aware."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, create_engine, event, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from .drivers import DriverQueries
from .leases import LeaseQueries
from .tables import (
    asset_marks,
    cursors,
    defect_ledger,
    integrations,
    metadata,
    runs,
    settings,
)
from .times import utc

DEFAULT_PATH = Path(".fleetsim") / "fleetsim.db"


def default_url() -> str:
    """``FLEETSIM_DB_URL``, or a SQLite file under ``.fleetsim/``."""
    url = os.environ.get("FLEETSIM_DB_URL")
    if url:
        return url
    DEFAULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_PATH}"


def _create_engine(url: str) -> Engine:
    if url in ("sqlite://", "sqlite:///:memory:"):
        # One shared connection, or every thread would see its own empty database.
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # Every successful write is recorded at once (R5), so commits are frequent: WAL with
    # NORMAL sync keeps them durable across a crash of the engine without an fsync each.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Store(LeaseQueries, DriverQueries):
    """The engine's persistent state; the schema is created on first use."""

    def __init__(self, url: str | None = None, engine: Engine | None = None) -> None:
        self.engine = engine or _create_engine(url or default_url())
        self._write = threading.Lock()  # SQLite allows one writer: queue them here
        metadata.create_all(self.engine)

    def __repr__(self) -> str:  # a URL may carry a password
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    # -- integrations ------------------------------------------------------------------------

    def save_integration(
        self,
        name: str,
        kind: str,
        base_url: str,
        secret: str,
        now: datetime,
        username: str | None = None,
    ) -> None:
        """Add or update an integration; re-adding keeps its activation time."""
        row = {
            "kind": kind,
            "base_url": base_url,
            "username": username,
            "secret": secret,
            "updated_at": now,
        }
        with self._write, self.engine.begin() as conn:
            exists = conn.execute(
                select(integrations.c.name).where(integrations.c.name == name)
            ).first()
            if exists:
                conn.execute(update(integrations).where(integrations.c.name == name).values(row))
            else:
                conn.execute(insert(integrations).values(name=name, activated_at=now, **row))

    def integration(self, name: str) -> dict[str, Any] | None:
        """One integration, secret included (for the engine's own use only)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(integrations).where(integrations.c.name == name)).first()
        return _integration(row._mapping) if row else None

    def integrations(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every integration (optionally of one kind), secrets included."""
        query = select(integrations).order_by(integrations.c.name)
        if kind:
            query = query.where(integrations.c.kind == kind)
        with self.engine.connect() as conn:
            return [_integration(r._mapping) for r in conn.execute(query)]

    # -- settings ----------------------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        """An engine-wide setting (None when it was never saved)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(settings.c.value).where(settings.c.key == key)).first()
        return row[0] if row else None

    def save_setting(self, key: str, value: str) -> None:
        """Add or replace an engine-wide setting."""
        with self._write, self.engine.begin() as conn:
            done = conn.execute(
                update(settings).where(settings.c.key == key).values(value=value)
            ).rowcount
            if not done:
                conn.execute(insert(settings).values(key=key, value=value))

    # -- cursors -----------------------------------------------------------------------------

    def cursor(self, integration: str, name: str) -> str | None:
        """A saved cursor value."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(cursors.c.value).where(
                    and_(cursors.c.integration == integration, cursors.c.name == name)
                )
            ).first()
        return row[0] if row else None

    def save_cursor(self, integration: str, name: str, value: str, now: datetime) -> None:
        """Save a cursor; call only after every write it covers succeeded (R5)."""
        with self._write, self.engine.begin() as conn:
            done = conn.execute(
                update(cursors)
                .where(and_(cursors.c.integration == integration, cursors.c.name == name))
                .values(value=value, updated_at=now)
            ).rowcount
            if not done:
                conn.execute(
                    insert(cursors).values(
                        integration=integration, name=name, value=value, updated_at=now
                    )
                )

    # -- asset marks -------------------------------------------------------------------------

    def marks(self) -> dict[int, dict[str, Any]]:
        """What was last written per asset."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(asset_marks)).mappings().all()
        return {
            r["asset_id"]: {
                **r,
                "last_fix_at": utc(r["last_fix_at"]),
                "odometer_at": utc(r["odometer_at"]),
            }
            for r in rows
        }

    def save_mark(self, asset_id: int, source: str, vehicle_id: str, **values: Any) -> None:
        """Update what was last written for an asset (only the given fields)."""
        with self._write, self.engine.begin() as conn:
            _save_mark(conn, asset_id, source, vehicle_id, **values)

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Collect bookkeeping and write it in one transaction when the block ends (even
        when it ends with an error: what was collected records writes that succeeded)."""
        batch = Batch()
        try:
            yield batch
        finally:
            if batch.ops:
                with self._write, self.engine.begin() as conn:
                    for op, args, kwargs in batch.ops:
                        op(conn, *args, **kwargs)

    # -- defect ledger -----------------------------------------------------------------------

    def ledger(self) -> dict[tuple[int, str], dict[str, Any]]:
        """Every ledger row keyed by (asset, code)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(defect_ledger)).mappings().all()
        return {
            (r["asset_id"], r["code"]): {
                **r,
                "last_occurrence": utc(r["last_occurrence"]),
                "resolved_at": utc(r["resolved_at"]),
                "updated_at": utc(r["updated_at"]),
            }
            for r in rows
        }

    def save_ledger(self, asset_id: int, code: str, now: datetime, **values: Any) -> None:
        """Upsert the ledger row of (asset, code)."""
        with self._write, self.engine.begin() as conn:
            _save_ledger(conn, asset_id, code, now, **values)

    # -- runs (their leases: see leases.py) ---------------------------------------------------

    def start_run(self, pipeline: str, integration: str, now: datetime) -> int:
        """Record a run's start; returns its id."""
        with self._write, self.engine.begin() as conn:
            result = conn.execute(
                insert(runs).values(pipeline=pipeline, integration=integration, started_at=now)
            )
            key = result.inserted_primary_key
            assert key is not None  # an insert into a table with an integer primary key
            return int(key[0])

    def finish_run(self, run_id: int, outcome: str, report: dict[str, Any], now: datetime) -> None:
        """Record a run's outcome and report."""
        with self._write, self.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(finished_at=now, outcome=outcome, report=report)
            )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(limit)).mappings()
            return [
                {**r, "started_at": utc(r["started_at"]), "finished_at": utc(r["finished_at"])}
                for r in rows
            ]


class Batch:
    """Bookkeeping collected for one transaction (same calls as the Store's)."""

    def __init__(self) -> None:
        self.ops: list[tuple[Callable[..., None], tuple[Any, ...], dict[str, Any]]] = []

    def save_mark(self, asset_id: int, source: str, vehicle_id: str, **values: Any) -> None:
        """Queue a mark update."""
        self.ops.append((_save_mark, (asset_id, source, vehicle_id), values))

    def save_ledger(self, asset_id: int, code: str, now: datetime, **values: Any) -> None:
        """Queue a ledger upsert."""
        self.ops.append((_save_ledger, (asset_id, code, now), values))


def _save_mark(
    conn: Connection, asset_id: int, source: str, vehicle_id: str, **values: Any
) -> None:
    done = conn.execute(
        update(asset_marks)
        .where(asset_marks.c.asset_id == asset_id)
        .values(source=source, vehicle_id=vehicle_id, **values)
    ).rowcount
    if not done:
        conn.execute(
            insert(asset_marks).values(
                asset_id=asset_id, source=source, vehicle_id=vehicle_id, **values
            )
        )


def _save_ledger(conn: Connection, asset_id: int, code: str, now: datetime, **values: Any) -> None:
    key = and_(defect_ledger.c.asset_id == asset_id, defect_ledger.c.code == code)
    done = conn.execute(update(defect_ledger).where(key).values(updated_at=now, **values)).rowcount
    if not done:
        conn.execute(
            insert(defect_ledger).values(asset_id=asset_id, code=code, updated_at=now, **values)
        )


def _integration(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["activated_at"] = utc(data["activated_at"])
    data["updated_at"] = utc(data["updated_at"])
    return data
