"""The reconciliation oracle, reading half: observe each pipeline exactly as its run does
(the reconcilers' own ``observe``, the Engine's own clients and clock) and hand the result to
``verify``. It writes nothing: no vendor write, no run record, no lease, no cursor, no link.
"""

from __future__ import annotations

from typing import Any

from .clients.base import VendorError
from .engine import TELEMATICS_KINDS, ConfigError, Engine
from .reconcilers import drivers, telematics
from .reconcilers.drivers_plan import Observed
from .report import Report
from .verify import Verdict, driver_drift, telematics_drift


def verify(engine: Engine, integration: str | None = None) -> list[Verdict]:
    """One verdict per telematics integration (with the Whip Around target) and per Driveri
    pairing; only those named ``integration`` (a telematics integration, a Driveri
    integration or its portal) when given. Raises ConfigError when there is nothing to check."""
    store = engine.store
    verdicts: list[Verdict] = []
    targets = store.integrations("whiparound")
    sources = [
        row
        for row in store.integrations()
        if row["kind"] in TELEMATICS_KINDS and integration in (None, row["name"])
    ]
    if sources and targets:
        verdicts.extend(verify_telematics(engine, source, targets[0]) for source in sources)
    elif sources and integration is not None:
        raise ConfigError(
            "no Whip Around integration: add one with `fleetsim integrations add whiparound`"
        )
    if store.integrations("driveri"):
        try:
            pairings = engine.driver_integrations(integration)
        except ConfigError:
            if integration is None or not verdicts:
                raise
            pairings = []  # the name was a telematics integration without a Driveri pairing
        verdicts.extend(verify_drivers(engine, *found) for found in pairings)
    if not verdicts:
        raise ConfigError(
            f"nothing to verify named {integration!r}"
            if integration
            else "nothing to verify: add integrations with `fleetsim integrations add`"
        )
    return verdicts


def verify_telematics(engine: Engine, source: dict[str, Any], target: dict[str, Any]) -> Verdict:
    """Telematics -> Whip Around for one source integration, as ``sync telematics`` sees it."""
    name = source["name"]
    verdict = Verdict("telematics", name)
    settings = telematics.Settings(activated_at=source["activated_at"])
    source_client = engine.source_client(source)
    source_client.vendor, source_client.integration = source["kind"], name
    target_client = engine.target_client(target)
    target_client.integration = target["name"]
    now = engine.clock()
    scratch = Report("telematics", name)  # observe records partial reads here
    try:
        observed = telematics.observe(
            source_client, target_client, name, engine.store, settings, now, scratch,
            engine.concurrency,
        )  # fmt: skip
    except VendorError as exc:
        verdict.error = f"read failed: {exc}"
        return verdict
    if scratch.errors:  # history or DTCs unread: what is missing cannot be told
        verdict.error = "read failed: " + "; ".join(str(e["message"]) for e in scratch.errors)
        return verdict
    memory = telematics.Memory(marks=engine.store.marks(), ledger=engine.store.ledger())
    telematics_drift(verdict, observed, memory, settings, now)
    _note_run_under_way(engine, "telematics", name, verdict)
    return verdict


def verify_drivers(
    engine: Engine, row: dict[str, Any], pairing: dict[str, Any], portal: dict[str, Any]
) -> Verdict:
    """GPS portal -> Driveri for one pairing, as a full reconcile sees it."""
    verdict = Verdict("drivers", row["name"])
    source = engine.source_client(portal)
    source.vendor, source.integration = portal["kind"], portal["name"]
    target = engine.driveri_client(row, pairing["tenant"])
    target.integration = row["name"]
    try:
        enabled = source.driver_sync_enabled()
        # What drivers.observe reads, with the raw Driveri listing kept: by_key folds
        # drivers whose ids differ only in letter case, the duplicates looked for here.
        portal_drivers = source.drivers()
        listing = target.drivers(show_all=True)
    except VendorError as exc:
        verdict.error = f"read failed: {exc}"
        return verdict
    observed = Observed(portal_drivers, drivers.by_key(listing))
    links = drivers.links_of(engine.store, row["name"])
    driver_drift(verdict, observed, listing, links, enabled)
    _note_run_under_way(engine, "drivers", row["name"], verdict)
    return verdict


def _note_run_under_way(engine: Engine, pipeline: str, name: str, verdict: Verdict) -> None:
    """A live lease means a run is writing: drift may be what it has not written yet."""
    lease = engine.store.lease(pipeline, name)
    if lease is not None and lease["holder"] and lease["expires_at"] > engine.clock():
        verdict.note(
            "warning", "RUN_IN_PROGRESS", {"message": "a run holds the lease: drift may be "
                                           "what it has not written yet"},
        )  # fmt: skip
