"""What every vendor emulator shares: clock, faults, journal, control plane, app factory."""
