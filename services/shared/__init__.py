"""The contracts every service imports: event schema, topics, Redis keys, settings."""
