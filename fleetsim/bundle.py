"""``fleetsim bundle save|load``: a replay bundle — everything a stack and the engine's store
hold, in one JSON file QA attaches to a bug, and puts back with one command.

A bundle has the stack's seed, sizes and scenario, the virtual clock's instant, each
emulator's state, journal and fault plan (counters included), and every table of the
engine's store. It is written with sorted keys and no time of its own, so saving, loading
and saving again gives the same bytes.

No secret is ever written: every password, App Token, API key, client secret, webhook
secret and token — wherever it sits in a state, the store or the journal — is replaced by
``<scrubbed:LABEL>``, the label naming its place (``gpsinsight/users/acme.admin/password``,
``store/integrations/whiparound/secret``). On load each label gets the loading stack's own
value for that place (the stack is reseeded from the bundle's seed first, so a seeded
credential comes back as the stack issues it, and an engine integration saved with it works
at once); a place the fresh stack does not have (a token minted at run time, a webhook
secret) gets a new random value, the same one everywhere that label appears (so a webhook
secret still matches between the portal and the engine's pairing). An integration whose
secret matched nothing the stack issued (a revoked App Token, say) needs ``fleetsim
integrations add`` again after a load.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import requests
from sqlalchemy import DateTime, insert, select

from fleetsim.cli import STACK_PORT, main
from sync_engine.store import Store
from sync_engine.store.tables import metadata

SCHEMA_VERSION = 1
FORMAT = "fleetsim-bundle"
VENDORS = ("gpsinsight", "wex", "driveri", "whiparound")
ADMIN_HEADER = "X-Fleetsim-Admin-Key"
STACK_URL = "{stack}"  # the saved stack's base URL wherever the store's values held it
SECRET_FIELDS = frozenset(
    {"password", "app_token", "client_secret", "basic_token", "secret", "key", "token",
     "api_key", "access_token", "accessToken", "webhook_secret"}
)  # fmt: skip
SECRET_KEYED = frozenset({"apps"})  # state maps keyed by a secret (GPS Insight's App Tokens)
MARKER = re.compile(r"<scrubbed:([^<>]+)>")
MIN_EMBEDDED = 8  # shorter secrets are replaced only where they are a whole value
TIMEOUT_S = 60.0


class BundleError(Exception):
    """A bundle that cannot be saved or loaded; the message never carries a secret."""


# -- the stack's control plane -------------------------------------------------------------


class ControlPlane:
    """Every vendor's ``/_mock`` of one stack, with the admin key when there is one."""

    def __init__(self, base: str, admin_key: str | None = None) -> None:
        self.base = base.rstrip("/")
        self.session = requests.Session()
        if admin_key:
            self.session.headers[ADMIN_HEADER] = admin_key

    def call(self, method: str, vendor: str, path: str, body: Any = None) -> Any:
        """One control-plane call's JSON; BundleError naming the call when it fails."""
        url = f"{self.base}/{vendor}/_mock/{path}"
        try:
            answer = self.session.request(method, url, json=body, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            raise BundleError(f"no stack at {self.base}: {type(exc).__name__}") from None
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code >= 300 or body is None:
            reason = body.get("error", "") if isinstance(body, dict) else "the answer is not JSON"
            raise BundleError(f"{method} /{vendor}/_mock/{path}: {answer.status_code} {reason}")
        return body


# -- saving --------------------------------------------------------------------------------


def capture(plane: ControlPlane, store: Store) -> dict[str, Any]:
    """The bundle of a stack and a store, secrets scrubbed."""
    seed = plane.call("GET", VENDORS[0], "seed")
    vendors: dict[str, Any] = {}
    for vendor in VENDORS:
        vendors[vendor] = {
            "state": plane.call("GET", vendor, "state")["state"],
            "journal": plane.call("GET", vendor, "journal")["entries"],
            "faults": plane.call("GET", vendor, "faults")["faults"],
        }
    tables = dump_store(store, plane.base)
    places = [*vendor_secrets(vendors), *store_secrets(tables)]
    issued = []
    for vendor in VENDORS:
        issued += credential_values(plane.call("GET", vendor, "credentials"))
    document = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "stack": seed,
        "clock": {"now": plane.call("GET", VENDORS[0], "clock")["now"]},
        "vendors": vendors,
        "store": {"stack_url": STACK_URL, "tables": tables},
    }
    labels: dict[str, str] = {}
    for label, value in places:
        labels.setdefault(value, label)
    document = scrub(document, labels)
    document["scrubbed"] = sorted(set(labels.values()))
    text = dumps(document).decode()
    leaked = [v for v in [*labels, *issued] if v and v in text]
    if leaked:  # a secret in a place no rule knows: refuse rather than write it
        raise BundleError(f"refusing to write the bundle: {len(leaked)} secret(s) left in it")
    return document


def dumps(document: dict[str, Any]) -> bytes:
    """The bundle's bytes: sorted keys, one indentation, a final newline."""
    return (json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def vendor_secrets(vendors: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(label, value) of every secret in the vendors' states, in a fixed order."""
    for vendor in VENDORS:
        state = vendors[vendor]["state"]
        for name in sorted(SECRET_KEYED & set(state)):
            for n, (token, row) in enumerate(sorted(state[name].items())):
                ident = row.get("id") if isinstance(row, dict) else None
                yield f"{vendor}/{name}/{ident if ident is not None else f'#{n}'}", token
        yield from _secret_fields(state, vendor)


def _secret_fields(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            if key in SECRET_FIELDS and isinstance(item, str) and item:
                yield f"{path}/{key}", item
            else:
                yield from _secret_fields(item, f"{path}/{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _secret_fields(item, f"{path}/{n}")


def store_secrets(tables: dict[str, list[dict[str, Any]]]) -> Iterator[tuple[str, str]]:
    """(label, value) of every secret or token column of the store's rows."""
    for table in metadata.sorted_tables:
        keys = [c.name for c in table.primary_key.columns]
        columns = [c.name for c in table.columns if _is_secret_column(c.name)]
        for row in tables.get(table.name, []):
            ident = "/".join(str(row[k]) for k in keys)
            for column in columns:
                if isinstance(row.get(column), str) and row[column]:
                    yield f"store/{table.name}/{ident}/{column}", row[column]


def _is_secret_column(name: str) -> bool:
    return "secret" in name or "token" in name


def credential_values(credentials: Any) -> list[str]:
    """Every secret a stack's ``/_mock/credentials`` lists (to prove none is written)."""
    return [value for _, value in _secret_fields(credentials, "")]


def scrub(document: Any, labels: dict[str, str]) -> Any:
    """``document`` with every secret (dict keys included) replaced by its marker."""
    whole = {value: f"<scrubbed:{label}>" for value, label in labels.items()}
    embedded = sorted((v for v in whole if len(v) >= MIN_EMBEDDED), key=len, reverse=True)
    pattern = re.compile("|".join(map(re.escape, embedded))) if embedded else None

    def text(s: str) -> str:
        if s in whole:
            return whole[s]
        return pattern.sub(lambda m: whole[m.group(0)], s) if pattern else s

    return _map_strings(document, text)


def _map_strings(value: Any, text: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {text(k): _map_strings(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, text) for v in value]
    return value


# -- the engine's store --------------------------------------------------------------------


def dump_store(store: Store, stack_base: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in key order; the stack's base URL becomes ``{stack}``."""
    tables: dict[str, list[dict[str, Any]]] = {}
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            tables[table.name] = [
                {k: _jsonable(v) for k, v in row.items()} for row in conn.execute(query).mappings()
            ]
    return _map_strings(tables, lambda s: s.replace(stack_base, STACK_URL))  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def load_store(store: Store, tables: dict[str, list[dict[str, Any]]], stack_base: str) -> None:
    """Replace every row of the store with the bundle's, pointed at ``stack_base``."""
    unknown = sorted(set(tables) - set(metadata.tables))
    if unknown:
        raise BundleError(f"the bundle's store has tables this engine does not: {unknown}")
    tables = _map_strings(tables, lambda s: s.replace(STACK_URL, stack_base))
    with store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        for table in metadata.sorted_tables:
            times = {c.name for c in table.columns if isinstance(c.type, DateTime)}
            rows = [
                {k: datetime.fromisoformat(v) if k in times and v else v for k, v in row.items()}
                for row in tables.get(table.name, [])
            ]
            if rows:
                conn.execute(insert(table), rows)


# -- loading -------------------------------------------------------------------------------


def check_format(document: Any) -> None:
    """BundleError unless ``document`` says it is a bundle of this schema version."""
    if not isinstance(document, dict) or (
        document.get("format"),
        document.get("schema_version"),
    ) != (FORMAT, SCHEMA_VERSION):
        raise BundleError(f"not a {FORMAT} of schema version {SCHEMA_VERSION}")


def restore(plane: ControlPlane, store: Store, document: dict[str, Any]) -> None:
    """Put a bundle back: the stack reseeded and frozen at the bundle's instant, each
    vendor's state, journal and faults, then the store, each secret resolved on the way."""
    check_format(document)
    stack = dict(document["stack"])
    if stack.get("dtcs_per_vehicle") is None:
        stack.pop("dtcs_per_vehicle", None)
    plane.call("POST", VENDORS[0], "clock", {"set": document["clock"]["now"], "freeze": True})
    plane.call("POST", VENDORS[0], "seed", stack)
    fresh = {v: {"state": plane.call("GET", v, "state")["state"]} for v in VENDORS}
    issued = dict(vendor_secrets(fresh))
    values: dict[str, str] = {}

    def resolve(match: re.Match[str]) -> str:
        label = match.group(1)
        if label not in values:
            values[label] = issued.get(label) or secrets.token_hex(20)
        return values[label]

    document = _map_strings(document, lambda s: MARKER.sub(resolve, s))
    try:
        for vendor in VENDORS:
            saved = document["vendors"][vendor]
            plane.call("POST", vendor, "state", {"vendor": vendor, "state": saved["state"]})
            plane.call("PUT", vendor, "journal", {"entries": saved["journal"]})
            plane.call("PUT", vendor, "faults", {"faults": saved["faults"]})
    except BundleError as exc:  # a refusal may quote the state, secrets put back included
        raise BundleError(scrub(str(exc), {v: k for k, v in values.items()})) from None
    load_store(store, document["store"]["tables"], plane.base)


# -- the command line ----------------------------------------------------------------------


def _options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option(
        "--store",
        "store_url",
        default=None,
        help="The engine's store, a SQLAlchemy URL [FLEETSIM_DB_URL, .fleetsim/fleetsim.db].",
    )(command)
    return click.option(
        "--url",
        default=f"http://127.0.0.1:{STACK_PORT}",
        show_default=True,
        help="The stack's base URL (every vendor under it).",
    )(command)


@main.group()
def bundle() -> None:
    """Replay bundles: a stack and the engine's store in one file, secrets scrubbed."""


@bundle.command("save")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_options
def save(file: Path, url: str, store_url: str | None) -> None:
    """Write the stack's seed, scenario, clock, states, journals and faults and the engine's
    store to FILE (stop the engine first, or it may write while the bundle is read)."""
    plane = ControlPlane(url, os.environ.get("FLEETSIM_ADMIN_KEY"))
    try:
        data = dumps(capture(plane, Store(store_url)))
    except BundleError as exc:
        raise click.ClickException(str(exc)) from None
    file.write_bytes(data)
    click.echo(f"saved {file} ({len(data)} bytes)")


@bundle.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_options
def load(file: Path, url: str, store_url: str | None) -> None:
    """Put FILE back into the stack (frozen at the bundle's instant) and the engine's store
    (every row replaced)."""
    try:
        document = json.loads(file.read_bytes())
    except ValueError:
        raise click.ClickException(f"{file} is not JSON") from None
    plane = ControlPlane(url, os.environ.get("FLEETSIM_ADMIN_KEY"))
    try:
        check_format(document)  # before the store is opened: a wrong file touches nothing
        restore(plane, Store(store_url), document)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise click.ClickException(
            f"{file} is not a whole bundle: {type(exc).__name__} {exc}"
        ) from None
    click.echo(f"loaded {file} into {plane.base}")
