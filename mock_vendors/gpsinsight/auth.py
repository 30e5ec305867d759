"""Sessions and App Tokens: ``userauth/*``, the daily quota and ``apiapp/*``.

A mixin of :class:`~mock_vendors.gpsinsight.backend.GpsInsightBackend`. Tokens come in as
string values; the RPC dispatcher reads them from the request.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import FORBIDDEN_LOGIN, FORBIDDEN_OTHER_USER, forbidden, not_found, too_many_requests

if TYPE_CHECKING:
    from .backend import BackendCore as _Core
else:
    _Core = object

QUOTA_WINDOW_S = 86_400


class Caller(NamedTuple):
    """Who is calling: the session's user and the session itself."""

    user: dict[str, Any]
    session: dict[str, Any]


class AuthService(_Core):
    """Logins, sessions, the rolling quota and the account's App Tokens."""

    def session_of(self, token: str | None) -> dict[str, Any] | None:
        """The session a token names, alive or not (None if there is none)."""
        return self.sessions.get(token) if token else None

    def app_id_of(self, token: str | None) -> str | None:
        """The journal's non-secret id of the App Token behind a session, if any."""
        session = self.session_of(token)
        return session.get("app_id") if session else None

    def authenticate(self, token: str | None) -> Caller:
        """The caller of a session token, counting the request; 403 if it is not alive."""
        now = self.now()
        session = self.session_of(token)
        if session is None:
            raise forbidden()
        if now >= session["expires_at"] or now < session["started_at"] - 1:
            self.sessions.pop(token, None)  # type: ignore[arg-type]
            raise forbidden()
        user = self.state["users"].get(session["username"])
        if not isinstance(user, dict):
            raise forbidden()
        self.charge_quota(session["username"], now)
        session["request_count"] += 1
        return Caller(user, session)

    def charge_quota(self, username: str, now: float) -> None:
        """Count one request against the user's rolling 24-hour quota (when one is set)."""
        if self.daily_quota <= 0:
            return
        # Bookkeeping only: no answer depends on the log, so the state version stays put
        # (bumping it would throw away every cached answer on every request).
        log = self.state.setdefault("quota_log", {}).setdefault(username, [])
        while log and log[0] <= now - QUOTA_WINDOW_S:
            log.pop(0)
        if len(log) >= self.daily_quota:
            raise too_many_requests(max(1.0, log[0] + QUOTA_WINDOW_S - now))
        log.append(now)

    def expire_session(self, token: str | None) -> None:
        """End a session at once (the ``expire_session`` fault)."""
        if token:
            with self.lock:
                self.sessions.pop(token, None)

    def login(
        self,
        *,
        username: str,
        app_token: str | None,
        password: str | None,
        user_context: str | None,
    ) -> dict[str, str]:
        """``userauth/login``: username with an App Token or a password -> session token.

        ``user_context`` names the user the session acts as (``head.context``): the Master
        User may name any user of the account, anyone else only itself."""
        user = self.state["users"].get(username)
        app = self.state["apps"].get(app_token) if app_token is not None else None
        if app_token is not None:
            ok = (
                isinstance(user, dict)
                and isinstance(app, dict)
                and app.get("username") == username
                and bool(app.get("active"))
            )
        else:
            ok = isinstance(user, dict) and secrets.compare_digest(
                str(user.get("password", "")).encode(), str(password).encode()
            )
        if not ok:
            raise forbidden(FORBIDDEN_LOGIN)
        context = username
        if user_context is not None and user_context != username:
            if not user.get("master"):  # type: ignore[union-attr]
                raise forbidden(FORBIDDEN_OTHER_USER)
            if not isinstance(self.state["users"].get(user_context), dict):
                raise forbidden(FORBIDDEN_LOGIN)
            context = user_context
        now = self.now()
        self.charge_quota(username, now)
        self.purge_sessions(now)
        token = secrets.token_hex(16)
        self.sessions[token] = {
            "username": context,
            "app_id": app.get("id") if app else None,
            "started_at": now,
            "expires_at": now + self.session_ttl_s,
            "request_count": 1,
        }
        self.session_expiry.append((now + self.session_ttl_s, token))
        return {"token": token}

    def purge_sessions(self, now: float) -> None:
        """Forget the sessions that have expired: amortised O(1) per login, so memory stays
        bounded by the logins of one session lifetime however long the emulator runs.

        Sessions expire in login order (one lifetime for all), so the queue's head is the
        next to go; one that ended early (logout, rotation) is simply gone already."""
        queue = self.session_expiry
        while queue and queue[0][0] <= now:
            _, token = queue.popleft()
            session = self.sessions.get(token)
            if session is not None and session["expires_at"] <= now:
                del self.sessions[token]

    def logout(self, token: str | None) -> str:
        """``userauth/logout``: end the session (the dispatcher has authenticated it)."""
        self.expire_session(token)
        return "logged out"

    # -- App Tokens ----------------------------------------------------------------------

    def apiapp_create(
        self, user: dict[str, Any], *, app_name: str, username: str | None, description: str
    ) -> list[dict[str, str]]:
        """``apiapp/create``: a new App Token for yourself (or, as Master, another user)."""
        owner = self.acting_user(user, username)
        token = self._new_app_token()
        self.state["apps"][token] = {
            "id": self._next_app_id(),
            "app_name": app_name,
            "description": description,
            "username": owner.get("username"),
            "active": True,
        }
        self.touch()
        return [{"app_id": token}]

    def apiapp_list(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        """``apiapp/list``: every token of the account for the Master User, yours otherwise."""
        me = user.get("username")
        return [
            {
                "app_id": token,
                "app_name": app.get("app_name"),
                "app_token": token,
                "description": app.get("description"),
                "username": app.get("username"),
                "active": 1 if app.get("active") else 0,
            }
            for token, app in self.state["apps"].items()
            if user.get("master") or app.get("username") == me
        ]

    def apiapp_update(
        self,
        user: dict[str, Any],
        *,
        app_token: str,
        active: bool | None,
        new_app_token: bool | None,
        app_name: str | None,
        description: str | None,
        username: str | None,
    ) -> list[dict[str, str]]:
        """``apiapp/update``: (de)activate, rotate, rename, give to another user (Master
        User only). Sessions made from a deactivated, rotated or reassigned token end at
        once."""
        token = app_token
        app = self.state["apps"].get(token)
        if not isinstance(app, dict) or not (
            user.get("master") or app.get("username") == user.get("username")
        ):
            raise not_found("App token not found")
        owner = None if username is None else self.acting_user(user, username)
        for key, value in (("app_name", app_name), ("description", description)):
            if value is not None:
                app[key] = value
        ended = False
        if owner is not None and owner.get("username") != app.get("username"):
            app["username"] = owner.get("username")
            ended = True
        if active is not None:
            ended = bool(app.get("active")) and not active
            app["active"] = active
        if new_app_token:
            del self.state["apps"][token]
            token = self._new_app_token()
            self.state["apps"][token] = app
            ended = True
        if ended:
            self._end_sessions_of(app.get("id"))
        self.touch()
        return [{"app_id": token}]

    def _end_sessions_of(self, app_id: Any) -> None:
        for token in [t for t, s in self.sessions.items() if s.get("app_id") == app_id]:
            del self.sessions[token]

    def _new_app_token(self) -> str:
        while True:
            token = secrets.token_hex(7)[:13]
            if token not in self.state["apps"]:
                return token

    def _next_app_id(self) -> str:
        used = {str(a.get("id")) for a in self.state["apps"].values() if isinstance(a, dict)}
        n = len(used) + 1
        while f"app-{n}" in used:
            n += 1
        return f"app-{n}"
