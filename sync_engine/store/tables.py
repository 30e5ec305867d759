"""Table definitions (SQLAlchemy Core). Created on first use."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

integrations = Table(
    "integrations",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),  # gpsinsight | wex | whiparound
    Column("base_url", Text, nullable=False),
    Column("username", String(200)),
    Column("secret", Text, nullable=False),  # App Token or API key: stored, never printed
    Column("activated_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# R14 / R15: what was last accepted and written per asset, so replays write nothing.
asset_marks = Table(
    "asset_marks",
    metadata,
    Column("asset_id", Integer, primary_key=True),
    Column("source", String(100), nullable=False),
    Column("vehicle_id", String(100), nullable=False),
    Column("last_fix_at", DateTime(timezone=True)),
    Column("odometer_mi", Float),
    Column("odometer_at", DateTime(timezone=True)),
)

# R16-R18: one row per (asset, canonical code).
defect_ledger = Table(
    "defect_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("asset_id", Integer, nullable=False),
    Column("code", String(64), nullable=False),
    Column("defect_id", Integer),
    Column("status", String(40)),
    Column("last_occurrence", DateTime(timezone=True)),
    Column("posted_day", String(10)),  # the vendor day of the last post (YYYY-MM-DD)
    Column("resolved_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("asset_id", "code", name="uq_ledger_asset_code"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("integration", String(100), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline", String(40), nullable=False),
    Column("integration", String(100), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", String(10)),
    Column("report", JSON),
)

# One run lease per (pipeline, integration). ``generation`` is the fencing token: every
# acquisition adds one, and every renewal or release names the generation it holds, so a
# holder that was taken over can change nothing. A free lease has no holder.
leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(100)),
    Column("generation", Integer, nullable=False),
    Column("run_id", Integer),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Engine-wide settings, one row per key (e.g. ``engine_clock``: which clock the engine runs
# on). Like every table here it is created when a store is opened, so older stores gain it.
settings = Table(
    "settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)
