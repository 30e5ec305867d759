"""Netradyne Driveri emulator: OAuth client credentials and tenant drivers."""
