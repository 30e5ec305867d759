"""What the engine's HTTP side needs that is pure (no Flask: see tests/test_architecture.py)."""
