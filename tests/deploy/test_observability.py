"""The alerting rules and the dashboard: valid PromQL, tested alerts, and only documented metric names."""

from __future__ import annotations

import json
import re

import yaml

from tests.deploy.conftest import ROOT, run

RULES = ROOT / "deploy/prometheus/pipeline-review.rules.yml"
RULE_TESTS = ROOT / "deploy/prometheus/pipeline-review.rules.test.yml"
DASHBOARD = ROOT / "deploy/grafana/pipeline-review.json"
METRIC = re.compile(r"\b((?:pr|review|kafka)_[a-z_]+)\b")
HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")


def documented_metrics() -> dict[str, bool]:
    """docs/deploy.md's "Metrics the dashboard expects" table: name -> exported today."""
    text = (ROOT / "docs/deploy.md").read_text().split("### Metrics the dashboard expects", 1)[1]
    rows = re.findall(r"^\| `([a-z_]+)` \|.*\| (yes|no) \|$", text, flags=re.M)
    return {name: exists == "yes" for name, exists in rows}


def metric_names(expr: str) -> set[str]:
    names = set()
    for name in METRIC.findall(expr):
        for part in HISTOGRAM_PARTS:
            name = name.removesuffix(part)
        names.add(name)
    return names


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def test_the_rules_pass_promtool_check_and_their_unit_tests(tools):
    checked = run([tools["promtool"], "check", "rules", RULES])
    assert checked.returncode == 0 and "SUCCESS: 5 rules found" in checked.stdout, checked.stdout + checked.stderr
    tested = run([tools["promtool"], "test", "rules", RULE_TESTS])
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}
    assert alerts == {
        "PipelineReviewConsumerLagGrowing",
        "PipelineReviewFreshnessP99High",
        "PipelineReviewDeadLetterRate",
        "PipelineReviewScoringRecoveryError",
    }
    # Each alert has a test case that expects it to fire.
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {c["alertname"] for t in cases for c in t["alert_rule_test"] if c["exp_alerts"]}
    assert fired == alerts


def test_every_dashboard_query_is_valid_promql(tools, tmp_path):
    """promtool parses each panel's query as a recording rule (Grafana's $__rate_interval as 5m)."""
    exprs = dashboard_exprs()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": e.replace("$__rate_interval", "5m")}
                    for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    checked = run([tools["promtool"], "check", "rules", path])
    assert checked.returncode == 0 and f"SUCCESS: {len(exprs)} rules found" in checked.stdout, (
        checked.stdout + checked.stderr
    )


def test_the_dashboard_has_one_panel_per_figure_the_issue_names():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] == "pipeline-review"
    used = set().union(*map(metric_names, dashboard_exprs()))
    assert {
        "pr_consumer_lag",
        "pr_freshness_seconds",
        "pr_scoring_events_folded_total",
        "pr_alerts_raised_total",
        "pr_ingest_dead_lettered_total",
        "pr_webhook_deliveries_total",
        "pr_http_request_duration_seconds",
    } <= used
    assert all(t["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"] for t in p["targets"])


def test_every_metric_used_is_documented_and_the_exists_column_is_true():
    documented = documented_metrics()
    rules_exprs = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    used = set().union(*map(metric_names, dashboard_exprs() + rules_exprs))
    assert used <= set(documented), f"not in docs/deploy.md: {used - set(documented)}"
    code = "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    for name, exists in documented.items():
        # prometheus_client adds _total to a counter's name itself: either spelling is in the code.
        spelled = name in code or name.removesuffix("_total") in code
        assert spelled == exists, f"docs/deploy.md says {name} {'exists' if exists else 'does not exist yet'}"
