"""The pinned OpenAPI contract of a vendor, as ``GET /<vendor>/_mock/openapi.json`` serves it.

The contracts live in ``contracts/`` at the repository root (beside ``mock_vendors/``), which
is where an editable install (``pip install -e .``, what ``make`` does) finds them too. Each
is served with ``servers`` naming the mount it is served under, as an absolute URL, so
``schemathesis run http://127.0.0.1:8100/<vendor>/_mock/openapi.json`` tests that very
emulator.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"

# A vendor built from another's package serves that vendor's contract.
CONTRACT_OF = {"wex": "gpsinsight"}


def contract_name(vendor: str) -> str:
    """The contract file stem a vendor is held to."""
    return CONTRACT_OF.get(vendor, vendor)


@functools.cache
def _load(name: str) -> dict[str, Any]:
    path = CONTRACTS_DIR / f"{name}.openapi.json"
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def served_contract(vendor: str, mount_url: str) -> dict[str, Any]:
    """The vendor's contract with ``servers`` set to ``mount_url`` (its own mount, absolute)
    plus whatever path the contract's own server adds below the mount (Whip Around's
    ``/api/public/v4``). FileNotFoundError when the contracts are not installed."""
    document = copy.deepcopy(_load(contract_name(vendor)))
    servers = document.get("servers") or [{"url": f"/{vendor}"}]
    chosen = next(
        (s for s in servers if _first_segment(s.get("url", "")) == vendor),
        servers[0],
    )
    below = _below_mount(chosen.get("url", ""))
    server = {**chosen, "url": mount_url.rstrip("/") + below}
    document["servers"] = [server]
    return document


def _first_segment(url: str) -> str:
    return url.lstrip("/").split("/", 1)[0]


def _below_mount(url: str) -> str:
    """``/whiparound/api/public/v4`` -> ``/api/public/v4``; ``/gpsinsight`` -> ``""``."""
    rest = url.lstrip("/").split("/", 1)
    return "/" + rest[1] if len(rest) == 2 and rest[1] else ""
