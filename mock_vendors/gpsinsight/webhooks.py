"""Webhooks: ``webhook/create|list|pause|resume|delete``, driver events and their queues.

A mixin of :class:`~mock_vendors.gpsinsight.backend.GpsInsightBackend`; no HTTP here (the
delivery worker, ``delivery.py``, does the posting and reports each attempt back). A webhook
belongs to the user who created it: ``webhook/list`` shows the caller's (the Master User sees
the account's), and only its owner or the Master User may pause, resume or delete it (anyone
else: 404). Creating one takes a user who may change drivers [assumed: the vendor says nothing].

While the Driver Sync setting is on, every driver create (an undelete included: the same id,
a higher version), update and delete queues one event on each webhook of type ``driver``,
paused ones included. The event body is fixed text, so every attempt posts the same bytes.
At :data:`QUEUE_CAP` queued events a webhook is paused and its queue flushed, as the vendor
documents for its own queues. Subscriptions and queues live in the state (``webhooks``), so a
dump carries them, secrets included, as it carries App Tokens.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from fixtures.world import ALL_VEHICLES

from .driversync import KEY as DRIVER_SYNC
from .errors import FORBIDDEN_WEBHOOKS, forbidden, invalid, missing, not_found
from .timefmt import gmt_iso

if TYPE_CHECKING:
    from .backend import BackendCore as _Core
else:
    _Core = object

KEY = "webhooks"
FIRST_WEBHOOK_ID = 2701
QUEUE_CAP = 5_000
"""Queued events at which the vendor pauses a webhook and flushes its queue."""
BACKOFF_S = (0.5, 60.0)
"""A failed attempt waits base * 2**(attempts - 1) seconds of wall time, at most the cap."""
MAX_DOUBLINGS = 40
SCHEMA_VERSION = 1
DRIVER_TYPE = "driver"
PLATFORM_TYPES = (
    "location", "speed", "posted", "heartbeat", "trip_complete", "ignition_on", "ignition_off",
    "landmark_enter", "landmark_leave", "landmark_change", "idle", "diagnostic", "dtc", "dvir",
)  # fmt: skip
"""The official client's fourteen types: accepted, never sent (the emulator has no feed)."""
RUNNING, PAUSED = "running", "paused"
DRIVER_SECRET_RULE = "required for type driver (events are signed with it)"
DRIVER_JSON_RULE = "driver events are sent as json only"


def empty_webhooks() -> dict[str, Any]:
    """An account without webhooks."""
    return {"next_id": FIRST_WEBHOOK_ID, "subscriptions": []}


def check_webhooks(state: dict[str, Any]) -> None:
    """A dump's webhooks, when it has them: ``{"next_id": int, "subscriptions": [...]}``,
    each subscription with the fields the worker reads and a ``queue`` of events."""
    hooks = state.get(KEY)
    if hooks is None:
        return
    if not (
        isinstance(hooks, dict)
        and isinstance(hooks.get("next_id"), int)
        and isinstance(hooks.get("subscriptions"), list)
        and all(_is_subscription(sub) for sub in hooks["subscriptions"])
    ):
        raise ValueError(
            f'\'{KEY}\' must be {{"next_id": int, "subscriptions": [{{"id": int, "url", '
            '"type", "secret", "status": "running"|"paused", "queue": [{"event_id", "body", '
            '"attempts": int, "retry_at": number}], ...}]}'
        )


def _is_subscription(sub: Any) -> bool:
    return (
        isinstance(sub, dict)
        and isinstance(sub.get("id"), int)
        and all(isinstance(sub.get(key), str) for key in ("url", "type", "secret"))
        and sub.get("status") in (RUNNING, PAUSED)
        and isinstance(sub.get("queue"), list)
        and all(
            isinstance(e, dict)
            and isinstance(e.get("event_id"), str)
            and isinstance(e.get("body"), str)
            and isinstance(e.get("attempts"), int)
            and isinstance(e.get("retry_at"), int | float)
            for e in sub["queue"]
        )
    )


class WebhookService(_Core):
    """The account's webhooks, the events they queue and what the delivery worker needs."""

    # -- the API -------------------------------------------------------------------------

    def webhook_create(
        self,
        user: dict[str, Any],
        *,
        url: str,
        email: str | None,
        name: str | None,
        type: str,  # noqa: A002  (the vendor's parameter name)
        content_type: str,
        secret: str | None,
    ) -> dict[str, Any]:
        """``webhook/create``: register a callback URL for a type of data."""
        self._may_create_webhooks(user)
        kind = type.strip().lower()
        if kind not in self.webhook_types:
            raise invalid("type", f"must be one of: {', '.join(self.webhook_types)}")
        if kind == DRIVER_TYPE:
            if content_type != "json":
                raise invalid("content_type", DRIVER_JSON_RULE)
            if not secret:
                raise missing("secret")
        hooks = self._webhooks()
        sub = {
            "id": hooks["next_id"],
            "name": name or kind,
            "email": email or "",
            "url": url,
            "type": kind,
            "content_type": content_type,
            "username": user.get("username"),
            "secret": secret or "",
            "status": RUNNING,
            "total": 0,
            "queue": [],
        }
        hooks["next_id"] += 1
        hooks["subscriptions"].append(sub)
        self.touch()
        return {"registered": True, "id": sub["id"], "error": ""}

    def webhook_list(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        """``webhook/list``: the caller's webhooks (the Master User's: every one), never a
        secret."""
        return [_row(sub) for sub in self._webhooks()["subscriptions"] if _mine(user, sub)]

    def webhook_pause(self, user: dict[str, Any], *, id: int) -> dict[str, Any]:  # noqa: A002
        """``webhook/pause``: stop delivering; events keep being queued."""
        return self._set_status(user, id, PAUSED)

    def webhook_resume(self, user: dict[str, Any], *, id: int) -> dict[str, Any]:  # noqa: A002
        """``webhook/resume``: deliver again, from the oldest queued event."""
        return self._set_status(user, id, RUNNING)

    def webhook_delete(self, user: dict[str, Any], *, id: int) -> dict[str, Any]:  # noqa: A002
        """``webhook/delete``: terminate the webhook; its queued events are dropped."""
        sub = self._own_webhook(user, id)
        self._webhooks()["subscriptions"].remove(sub)
        self.touch()
        return {"success": True, "id": str(id)}

    # -- events --------------------------------------------------------------------------

    def driver_changed(self, kind: str, driver: dict[str, Any]) -> None:
        """Queue ``driver.<kind>`` for ``driver`` (its list row) on every driver webhook,
        while Driver Sync is on."""
        if not (self.state.get(DRIVER_SYNC) or {}).get("enabled"):
            return
        subs = [s for s in self._webhooks()["subscriptions"] if s.get("type") == DRIVER_TYPE]
        if not subs:
            return
        event_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "schema": SCHEMA_VERSION,
                "event_id": event_id,
                "type": f"driver.{kind}",
                "occurred_at": gmt_iso(self.now()).replace("+00:00", "Z"),
                "account": self.state["account"].get("name"),
                "driver": driver,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        for sub in subs:
            sub["total"] = int(sub.get("total") or 0) + 1
            sub["queue"].append(
                {"event_id": event_id, "body": body, "attempts": 0, "retry_at": 0.0}
            )
            if len(sub["queue"]) >= self.webhook_queue_cap:
                sub["status"] = PAUSED  # the vendor's rule: paused, and the queue flushed
                sub["queue"].clear()
        self.touch()
        self.wake_delivery()

    # -- what the delivery worker asks (under the lock, never while posting) --------------

    def webhook_due(self, wall_now: float) -> list[dict[str, Any]]:
        """The head event of each running webhook whose next attempt is due: what to post
        (``id``, ``url``, ``secret``, ``event_id``, ``body``, ``attempt``, its number)."""
        due = []
        for sub in self._webhooks()["subscriptions"]:
            queue = sub["queue"]
            if sub.get("status") == RUNNING and queue and queue[0]["retry_at"] <= wall_now:
                head = queue[0]
                due.append(
                    {
                        "id": sub["id"],
                        "url": sub["url"],
                        "secret": sub["secret"],
                        "event_id": head["event_id"],
                        "body": head["body"],
                        "attempt": int(head["attempts"]) + 1,
                    }
                )
        return due

    def webhook_next_due(self) -> float | None:
        """Wall time of the earliest next attempt; None when nothing waits to be delivered."""
        times = [
            float(sub["queue"][0]["retry_at"])
            for sub in self._webhooks()["subscriptions"]
            if sub.get("status") == RUNNING and sub["queue"]
        ]
        return min(times, default=None)

    def webhook_attempted(self, sub_id: int, event_id: str, ok: bool, wall_now: float) -> None:
        """An attempt's outcome: a 2xx dequeues the event; anything else re-queues it with
        backoff. Ignored when the webhook or the event is gone (deleted, reset, restored)."""
        sub = next((s for s in self._webhooks()["subscriptions"] if s["id"] == sub_id), None)
        if sub is None or not sub["queue"] or sub["queue"][0]["event_id"] != event_id:
            return
        head = sub["queue"][0]
        if ok:
            sub["queue"].pop(0)
        else:
            head["attempts"] = int(head["attempts"]) + 1
            base, cap = self.webhook_backoff_s
            doublings = min(int(head["attempts"]) - 1, MAX_DOUBLINGS)  # 2**n stays a float
            head["retry_at"] = wall_now + min(cap, base * 2**doublings)
        self.touch()

    # -- helpers -------------------------------------------------------------------------

    def _webhooks(self) -> dict[str, Any]:
        hooks = self.state.get(KEY)
        if hooks is None:  # a dump from before webhooks existed
            hooks = self.state[KEY] = empty_webhooks()
        return hooks  # type: ignore[no-any-return]

    def _may_create_webhooks(self, user: dict[str, Any]) -> None:
        if not (user.get("master") or ALL_VEHICLES in (user.get("vehicle_groups") or [])):
            raise forbidden(FORBIDDEN_WEBHOOKS)

    def _own_webhook(self, user: dict[str, Any], sub_id: int) -> dict[str, Any]:
        for sub in self._webhooks()["subscriptions"]:
            if sub["id"] == sub_id and _mine(user, sub):
                return sub  # type: ignore[no-any-return]
        raise not_found("Webhook not found")

    def _set_status(self, user: dict[str, Any], sub_id: int, status: str) -> dict[str, Any]:
        sub = self._own_webhook(user, sub_id)
        sub["status"] = status
        self.touch()
        if status == RUNNING and sub["queue"]:
            self.wake_delivery()
        return {"success": True, "id": str(sub_id)}

    def check_state(self, state: dict[str, Any]) -> None:
        """The webhooks' shape, when a dump has them."""
        check_webhooks(state)
        super().check_state(state)

    def restored(self) -> None:
        """A restored dump may hold queued events: let the worker look."""
        super().restored()
        self.wake_delivery()


def _mine(user: dict[str, Any], sub: dict[str, Any]) -> bool:
    return bool(user.get("master")) or sub.get("username") == user.get("username")


def _row(sub: dict[str, Any]) -> dict[str, Any]:
    """A webhook as ``webhook/list`` answers it (the vendor's names; never the secret)."""
    return {
        "id": sub["id"],
        "name": str(sub.get("name") or sub["type"]),
        "email": str(sub.get("email") or ""),
        "url": sub["url"],
        "type": sub["type"],
        "content_type": str(sub.get("content_type") or "json"),
        "username": str(sub.get("username") or ""),
        "status": sub["status"],
        "total": int(sub.get("total") or 0),
        "queue_depth": len(sub["queue"]),
    }
