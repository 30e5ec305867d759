"""Whip Around public API v4: assets, telematics writes and DTC defects."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import requests

from ..model import Asset, Defect, Vin, canonical_code
from .base import (
    BaseClient,
    Outcome,
    Page,
    Reply,
    json_body,
    parse_retry_after,
    parse_time,
    whole_listing,
)

PAGE_LIMIT = 1000


class WhipAroundClient(BaseClient):
    """One Whip Around account, authenticated by an ``x-api-key``."""

    vendor = "whiparound"

    def __init__(self, base_url: str, api_key: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._api_key = api_key
        self.session.headers["x-api-key"] = api_key
        self.session.headers["Accept"] = "application/json"

    def __repr__(self) -> str:  # never show the key
        return f"WhipAroundClient({self.base_url!r})"

    def secrets(self) -> tuple[str | None, ...]:
        """The API key."""
        return (self._api_key,)

    def classify(self, response: requests.Response) -> Reply:
        """Laravel style: the HTTP status is the truth, ``message`` explains it."""
        body = json_body(response)
        status = response.status_code
        if 200 <= status < 300:
            if body is None and status != 204:
                return Reply(Outcome.RETRIABLE, status, None, "answer is not JSON")
            return Reply(Outcome.OK, status, body)
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in (401, 403):
            outcome = Outcome.AUTH
        elif status == 429 or status >= 500:
            outcome = Outcome.RETRIABLE
        else:
            outcome = Outcome.FATAL
        return Reply(outcome, status, body, message or response.reason or "", retry_after)

    def _pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a paged collection (one pagination helper for the vendor), from a
        walk during which the collection held still (see ``whole_listing``)."""

        def walk() -> Iterator[Page]:
            page = 1
            while True:
                body = self.send(
                    "GET", path, read=True, params={**params, "page": page, "limit": PAGE_LIMIT}
                ).body
                data = body.get("data") or []
                items = [item for item in data if isinstance(item, dict)]
                pagination = body.get("pagination") or {}
                total = int(pagination.get("total") or len(items))
                yield Page(items, len(data), total)
                if page >= int(pagination.get("last_page") or 1):
                    return
                page += 1

        return whole_listing(self.vendor, path, walk, lambda item: item.get("id"))

    def assets(self) -> list[Asset]:
        """Every asset."""
        return [_asset(row) for row in self._pages("assets", {})]

    def defects(self, asset_id: int | None = None) -> list[Defect]:
        """DTC defects, optionally of one asset."""
        params = {"asset_id": asset_id} if asset_id is not None else {}
        return [_defect(row) for row in self._pages("defects", params) if row.get("dtc_code")]

    def post_mileage(self, asset_id: int, value: float, unit: str, at: datetime) -> None:
        """Record an odometer reading in ``unit`` (mi | km)."""
        self.send(
            "POST",
            f"assets/{asset_id}/mileage",
            read=False,
            json={"value": round(value, 1), "unit": unit, "recorded_at": iso(at)},
        )

    def post_location(self, asset_id: int, latitude: float, longitude: float, at: datetime) -> None:
        """Record a position."""
        self.send(
            "POST",
            f"assets/{asset_id}/location",
            read=False,
            json={"latitude": latitude, "longitude": longitude, "recorded_at": iso(at)},
        )

    def post_dtc_defect(
        self, asset_id: int, code: str, description: str, occurred_at: datetime
    ) -> Defect:
        """Report a DTC: opens a defect, or raises ``repeated_times`` of the open one."""
        reply = self.send(
            "POST",
            f"assets/{asset_id}/dtc-defects",
            read=False,
            json={"code": code, "description": description, "occurred_at": iso(occurred_at)},
        )
        body = reply.body.get("data", reply.body) if isinstance(reply.body, dict) else {}
        return _defect(body)


def iso(when: datetime) -> str:
    """UTC, whole seconds, ``Z`` (Whip Around refuses fractional seconds)."""
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _asset(row: dict[str, Any]) -> Asset:
    raw_location = row.get("location")
    location: dict[str, Any] = raw_location if isinstance(raw_location, dict) else {}
    odometer = row.get("odometer")
    return Asset(
        id=int(row["id"]),
        name=str(row.get("name") or ""),
        vin=Vin.parse(row.get("vin")),
        odometer=float(odometer) if isinstance(odometer, int | float) else None,
        odometer_unit=row.get("odometer_unit"),
        location_at=parse_time(location.get("recorded_at")),
    )


def _defect(row: dict[str, Any]) -> Defect:
    return Defect(
        id=int(row.get("id") or 0),
        asset_id=int(row.get("asset_id") or 0),
        code=canonical_code(str(row.get("dtc_code") or "")),
        status=str(row.get("status") or ""),
        repeated_times=int(row.get("repeated_times") or 0),
        updated_at=parse_time(row.get("updated_at")),
    )
