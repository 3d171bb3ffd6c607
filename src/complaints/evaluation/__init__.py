"""Numbers about models: figures and the engine gate, the bootstrap, seeds' spread, combinations, thresholds, slices, the external set."""
