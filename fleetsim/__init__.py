"""The ``fleetsim`` command: serve the emulators (later: run the sync engine)."""
