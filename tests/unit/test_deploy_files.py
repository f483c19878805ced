"""docker-compose.yml cannot run here (no Docker engine), so it is checked by reading it."""

import subprocess
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
    assert f"PR_KAFKA_VERSION:-{version}" in (ROOT / "deploy/kafka.sh").read_text()


def test_console_scripts_the_compose_file_runs_are_declared():
    pyproject = (ROOT / "pyproject.toml").read_text()
    for script in ("pr-ingest", "pr-scoring", "pr-review", "pr-admin"):
        assert f"{script} = " in pyproject


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_publishes_the_apis_on_loopback_only():
    services = _compose()["services"]
    published = {name: spec.get("ports", []) for name, spec in services.items()}
    assert published["ingest"] == ["127.0.0.1:8001:8001"]
    assert published["review"] == ["127.0.0.1:8002:8002"]
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_compose_passes_secrets_from_an_uncommitted_env_file_and_says_why_open_mode_is_allowed():
    compose = _compose()
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("topics", "ingest", "scoring", "review"):
        service = compose["services"][name]
        assert service["env_file"] == [{"path": ".env", "required": False}], name
        assert service["environment"]["PR_ALLOW_OPEN"] == "${PR_ALLOW_OPEN:-true}", name
    assert "published on 127.0.0.1" in text
    example = (ROOT / ".env.example").read_text()
    for variable in (
        "PR_INGEST_API_KEYS",
        "PR_REVIEW_API_KEYS",
        "PR_INGEST_SALESFORCE_TOKEN",
        "PR_INGEST_HUBSPOT_CLIENT_SECRET",
        "PR_INGEST_PIPEDRIVE_USER",
        "PR_INGEST_PIPEDRIVE_PASSWORD",
    ):
        assert f"\n{variable}=replace-with-" in example, variable


def test_no_env_file_is_committed_and_git_ignores_it():
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", ".env", "**/.env"], capture_output=True, text=True, check=True
    ).stdout
    assert tracked == ""
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", "-q", ".env"], check=False)
    assert ignored.returncode == 0, ".env is not in .gitignore"
    assert (
        subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "--error-unmatch", ".env.example"], capture_output=True, check=False
        ).returncode
        == 0
    ), ".env.example is not committed"


def test_long_running_services_restart_unless_stopped():
    services = _compose()["services"]
    for name in ("kafka", "redis", "ingest", "scoring", "review"):
        assert services[name]["restart"] == "unless-stopped", name
    assert "restart" not in services["topics"]  # a one-shot job: it must end, not loop


def test_image_runs_as_an_unprivileged_user_owning_its_data_dir():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0", "0:0"), "the image's last USER is root"
    text = (ROOT / "Dockerfile").read_text()
    assert f"useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin {users[-1]}" in text
    assert f"chown -R {users[-1]}:{users[-1]} /var/lib/pipeline-review" in text
    assert "PR_SCORING_DATA_DIR=/var/lib/pipeline-review/scoring" in text
    assert text.index("USER ") > text.index("pip install")  # installing still happens as root


def test_make_up_supervises_every_service_and_make_down_stops_the_supervisor_first():
    stack = (ROOT / "deploy/stack.sh").read_text()
    assert 'supervise "$name"' in stack and "restarting in ${delay}s" in stack
    down = stack.split("down() {", 1)[1].split("\n}", 1)[0]
    assert down.index("supervisor.pid") < down.index('service_running "$name"')


# Linux hands out local ports for outgoing connections from 32768 up (ip_local_port_range).
# A client that keeps reconnecting to a stopped broker or Redis on such a port can be given
# that very port as its own source and connect to itself, so the restarted server finds its
# port taken ("Unable to start acceptor"). Every port the scripts restart stays below it.
FIRST_EPHEMERAL_PORT = 32768


def test_every_default_port_of_the_scripts_is_outside_the_ephemeral_range():
    from services.admin.config_doc import DEPLOY_VARIABLES

    ports = {
        name: int(default) for name, default, _ in DEPLOY_VARIABLES if name.endswith("_PORT") and default.isdigit()
    }
    assert {
        "PR_TEST_KAFKA_PORT",
        "PR_TEST_REDIS_PORT",
        "PR_CHAOS_KAFKA_PORT",
        "PR_CHAOS_REDIS_PORT",
        "PR_SOAK_KAFKA_PORT",
        "PR_BENCH_KAFKA_PORT",
    } <= set(ports)
    # A Redis Cluster node's bus listens on its port + 10000.
    bus = {f"{name} bus": port + 10_000 for name, port in ports.items() if "REDIS_CLUSTER" in name}
    # Three-broker clusters use the base port and the next two.
    nodes = {f"{name} + 2": port + 2 for name, port in ports.items() if "CLUSTER" in name and "KAFKA" in name}
    inside = {name: port for name, port in {**ports, **bus, **nodes}.items() if port >= FIRST_EPHEMERAL_PORT}
    assert inside == {}


def test_the_ephemeral_range_of_this_machine_starts_where_the_test_assumes():
    low, _high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert low >= FIRST_EPHEMERAL_PORT
