"""Source adapters: vendor payloads to canonical deal events (pure, no I/O)."""
