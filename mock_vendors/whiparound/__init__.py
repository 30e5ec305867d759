"""Whip Around public API v4 emulator: assets, telematics writes by id or VIN, defects."""
