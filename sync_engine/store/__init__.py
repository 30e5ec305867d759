"""The engine's store: SQLAlchemy Core tables and the queries the engine needs."""

from .leases import ABANDONED, Lease, LeaseKeeper, LeaseLost, RunBusy
from .store import Store, default_url

__all__ = ["ABANDONED", "Lease", "LeaseKeeper", "LeaseLost", "RunBusy", "Store", "default_url"]
