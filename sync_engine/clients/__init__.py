"""Vendor clients: the anti-corruption layer between vendor JSON and the engine's model."""
