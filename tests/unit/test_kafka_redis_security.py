"""The PR_KAFKA_* security settings, the client options made from them, and the secret Redis URL."""

from __future__ import annotations

import ssl

import faust
import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.asyncio.connection import SSLConnection

from services.shared.kafka_config import faust_broker_credentials, kafka_client_options
from services.shared.settings import CommonSettings

pytestmark = pytest.mark.unit
SASL = dict(
    kafka_security_protocol="SASL_SSL",
    kafka_sasl_mechanism="SCRAM-SHA-512",
    kafka_sasl_username="svc",
    kafka_sasl_password="kafka-pw-123",
)


def test_plaintext_is_the_default_and_adds_nothing_but_the_protocol():
    settings = CommonSettings()
    assert kafka_client_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_broker_credentials(settings) is None


def test_sasl_ssl_gives_a_verifying_tls_context_and_the_credentials():
    settings = CommonSettings(**SASL)
    options = kafka_client_options(settings)
    context = options.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "kafka-pw-123",
    }
    credentials = faust_broker_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (credentials.username, credentials.password) == ("svc", "kafka-pw-123")
    assert credentials.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_sasl_plaintext_has_no_tls_context():
    settings = CommonSettings(**(SASL | {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"}))
    assert "ssl_context" not in kafka_client_options(settings)
    credentials = faust_broker_credentials(settings)
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_PLAINTEXT", "PLAIN")


def test_ssl_without_sasl_gives_faust_ssl_credentials():
    settings = CommonSettings(kafka_security_protocol="SSL")
    assert set(kafka_client_options(settings)) == {"security_protocol", "ssl_context"}
    assert isinstance(faust_broker_credentials(settings), faust.SSLCredentials)


def test_the_settings_are_read_from_the_environment(monkeypatch, tmp_path):
    cafile = tmp_path / "ca.pem"
    cafile.write_text("not parsed by the settings")
    for name, value in {
        "PR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "PR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "PR_KAFKA_SASL_USERNAME": "svc",
        "PR_KAFKA_SASL_PASSWORD": "pw",
        "PR_KAFKA_SSL_CAFILE": str(cafile),
    }.items():
        monkeypatch.setenv(name, value)
    settings = CommonSettings()
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-256" and settings.kafka_ssl_cafile == cafile
    assert settings.kafka_sasl_password.get_secret_value() == "pw"


@pytest.mark.parametrize("missing", ["kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password"])
def test_a_sasl_protocol_needs_mechanism_user_and_password(missing):
    with pytest.raises(ValidationError, match=f"SASL_SSL needs PR_{missing.upper()}"):
        CommonSettings(**{name: value for name, value in SASL.items() if name != missing})


def test_sasl_credentials_without_a_sasl_protocol_are_refused():
    with pytest.raises(ValidationError, match="PR_KAFKA_SASL_\\* is set but PR_KAFKA_SECURITY_PROTOCOL=SSL"):
        CommonSettings(**(SASL | {"kafka_security_protocol": "SSL"}))


def test_a_ca_file_needs_a_tls_protocol_and_must_exist(tmp_path):
    cafile = tmp_path / "ca.pem"
    cafile.write_text("x")
    with pytest.raises(ValidationError, match="PR_KAFKA_SSL_CAFILE is set but PR_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"):
        CommonSettings(kafka_ssl_cafile=cafile)
    with pytest.raises(ValidationError, match="kafka_ssl_cafile"):
        CommonSettings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "missing.pem")


def test_an_unknown_protocol_or_mechanism_is_refused():
    with pytest.raises(ValidationError, match="kafka_security_protocol"):
        CommonSettings(kafka_security_protocol="TLS")
    with pytest.raises(ValidationError, match="kafka_sasl_mechanism"):
        CommonSettings(**(SASL | {"kafka_sasl_mechanism": "GSSAPI"}))


def test_passwords_never_show_in_repr_or_str():
    settings = CommonSettings(**SASL, redis_url="rediss://app:redis-pw-456@cache:6380/0")
    for shown in (repr(settings), str(settings), repr(settings.model_dump())):
        assert "redis-pw-456" not in shown and "kafka-pw-123" not in shown
    assert settings.redis_url.get_secret_value() == "rediss://app:redis-pw-456@cache:6380/0"


def test_validation_errors_never_echo_the_redis_url(monkeypatch):
    with pytest.raises(ValidationError, match="PR_REDIS_URL must start with") as bad_scheme:
        CommonSettings(redis_url="http://app:redis-pw-456@cache:6380/0")
    monkeypatch.setenv("PR_REDIS_URL", "rediss://app:redis-pw-456@cache:6380/0")
    with pytest.raises(ValidationError, match="deal_event_partitions") as other_field:
        CommonSettings(deal_event_partitions=0)
    # str/repr are what a failed start prints (pydantic keeps the input only in .errors()).
    for error in (bad_scheme.value, other_field.value):
        assert "redis-pw-456" not in str(error) and "redis-pw-456" not in repr(error)


def test_redis_clients_take_rediss_urls_with_acl_user_and_ca_file():
    url = CommonSettings(redis_url="rediss://app:redis-pw-456@cache:6380/2?ssl_ca_certs=/etc/pr/ca.pem").redis_url
    pool = aioredis.Redis.from_url(url.get_secret_value()).connection_pool
    assert pool.connection_class is SSLConnection
    assert {k: pool.connection_kwargs[k] for k in ("host", "port", "db", "username", "password", "ssl_ca_certs")} == {
        "host": "cache",
        "port": 6380,
        "db": 2,
        "username": "app",
        "password": "redis-pw-456",
        "ssl_ca_certs": "/etc/pr/ca.pem",
    }
    assert "redis-pw-456" not in repr(pool)
