"""Table definitions (SQLAlchemy Core). Created on first use."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
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

# Driver sync (R20-R26). A Driveri integration (kind ``driveri``: username = client id,
# secret = client secret) is paired with one portal integration (GPS Insight or Wex). The
# pairing row holds the tenant, the portal's webhook subscription and its signing secret
# (stored, never printed), and the Driver Sync setting as last seen (R25: an off -> on change,
# the first sighting included, triggers an adopt-first full reconcile).
driver_pairings = Table(
    "driver_pairings",
    metadata,
    Column("driveri", String(100), primary_key=True),  # the Driveri integration's name
    Column("portal", String(100), nullable=False, unique=True),  # the portal integration's name
    Column("tenant", String(200), nullable=False),
    Column("webhook_id", Integer),
    Column("webhook_secret", Text),
    Column("sync_seen_on", Boolean),  # None: never read
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# R21: portal driver id -> the Driveri driver it is synced to. ``driveri_key`` (the folded
# driverId, R20) is unique per pairing: one Driveri driver is never linked twice.
driver_links = Table(
    "driver_links",
    metadata,
    Column("driveri", String(100), primary_key=True),
    Column("portal_id", Integer, primary_key=True),
    Column("driveri_id", String(200), nullable=False),
    Column("driveri_key", String(200), nullable=False),
    Column("phone", String(100)),  # R24: the phone last pushed (Driveri never returns it)
    Column("version", Integer, nullable=False),  # R26: the last portal version applied
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("driveri", "driveri_key", name="uq_driver_links_key"),
)

# R26: every webhook event received, de-duplicated by its id; applied in the background.
webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # arrival order
    Column("event_id", String(200), nullable=False, unique=True),
    Column("portal", String(100), nullable=False),
    Column("type", String(100), nullable=False),
    Column("portal_id", Integer),
    Column("version", Integer),
    Column("payload", JSON),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),  # PENDING | APPLIED | DROPPED | IGNORED | FAILED
    Column("detail", Text),
    Column("done_at", DateTime(timezone=True)),
)
