"""The figures ``/metrics`` keeps without a database: the appends counted from the head's
advance however the notifications arrive, and the webhook attempts by outcome."""

from __future__ import annotations

import platform

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.metric_families import Metrics
from events.log.notifications import AppendNotifier


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def _followed(head: int | None) -> Metrics:
    metrics = Metrics()
    metrics.follow(waiting=lambda: 0, version="0.1.0", database="sqlite", head=head)
    return metrics


def test_appends_are_the_heads_advance() -> None:
    """The issue's case: the head went from 15 to 21 (a CLI load): six events. One append
    heard twice (in-process, then through the database) or late (another process's, heard
    after a later one of ours) counts once."""
    metrics = _followed(head=15)
    notifier = AppendNotifier()
    notifier.on_publish.append(lambda _conflict, position: metrics.log_reached(position))
    appended = "ceasefire_log_appended_events_total"
    notifier.publish("armenia-azerbaijan", 18)
    assert _value(metrics, appended) == 3
    notifier.publish("gaza", 21)
    notifier.publish("armenia-azerbaijan", 19)  # late: already counted in the advance to 21
    notifier.publish("gaza", 21)  # again
    assert _value(metrics, appended) == 6
    metrics.log_reached(21)  # a scrape finds the same head
    assert _value(metrics, appended) == 6


def test_without_a_head_at_start_the_first_heard_is_the_baseline() -> None:
    """The database was away when the process started: nothing is counted twice for it."""
    metrics = _followed(head=None)
    metrics.log_reached(40)
    assert _value(metrics, "ceasefire_log_appended_events_total") == 0
    metrics.log_reached(42)
    assert _value(metrics, "ceasefire_log_appended_events_total") == 2


def test_attempts_and_deliveries_given_up_by_outcome() -> None:
    metrics = _followed(head=0)
    metrics.attempted("5xx", "pending")
    metrics.attempted("5xx", "failed")
    metrics.attempted("succeeded", "succeeded")
    assert _value(metrics, "ceasefire_webhook_attempts_sent_total", outcome="5xx") == 2
    assert _value(metrics, "ceasefire_webhook_attempts_sent_total", outcome="succeeded") == 1
    assert _value(metrics, "ceasefire_webhook_deliveries_failed_total", outcome="5xx") == 1
    assert _value(metrics, "ceasefire_webhook_deliveries_failed_total", outcome="succeeded") == 0


def test_the_build_and_the_process_describe_themselves() -> None:
    metrics = _followed(head=0)
    samples = {
        sample.name: sample
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for sample in family.samples
    }
    build = samples["ceasefire_build_info"]
    assert build.value == 1
    assert build.labels == {
        "version": "0.1.0",
        "python": platform.python_version(),
        "database": "sqlite",
    }
    assert samples["process_cpu_seconds_total"].value > 0
    assert samples["process_resident_memory_bytes"].value > 0
