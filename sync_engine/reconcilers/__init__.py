"""Level-triggered reconcilers: observe -> plan (pure) -> apply."""
