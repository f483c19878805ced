"""The one place that turns the ``PR_KAFKA_*`` security settings into client options.

Every Kafka client of the project is built with these: kafka-python (ingest's producer, the
admin and rebuild tools), aiokafka (review's alert feed) and faust-streaming (the scoring
worker, whose consumers, producers and topic creation all take ``broker_credentials``).
"""

from __future__ import annotations

import ssl
from typing import Any

import faust

from .settings import SASL_PROTOCOLS, TLS_PROTOCOLS, CommonSettings


def kafka_ssl_context(settings: CommonSettings) -> ssl.SSLContext | None:
    """A verifying TLS context (hostname checked) for SSL/SASL_SSL, else None."""
    if settings.kafka_security_protocol not in TLS_PROTOCOLS:
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    return ssl.create_default_context(cafile=cafile)


def _sasl_password(settings: CommonSettings) -> str:
    """The SASL password; the settings refuse a SASL protocol without one."""
    assert settings.kafka_sasl_password is not None, "CommonSettings requires PR_KAFKA_SASL_PASSWORD with SASL"
    return settings.kafka_sasl_password.get_secret_value()


def kafka_client_options(settings: CommonSettings) -> dict[str, Any]:
    """Keyword arguments for KafkaProducer/KafkaConsumer/KafkaAdminClient and AIOKafka*.

    kafka-python and aiokafka share these option names, so one mapping serves both.
    """
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    context = kafka_ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol in SASL_PROTOCOLS:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = _sasl_password(settings)
    return options


def faust_broker_credentials(settings: CommonSettings) -> faust.types.auth.CredentialsT | None:
    """``broker_credentials`` for ``faust.App``; None on PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    context = kafka_ssl_context(settings)
    if protocol in SASL_PROTOCOLS:
        # faust picks SASL_SSL when it is given a context, SASL_PLAINTEXT without one.
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=_sasl_password(settings),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
