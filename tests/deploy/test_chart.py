"""The Helm chart: valid against the Kubernetes, Strimzi and KEDA schemas, hardened, true to the contracts."""

from __future__ import annotations

import pytest
import yaml

from services.admin.config_doc import settings_classes
from services.shared.topics import topic_specs
from tests.deploy.conftest import CHART, SCHEMAS, by_kind, helm_template, render, run

EXAMPLES = sorted(p.name for p in (CHART / "examples").glob("*.yaml"))
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
COMPONENTS = ("ingest", "review", "scoring")


@pytest.mark.parametrize("example", [None, *EXAMPLES])
def test_the_chart_lints_and_every_manifest_is_valid_against_the_schemas(tools, example, tmp_path):
    extra = ["-f", str(CHART / "examples" / example)] if example else []
    lint = run([tools["helm"], "lint", "--strict", "--kube-version", "1.34.0", CHART, *extra])
    assert lint.returncode == 0, lint.stdout + lint.stderr
    rendered = helm_template(tools, *extra)
    assert rendered.returncode == 0, rendered.stderr
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(rendered.stdout)
    # No -ignore-missing-schemas: a kind without a schema in deploy/helm/schemas is an error, not a skip.
    checked = run(
        [
            tools["kubeconform"],
            "-strict",
            "-summary",
            "-schema-location",
            f"{SCHEMAS}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            manifests,
        ]
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Invalid: 0, Errors: 0, Skipped: 0" in checked.stdout


def test_kubeconform_rejects_an_unknown_field(tools, tmp_path):
    """The schemas are strict: a misspelt field fails, so a passing chart means something."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(helm_template(tools).stdout.replace("readOnlyRootFilesystem", "readOnlyRootFileSystem"))
    checked = run(
        [
            tools["kubeconform"],
            "-strict",
            "-summary",
            "-schema-location",
            f"{SCHEMAS}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            bad,
        ]
    )
    assert checked.returncode != 0 and "Invalid: 4" in checked.stdout, checked.stdout


def test_every_pr_setting_comes_from_values_or_from_the_secret():
    from pydantic import SecretStr

    services = {}
    secret_fields = set()
    for cls in settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            if name in ("common", "webhook"):
                continue
            services[f"{prefix}{name}".upper()] = field
            if SecretStr in getattr(field.annotation, "__args__", (field.annotation,)):
                secret_fields.add(f"{prefix}{name}".upper())
    in_settings = set(VALUES["settings"]) | {k for c in COMPONENTS for k in VALUES[c]["settings"]}
    in_secret = {
        k for part in VALUES["secret"].values() if isinstance(part, dict) for k in part["required"] + part["optional"]
    }
    derived = {
        "PR_KAFKA_BOOTSTRAP",
        "PR_REDIS_CLUSTER",
        "PR_DEAL_EVENT_PARTITIONS",
        "PR_TOPIC_REPLICATION_FACTOR",
        "PR_TOPIC_MIN_INSYNC_REPLICAS",
        "PR_DEAD_LETTER_RETENTION_DAYS",
    }
    assert not in_settings & in_secret and not in_settings & derived
    assert in_settings | in_secret | derived == set(services)
    assert secret_fields <= in_secret, f"secret settings given as values: {secret_fields - in_secret}"


def test_each_component_reads_only_its_own_settings(tools):
    configs = by_kind(render(tools), "ConfigMap")
    for component in COMPONENTS:
        data = configs[f"pr-pipeline-review-{component}"]["data"]
        others = {c for c in COMPONENTS if c != component}
        assert not [k for k in data if any(k.startswith(f"PR_{o.upper()}_") for o in others)]
        assert data["PR_ALLOW_OPEN"] == "false" and data["PR_KAFKA_BOOTSTRAP"] == VALUES["kafka"]["bootstrap"]
        # An empty value is left out: the service's own default (or None) applies.
        assert "PR_TOPIC_PREFIX" not in data and "PR_KAFKA_SASL_MECHANISM" not in data


def test_every_workload_is_probed_hardened_budgeted_and_fenced(tools):
    manifests = render(tools)
    deployments = by_kind(manifests, "Deployment")
    pdbs = by_kind(manifests, "PodDisruptionBudget")
    policies = by_kind(manifests, "NetworkPolicy")
    assert sorted(deployments) == [f"pr-pipeline-review-{c}" for c in ("ingest", "review", "scoring")]
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert pod["automountServiceAccountToken"] is False
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["command"] == [f"pr-{name.rsplit('-', 1)[1]}"]
        assert [p for p in pdbs.values() if p["spec"]["selector"]["matchLabels"] == labels]
        (policy,) = [p for p in policies.values() if p["spec"]["podSelector"]["matchLabels"] == labels]
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
        assert secrets["PR_REDIS_URL"] == {"name": "pipeline-review", "key": "PR_REDIS_URL", "optional": False}


def test_scoring_talks_only_to_dns_kafka_and_redis_and_review_never_to_private_networks(tools):
    policies = by_kind(render(tools), "NetworkPolicy")
    scoring = policies["pr-pipeline-review-scoring"]["spec"]
    ports = sorted(p["port"] for rule in scoring["egress"] for p in rule["ports"])
    assert ports == [53, 53, 6379, 9092] and not any("to" in rule for rule in scoring["egress"])
    assert [r["ports"][0]["port"] for r in scoring["ingress"]] == [8003]  # Prometheus only
    review_out = policies["pr-pipeline-review-review"]["spec"]["egress"][-1]["to"][0]["ipBlock"]
    assert review_out["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(review_out["except"])


def test_ingest_and_review_scale_on_cpu_and_scoring_on_lag_up_to_the_partitions(tools):
    manifests = render(tools, "--set", "topics.dealEventsPartitions=12", "--set", "settings.PR_TOPIC_PREFIX=prod-")
    hpas = by_kind(manifests, "HorizontalPodAutoscaler")
    assert sorted(h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()) == [
        "pr-pipeline-review-ingest",
        "pr-pipeline-review-review",
    ]
    (scaled,) = by_kind(manifests, "ScaledObject").values()
    (trigger,) = scaled["spec"]["triggers"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "pr-pipeline-review-scoring"
    assert scaled["spec"]["maxReplicaCount"] == 12
    assert trigger["type"] == "kafka" and trigger["metadata"]["topic"] == "prod-deal-events"
    assert trigger["metadata"]["consumerGroup"] == VALUES["scoring"]["settings"]["PR_SCORING_APP_ID"]
    assert "replicas" not in by_kind(manifests, "Deployment")["pr-pipeline-review-scoring"]["spec"]  # KEDA's


def test_strimzi_topics_are_the_layout_of_services_shared_topics(tools):
    manifests = render(tools, "-f", str(CHART / "examples/strimzi.yaml"), "--set", "settings.PR_TOPIC_PREFIX=prod-")
    topics = {t["spec"]["topicName"]: t["spec"] for t in by_kind(manifests, "KafkaTopic").values()}
    specs = topic_specs(
        "prod-", deal_event_partitions=12, dead_letter_retention_days=30, replication_factor=3, min_insync_replicas=2
    )
    assert topics == {
        s.name: {"topicName": s.name, "partitions": s.partitions, "replicas": s.replication_factor, "config": s.config}
        for s in specs
    }
    (kafka,) = by_kind(manifests, "Kafka").values()
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    (pool,) = by_kind(manifests, "KafkaNodePool").values()
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"] and pool["spec"]["replicas"] == 3
    assert "Job" not in {m["kind"] for m in manifests}  # Strimzi's topic operator makes the topics
    bootstrap = by_kind(manifests, "ConfigMap")["pr-pipeline-review-scoring"]["data"]["PR_KAFKA_BOOTSTRAP"]
    assert bootstrap == "pr-pipeline-review-kafka-kafka-bootstrap:9092"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--set", "scoring.keda.enabled=false", "--set", "scoring.replicas=7"],
            "more than topics.dealEventsPartitions=6",
        ),
        (["--set", "settings.PR_REDIS_URL=redis://u:p@redis:6379/0"], "PR_REDIS_URL is a secret"),
        (["--set", "ingest.settings.PR_INGEST_API_KEYS=k"], "PR_INGEST_API_KEYS is a secret"),
        (["--set", "settings.PR_KAFKA_BOOTSTRAP=evil:9092"], "set by the chart"),
        (["--set", "settings.HOME=/"], "does not start with PR_"),
        (
            ["--set", "kafka.strimzi.enabled=true", "--set", "topics.minInsyncReplicas=4"],
            "no write could be acknowledged",
        ),
        (
            [
                "--set",
                "kafka.strimzi.enabled=true",
                "--set",
                "topics.replicationFactor=5",
                "--set",
                "topics.minInsyncReplicas=2",
            ],
            "more than kafka.strimzi.replicas=3",
        ),
        (["--set", "kafka.bootstrap="], "kafka.bootstrap is required"),
    ],
)
def test_values_that_would_deploy_something_broken_or_leak_a_secret_are_refused(tools, args, message):
    done = helm_template(tools, *args)
    assert done.returncode != 0 and message in done.stderr, done.stderr
