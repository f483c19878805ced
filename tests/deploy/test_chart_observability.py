"""The chart's side of metrics and traces: the metrics token from the Secret, the collector reachable only when set."""

from __future__ import annotations

from tests.deploy.conftest import by_kind, render

COLLECTOR = [
    "--set",
    "settings.PR_OTLP_ENDPOINT=http://otel-collector.observability:4318",
    "--set",
    "networkPolicy.otlpPeers[0].namespaceSelector.matchLabels.name=observability",
]


def otlp_rules(policy: dict) -> list[dict]:
    return [rule for rule in policy["spec"]["egress"] if any(p["port"] == 4318 for p in rule.get("ports", []))]


def test_without_a_collector_no_service_may_reach_one(tools):
    policies = by_kind(render(tools), "NetworkPolicy")
    assert not [name for name, policy in policies.items() if otlp_rules(policy)]
    for name, config in by_kind(render(tools), "ConfigMap").items():
        assert "PR_OTLP_ENDPOINT" not in config["data"], name  # empty: left unset, tracing off


def test_with_a_collector_the_three_services_trace_to_it_and_only_there(tools):
    manifests = render(tools, *COLLECTOR)
    policies = by_kind(manifests, "NetworkPolicy")
    for component in ("ingest", "review", "scoring"):
        (rule,) = otlp_rules(policies[f"pr-pipeline-review-{component}"])
        assert rule["to"] == [{"namespaceSelector": {"matchLabels": {"name": "observability"}}}]
        config = by_kind(manifests, "ConfigMap")[f"pr-pipeline-review-{component}"]["data"]
        assert config["PR_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"
    assert not [p for n, p in policies.items() if n.endswith("-topics") and otlp_rules(p)]


def test_every_service_may_read_the_metrics_token_from_the_secret(tools):
    for name, deployment in by_kind(render(tools), "Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
        assert secrets["PR_METRICS_TOKEN"] == {
            "name": "pipeline-review",
            "key": "PR_METRICS_TOKEN",
            "optional": True,
        }, name
