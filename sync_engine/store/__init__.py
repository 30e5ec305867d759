"""The engine's store: SQLAlchemy Core tables and the queries the engine needs."""

from .store import RunBusy, Store, default_url

__all__ = ["RunBusy", "Store", "default_url"]
