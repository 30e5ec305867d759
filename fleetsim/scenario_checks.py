"""What a scenario expects, compared with what happened: a run's report (per engine step) and
the target state at the end. Every comparison gives a Check (where, expected, actual, ok)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fixtures.driveri import DRIVER_STATUSES
from fixtures.units import KM_PER_MILE
from fleetsim.scenario_steps import OPEN, StepRunner
from sync_engine.engine import Engine
from sync_engine.report import COUNTS, Report
from sync_engine.verify_observe import verify

ODOMETER_TOLERANCE = 0.051  # readings carry one decimal; a km conversion rounds to 3


@dataclass
class Check:
    """One expected value against the actual one."""

    where: str
    expected: Any
    actual: Any
    ok: bool

    def line(self) -> str:
        """The check as one line of the transcript."""
        if self.ok:
            return f"ok    {self.where} = {self.expected!r}"
        return f"FAIL  {self.where}: expected {self.expected!r}, got {self.actual!r}"


def equal(where: str, expected: Any, actual: Any) -> Check:
    """An exact comparison."""
    return Check(where, expected, actual, expected == actual)


def reasons(items: list[dict[str, Any]]) -> dict[str, int]:
    """How many items per ``reason`` (skips, anomalies, warnings)."""
    return dict(Counter(str(i["reason"]) for i in items))


def summary(report: Report, names: dict[str, str]) -> list[str]:
    """A run report as transcript lines: outcome, counts, writes, each skip with its reason,
    anomalies, warnings, errors and the per-vendor retry accounting."""
    counts = "  ".join(f"{k} {report.counts[k]}" for k in (*COUNTS, "deleted") if report.counts[k])
    lines = [f"{report.pipeline} {report.integration}: {report.outcome}  writes {report.writes}"
             f"  requests {report.requests}", f"  counts: {counts or 'none'}"]  # fmt: skip
    for title, items in (("skip", report.skips), ("anomaly", report.anomalies),
                         ("warning", report.warnings)):  # fmt: skip
        for reason, n in reasons(items).items():
            who = [_who(i, names) for i in items if i["reason"] == reason]
            named = ", ".join(w for w in who if w)
            lines.append(f"  {title} {reason} x{n}" + (f": {named}" if named else ""))
    for error in report.errors:
        lines.append(f"  error [{error['integration']}] {error['where']}: {error['message']}")
    lines.extend(report.vendor_lines())
    detail = report.as_dict().get("detail")
    if detail:
        lines.append(f"  detail: {detail}")
    return lines


def _who(item: dict[str, Any], names: dict[str, str]) -> str:
    if "vehicle" in item:
        return names.get(str(item["vehicle"]), str(item["vehicle"]))
    for key, label in (("portal_id", "driver"), ("driver_id", "Driveri"), ("asset", "asset")):
        if key in item:
            return f"{label} {item[key]}"
    return ""


def run_checks(
    expect: dict[str, Any], report: Report | None, context: dict[str, Any]
) -> list[Check]:
    """The ``expect`` of an engine step against its run (None: no run happened)."""
    checks: list[Check] = []
    if "killed" in expect:
        checks.append(equal("killed", expect["killed"], context.get("killed")))
    if report is None:
        keys = [k for k in expect if k not in ("killed", "events")]
        checks += [Check(k, expect[k], "no run", False) for k in keys]
    else:
        data = report.as_dict()
        for key in ("outcome", "writes"):
            if key in expect:
                checks.append(equal(key, expect[key], data[key]))
        for name, value in expect.get("counts", {}).items():
            checks.append(equal(f"counts.{name}", value, report.counts.get(name, 0)))
        for key in ("skips", "anomalies", "warnings"):
            actual = reasons(data[key])
            for reason, value in expect.get(key, {}).items():
                checks.append(equal(f"{key}.{reason}", value, actual.get(reason, 0)))
        for vendor, stats in expect.get("vendors", {}).items():
            for name, value in stats.items():
                got = data["vendors"].get(vendor, {}).get(name)
                checks.append(equal(f"vendors.{vendor}.{name}", value, got))
        for key, value in expect.get("detail", {}).items():
            checks.append(equal(f"detail.{key}", value, (data.get("detail") or {}).get(key)))
        messages = " | ".join(
            f"[{e['integration']}] {e['where']}: {e['message']}" for e in data["errors"]
        )
        for text in expect.get("errors_mention", []):
            checks.append(Check(f"errors mention {text!r}", True, messages, text in messages))
    if "waited_at_least" in expect:
        waited = context["waited"]
        ok = waited >= expect["waited_at_least"]
        checks.append(Check("waited_at_least (s)", expect["waited_at_least"], waited, ok))
    if "logins" in expect:
        checks.append(equal("logins", expect["logins"], context["logins"]))
    if "events" in expect:
        statuses = dict(Counter(e["status"] for e in context["events"]))
        for status, value in expect["events"].items():
            checks.append(equal(f"events.{status}", value, statuses.get(status, 0)))
    return checks


def state_checks(expect: dict[str, Any], steps: StepRunner, before: dict[int, Any]) -> list[Check]:
    """The final ``expect`` against the vendors and the engine's store, plus R17 (at most one
    open defect per asset and code), checked in every scenario."""
    vendors = steps.vendors
    checks: list[Check] = []
    assets = vendors.assets()
    defects = vendors.defects()
    if "assets" in expect:
        fixes = {f["id"]: f for f in vendors.gps("vehicle/location")}
        for number, fields in expect["assets"].items():
            asset = assets[steps.asset({"vehicle": number})]
            fix = fixes[vendors.vehicle_id(int(number))]
            checks += _asset_checks(f"assets.{number}", fields, asset, fix, before[int(number)])
    by_asset: dict[int, list[dict[str, Any]]] = {}
    for defect in defects:
        by_asset.setdefault(defect["asset_id"], []).append(defect)
    for number, wanted in expect.get("defects", {}).items():
        got = by_asset.get(steps.asset({"vehicle": number}), [])
        checks.append(equal(f"defects.{number} (how many)", len(wanted), len(got)))
        for n, (want, have) in enumerate(zip(wanted, got, strict=False)):
            for key, value in want.items():
                actual = have["dtc_code"] if key == "code" else have[key]
                checks.append(equal(f"defects.{number}[{n}].{key}", value, actual))
    open_defects = [d for d in defects if d["status"] in OPEN]
    for number, value in expect.get("open_defects", {}).items():
        asset_id = steps.asset({"vehicle": number})
        count = sum(1 for d in open_defects if d["asset_id"] == asset_id)
        checks.append(equal(f"open_defects.{number}", value, count))
    if "open_defects_total" in expect:
        checks.append(equal("open_defects_total", expect["open_defects_total"], len(open_defects)))
    twice = [k for k, n in Counter((d["asset_id"], d["dtc_code"]) for d in open_defects).items()
             if n > 1]  # fmt: skip
    checks.append(equal("R17 open defects per asset+code above one", [], twice))
    checks += _driver_checks(expect, steps)
    if "runs" in expect:
        outcomes = Counter(r["outcome"] or "RUNNING" for r in steps.stack.store.runs(1000))
        for outcome, value in expect["runs"].items():
            checks.append(equal(f"runs.{outcome}", value, outcomes.get(outcome, 0)))
    return checks


def _asset_checks(
    where: str, fields: dict[str, Any], asset: dict[str, Any], fix: dict[str, Any],
    before: dict[str, Any],
) -> list[Check]:  # fmt: skip
    checks = []
    if "odometer_unit" in fields:
        checks.append(equal(f"{where}.odometer_unit", fields["odometer_unit"],
                            asset["odometer_unit"]))  # fmt: skip
    wanted = fields.get("odometer")
    if wanted is not None:
        if wanted == "source":
            miles = float(fix["odometer"])
            value = miles * KM_PER_MILE if asset["odometer_unit"] == "km" else miles
        elif wanted == "unchanged":
            value = before["odometer"]
        else:
            value = float(wanted)
        ok = abs(float(asset["odometer"]) - value) <= ODOMETER_TOLERANCE
        checks.append(Check(f"{where}.odometer ({wanted})", round(value, 3), asset["odometer"], ok))
    place = fields.get("location")
    if place is not None:
        location = asset["location"] or {}
        got = (location.get("latitude"), location.get("longitude"), _time(location))
        if place == "source":
            at = _time({"recorded_at": fix["fix_time_gmt"]})
            spot: tuple[Any, Any, str | None] = (fix["latitude"], fix["longitude"], at)
        else:
            old = before["location"] or {}
            spot = (old.get("latitude"), old.get("longitude"), _time(old))
        checks.append(equal(f"{where}.location ({place})", spot, got))
    return checks


def _time(location: dict[str, Any]) -> str | None:
    when = location.get("recorded_at")
    return datetime.fromisoformat(when.replace("Z", "+00:00")).isoformat() if when else None


def _driver_checks(expect: dict[str, Any], steps: StepRunner) -> list[Check]:
    checks = []
    if "links" in expect:
        links = {r["portal_id"]: r["driveri_id"] for r in steps.stack.store.driver_links("driveri")}
        for ref, value in expect["links"].items():
            portal_id = steps.vendors.portal_driver(ref)
            checks.append(equal(f"links.{ref}", value, links.get(portal_id)))
    if "driveri" in expect or "driveri_total" in expect:
        tenant = steps.vendors.tenant()
        for driver_id, fields in expect.get("driveri", {}).items():
            record = tenant.get(str(driver_id))
            for key, value in fields.items():
                actual: Any
                if key == "status":
                    actual = DRIVER_STATUSES[record["status"]] if record else "absent"
                else:
                    actual = record.get(key) if record else "absent"
                checks.append(equal(f"driveri.{driver_id}.{key}", value, actual))
        if "driveri_total" in expect:
            checks.append(equal("driveri_total", expect["driveri_total"], len(tenant)))
    return checks


def drift_checks(expected: Any, engine: Engine, pipelines: set[str], out: Any) -> list[Check]:
    """The reconciliation oracle (`fleetsim verify`) over the pipelines the scenario ran:
    the drift it counts (``expect.drift``, 0 unless the scenario says otherwise), or
    "unverified" when it could not read a side."""
    verdicts = [v for v in verify(engine) if v.pipeline in pipelines]
    errors = [f"{v.pipeline} {v.integration}: {v.error}" for v in verdicts if v.error]
    actual: Any = "unverified" if errors else sum(len(v.drift) for v in verdicts)
    for verdict in verdicts:
        counts = ", ".join(f"{k} {n}" for k, n in verdict.counts().items() if n)
        state = verdict.error or (
            f"drift {len(verdict.drift)}" + (f" ({counts})" if counts else "")
        )
        out(f"  oracle: {verdict.pipeline} {verdict.integration}: {state}")
        for drift in verdict.drift:
            out(f"    {drift.kind} {drift.entity}")
    return [equal("drift (fleetsim verify)", expected, actual)]
