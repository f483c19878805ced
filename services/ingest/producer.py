"""ingest's Kafka edge is the shared producer (review sends managers' actions with it too)."""

from services.shared.producer import EventProducer, KafkaUnavailable

__all__ = ["EventProducer", "KafkaUnavailable"]
