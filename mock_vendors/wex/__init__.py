"""Wex Telematics: the GPS Insight platform under another brand (configuration, not a copy)."""
