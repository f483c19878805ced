"""CSV import of opportunities: column map (TOML), row mapping, event derivation
(import or replay), and the ``pr-import`` command that posts the events to ingest."""
