"""Pipeline Review: ingest, scoring and review services around one shared contract."""
