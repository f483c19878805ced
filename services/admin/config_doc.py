"""Render every setting of every service as the README's configuration table."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings


def settings_classes() -> list[type[BaseSettings]]:
    from services.ingest.settings import IngestSettings
    from services.review.settings import ReviewSettings
    from services.review.webhooks.settings import WebhookSettings
    from services.scoring.settings import ScoringSettings
    from services.shared.settings import CommonSettings

    return [CommonSettings, IngestSettings, ScoringSettings, ReviewSettings, WebhookSettings]


# Read by the shell scripts under deploy/ (make up, make test), the test suite and the
# benchmark, not by the services.
DEPLOY_VARIABLES = [
    ("PR_STATE_DIR", ".run", "deploy/: where Kafka and Redis data, logs and pid files live."),
    (
        "PR_CACHE_DIR",
        "~/.cache/pipeline-review",
        "deploy/: where the Kafka jars fetched from Maven Central are cached.",
    ),
    ("PR_KAFKA_VERSION", "3.9.1", "deploy/: Apache Kafka version to fetch and run."),
    ("PR_KAFKA_HOST", "127.0.0.1", "deploy/: address the local broker listens on."),
    (
        "PR_KAFKA_PORT",
        "9092",
        "deploy/: port of the local broker (its controller uses the next port); "
        "with PR_KAFKA_NODES=N, node i listens on PR_KAFKA_PORT + i - 1.",
    ),
    (
        "PR_KAFKA_NODES",
        "1",
        "deploy/: how many combined broker+controller KRaft nodes `deploy/kafka.sh` starts with one controller quorum; "
        "with 3 or more, internal topics get 3 replicas and min.insync.replicas 2 (set PR_TOPIC_REPLICATION_FACTOR=3 "
        "and PR_TOPIC_MIN_INSYNC_REPLICAS=2 for the project's topics).",
    ),
    ("PR_KAFKA_HEAP", "-Xms256m -Xmx1g", "deploy/: JVM heap options of the local broker."),
    (
        "PR_KAFKA_SECURITY",
        "plaintext",
        "deploy/: `sasl_ssl` makes the local broker's listener SASL_SSL with SCRAM-SHA-512 "
        "for the user PR_KAFKA_SASL_USERNAME / PR_KAFKA_SASL_PASSWORD, with a throw-away CA in $PR_STATE_DIR/kafka/tls.",
    ),
    ("PR_REDIS_HOST", "127.0.0.1", "deploy/: address the local redis-server listens on."),
    ("PR_REDIS_PORT", "6379", "deploy/: port of the local redis-server."),
    (
        "PR_REDIS_USER",
        "(unset)",
        "deploy/: with PR_REDIS_PASSWORD, the local redis-server's only ACL user (default user off).",
    ),
    ("PR_REDIS_PASSWORD", "(unset)", "deploy/: password of PR_REDIS_USER."),
    (
        "PR_REDIS_TLS",
        "0",
        "deploy/: 1 makes the local redis-server TLS-only, with a throw-away CA in $PR_STATE_DIR/redis/tls.",
    ),
    (
        "PR_REDIS_CLUSTER_PORT",
        "7000",
        "deploy/: first port of the local three-master Redis Cluster "
        "(`deploy/redis-cluster.sh`); the other masters take the next two.",
    ),
    ("PR_REDIS_CLUSTER_BUS_OFFSET", "100", "deploy/: each local cluster node's bus port is its port plus this."),
    (
        "PR_HELM_VERSION",
        "v3.22.0",
        "deploy/: helm version `deploy/k8s-tools.sh` builds from the Go module proxy into PR_CACHE_DIR.",
    ),
    ("PR_KUBECONFORM_VERSION", "v0.8.0", "deploy/: kubeconform version built the same way."),
    (
        "PR_PROMETHEUS_MODULE_VERSION",
        "v0.316.0",
        "deploy/: Prometheus Go module version whose promtool is built the same way (v0.316.0 is Prometheus 3.16.0).",
    ),
    ("PR_TLS_DAYS", "30", "deploy/: validity in days of the throw-away certificates deploy/tls.sh makes."),
    ("PR_DEMO", "1", "deploy/: `make up` loads the demo data when 1."),
    (
        "PR_KAFKA_CONTROLLER_PORT",
        "PR_KAFKA_PORT + 1",
        "deploy/: port of the local broker's KRaft controller; "
        "with PR_KAFKA_NODES=N the default is PR_KAFKA_PORT + N and node i uses PR_KAFKA_CONTROLLER_PORT + i - 1.",
    ),
    ("PR_KAFKA_START_TIMEOUT", "90", "deploy/: seconds to wait for the broker to answer."),
    (
        "PR_KAFKA_ADVERTISED",
        "PR_KAFKA_HOST:PR_KAFKA_PORT",
        "deploy/: host:port the local broker tells clients to connect to (a proxy in front of it).",
    ),
    ("PR_TOXIPROXY_PORT", "8474", "deploy/: port of toxiproxy's HTTP API on 127.0.0.1 (deploy/toxiproxy.sh)."),
    ("PR_TOXIPROXY_VERSION", "v2.5.0", "deploy/: toxiproxy version built from the Go module proxy into PR_CACHE_DIR."),
    ("PR_VENV", ".venv", "deploy/: the virtualenv the scripts create and use."),
    ("PR_TEST_KAFKA_PORT", "29092", "deploy/: port of the throw-away broker `make test` starts."),
    ("PR_TEST_KAFKA_CONTROLLER_PORT", "29093", "deploy/: controller port of that broker."),
    ("PR_TEST_REDIS_PORT", "26379", "deploy/: port of the throw-away redis-server `make test` starts."),
    (
        "PR_TEST_REDIS_CLUSTER_PORT",
        "16380",
        "deploy/: first port of the throw-away Redis Cluster `make test` starts "
        "(three masters: this and the next two).",
    ),
    (
        "PR_TEST_REDIS_CLUSTER_URL",
        "(set by make test)",
        "tests/: one node of the Redis Cluster the cluster e2e test runs against; that test fails without it.",
    ),
    ("PR_TEST_STATE_DIR", ".run/test", "deploy/: state of `make test`'s broker and Redis (wiped at each run)."),
    (
        "PR_TEST_WORKERS",
        "2",
        "deploy/: pytest processes `make test` runs (pytest-xdist, a test file per process at a time); 1 runs "
        "the suite in one process.",
    ),
    (
        "PR_TEST_SECURE_KAFKA_PORT",
        "(a free port)",
        "tests/: port of the SASL_SSL broker the secure-infrastructure test starts.",
    ),
    ("PR_TEST_SECURE_KAFKA_CONTROLLER_PORT", "(a free port)", "tests/: controller port of that broker."),
    ("PR_TEST_SECURE_REDIS_PORT", "(a free port)", "tests/: port of the TLS + ACL redis-server that test starts."),
    (
        "PR_TEST_SECURE_STATE_DIR",
        "(a pytest temporary directory)",
        "tests/: state directory of that broker and Redis (wiped at start).",
    ),
    (
        "PR_TEST_KAFKA_BOOTSTRAP",
        "(set by make test)",
        "tests/: the broker the suite runs against; the suite fails without it.",
    ),
    (
        "PR_TEST_REDIS_URL",
        "(set by make test)",
        "tests/: the Redis the suite runs against; the suite fails without it.",
    ),
    (
        "PR_CHAOS_STATE_DIR",
        ".run/chaos",
        "tests/chaos: state of the fault suite's own broker and Redis, which it kills (wiped at each scenario).",
    ),
    ("PR_CHAOS_KAFKA_PORT", "28092", "tests/chaos: port of the fault suite's broker."),
    ("PR_CHAOS_KAFKA_CONTROLLER_PORT", "28093", "tests/chaos: controller port of that broker."),
    ("PR_CHAOS_REDIS_PORT", "28379", "tests/chaos: port of the fault suite's redis-server."),
    ("PR_CHAOS_TOXIPROXY_PORT", "28474", "tests/chaos: toxiproxy API port of the network-fault scenario."),
    (
        "PR_CHAOS_KAFKA_PROXY_PORT",
        "28500",
        "tests/chaos: toxiproxy listener in front of the fault suite's broker (which advertises it).",
    ),
    (
        "PR_CHAOS_REDIS_PROXY_PORT",
        "28501",
        "tests/chaos: toxiproxy listener in front of the fault suite's redis-server.",
    ),
    (
        "PR_CHAOS_CLIENT_PROXY_PORT",
        "28502",
        "tests/chaos: toxiproxy listener the SSE and WebSocket followers reach review through.",
    ),
    (
        "PR_CHAOS_CLUSTER_STATE_DIR",
        ".run/chaos-cluster",
        "tests/chaos: state of the three-node cluster of the cluster-leader-kill scenario (wiped at each run).",
    ),
    ("PR_CHAOS_CLUSTER_KAFKA_PORT", "28192", "tests/chaos: port of that cluster's node 1 (node i: this + i - 1)."),
    ("PR_CHAOS_CLUSTER_CONTROLLER_PORT", "28292", "tests/chaos: controller port of node 1 (node i: this + i - 1)."),
    (
        "PR_CHAOS_RESULTS",
        ".run/chaos/results.jsonl",
        "tests/chaos: where every fault run appends its figures (one JSON line each).",
    ),
    (
        "PR_CHAOS_INGEST_API_KEY",
        "(unset)",
        "tests/chaos: sent as X-API-Key by the load generator when ingest requires keys.",
    ),
    ("PR_SOAK_KAFKA_PORT", "28692", "tests/chaos/soak.py (`make soak`): port of the soak's own broker."),
    ("PR_SOAK_KAFKA_CONTROLLER_PORT", "28693", "`make soak`: controller port of that broker."),
    ("PR_SOAK_REDIS_PORT", "28679", "`make soak`: port of the soak's own redis-server."),
    ("PR_SOAK_STATE_DIR", ".run/soak", "`make soak`: state of the soak's broker and Redis (wiped first)."),
    ("PR_SOAK_REPORT", ".run/soak/report.json", "`make soak`: where the soak writes its JSON report."),
    (
        "PR_BENCH_STATE_DIR",
        "/tmp/pr-bench",
        "bench/: state of the benchmark's own broker and Redis, and its logs and profiles.",
    ),
    ("PR_BENCH_KAFKA_PORT", "27092", "bench/: port of the benchmark's broker."),
    ("PR_BENCH_REDIS_PORT", "27379", "bench/: port of the benchmark's redis-server."),
]


def rows() -> list[tuple[str, str, str]]:
    """(environment variable, default, meaning) for each setting."""
    out = list(DEPLOY_VARIABLES)
    for cls in settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            if name in ("common", "webhook"):  # nested settings classes get their own rows
                continue
            default = field.default
            shown = "(unset)" if default is None else str(default)
            if isinstance(default, SecretStr):  # a default is no secret: show it
                shown = default.get_secret_value()
            if name == "stage_map_file":
                shown = "the shipped services/shared/stage_maps.toml"
            out.append((f"{prefix}{name}".upper(), shown, field.description or ""))
    return out


def markdown_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{var}` | `{default}` | {meaning} |" for var, default, meaning in rows()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
