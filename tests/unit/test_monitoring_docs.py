"""What ``docs/monitoring/`` ships for operators holds: the alert rules pass ``promtool check
rules`` and their own ``promtool test rules``; the rules and the Grafana dashboard query only
names the service exposes; the README's metrics table lists every family and no other.

The exposed names come from the one registry ``/metrics`` renders (``app.metric_families``),
parsed by prometheus_client's parser; a scrape adds values, never families (the e2e tests
show each family move on a real server)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.metric_families import Metrics

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "docs" / "monitoring"
RULES = MONITORING / "alerts.yml"
RULE_TESTS = MONITORING / "alerts.test.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
INSTALL = "apt-get update && apt-get install -y prometheus"

#: The samples each type of family writes, after its name.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}
#: How the README names a family: what an operator greps for (a histogram by its family).
_README_SUFFIX = {"counter": "_total", "histogram": "", "gauge": ""}
_NAME = re.compile(r"\b(?:ceasefire|process)_[a-z0-9_]+\b")


def _families() -> dict[str, str]:
    """Each family /metrics exposes, with its type, as the parser names it (a counter without
    its ``_total``). prometheus_client writes a counter's or a histogram's creation time as a
    gauge family of its own (``…_created``): that one is left out, its samples are listed
    under the family they belong to (``_SUFFIXES``)."""
    text = generate_latest(Metrics().registry).decode()
    found = {family.name: family.type for family in text_string_to_metric_families(text)}
    return {
        name: kind
        for name, kind in found.items()
        if not (name.endswith("_created") and name.removesuffix("_created") in found)
    }


def _exposed() -> set[str]:
    return {name + suffix for name, kind in _families().items() for suffix in _SUFFIXES[kind]}


def _rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def _dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [
        target["expr"]
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]
    queries += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return queries


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = f"Debian's promtool (package prometheus) is not installed: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_promtool_checks_and_tests_the_rules() -> None:
    promtool = _promtool()
    for command in (["check", "rules", RULES.name], ["test", "rules", RULE_TESTS.name]):
        done = subprocess.run(
            [promtool, *command], cwd=MONITORING, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_an_alert_for_each_objective() -> None:
    """The README's three objectives (projection lag, webhook backlog, 5xx rate), each with
    an alert that says what to do, at a severity the routing knows."""
    rules = {rule["alert"]: rule for rule in _rules()}
    objectives = {
        "ceasefire_projection_lag_events": "CeasefireProjectionLag",
        "ceasefire_webhook_backlog": "CeasefireWebhookBacklog",
        'ceasefire_http_requests_total{status=~"5.."}': "CeasefireErrorBudgetBurnFast",
    }
    for series, alert in objectives.items():
        assert series in rules[alert]["expr"], alert
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"page", "ticket"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert "for" in rule, name


def test_the_rules_and_the_dashboard_query_only_what_is_exposed() -> None:
    exposed = _exposed()
    queries = [rule["expr"] for rule in _rules()] + _dashboard_queries()
    named = {name for query in queries for name in _NAME.findall(query)}
    assert named - exposed == set()
    # and the dashboard shows every family issue 19 added
    shown = {name for query in _dashboard_queries() for name in _NAME.findall(query)}
    for family in (
        "ceasefire_http_long_poll_seconds_bucket",
        "ceasefire_http_stream_seconds_bucket",
        "ceasefire_log_head_position",
        "ceasefire_log_appended_events_total",
        "ceasefire_webhook_attempts_sent_total",
        "ceasefire_webhook_deliveries_failed_total",
        "ceasefire_replay_folded_events",
        "ceasefire_replay_total_events",
        "ceasefire_build_info",
        "process_cpu_seconds_total",
    ):
        assert family in shown, family


def test_the_dashboard_is_importable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]


def test_the_readme_lists_every_family() -> None:
    """README's metrics table: every ``ceasefire_*`` family by the name an operator greps
    for, and the ``process_*`` ones as a group; none that is not exposed."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Logs and metrics") :]
    section = section[: section.index("\n## ", 1)]
    listed = set(re.findall(r"^\| `([a-z_*]+)` \|", section, flags=re.MULTILINE))
    families = _families()
    expected = {
        name + _README_SUFFIX[kind]
        for name, kind in families.items()
        if name.startswith("ceasefire_")
    }
    assert any(name.startswith("process_") for name in families)
    assert listed == expected | {"process_*"}
