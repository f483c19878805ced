"""The pipeline through a SASL_SSL (SCRAM-SHA-512) broker and a TLS Redis with an ACL user.

The deploy scripts start both here, on their own ports and state directory, with passwords
made for this run; so `make test` needs no extra step and never touches the shared broker.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError

from services.admin.topics import ensure_topics
from services.shared.kafka_config import kafka_client_options
from services.shared.settings import CommonSettings
from testkit.processes import BIN, Service, free_port
from tests.conftest import settings_env
from tests.e2e.conftest import running_stack
from tests.e2e.test_alerts import canonical

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# Free ports picked at start unless set: a fixed port inside the ephemeral range can be taken
# by some client connection's local port by the time the broker binds it.
KAFKA_PORT = int(os.environ.get("PR_TEST_SECURE_KAFKA_PORT") or free_port())
CONTROLLER_PORT = int(os.environ.get("PR_TEST_SECURE_KAFKA_CONTROLLER_PORT") or free_port())
REDIS_PORT = int(os.environ.get("PR_TEST_SECURE_REDIS_PORT") or free_port())


@dataclass
class SecureInfra:
    state_dir: Path
    kafka_user: str
    kafka_password: str
    redis_user: str
    redis_password: str

    @property
    def kafka_cafile(self) -> Path:
        return self.state_dir / "kafka" / "tls" / "ca.pem"

    def redis_url(self, password: str | None = None, user: str | None = None) -> str:
        user, password = user or self.redis_user, password or self.redis_password
        return (
            f"rediss://{user}:{password}@127.0.0.1:{REDIS_PORT}/0"
            f"?ssl_ca_certs={self.state_dir / 'redis' / 'tls' / 'ca.pem'}"
        )

    def settings(self, **overrides) -> CommonSettings:
        tag = uuid.uuid4().hex[:8]
        values = dict(
            kafka_bootstrap=f"127.0.0.1:{KAFKA_PORT}",
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=self.kafka_user,
            kafka_sasl_password=self.kafka_password,
            kafka_ssl_cafile=self.kafka_cafile,
            redis_url=self.redis_url(),
            topic_prefix=f"s{tag}-",
            redis_prefix=f"s{tag}",
        )
        return CommonSettings(**(values | overrides))


def _deploy(script: str, command: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(ROOT / "deploy" / script), command], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"deploy/{script} {command} failed:\n{done.stderr}"


@pytest.fixture(scope="session")
def secure_infra(tmp_path_factory) -> Iterator[SecureInfra]:
    """A SASL_SSL broker and a TLS + ACL Redis started by the deploy scripts, stopped at the end."""
    state_dir = Path(os.environ.get("PR_TEST_SECURE_STATE_DIR") or tmp_path_factory.mktemp("secure-infra"))
    infra = SecureInfra(state_dir, "pr-scoring-test", secrets.token_urlsafe(18), "pr-app", secrets.token_urlsafe(18))
    env = {
        **os.environ,
        "PR_STATE_DIR": str(state_dir),
        "PR_KAFKA_PORT": str(KAFKA_PORT),
        "PR_KAFKA_CONTROLLER_PORT": str(CONTROLLER_PORT),
        "PR_KAFKA_SECURITY": "sasl_ssl",
        "PR_KAFKA_SASL_USERNAME": infra.kafka_user,
        "PR_KAFKA_SASL_PASSWORD": infra.kafka_password,
        "PR_KAFKA_HEAP": "-Xms128m -Xmx512m",
        "PR_REDIS_PORT": str(REDIS_PORT),
        "PR_REDIS_USER": infra.redis_user,
        "PR_REDIS_PASSWORD": infra.redis_password,
        "PR_REDIS_TLS": "1",
    }
    # A fresh broker and Redis: an earlier run's users and passwords must not linger.
    for script in ("kafka.sh", "redis.sh"):
        subprocess.run([str(ROOT / "deploy" / script), "stop"], env=env, capture_output=True, timeout=60)
    shutil.rmtree(state_dir, ignore_errors=True)
    try:
        _deploy("kafka.sh", "start", env)
        _deploy("redis.sh", "start", env)
        yield infra
    finally:
        _deploy("kafka.sh", "stop", env)
        _deploy("redis.sh", "stop", env)


@pytest.fixture(scope="session")
def secure_settings(secure_infra) -> CommonSettings:
    settings = secure_infra.settings()
    ensure_topics(settings)
    return settings


@pytest.fixture(scope="session")
def secure_stack(secure_settings, tmp_path_factory):
    """ingest, scoring and review as processes, configured only through PR_* variables."""
    log_dir = tmp_path_factory.mktemp("secure-stack")
    with running_stack(secure_settings, log_dir) as urls:
        yield urls, log_dir


def test_pipeline_runs_end_to_end_through_sasl_ssl_kafka_and_tls_redis(secure_stack, secure_settings):
    urls, _ = secure_stack
    deal = f"api:secure-{uuid.uuid4().hex[:6]}"
    created = canonical(
        deal,
        "deal.created",
        0,
        name="Secure renewal",
        account="Acme",
        owner_id="u1",
        team="East",
        manager_id="m1",
        stage="Negotiation/Review",
        amount=120_000,
        currency="EUR",
        close_date=time.strftime("%Y-%m-%d"),
    )
    discount = canonical(
        deal, "deal.discount_requested", 5, discount_pct=10, discount_reason="competitor", requested_by="u1"
    )
    with httpx.Client(timeout=30) as client:
        assert client.post(f"{urls['ingest']}/v1/events", json=[created, discount]).status_code == 202
        deadline = time.monotonic() + 30
        card = alerts = None
        while time.monotonic() < deadline:
            card = client.get(f"{urls['review']}/v1/deals/{deal}")
            # (the deal also raises a qualification_gap: created late with nothing known)
            alerts = client.get(f"{urls['review']}/v1/alerts", params={"kind": "late_stage_discount"}).json()["items"]
            if card.status_code == 200 and alerts:
                break
            time.sleep(0.3)
        assert card is not None and card.status_code == 200, "scoring never folded the deal into Redis"
        assert card.json()["phase"] == "late" and card.json()["amount"] == 120_000
        manager = client.get(f"{urls['review']}/v1/lists/manager").json()["items"]
        assert deal in [item["deal_id"] for item in manager]
    assert [(a["kind"], a["deal_id"], a["value_at_risk"]) for a in alerts] == [("late_stage_discount", deal, 12_000)]
    # The operations tool reads the topic (kafka-python) and rewrites Redis through the same settings.
    rebuilt = subprocess.run(
        [str(BIN / "pr-admin"), "rebuild-read-model"],
        env={**os.environ, **settings_env(secure_settings)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt 1 deals from 2 events (0 invalid skipped)" in rebuilt.stdout
    assert secure_settings.redis_url.get_secret_value() not in rebuilt.stdout + rebuilt.stderr


def test_no_password_appears_in_the_services_logs(secure_stack, secure_infra):
    _, log_dir = secure_stack
    logs = {path.name: path.read_text(errors="replace") for path in log_dir.glob("*.log")}
    assert {name.split("-")[0] for name in logs} == {"ingest", "scoring", "review"}
    assert all(text.strip() for text in logs.values()), "every service wrote its start-up lines"
    for name, text in logs.items():
        assert secure_infra.redis_password not in text, f"the Redis password is in {name}"
        assert secure_infra.kafka_password not in text, f"the Kafka password is in {name}"


async def _start_producer(settings: CommonSettings) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=5000, **kafka_client_options(settings)
    )
    try:
        await producer.start()
    finally:
        await producer.stop()


async def test_kafka_accepts_the_right_password_and_refuses_a_wrong_one(secure_infra, caplog):
    await _start_producer(secure_infra.settings())
    caplog.set_level(logging.ERROR, logger="aiokafka")
    with pytest.raises(KafkaConnectionError):
        await _start_producer(secure_infra.settings(kafka_sasl_password=SecretStr("not-the-password")))
    assert "Authentication failed during authentication due to invalid credentials" in caplog.text
    broker_log = (secure_infra.state_dir / "logs" / "kafka.log").read_text()
    assert "Failed authentication with" in broker_log and "invalid credentials" in broker_log


async def test_kafka_refuses_clients_without_tls_or_without_the_ca(secure_infra, caplog):
    caplog.set_level(logging.ERROR, logger="aiokafka")
    with pytest.raises(KafkaConnectionError):
        # The system trust store does not know the throw-away CA.
        await _start_producer(secure_infra.settings(kafka_ssl_cafile=None))
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    with pytest.raises(KafkaConnectionError):
        await _start_producer(secure_infra.settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_ssl_cafile=None))


async def test_redis_accepts_the_acl_user_and_refuses_a_wrong_password_or_no_login(secure_infra):
    good = aioredis.Redis.from_url(secure_infra.redis_url())
    try:
        assert await good.acl_whoami() == "pr-app"
    finally:
        await good.aclose()
    wrong = aioredis.Redis.from_url(secure_infra.redis_url(password="not-the-password"))
    with pytest.raises(AuthenticationError, match="invalid username-password pair"):
        await wrong.ping()
    await wrong.aclose()
    anonymous = aioredis.Redis.from_url(
        f"rediss://127.0.0.1:{REDIS_PORT}/0?ssl_ca_certs={secure_infra.state_dir / 'redis' / 'tls' / 'ca.pem'}"
    )
    with pytest.raises(AuthenticationError):
        await anonymous.ping()
    await anonymous.aclose()
    plaintext = aioredis.Redis.from_url(f"redis://pr-app:{secure_infra.redis_password}@127.0.0.1:{REDIS_PORT}/0")
    with pytest.raises(RedisConnectionError):
        await plaintext.ping()
    await plaintext.aclose()


def test_review_with_wrong_passwords_reports_the_refusal_without_the_secrets(secure_infra, secure_settings, tmp_path):
    """Error paths are where a URL leaks: review must say what failed, never with the password."""
    wrong_redis, wrong_kafka = f"wrong-{secrets.token_hex(8)}", f"wrong-{secrets.token_hex(8)}"
    port = free_port()
    env = settings_env(secure_settings) | {
        "PR_REDIS_URL": secure_infra.redis_url(password=wrong_redis),
        "PR_KAFKA_SASL_PASSWORD": wrong_kafka,
        "PR_REVIEW_PORT": str(port),
    }
    review = Service("review", env, f"http://127.0.0.1:{port}/readyz", tmp_path)
    review.process = subprocess.Popen(
        [str(BIN / "pr-review")],
        env={**os.environ, **env},
        stdout=review.log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        body, deadline = {}, time.monotonic() + 30
        while time.monotonic() < deadline and body.get("alert_feed", {}).get("state") != "reconnecting":
            try:
                answer = httpx.get(review.ready_url, timeout=2)
                assert answer.status_code == 503
                body = answer.json()
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert "invalid username-password pair" in body["status"], body
        assert body["alert_feed"]["error"].startswith("KafkaConnectionError"), body
    finally:
        review.stop()
    text = review.log_path.read_text(errors="replace")
    assert "Application startup complete" in text
    assert "SaslAuthenticationFailed: Authentication failed during authentication due to invalid credentials" in text
    for secret in (wrong_redis, wrong_kafka, secure_infra.redis_password, secure_infra.kafka_password):
        assert secret not in text and secret not in str(body)
