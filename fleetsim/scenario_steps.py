"""The steps of a scenario (fixtures/scenario_schema.py ACTIONS), each done through the
vendor's own API or control plane, or by the engine in-process."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fixtures.driveri import DRIVER_STATUSES
from fixtures.scenario_schema import seconds
from fleetsim.scenario_stack import Killed, ScenarioStack
from sync_engine.report import Report

STATUS_CODES = {name: code for code, name in DRIVER_STATUSES.items()}
OPEN = ("New", "In Progress")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def form(fields: dict[str, Any]) -> dict[str, Any]:
    """Step fields as a form body (null as an empty value, booleans as 1/0)."""
    return {k: "" if v is None else int(v) if isinstance(v, bool) else v for k, v in fields.items()}


def driveri_body(fields: dict[str, Any]) -> dict[str, Any]:
    """Step fields as a Driveri body (a status by its name, as QA writes it)."""
    return {k: STATUS_CODES.get(v, v) if k == "status" else v for k, v in fields.items()}


class StepRunner:
    """Does one step; engine steps return their run's report (None: no run happened)."""

    def __init__(self, stack: ScenarioStack) -> None:
        self.stack = stack
        self.vendors = stack.vendors
        self.asset_of = self.assets_by_vehicle()
        self.reports: list[Report] = []  # every run of the last engine step
        self.killed: bool | None = None  # whether the last kill step's run died
        self.delivered = ""  # what became of the last delivered event

    def assets_by_vehicle(self) -> dict[int, int]:
        """GPS Insight vehicle number -> its asset's id (the asset named as the vehicle is
        labelled, with the same VIN, as the world seeds it; the spare twin is not it)."""
        vehicles = self.vendors.state("gpsinsight")["vehicles"]
        by_name = {(a["name"], _vin(a["vin"])): a["id"] for a in self.vendors.assets().values()}
        found = {}
        for vehicle in vehicles:
            number = int(str(vehicle["label"]).rsplit(" ", 1)[-1])
            asset = by_name.get((vehicle["label"], _vin(vehicle["vin"])))
            if asset is not None:
                found[number] = asset
        return found

    def asset(self, args: dict[str, Any]) -> int:
        """The asset a step names: ``asset`` (an id) or ``vehicle`` (its number)."""
        if "asset" in args:
            return int(args["asset"])
        number = int(args["vehicle"])
        if number not in self.asset_of:
            raise RuntimeError(f"vehicle {number} has no asset in Whip Around")
        return self.asset_of[number]

    def run(self, name: str, args: dict[str, Any]) -> Report | None:
        """Do the step called ``name`` with ``args``."""
        method = getattr(self, "_do_" + name.replace(".", "_"))
        result: Report | None = method(dict(args))
        return result

    # -- GPS Insight / Wex -------------------------------------------------------------------

    def _do_gps_vehicle_update(self, args: dict[str, Any]) -> None:
        vendor = args.pop("vendor", "gpsinsight")
        vehicle = self.vendors.vehicle_id(args.pop("vehicle"), vendor)
        self.vendors.gps("vehicle/update", vendor, vehicle=vehicle, **form(args))

    def _do_gps_set_odometer(self, args: dict[str, Any]) -> None:
        vendor = args.get("vendor", "gpsinsight")
        vehicle = self.vendors.vehicle_id(args["vehicle"], vendor)
        miles = args.get("miles")
        if miles is None:
            (row,) = self.vendors.gps("vehicle/read", vendor, vehicle=vehicle)
            miles = float(row["odometer"]) + float(args.get("add_miles", 0))
        self.vendors.gps("vehicle/setodometerwaypoint", vendor, vehicle=vehicle, odometer=miles)

    def _edit_vehicle(self, args: dict[str, Any], change: Any) -> None:
        vendor = args.get("vendor", "gpsinsight")
        vehicle_id = self.vendors.vehicle_id(args["vehicle"], vendor)
        state = self.vendors.state(vendor)
        change(next(v for v in state["vehicles"] if v["id"] == vehicle_id))
        self.vendors.restore(vendor, state)

    def _do_gps_vehicle_record(self, args: dict[str, Any]) -> None:
        fields = {k: v for k, v in args.items() if k not in ("vehicle", "vendor")}
        self._edit_vehicle(args, lambda v: v.update(fields))

    def _do_gps_dtc(self, args: dict[str, Any]) -> None:
        now = self.stack.now().timestamp()
        ended = args.get("ended")
        episode = {
            "code": args["code"],
            "description": args.get("description", f"QA scenario code {args['code']}"),
            "start": int(now - seconds(args["started"])),
            "end": None if ended is None else int(now - seconds(ended)),
            "mil": True,
        }
        self._edit_vehicle(args, lambda v: v["dtcs"].append(episode))

    def _do_gps_dtc_clear(self, args: dict[str, Any]) -> None:
        now = int(self.stack.now().timestamp())

        def clear(vehicle: dict[str, Any]) -> None:
            for episode in vehicle["dtcs"]:
                if episode["end"] is None and args.get("code") in (None, episode["code"]):
                    episode["end"] = now

        self._edit_vehicle(args, clear)

    def _do_gps_driver_create(self, args: dict[str, Any]) -> None:
        alias = args.pop("as", None)
        created = int(self.vendors.gps("driver/create", **form(args))["id"])
        if alias:
            self.vendors.aliases[alias] = created

    def _do_gps_driver_update(self, args: dict[str, Any]) -> None:
        driver = self.vendors.portal_driver(args.pop("driver"))
        self.vendors.gps("driver/update", driver=str(driver), **form(args))

    def _do_gps_driver_delete(self, args: dict[str, Any]) -> None:
        driver = self.vendors.portal_driver(args["driver"])
        self.vendors.gps("driver/delete", driver=str(driver))

    def _do_gps_driver_sync(self, args: dict[str, Any]) -> None:
        self.vendors.gps("driverisync/update", enabled=int(bool(args["enabled"])))

    def _do_gps_revoke_token(self, args: dict[str, Any]) -> None:
        token = self.vendors.user("gpsinsight", self.stack.users["gpsinsight"])["app_token"]
        self.vendors.gps("apiapp/update", app_token=token, active=0)

    # -- Driveri -----------------------------------------------------------------------------

    def _do_driveri_driver_create(self, args: dict[str, Any]) -> None:
        self.vendors.driveri("POST", "drivers", driveri_body(args))

    def _do_driveri_driver_edit(self, args: dict[str, Any]) -> None:
        driver = args.pop("driver")
        self.vendors.driveri("PUT", f"drivers/{driver}", driveri_body(args))

    # -- Whip Around -------------------------------------------------------------------------

    def _do_whiparound_asset_update(self, args: dict[str, Any]) -> None:
        asset = self.asset(args)
        body = {k: v for k, v in args.items() if k not in ("vehicle", "asset")}
        self.vendors.wa("PATCH", f"assets/{asset}", json=body)

    def _do_whiparound_asset_location(self, args: dict[str, Any]) -> None:
        asset = self.asset(args)
        at = self.stack.now().timestamp() + seconds(args.get("ahead", 0))
        at -= seconds(args.get("recorded", 0))
        old = self.vendors.assets()[asset]["location"] or {}
        body = {
            "latitude": args.get("latitude", old.get("latitude", 0.0)),
            "longitude": args.get("longitude", old.get("longitude", 0.0)),
            "recorded_at": datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
        }
        self.vendors.wa("POST", f"assets/{asset}/location", "integration", json=body)

    def _do_whiparound_asset_create(self, args: dict[str, Any]) -> None:
        self.vendors.wa("POST", "assets", json=args)

    def _do_whiparound_defect_resolve(self, args: dict[str, Any]) -> None:
        asset = self.asset(args)
        chosen = [
            d for d in self.vendors.defects()
            if d["asset_id"] == asset and d["status"] in OPEN
            and args.get("code") in (None, d["dtc_code"])
        ]  # fmt: skip
        if not chosen:
            raise RuntimeError(f"no open DTC defect on asset {asset} to resolve")
        for defect in chosen:
            body = {"status": args.get("status", "Completed")}
            self.vendors.wa("PATCH", f"defects/{defect['id']}", json=body)

    def _do_whiparound_reset(self, args: dict[str, Any]) -> None:
        self.vendors.control("whiparound", "POST", "reset")

    # -- control planes ----------------------------------------------------------------------

    def _do_fault(self, args: dict[str, Any]) -> None:
        vendor = args.pop("vendor")
        self.vendors.control(vendor, "POST", "faults", args)

    def _do_faults_clear(self, args: dict[str, Any]) -> None:
        for vendor in self.vendors.app.vendors:
            self.vendors.control(vendor, "DELETE", "faults")

    def _do_clock_advance(self, args: dict[str, Any]) -> None:
        self.vendors.control("gpsinsight", "POST", "clock", {"advance": seconds(args["by"])})

    # -- the engine --------------------------------------------------------------------------

    def _do_sync(self, args: dict[str, Any]) -> Report:
        # Every run's report is kept for the transcript; the step's expect is about the
        # named integration's run, else the first (GPS Insight's, or the Driveri pairing's).
        engine = self.stack.engine
        name = args.get("integration")
        if args["pipeline"] == "telematics":
            self.reports = engine.sync_telematics(name)
        else:
            self.reports = engine.sync_drivers(name)
        return self.reports[0]

    def _do_events_deliver(self, args: dict[str, Any]) -> None:
        portal_id = self.vendors.portal_driver(args["driver"])
        version = args.get("version")
        if version is None:
            record = next(
                d for d in self.vendors.state("gpsinsight")["drivers"] if d["id"] == portal_id
            )
            version = int(record["version"]) + int(args.get("version_offset", 0))
        fresh = self.stack.store.inbox_add(
            args["id"], "gpsinsight", args.get("type", "driver.updated"), portal_id=portal_id,
            version=version, payload={}, now=self.stack.now(),
        )  # fmt: skip
        self.delivered = "accepted" if fresh else "a duplicate (already in the inbox)"

    def _do_events_apply(self, args: dict[str, Any]) -> Report | None:
        report = self.stack.engine.apply_driver_events("driveri")
        self.reports = [report] if report is not None else []
        return report

    def _do_kill(self, args: dict[str, Any]) -> None:
        engine = self.stack.engine
        engine.kill_after, engine.requests_seen = int(args["after_requests"]), 0
        self.killed = False
        try:
            self._do_sync(args)
        except Killed:
            self.killed = True
        finally:
            engine.kill_after = None
            self.stack.store.killed = False

    def target_writes(self) -> int:
        """Successful writes Whip Around and Driveri have journalled so far."""
        return sum(
            1
            for vendor in ("whiparound", "driveri")
            for e in self.vendors.journal(vendor)
            if e["method"] in WRITE_METHODS and e["status"] < 400 and "/auth/" not in e["path"]
        )

    def engine_logins(self) -> int:
        """GPS Insight logins made with the engine's App Token so far."""
        token_id = self.stack.engine_token_id()
        return sum(
            1
            for e in self.vendors.journal("gpsinsight")
            if e["path"] == "/v2/userauth/login" and e["app_token_id"] == token_id
        )


def _vin(vin: str | None) -> str:
    return "".join((vin or "").split()).upper()
