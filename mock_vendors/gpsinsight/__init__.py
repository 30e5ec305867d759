"""GPS Insight API v2 emulator (also the platform Wex Telematics runs on)."""
