"""The AsyncAPI 3 document of the project's topics, generated from the pydantic models.

deal-events (services/shared/events.py), deal-alerts and deal-events-dlq
(services/shared/records.py); the topic layout from services/shared/topics.py. Ingest serves
it at ``/asyncapi.json``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .alerts import Alert
from .events import DealEvent
from .records import DeadLetterRecord
from .topics import DEAD_LETTER, DEAL_ALERTS, DEAL_EVENTS, topic_specs

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
SCHEMA_REF = "#/components/schemas/{model}"

# The W3C trace context, present when the producer traces (services/shared/tracing.py).
TRACE_HEADERS = {
    "type": "object",
    "properties": {
        "traceparent": {
            "type": "string",
            "description": "W3C trace context of the producing span; only when "
            "the producer has tracing on (PR_OTLP_ENDPOINT).",
        },
        "tracestate": {"type": "string", "description": "W3C vendor trace state, with traceparent."},
    },
}

# channel id -> (topic, model, message id, key description, what it is)
CHANNELS: dict[str, tuple[str, type[BaseModel], str, str, str]] = {
    "dealEvents": (
        DEAL_EVENTS,
        DealEvent,
        "dealEvent",
        "deal_id: a deal's events stay in order on one partition",
        "Canonical deal events, one per change in a CRM (or a CSV import, or the API). Absent fields of "
        "`changes` were not changed; null means cleared. Kept forever: the read model is rebuilt from it.",
    ),
    "dealAlerts": (
        DEAL_ALERTS,
        Alert,
        "dealAlert",
        "deal_id",
        "Alerts raised by the scoring worker, written in the Kafka transaction that folds their event: "
        "read with isolation.level=read_committed. At least once: deduplicate by alert_id.",
    ),
    "deadLetters": (
        DEAD_LETTER,
        DeadLetterRecord,
        "deadLetter",
        "the source's name",
        "Items ingest received from a CRM but could not map, with the reason, kept to be replayed after "
        "a fix (PR_DEAD_LETTER_RETENTION_DAYS).",
    ),
}

# operation id -> (action, channel id, who, summary)
OPERATIONS = {
    "ingestPublishesDealEvents": (
        "send",
        "dealEvents",
        "ingest",
        "ingest produces each accepted event (202 only after Kafka acknowledged it).",
    ),
    "scoringFoldsDealEvents": (
        "receive",
        "dealEvents",
        "scoring",
        "The scoring worker folds events into deal states (consumer group PR_SCORING_APP_ID).",
    ),
    "scoringRaisesDealAlerts": (
        "send",
        "dealAlerts",
        "scoring",
        "The scoring worker raises an alert for a discount request.",
    ),
    "reviewFeedsDealAlerts": (
        "receive",
        "dealAlerts",
        "review",
        "review puts alerts on its feed, streams and webhooks (consumer group PR_REVIEW_ALERT_GROUP).",
    ),
    "ingestDeadLettersItems": ("send", "deadLetters", "ingest", "ingest keeps what it cannot map."),
}


def _schema_extra(model: type[BaseModel]) -> dict[str, Any]:
    """A model's ``json_schema_extra`` (every model here gives it as a dict, with its examples)."""
    extra = model.model_config.get("json_schema_extra", {})
    assert isinstance(extra, dict), f"{model.__name__}: json_schema_extra must be a dict"
    return extra


def model_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """Each model's JSON schema and its nested ones, as components/schemas entries."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=SCHEMA_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def asyncapi_document(
    topic_prefix: str = "",
    deal_event_partitions: int = 6,
    replication_factor: int = 1,
    dead_letter_retention_days: float = 30,
) -> dict[str, Any]:
    """The AsyncAPI 3 document for topics named with ``topic_prefix``."""
    specs = {
        spec.name: spec
        for spec in topic_specs(topic_prefix, deal_event_partitions, dead_letter_retention_days, replication_factor)
    }
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for channel_id, (topic, model, message_id, key, description) in CHANNELS.items():
        spec = specs[topic_prefix + topic]
        retention = int(spec.config["retention.ms"])
        channels[channel_id] = {
            "address": spec.name,
            "title": topic,
            "description": description,
            "messages": {message_id: {"$ref": f"#/components/messages/{model.__name__}"}},
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "replicas": spec.replication_factor,
                    "topicConfiguration": {"retention.ms": retention, "cleanup.policy": ["delete"]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        messages[model.__name__] = {
            "name": model.__name__,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "headers": TRACE_HEADERS,
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": f"The record key: {key}."},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
            "examples": [{"payload": example} for example in _schema_extra(model).get("examples", [])],
        }
    operations = {
        operation_id: {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": summary,
            "tags": [{"name": who}],
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{CHANNELS[channel_id][2]}"}],
        }
        for operation_id, (action, channel_id, who, summary) in OPERATIONS.items()
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Pipeline Review topics",
            "version": "1",
            "description": "The Kafka topics of Pipeline Review for integrators: what ingest produces, what the "
            "scoring worker raises, what cannot be mapped. Records are JSON; W3C trace context travels "
            "in the record headers when tracing is on.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": model_schemas(DealEvent, Alert, DeadLetterRecord)},
    }
