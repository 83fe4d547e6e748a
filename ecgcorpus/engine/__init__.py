"""The build engine: plan units, run them (process pool or datatrove), write shards, lock, card."""
