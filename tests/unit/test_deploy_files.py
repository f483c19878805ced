"""docker-compose.yml cannot run here (no Docker engine), so it is checked by reading it."""

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_compose_names_each_service_with_health_checks_and_order():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "redis", "ingest", "scoring", "review"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:3.9")
    for name in ("kafka", "redis", "ingest", "scoring", "review"):
        assert "test" in services[name]["healthcheck"], name
    for name, command in (("ingest", "pr-ingest"), ("scoring", "pr-scoring"), ("review", "pr-review")):
        assert services[name]["build"] == "."
        assert services[name]["command"] == [command]
    assert services["scoring"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_kafka_matches_the_local_broker_version():
    pom = (ROOT / "deploy/kafka/pom.xml").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    version = compose["services"]["kafka"]["image"].split(":")[1]
    assert f"<kafka.version>{version}</kafka.version>" in pom
    assert f'PR_KAFKA_VERSION:-{version}' in (ROOT / "deploy/kafka.sh").read_text()


def test_console_scripts_the_compose_file_runs_are_declared():
    pyproject = (ROOT / "pyproject.toml").read_text()
    for script in ("pr-ingest", "pr-scoring", "pr-review", "pr-admin"):
        assert f'{script} = ' in pyproject


def test_compose_restarts_the_long_running_services_but_not_the_topics_job():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("kafka", "redis", "ingest", "scoring", "review"):
        assert services[name].get("restart") == "unless-stopped", name
    assert "restart" not in services["topics"]  # a one-shot job: restarting it would loop


def test_make_up_supervises_every_service_and_make_down_stops_the_supervisor_first():
    stack = (ROOT / "deploy/stack.sh").read_text()
    assert 'supervise "$name"' in stack and "restarting in ${delay}s" in stack
    down = stack.split("down() {", 1)[1].split("\n}", 1)[0]
    assert down.index("supervisor.pid") < down.index('service_running "$name"')
