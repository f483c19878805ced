"""ingest: turns CRM payloads into canonical deal events on Kafka."""
