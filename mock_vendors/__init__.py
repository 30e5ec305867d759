"""Flask emulators of the fleet vendors fleetsim stands in for."""
