"""``fleetsim integrations|sync|runs``: the sync engine's commands."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
import requests

from sync_engine.clients.base import VendorError
from sync_engine.clients.gpsinsight import GpsInsightClient
from sync_engine.clients.whiparound import WhipAroundClient
from sync_engine.clock import ClockConfigError, engine_clock
from sync_engine.engine import ConfigError, Engine
from sync_engine.report import EXIT_CODES, Report
from sync_engine.store import ABANDONED, Store

DEFAULT_BASE = "http://127.0.0.1:8100"
DEFAULT_URLS = {
    "gpsinsight": f"{DEFAULT_BASE}/gpsinsight",
    "wex": f"{DEFAULT_BASE}/wex",
    "whiparound": f"{DEFAULT_BASE}/whiparound/api/public/v4",
    "driveri": f"{DEFAULT_BASE}/driveri",
}
PORTAL_KINDS = ("gpsinsight", "wex")
WEBHOOK_PATH = "/webhooks/gpsinsight/{portal}"  # fleetsim/engine_api.py's receiver
CHECK_TIMEOUT = (3.05, 10.0)


def clock_of(store: Store) -> Callable[[], datetime]:
    """The engine's clock for ``store`` (see sync_engine.clock); a bad FLEETSIM_ENGINE_CLOCK
    or recorded choice is a usage error, said before anything is done."""
    try:
        return engine_clock(store)
    except ClockConfigError as exc:
        raise click.ClickException(str(exc)) from None


def add_integration(
    store: Store,
    kind: str,
    *,
    name: str | None = None,
    base_url: str | None = None,
    username: str | None = None,
    secret: str,
) -> str:
    """Validate credentials against the vendor, then store them, activated at the engine's
    clock's now. Returns the name."""
    now = clock_of(store)
    url = (base_url or DEFAULT_URLS[kind]).rstrip("/")
    if kind == "whiparound":
        WhipAroundClient(url, secret).assets()  # reads one page set: proves the key works
    else:
        if not username:
            raise click.UsageError("--username is required for GPS Insight and Wex")
        GpsInsightClient(url, username, secret).login()
    name = name or kind
    store.save_integration(name, kind, url, secret, now(), username=username)
    return name


def receiver_url(portal: str, engine_url: str | None = None) -> str:
    """The engine's webhook receiver for ``portal``: under ``engine_url``, else on this
    machine at the engine's port (FLEETSIM_ENGINE_PORT, default 8200)."""
    if engine_url is None:
        from fleetsim.engine_child import engine_address, healthz_url

        engine_url = healthz_url(*engine_address()).removesuffix("/healthz")
    return engine_url.rstrip("/") + WEBHOOK_PATH.format(portal=portal)


def check_driveri(base_url: str, client_id: str, client_secret: str) -> None:
    """Prove the client credentials by listing the client's tokens (Basic auth; lists, never
    issues one, so the vendor's two-token cap is not touched)."""
    url = f"{base_url}/v1/auth/tokens"
    try:
        response = requests.get(url, auth=(client_id, client_secret), timeout=CHECK_TIMEOUT)
    except requests.RequestException as exc:
        raise click.ClickException(f"Driveri unreachable at {url}: {type(exc).__name__}") from None
    if response.status_code == 401:
        raise click.ClickException(
            f"Driveri refused the client id or client secret (401 from {url})"
        )
    if response.status_code != 200:
        raise click.ClickException(f"Driveri answered {response.status_code} from {url}")


@dataclass
class Subscription:
    """The portal's webhook subscription the engine's receiver gets driver events from."""

    id: int
    url: str
    replaced: list[int]


def portal_client(portal: dict[str, Any]) -> GpsInsightClient:
    """The client of a stored GPS Insight / Wex integration."""
    return GpsInsightClient(portal["base_url"], portal["username"] or "", portal["secret"])


def subscribe(
    store: Store, driveri: str, portal: dict[str, Any], url: str, now: datetime
) -> Subscription:
    """(Re)subscribe the receiver at ``url`` to the portal's driver events with a new
    secret. The stored subscription, and any other of ours to the same URL, is deleted
    first: a re-run never leaves two subscriptions posting the same events."""
    client = portal_client(portal)
    pairing = store.pairing(driveri)
    stale = {pairing["webhook_id"]} if pairing and pairing["webhook_id"] else set()
    stale |= {
        w["id"] for w in client.webhooks() if w.get("url") == url and w.get("type") == "driver"
    }
    replaced = []
    for old in sorted(stale):
        try:
            client.webhook_delete(old)
            replaced.append(old)
        except VendorError as exc:
            if exc.status != 404:  # already gone: nothing to replace
                raise
    secret = secrets.token_urlsafe(32)
    try:
        webhook_id = client.webhook_create(url, f"fleetsim driver sync ({driveri})", secret)
    except VendorError as exc:
        message = str(exc).replace(secret, "[redacted]")  # the client redacts it too
        raise click.ClickException(
            f"the portal refused the webhook subscription: {message} (the pairing is saved: "
            "re-run with a portal user who may change drivers, or pass --no-subscribe)"
        ) from None
    store.save_webhook(driveri, webhook_id, secret, now)
    return Subscription(webhook_id, url, replaced)


def unsubscribe(portal: dict[str, Any] | None, webhook_id: int) -> None:
    """Best effort: delete a subscription of a portal the tenant is no longer paired with
    (its events would be refused anyway: the receiver no longer knows that portal)."""
    if portal is None:
        return
    try:
        portal_client(portal).webhook_delete(webhook_id)
    except VendorError as exc:  # said, not fatal: the new pairing is already saved
        click.echo(
            f"note: webhook #{webhook_id} on portal {portal['name']!r} was not deleted ({exc}); "
            "delete it there by hand",
            err=True,
        )


def add_driveri(
    store: Store,
    *,
    client_id: str,
    client_secret: str,
    tenant: str,
    portal: str,
    name: str = "driveri",
    base_url: str | None = None,
    subscribe_url: str | None = None,
) -> Subscription | None:
    """Pair a Driveri tenant with a GPS Insight / Wex integration: check the portal
    integration and the client credentials, store the integration and the pairing, then
    (when ``subscribe_url`` is given) subscribe that receiver to the portal's driver events."""
    now = clock_of(store)
    url = (base_url or DEFAULT_URLS["driveri"]).rstrip("/")
    portal_row = store.integration(portal)
    if portal_row is None:
        raise click.ClickException(
            f"no portal integration named {portal!r}: add it first with "
            "`fleetsim integrations add gpsinsight` (or wex)"
        )
    if portal_row["kind"] not in PORTAL_KINDS:
        raise click.ClickException(
            f"integration {portal!r} is {portal_row['kind']}, not GPS Insight or Wex: "
            "drivers sync from a GPS Insight or Wex portal"
        )
    other = store.pairing_for_portal(portal)
    if other is not None and other["driveri"] != name:
        raise click.ClickException(
            f"portal {portal!r} is already paired with Driveri integration {other['driveri']!r}"
        )
    existing = store.integration(name)
    if existing is not None and existing["kind"] != "driveri":
        raise click.ClickException(f"integration {name!r} exists and is {existing['kind']}")
    check_driveri(url, client_id, client_secret)
    before = store.pairing(name)
    store.save_integration(name, "driveri", url, client_secret, now(), username=client_id)
    store.save_pairing(name, portal, tenant, now())
    if before is not None and before["portal"] != portal and before["webhook_id"]:
        unsubscribe(store.integration(before["portal"]), before["webhook_id"])
    if subscribe_url is None:
        return None
    return subscribe(store, name, portal_row, subscribe_url, now())


def driver_sync_note(portal: dict[str, Any]) -> str | None:
    """A hint when the portal's Driver Sync setting is off (None when on or unreadable)."""
    try:
        enabled = portal_client(portal).driver_sync_enabled()
    except VendorError:
        return None
    if enabled:
        return None
    return (
        "Driver Sync is off in the portal: nothing reaches Driveri until the account's "
        "Master User turns it on (driverisync/update enabled=1)"
    )


@click.group("integrations")
def integrations() -> None:
    """Vendor accounts the engine syncs (credentials are stored, never shown)."""


@integrations.command("add")
@click.argument("kind", type=click.Choice(["gpsinsight", "wex", "whiparound", "driveri"]))
@click.option("--username", help="GPS Insight / Wex API username.")
@click.option("--app-token", help="GPS Insight / Wex App Token.")
@click.option("--api-key", help="Whip Around integration API key.")
@click.option("--client-id", help="Driveri API client id.")
@click.option("--client-secret", help="Driveri API client secret.")
@click.option("--tenant", help="Driveri tenant the drivers are synced to.")
@click.option("--portal", help="Driveri: the GPS Insight / Wex integration drivers come from.")
@click.option(
    "--engine-url",
    help="Driveri: base URL of `fleetsim engine` the portal posts driver events to "
    "(default http://127.0.0.1:<FLEETSIM_ENGINE_PORT or 8200>).",
)
@click.option("--no-subscribe", is_flag=True, help="Driveri: do not subscribe to the webhooks.")
@click.option("--base-url", "--url", help="Vendor base URL (default: the local fleetsim stack).")
@click.option("--name", help="Integration name (default: the kind).")
def add(
    kind: str,
    username: str | None,
    app_token: str | None,
    api_key: str | None,
    client_id: str | None,
    client_secret: str | None,
    tenant: str | None,
    portal: str | None,
    engine_url: str | None,
    no_subscribe: bool,
    base_url: str | None,
    name: str | None,
) -> None:
    """Check the credentials by calling the vendor, then store the integration.

    Driveri: `add driveri --client-id ID --client-secret S --tenant T --portal NAME` pairs
    the tenant with a GPS Insight / Wex integration and subscribes the engine's webhook
    receiver to the portal's driver events (a re-run replaces the subscription)."""
    if kind == "driveri":
        add_driveri_command(
            client_id, client_secret, tenant, portal, name, base_url, engine_url, no_subscribe
        )
        return
    secret = api_key if kind == "whiparound" else app_token
    if not secret:
        raise click.UsageError(
            "--api-key is required for whiparound" if kind == "whiparound"
            else "--app-token is required for gpsinsight and wex"
        )  # fmt: skip
    try:
        stored = add_integration(
            Store(), kind, name=name, base_url=base_url, username=username, secret=secret
        )
    except VendorError as exc:
        raise click.ClickException(f"credentials refused or vendor unreachable: {exc}") from None
    click.echo(f"integration {stored!r} ({kind}) added")


def add_driveri_command(
    client_id: str | None,
    client_secret: str | None,
    tenant: str | None,
    portal: str | None,
    name: str | None,
    base_url: str | None,
    engine_url: str | None,
    no_subscribe: bool,
) -> None:
    """`integrations add driveri`: what it needs, then :func:`add_driveri`."""
    needed = {"--client-id": client_id, "--client-secret": client_secret, "--tenant": tenant,
              "--portal": portal}  # fmt: skip
    missing = [option for option, value in needed.items() if not value]
    if missing:
        raise click.UsageError(f"{', '.join(missing)} required for driveri")
    assert client_id and client_secret and tenant and portal  # checked just above
    store = Store()
    target = None if no_subscribe else receiver_url(portal, engine_url)
    try:
        subscription = add_driveri(
            store, client_id=client_id, client_secret=client_secret, tenant=tenant,
            portal=portal, name=name or "driveri", base_url=base_url, subscribe_url=target,
        )  # fmt: skip
    except VendorError as exc:
        raise click.ClickException(f"the portal refused or is unreachable: {exc}") from None
    stored = name or "driveri"
    click.echo(f"integration {stored!r} (driveri) added, tenant {tenant!r} paired with {portal!r}")
    if subscription is not None:
        replaced = f", replacing #{', #'.join(map(str, subscription.replaced))}"
        click.echo(
            f"webhook #{subscription.id} subscribed: driver events to {subscription.url}"
            + (replaced if subscription.replaced else "")
        )
    portal_row = store.integration(portal)
    note = driver_sync_note(portal_row) if portal_row else None
    if note:
        click.echo(note)


@integrations.command("list")
def list_integrations() -> None:
    """Stored integrations, without their secrets."""
    rows = Store().integrations()
    if not rows:
        click.echo("no integrations yet: see `fleetsim integrations add --help`")
    for row in rows:
        user = f" user {row['username']}" if row["username"] else ""
        click.echo(
            f"{row['name']:<14} {row['kind']:<11} {row['base_url']}{user}  "
            f"activated {row['activated_at']:%Y-%m-%d %H:%M:%S}Z"
        )


@click.group("sync")
def sync() -> None:
    """Run a pipeline once and print its report."""


@sync.command("telematics")
@click.option("--integration", help="Only this telematics integration.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as a JSON array.")
def sync_telematics(integration: str | None, as_json: bool) -> None:
    """Telematics (GPS Insight, Wex) -> Whip Around. Exit 0 SUCCESS, 1 PARTIAL, 2 FAILED.

    One run per integration at a time, on any number of hosts sharing the store: a run holds a
    lease it renews while it works; a killed run's lease is taken over once it expired
    (FLEETSIM_LEASE_TTL_S, default 30 s) and the killed run is listed as ABANDONED.

    The engine runs on the store's recorded clock (real time unless `make run` recorded its
    stack's virtual clock); FLEETSIM_ENGINE_CLOCK=real|stack:<base url> overrides it."""
    store = Store()
    clock = clock_of(store)
    try:
        engine = Engine(store, clock=clock)
        reports = engine.sync_telematics(integration)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2, default=str))
    else:
        click.echo("\n".join(render(r) for r in reports))
    raise SystemExit(EXIT_CODES[engine.worst_outcome(reports)])


@click.command("runs")
@click.option("--limit", default=20, show_default=True)
def runs(limit: int) -> None:
    """Past runs, newest first (RUNNING: under way; ABANDONED: its engine stopped renewing
    the run's lease, which another run took over)."""
    for run in Store().runs(limit):
        report = run.get("report") or {}
        summary = " ".join(f"{k}={v}" for k, v in report.get("counts", {}).items() if v)
        if run["outcome"] == ABANDONED:
            summary = f"{summary} abandoned {run['finished_at']:%Y-%m-%d %H:%M:%S}Z".lstrip()
            if report.get("taken_over_by_run"):
                summary += f", taken over by run #{report['taken_over_by_run']}"
        click.echo(
            f"#{run['id']:<4} {run['started_at']:%Y-%m-%d %H:%M:%S}Z {run['pipeline']:<10} "
            f"{run['integration']:<12} {run['outcome'] or 'RUNNING':<9} {summary}"
        )


def render(report: Report) -> str:
    """A run report for a terminal."""
    data: dict[str, Any] = report.as_dict()
    lines = [f"{data['pipeline']} run for {data['integration']}: {data['outcome']}"]
    lines.append("  " + "  ".join(f"{k} {v}" for k, v in data["counts"].items()))
    for title, key in (("skipped", "skips"), ("anomalies", "anomalies"), ("warnings", "warnings")):
        items = data[key]
        if items:
            lines.append(f"  {title}:")
            for item in items[:50]:
                extra = ", ".join(f"{k}={v}" for k, v in item.items() if k != "reason")
                lines.append(f"    {item['reason']:<22} {extra}")
            if len(items) > 50:
                lines.append(f"    ... and {len(items) - 50} more (use --json)")
    lines.extend(report.vendor_lines())
    for error in data["errors"][:20]:
        # An error of another integration than the run's (the Whip Around target) says whose.
        owner = error.get("integration")
        where = (
            error["where"] if owner in (None, data["integration"]) else f"{owner} {error['where']}"
        )
        lines.append(f"  error in {where}: {error['message']}")
    return "\n".join(lines)
