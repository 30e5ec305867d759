"""``vin/decode``: what a VIN's structure says (49 CFR 565), never what the fleet holds.

A mixin of :class:`~mock_vendors.gpsinsight.backend.GpsInsightBackend`, plus the pure decoder.
The make comes from the WMI (positions 1-3) where ``fixtures.providers`` knows it, the model
year from position 10 (position 7 a letter: the 2010-2039 cycle, a digit: 1980-2009), and the
check digit (position 9) is recomputed. Model, trim, body, driveline and engine would need a
manufacturer's database: they are ``null`` [assumed].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fixtures.providers import MAKES, VIN_ALPHABET, model_year_code, vin_check_digit

from .errors import invalid

if TYPE_CHECKING:
    from .backend import BackendCore as _Core
else:
    _Core = object

VIN_RULE = "expected 17 characters, digits and letters other than I, O and Q"
MAKE_BY_WMI = {make.wmi: make.name for make in MAKES}
YEARS_BY_CODE: dict[str, tuple[int, int]] = {
    model_year_code(year): (year, year + 30) for year in range(1980, 2010)
}


def decode_vin(vin: str) -> dict[str, Any]:
    """One decoder record of a VIN, keyed as the platform keys them: by an id, here the
    "squish VIN" (positions 1-8 and 10-11, what a pattern decoder looks up). A VIN that is
    not 17 VIN characters is a 400 naming ``vin``."""
    text = vin.strip().upper()
    if len(text) != 17 or any(char not in VIN_ALPHABET for char in text):
        raise invalid("vin", VIN_RULE)
    years = YEARS_BY_CODE.get(text[9])
    year = None if years is None else years[1] if text[6].isalpha() else years[0]
    expected = vin_check_digit(text)
    key = text[:8] + text[9:11]
    return {
        key: {
            "id": key,
            "wmi": text[:3],
            "make": MAKE_BY_WMI.get(text[:3]),
            "model": None,
            "year": None if year is None else str(year),
            "trim": None,
            "body": None,
            "driveline": None,
            "engine": None,
            "check_digit": text[8],
            "check_digit_valid": text[8] == expected,
        }
    }


class VinService(_Core):
    """``vin/*``: answers from the VIN alone, so it shows nothing of any fleet."""

    def vin_decode(self, user: dict[str, Any], *, vin: str) -> dict[str, Any]:
        """``vin/decode``: an object keyed by decoder record id (one record here)."""
        return decode_vin(vin)
