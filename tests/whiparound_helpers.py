"""Calls and assertions shared by the Whip Around test modules."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client, TestResponse

BASE = "/whiparound/api/public/v4"
INVALID = "The given data was invalid."


class Api:
    """Calls to the Whip Around emulator with one of its keys."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.credentials = client.get("/whiparound/_mock/credentials").json["keys"]
        self.keys = {k["type"]: k["key"] for k in self.credentials}

    def __call__(
        self, method: str, path: str, *, key: str | None = "integration", **kwargs: Any
    ) -> TestResponse:
        """``method`` on ``BASE + path`` with the key of that type (or that literal key) in
        ``x-api-key``; ``key=None`` sends none."""
        headers = dict(kwargs.pop("headers", {}))
        if key:
            headers["x-api-key"] = self.keys.get(key, key)
        return self.client.open(BASE + path, method=method, headers=headers, **kwargs)

    def assets(self) -> list[dict[str, Any]]:
        """Every asset, read through the API."""
        return self("GET", "/assets", query_string={"limit": 1000}).json["data"]

    def asset(self, asset_id: int) -> dict[str, Any]:
        """One asset, read through the API."""
        return self("GET", f"/assets/{asset_id}").json["data"]

    def journal(self) -> list[dict[str, Any]]:
        """The vendor's journal entries, oldest first."""
        return self.client.get("/whiparound/_mock/journal").json["entries"]


def invalid(response: TestResponse, errors: dict[str, list[str]]) -> None:
    """A Laravel 422 with exactly these field errors."""
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json == {"message": INVALID, "errors": errors}


def error(response: TestResponse, status: int, message: str) -> None:
    """A Laravel ``{message}`` error, as JSON."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json == {"message": message}
