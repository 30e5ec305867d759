"""Property tests of the telematics ``plan()`` against a tiny simulation: a vendor whose
odometers, fixes and codes change, a fake Whip Around that applies the writes as docs/vendors.md
§3 describes, and a store doing the bookkeeping ``_apply_one`` does."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sync_engine.model import Asset, Defect, Dtc, Fix, Vehicle, Vin, canonical_code
from sync_engine.reconcilers.telematics import (
    Action,
    Memory,
    Observed,
    Plan,
    PostLocation,
    PostMileage,
    RecordDefect,
    Settings,
    plan,
    vendor_day,
)

DEEP = os.environ.get("FLEETSIM_DEEP") == "1"
EXAMPLES = 1000 if DEEP else 60

T0 = datetime(2031, 7, 1, 4, 30, tzinfo=UTC)
CONFIG = Settings(activated_at=T0)
DTC_WINDOW = timedelta(days=2)  # how far back each run asks for codes
CODES = ("P0420", "SPN 3031 FMI 9")
OPEN = ("New", "In Progress")
PLACES = {
    "here": (33.45, -112.07),
    "there": (33.5, -112.1),
    "null_island": (0.0, 0.0),
    "out_of_range": (91.0, -112.07),
}
VIN_1, VIN_2, VIN_3 = "1M8GDM9AXKP042788", "1HGCM82633A004352", "1FTFW1ET5DFC10312"


# -- the vendor (GPS Insight) ---------------------------------------------------------------


@dataclass
class Code:
    """One code's reports: first and last occurrence, count, and whether it still reports."""

    first: datetime
    last: datetime
    count: int
    active: bool


@dataclass
class SourceVehicle:
    """A telematics vehicle, its fixes and its codes."""

    vehicle: Vehicle
    odometer_mi: float
    fixes: dict[datetime, Fix] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)


# -- the target (Whip Around) ---------------------------------------------------------------


@dataclass
class TargetAsset:
    """A Whip Around asset as stored."""

    id: int
    vin: str
    odometer: float
    unit: str
    location_at: datetime | None = None


@dataclass
class TargetDefect:
    """A Whip Around DTC defect, with every occurrence reported to it."""

    id: int
    asset_id: int
    code: str
    status: str
    updated_at: datetime
    occurrences: list[datetime]
    repeated_times: int = 1


class FakeWhipAround:
    """Applies writes the way docs/vendors.md §3 says Whip Around does."""

    def __init__(self, assets: list[TargetAsset]) -> None:
        self.assets = {a.id: a for a in assets}
        self.defects: dict[int, TargetDefect] = {}
        self.opened_while_open: list[tuple[int, str]] = []
        self.reopened_after: list[timedelta] = []  # occurrence minus the last resolution

    def open_defects(self, asset_id: int, code: str) -> list[TargetDefect]:
        """The open defects of one identity."""
        return [
            d
            for d in self.defects.values()
            if (d.asset_id, d.code) == (asset_id, code) and d.status in OPEN
        ]

    def post_location(self, asset_id: int, fix: Fix) -> None:
        """Stored as posted."""
        self.assets[asset_id].location_at = fix.at

    def post_mileage(self, asset_id: int, value: float, unit: str) -> None:
        """Stored as posted (the client sends one decimal; the units agree)."""
        asset = self.assets[asset_id]
        assert unit == asset.unit
        asset.odometer = round(value, 1)

    def post_dtc(self, asset_id: int, dtc: Dtc, repeat: bool, now: datetime) -> TargetDefect:
        """An open defect of the asset and code counts one more; otherwise a new one opens."""
        code = canonical_code(dtc.code)
        open_ones = self.open_defects(asset_id, code)
        if open_ones:
            defect = open_ones[0]
            defect.repeated_times += 1
            defect.updated_at = now
            defect.occurrences.append(dtc.last)
            if not repeat:
                # The real dedupe is only assumed: asking for a new defect is the bug.
                self.opened_while_open.append((asset_id, code))
            return defect
        resolved = [
            d.updated_at
            for d in self.defects.values()
            if (d.asset_id, d.code) == (asset_id, code) and d.status not in OPEN
        ]
        if resolved:
            self.reopened_after.append(dtc.last - max(resolved))
        defect = TargetDefect(len(self.defects) + 1, asset_id, code, "New", now, [dtc.last])
        self.defects[defect.id] = defect
        return defect

    def resolve(self, pick: int, status: str, now: datetime) -> None:
        """A person changes the status of one open defect (``updated_at`` moves on a change)."""
        open_ones = [d for d in self.defects.values() if d.status in OPEN]
        if open_ones:
            defect = open_ones[pick % len(open_ones)]
            if defect.status != status:
                defect.status, defect.updated_at = status, now


# -- the simulation -------------------------------------------------------------------------


@dataclass
class Simulation:
    """Vendor, target, store and clock; ``step`` plays one generated operation."""

    now: datetime = T0
    source: dict[str, SourceVehicle] = field(default_factory=dict)
    target: FakeWhipAround = field(default_factory=lambda: FakeWhipAround([]))
    marks: dict[int, dict[str, Any]] = field(default_factory=dict)
    ledger: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    cursor: datetime | None = None
    runs: int = 0
    replay_writes: list[Action] = field(default_factory=list)

    @classmethod
    def start(cls) -> Simulation:
        """Two matched vehicles (one asset in miles, one in km) and one unmatched."""
        sim = cls()
        for vid, vin, odometer in (("v1", VIN_1, 1250.0), ("v2", f" {VIN_2.lower()} ", 5100.0)):
            sim.source[vid] = SourceVehicle(Vehicle(vid, Vin.parse(vin), vid), odometer)
        sim.source["v3"] = SourceVehicle(Vehicle("v3", Vin.parse(VIN_3), "v3"), 300.0)
        sim.target = FakeWhipAround(
            [TargetAsset(11, VIN_1, 1200.0, "mi"), TargetAsset(12, VIN_2, 8000.0, "km")]
        )
        for vehicle in sim.source.values():
            sim.add_fix(vehicle, T0 - timedelta(minutes=10), 33.45, -112.07, vehicle.odometer_mi)
        # A code that stopped before activation: never a defect (R19).
        historic = T0 - timedelta(hours=30)
        sim.source["v1"].codes["P0171"] = Code(historic - timedelta(days=3), historic, 9, False)
        return sim

    # -- vendor changes ----------------------------------------------------------------------

    @staticmethod
    def add_fix(
        vehicle: SourceVehicle, at: datetime, lat: float, lon: float, odometer: float | None
    ) -> None:
        vehicle.fixes[at] = Fix(vehicle.vehicle.id, at, lat, lon, odometer)

    def step(self, op: tuple[Any, ...]) -> None:
        """Play one operation."""
        kind, *args = op
        getattr(self, f"op_{kind}")(*args)

    def op_advance(self, seconds: int) -> None:
        """Time passes; codes still active report again."""
        self.now += timedelta(seconds=seconds)
        for vehicle in self.source.values():
            for code in vehicle.codes.values():
                if code.active:
                    code.last, code.count = self.now, code.count + 1

    def op_fix(self, vid: str, place: str, odometer_change: float | None) -> None:
        """A position, with an odometer reading that may go up, stay, or go down."""
        vehicle = self.source[vid]
        lat, lon = PLACES[place]
        reading = None
        if odometer_change is not None:
            vehicle.odometer_mi = reading = max(0.0, vehicle.odometer_mi + odometer_change)
        self.add_fix(vehicle, self.now, lat, lon, reading)

    def op_report(self, vid: str, code: str) -> None:
        """A code reports now and keeps reporting."""
        known = self.source[vid].codes.get(code)
        if known is None:
            self.source[vid].codes[code] = Code(self.now, self.now, 1, True)
        else:
            known.last, known.count, known.active = self.now, known.count + 1, True

    def op_clear(self, vid: str, code: str) -> None:
        """The code clears at the source: no more reports."""
        if code in self.source[vid].codes:
            self.source[vid].codes[code].active = False

    def op_human(self, pick: int, status: str) -> None:
        """A person moves an open defect on (or resolves it)."""
        self.target.resolve(pick, status, self.now)

    def op_run(self, crash_after: int | None) -> None:
        """A run; a crash stops it after some writes. A completed run is replayed at once."""
        self.runs += 1
        actions = self.plan_now().actions
        for n, action in enumerate(actions):
            if crash_after is not None and n >= crash_after:
                return
            self.apply_one(action)
        self.cursor = self.now  # saved only after every write succeeded (R5)
        self.replay_writes += [
            a for a in self.plan_now().actions if not isinstance(a, RecordDefect)
        ]

    # -- one run -----------------------------------------------------------------------------

    def observe(self) -> Observed:
        """What ``observe`` would read: history since the cursor plus the latest fix, the codes
        of the last two days (historic ones included, for plan to refuse), both sides' state."""
        start = max(CONFIG.activated_at, self.cursor or self.now)
        fixes = {}
        for vid, vehicle in self.source.items():
            ordered = sorted(vehicle.fixes)
            wanted = {at for at in ordered if start <= at < self.now} | set(ordered[-1:])
            fixes[vid] = [vehicle.fixes[at] for at in sorted(wanted)]
        dtcs = [
            Dtc(vid, code, f"{code}, seen {c.count} times", c.first, c.last, c.count)
            for vid, vehicle in self.source.items()
            for code, c in vehicle.codes.items()
            if c.last >= self.now - DTC_WINDOW
        ]
        assets = [
            Asset(a.id, f"Asset {a.id}", Vin.parse(a.vin), a.odometer, a.unit, a.location_at)
            for a in self.target.assets.values()
        ]
        defects = [
            Defect(d.id, d.asset_id, d.code, d.status, d.repeated_times, d.updated_at)
            for d in self.target.defects.values()
        ]
        vehicles = [v.vehicle for v in self.source.values()]
        return Observed("gpsinsight", vehicles, fixes, dtcs, assets, defects)

    def plan_now(self) -> Plan:
        """Plan from a fresh observation and the store as it is now."""
        memory = Memory(
            marks={k: dict(v) for k, v in self.marks.items()},
            ledger={k: dict(v) for k, v in self.ledger.items()},
        )
        return plan(self.observe(), memory, CONFIG, self.now)

    def apply_one(self, action: Action) -> None:
        """The write, then the bookkeeping ``_apply_one`` does after it."""
        if isinstance(action, PostLocation):
            self.target.post_location(action.asset_id, action.fix)
            self.marks.setdefault(action.asset_id, {})["last_fix_at"] = action.fix.at
        elif isinstance(action, PostMileage):
            self.target.post_mileage(action.asset_id, action.value, action.unit)
            mark = self.marks.setdefault(action.asset_id, {})
            mark.update(odometer_mi=action.miles, odometer_at=action.at)
        elif isinstance(action, RecordDefect):
            self.ledger.setdefault((action.asset_id, action.code), {}).update(
                defect_id=action.defect.id,
                status=action.defect.status,
                last_occurrence=action.last_occurrence,
            )
        else:
            dtc = action.dtc
            defect = self.target.post_dtc(action.asset_id, dtc, action.repeat, self.now)
            self.ledger.setdefault((action.asset_id, dtc.code), {}).update(
                defect_id=defect.id,
                status=defect.status,
                last_occurrence=dtc.last,
                posted_day=vendor_day(dtc.last),
            )


# -- generated histories --------------------------------------------------------------------

VEHICLE_IDS = st.sampled_from(["v1", "v2", "v3"])
CODE_NAMES = st.sampled_from(CODES)
CHANGES = st.one_of(
    st.tuples(
        st.just("fix"),
        VEHICLE_IDS,
        st.sampled_from(sorted(PLACES)),
        st.sampled_from([None, 0.0, 0.04, 3.7, 180.0, 2_900.0, -25.0, 9_000.0]),
    ),
    st.tuples(st.just("report"), VEHICLE_IDS, CODE_NAMES),
    st.tuples(st.just("clear"), VEHICLE_IDS, CODE_NAMES),
    st.tuples(
        st.just("human"),
        st.integers(min_value=0, max_value=3),
        st.sampled_from(["In Progress", "Completed", "Completed", "No Correction Needed"]),
    ),
)
PAUSES = st.sampled_from([0, 60, 180, 299, 300, 420, 3600, 6 * 3600, 86_400, 86_400, 2 * 86_400])
RUNS = st.sampled_from([None, ("run", None), ("run", None), ("run", 0), ("run", 1), ("run", 3)])


def _flatten(steps: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Each step is a vendor change, a pause and maybe a run (which may crash); a full run
    closes every history."""
    history: list[tuple[Any, ...]] = []
    for change, pause, run in steps:
        history += [change, ("advance", pause), *([run] if run else [])]
    return [*history, ("run", None)]


HISTORIES = st.lists(st.tuples(CHANGES, PAUSES, RUNS), min_size=1, max_size=30).map(_flatten)
SIMULATED = hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True)


def simulate(history: list[tuple[Any, ...]]) -> Simulation:
    """Play a generated history from the start."""
    sim = Simulation.start()
    for op in history:
        sim.step(op)
    return sim


@SIMULATED
@given(HISTORIES)
def test_r1_a_run_repeated_with_no_vendor_change_writes_nothing(
    history: list[tuple[Any, ...]],
) -> None:
    assert simulate(history).replay_writes == []


@SIMULATED
@given(HISTORIES)
def test_r17_never_more_than_one_open_defect_per_asset_and_code(
    history: list[tuple[Any, ...]],
) -> None:
    sim = Simulation.start()
    most_open = 0
    for op in history:
        sim.step(op)
        identities = {(d.asset_id, d.code) for d in sim.target.defects.values()}
        most_open = max([most_open, *(len(sim.target.open_defects(*i)) for i in identities)])
    assert (most_open > 1, sim.target.opened_while_open) == (False, [])


@SIMULATED
@given(HISTORIES)
def test_r17_a_defect_hears_of_a_code_at_most_once_per_vendor_day_and_only_when_it_advanced(
    history: list[tuple[Any, ...]],
) -> None:
    sim = simulate(history)
    broken = [
        d.occurrences
        for d in sim.target.defects.values()
        if d.occurrences != sorted(set(d.occurrences))
        or len({vendor_day(at) for at in d.occurrences}) != len(d.occurrences)
    ]
    assert broken == []


@SIMULATED
@given(HISTORIES)
def test_r18_a_resolved_code_opens_a_new_defect_only_after_the_quiet_period(
    history: list[tuple[Any, ...]],
) -> None:
    sim = simulate(history)
    assert [gap for gap in sim.target.reopened_after if gap <= CONFIG.quiet_period] == []


@SIMULATED
@given(HISTORIES)
def test_r19_codes_last_seen_before_activation_never_become_defects(
    history: list[tuple[Any, ...]],
) -> None:
    sim = simulate(history)
    early = CONFIG.activated_at - CONFIG.lookback
    assert [d for d in sim.target.defects.values() if min(d.occurrences) < early] == []


def test_simulation_reaches_every_kind_of_write() -> None:
    # Guards the properties against a simulation that quietly stopped writing anything.
    history = [
        ("report", "v1", "P0420"),
        ("fix", "v2", "here", 12.0),
        ("run", None),
        ("advance", 86_400),
        ("run", None),
        ("human", 0, "Completed"),
        ("advance", 2 * 86_400),
        ("run", None),
    ]
    sim = simulate(history)
    p0420 = [(d.status, d.repeated_times) for d in sim.target.defects.values()]
    assert (p0420, sim.marks[12]["odometer_mi"], sim.target.assets[11].location_at) == (
        [("Completed", 2), ("New", 1)],
        5112.0,
        T0 - timedelta(minutes=10),
    )
