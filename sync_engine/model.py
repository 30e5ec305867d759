"""What the engine reasons about, free of any vendor's wire format (frozen dataclasses)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

MILES_TO_KM = 1.609344
PLACEHOLDER_VINS = frozenset({"", "N/A", "NA", "NONE", "NULL", "UNKNOWN", "TBD"})
_VIN_CHARS = re.compile(r"[A-HJ-NPR-Z0-9]*")  # I, O and Q are never used
_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


@dataclass(frozen=True)
class Vin:
    """A VIN as reported, its normalised form (R10) and what is wrong with it (R12)."""

    raw: str | None
    key: str
    placeholder: bool
    problems: tuple[str, ...]

    @classmethod
    def parse(cls, raw: str | None) -> Vin:
        """Normalise (no whitespace, upper case) and check length, characters, check digit."""
        key = re.sub(r"\s+", "", raw or "").upper()
        placeholder = key in PLACEHOLDER_VINS or len(set(key)) == 1
        problems: list[str] = []
        if not placeholder:
            if len(key) != 17:
                problems.append("LENGTH")
            if not _VIN_CHARS.fullmatch(key):
                problems.append("CHARACTERS")
            elif len(key) == 17 and check_digit(key) != key[8]:
                problems.append("CHECK_DIGIT")
        return cls(raw=raw, key=key, placeholder=placeholder, problems=tuple(problems))

    @property
    def matchable(self) -> bool:
        """Placeholders never match (R12); invalid but real strings still may."""
        return not self.placeholder


def check_digit(vin: str) -> str:
    """The North American check digit (49 CFR 565.15) of a 17-character VIN."""
    total = sum(_TRANSLITERATION[c] * w for c, w in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def canonical_code(code: str) -> str:
    """A DTC's identity (R16): upper case, whitespace collapsed."""
    return " ".join(code.split()).upper()


@dataclass(frozen=True)
class Vehicle:
    """A telematics vehicle."""

    id: str
    vin: Vin
    label: str
    serial: str = ""
    odometer_mi: float | None = None


@dataclass(frozen=True)
class Fix:
    """A position report, in UTC, with the odometer in miles when the vendor sent one."""

    vehicle_id: str
    at: datetime
    latitude: float
    longitude: float
    odometer_mi: float | None = None

    @property
    def coordinates_valid(self) -> bool:
        """Within range and not the (0, 0) null island (R15)."""
        return (
            -90 <= self.latitude <= 90
            and -180 <= self.longitude <= 180
            and not (self.latitude == 0 and self.longitude == 0)
        )


@dataclass(frozen=True)
class Dtc:
    """A diagnostic code reported for a vehicle in a window: first and last occurrence, UTC."""

    vehicle_id: str
    code: str
    description: str
    first: datetime
    last: datetime
    count: int


@dataclass(frozen=True)
class Asset:
    """A Whip Around asset."""

    id: int
    name: str
    vin: Vin
    odometer: float | None
    odometer_unit: str | None
    location_at: datetime | None


@dataclass(frozen=True)
class Defect:
    """A Whip Around defect opened from a DTC."""

    id: int
    asset_id: int
    code: str
    status: str
    repeated_times: int
    updated_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Open means New or In Progress."""
        return self.status in ("New", "In Progress")


# -- drivers (GPS portal -> Driveri) ----------------------------------------------------------

DRIVERI_ACTIVE, DRIVERI_INACTIVE, DRIVERI_DELETED = 1, 2, 3  # Driveri's driver status codes


def driver_key(raw: str | None) -> str:
    """R20: a "Driveri DriverID" as compared -- trimmed, letter case ignored ("" when empty)."""
    return (raw or "").strip().casefold()


@dataclass(frozen=True)
class PortalDriver:
    """A driver of the GPS Insight / Wex portal (the source of truth)."""

    id: int  # the portal's numeric id: what a link remembers
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    ref_id: str | None  # never the key (R20)
    driveri_id: str | None  # the "Driveri DriverID" field, as the portal holds it
    version: int  # counted up by the portal on every change (R26)

    @property
    def key(self) -> str:
        """The comparable DriverID (R20)."""
        return driver_key(self.driveri_id)


@dataclass(frozen=True)
class DriveriDriver:
    """A Driveri driver (the target). Driveri never returns the phone."""

    driver_id: str
    first_name: str
    last_name: str
    email: str | None
    status: int  # DRIVERI_ACTIVE | DRIVERI_INACTIVE | DRIVERI_DELETED

    @property
    def key(self) -> str:
        """The comparable driverId."""
        return driver_key(self.driver_id)
