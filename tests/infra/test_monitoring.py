"""Monitoring: every alarm tells the topic, watches its signal, takes its threshold from the
config; the rejected-requests filter counts exactly the refused requests; the dashboard shows
the same signals; `alarms: false` declares none of it (docs/design.md, "Monitoring")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import parse_config
from infra.monitoring import REJECTED_METRIC, rejected_pattern
from infra.settings import ConfigError
from tests.filter_pattern import PatternError, matches

MONITORING_TYPES = (
    ":MetricAlarm",
    "sns/topic:Topic",
    ":TopicSubscription",
    "kms/key:Key",
    ":Dashboard",
    ":LogMetricFilter",
)
PREFIX = "async-webhook-dev"


def _alarms(stack: Any) -> dict[str, dict[str, Any]]:
    """Alarm name without the stack's prefix -> its inputs."""
    return {
        a.inputs["name"].removeprefix(f"{PREFIX}-"): a.inputs for a in stack.of_type(":MetricAlarm")
    }


def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears(dev_stack):
    # GIVEN the dev stack (alarms on by default)
    stack = dev_stack
    topic = stack.one("sns/topic:Topic").state["arn"]
    alarms = _alarms(stack)
    # THEN each signal has its alarm, and each alarm tells the one topic both ways
    assert set(alarms) == {
        "dlq-not-empty",
        "queue-oldest-message",
        "listener-errors",
        "listener-throttles",
        "processor-errors",
        "processor-throttles",
        "listener-p99-duration",
        "rejected-requests",
    }
    for name, alarm in alarms.items():
        assert alarm["alarmActions"] == [topic], name
        assert alarm["okActions"] == [topic], name
        assert alarm["alarmDescription"], name


def test_each_alarm_watches_its_own_signal(dev_stack):
    stack = dev_stack
    dlq = stack.outputs["dlq_arn"].rsplit(":", 1)[1]
    queue = stack.outputs["queue_arn"].rsplit(":", 1)[1]
    listener = stack.outputs["listener_function_name"]
    processor = stack.outputs["processor_function_name"]
    watched = {
        name: (a["namespace"], a["metricName"], a.get("dimensions"), a.get("statistic"))
        for name, a in _alarms(stack).items()
    }
    assert watched == {
        "dlq-not-empty": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": dlq},
            "Maximum",
        ),
        "queue-oldest-message": (
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            {"QueueName": queue},
            "Maximum",
        ),
        "listener-errors": ("AWS/Lambda", "Errors", {"FunctionName": listener}, "Sum"),
        "listener-throttles": ("AWS/Lambda", "Throttles", {"FunctionName": listener}, "Sum"),
        "processor-errors": ("AWS/Lambda", "Errors", {"FunctionName": processor}, "Sum"),
        "processor-throttles": ("AWS/Lambda", "Throttles", {"FunctionName": processor}, "Sum"),
        "listener-p99-duration": ("AWS/Lambda", "Duration", {"FunctionName": listener}, None),
        "rejected-requests": (PREFIX, REJECTED_METRIC, None, "Sum"),
    }
    p99 = _alarms(stack)["listener-p99-duration"]
    assert p99["extendedStatistic"] == "p99"
    assert p99["evaluateLowSampleCountPercentiles"] == "evaluate"


def test_thresholds_periods_and_missing_data_are_what_the_docs_say(dev_stack):
    # GIVEN the defaults
    alarms = _alarms(dev_stack)
    shape = {
        name: (
            a["comparisonOperator"],
            a["threshold"],
            a["period"],
            a["evaluationPeriods"],
            a.get("datapointsToAlarm"),
        )
        for name, a in alarms.items()
    }
    # THEN (README "Operating it" states each of these)
    above = "GreaterThanThreshold"
    assert shape == {
        "dlq-not-empty": (above, 0, 60, 1, None),
        "queue-oldest-message": (above, 600, 60, 5, 3),
        "listener-errors": (above, 0, 300, 1, None),
        "listener-throttles": (above, 0, 300, 1, None),
        "processor-errors": (above, 0, 300, 1, None),
        "processor-throttles": (above, 0, 300, 1, None),
        "listener-p99-duration": (above, 1000, 300, 3, 2),
        "rejected-requests": (above, 10, 300, 1, None),
    }
    # AND no missing data ever breaches: each metric is missing exactly when nothing happens
    assert {a["treatMissingData"] for a in alarms.values()} == {"notBreaching"}


def test_configured_thresholds_reach_the_alarms(run_program):
    # GIVEN every threshold changed
    stack = run_program(
        {
            "queueAgeAlarmSeconds": 1800,
            "listenerP99AlarmMs": 1500,
            "errorsAlarmThreshold": 3,
            "throttlesAlarmThreshold": 4,
            "rejectedAlarmThreshold": 50,
        }
    )
    # THEN each reaches its alarms, and the dashboard draws the changed lines
    thresholds = {name: a["threshold"] for name, a in _alarms(stack).items()}
    assert thresholds == {
        "dlq-not-empty": 0,
        "queue-oldest-message": 1800,
        "listener-errors": 3,
        "processor-errors": 3,
        "listener-throttles": 4,
        "processor-throttles": 4,
        "listener-p99-duration": 1500,
        "rejected-requests": 50,
    }
    lines = {
        widget["properties"]["title"]: widget["properties"]["annotations"]["horizontal"][0]["value"]
        for widget in _widgets(stack)
        if "annotations" in widget.get("properties", {})
    }
    assert lines["Age of oldest message (s)"] == 1800
    assert lines["Duration (ms)"] == 1500


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use(dev_stack):
    # CloudWatch cannot publish to a topic under the AWS-managed alias/aws/sns key: every
    # notification would fail silently. The topic's key must grant CloudWatch its two actions.
    stack = dev_stack
    key = stack.one("kms/key:Key")
    topic = stack.one("sns/topic:Topic").inputs
    assert topic["kmsMasterKeyId"] == key.state["arn"]
    assert "alias/aws/" not in topic["kmsMasterKeyId"]
    assert topic["tags"] == {"project": "async-webhook", "stack": "dev"}
    statements = {s["Sid"]: s for s in key.policy()["Statement"]}
    cloudwatch = statements["CloudWatchAlarmsPublish"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    account = stack.outputs["queue_arn"].split(":")[4]
    assert statements["AccountAdministersTheKey"]["Principal"] == {
        "AWS": f"arn:aws:iam::{account}:root"
    }
    assert key.inputs["enableKeyRotation"] is True


@pytest.mark.parametrize("email", [None, "ops@example.com"])
def test_an_alarm_email_is_subscribed_to_the_topic(run_program, email):
    stack = run_program({"alarmEmail": email} if email else {})
    subscriptions = stack.of_type(":TopicSubscription")
    if email is None:
        assert subscriptions == []
        return
    (subscription,) = subscriptions
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == email
    assert subscription.inputs["topic"] == stack.one("sns/topic:Topic").state["arn"]


def test_the_rejected_filter_feeds_the_rejected_alarm_from_the_listeners_log_group(dev_stack):
    stack = dev_stack
    metric_filter = stack.one(":LogMetricFilter").inputs
    assert metric_filter["logGroupName"] == stack.one(":LogGroup", "listener-logs").inputs["name"]
    assert metric_filter["pattern"] == rejected_pattern()
    transformation = metric_filter["metricTransformation"]
    assert transformation == {
        "name": REJECTED_METRIC,
        "namespace": PREFIX,
        "value": "1",
        "defaultValue": "0",
        "unit": "Count",
    }
    alarm = _alarms(stack)["rejected-requests"]
    assert (alarm["namespace"], alarm["metricName"]) == (
        transformation["namespace"],
        transformation["name"],
    )


def _line(**fields: Any) -> str:
    return json.dumps({"timestamp": "2026-01-01T00:00:00.000Z", "level": "INFO", **fields})


@pytest.mark.parametrize(
    ("line", "counted"),
    [
        (_line(message="request handled", status=401, route="gh", reason="bad signature"), True),
        (_line(message="request handled", status=403, route="strava", reason="owner"), True),
        (_line(message="request handled", status=200, route="gh"), False),
        (_line(message="request handled", status=404), False),
        (_line(message="request handled", status=405, route="gh"), False),
        (_line(level="ERROR", message="request handled", status=503, route="gh"), False),
        (_line(message="request handled", status="401"), False),  # a string is not the status
        (_line(message="secret refresh failed", status=403), False),  # not a request line
        (_line(message="request handled"), False),
        ("REPORT RequestId: 1 Duration: 2.0 ms", False),
        ("401 403 request handled", False),
    ],
)
def test_the_filter_pattern_counts_exactly_the_refused_request_lines(line, counted):
    assert matches(rejected_pattern(), line) is counted


def test_the_filter_pattern_is_fully_parenthesised():
    # An unparenthesised mix of && and || would leave the match to a precedence rule; the
    # evaluator refuses it, so this shows the pattern does not depend on one.
    pattern = rejected_pattern()
    assert pattern.startswith("{ ") and pattern.endswith(" }")
    with pytest.raises(PatternError):
        matches('{ $.message = "request handled" && $.status = 401 || $.status = 403 }', "{}")


def _widgets(stack: Any) -> list[dict[str, Any]]:
    body = json.loads(stack.one(":Dashboard").inputs["dashboardBody"])
    widgets: list[dict[str, Any]] = body["widgets"]
    return widgets


def test_the_dashboard_shows_every_signal_of_the_alarms(dev_stack):
    stack = dev_stack
    widgets = _widgets(stack)
    listener = stack.outputs["listener_function_name"]
    processor = stack.outputs["processor_function_name"]
    queue = stack.outputs["queue_arn"].rsplit(":", 1)[1]
    dlq = stack.outputs["dlq_arn"].rsplit(":", 1)[1]
    shown = set()
    for widget in widgets:
        if widget["type"] != "metric":
            continue
        properties = widget["properties"]
        assert properties["region"] == "us-east-1", properties["title"]
        for metric in properties["metrics"]:
            *names, options = metric
            shown.add((*names, options["stat"]))
    lambda_ = "AWS/Lambda"
    expected = {
        (lambda_, "Invocations", "FunctionName", listener, "Sum"),
        (lambda_, "Errors", "FunctionName", listener, "Sum"),
        (lambda_, "Throttles", "FunctionName", listener, "Sum"),
        (lambda_, "Duration", "FunctionName", listener, "p50"),
        (lambda_, "Duration", "FunctionName", listener, "p99"),
        (PREFIX, REJECTED_METRIC, "Sum"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue, "Maximum"),
        ("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", queue, "Maximum"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue, "Maximum"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq, "Maximum"),
        (lambda_, "Invocations", "FunctionName", processor, "Sum"),
        (lambda_, "Errors", "FunctionName", processor, "Sum"),
        (lambda_, "Throttles", "FunctionName", processor, "Sum"),
        (lambda_, "Duration", "FunctionName", processor, "p50"),
        (lambda_, "Duration", "FunctionName", processor, "p99"),
        (lambda_, "ConcurrentExecutions", "FunctionName", processor, "Maximum"),
    }
    assert shown == expected
    # AND the alarm widget shows the state of every alarm
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    arns = {a.state["arn"] for a in stack.of_type(":MetricAlarm")}
    assert set(alarm_widget["properties"]["alarms"]) == arns and len(arns) == 8


def test_the_dashboard_widgets_tile_the_grid_without_overlap(dev_stack):
    # A dashboard's grid is 24 columns wide; the console moves widgets that overlap.
    cells: set[tuple[int, int]] = set()
    for widget in _widgets(dev_stack):
        x, y, width, height = (widget[k] for k in ("x", "y", "width", "height"))
        assert x >= 0 and x + width <= 24, widget
        covered = {(column, row) for column in range(x, x + width) for row in range(y, y + height)}
        assert not covered & cells, widget
        cells |= covered


def test_the_dashboard_url_is_exported_for_the_stacks_region(dev_stack):
    stack = dev_stack
    name = stack.one(":Dashboard").inputs["dashboardName"]
    assert name == PREFIX
    assert stack.outputs["dashboard_url"] == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        f"#dashboards:name={name}"
    )
    assert stack.outputs["alarm_topic_arn"] == stack.one("sns/topic:Topic").state["arn"]


def test_alarms_false_declares_no_alarm_topic_key_filter_or_dashboard(run_program):
    # GIVEN a stack that turns monitoring off
    stack = run_program({"alarms": False})
    # THEN nothing of it is declared and no dashboard URL is exported
    for suffix in MONITORING_TYPES:
        assert stack.of_type(suffix) == [], suffix
    assert not [r for r in stack.declared if r.type.endswith(":Monitoring")]
    assert "dashboard_url" not in stack.outputs
    assert "alarm_topic_arn" not in stack.outputs
    # AND the pipeline itself is whole
    assert len(stack.of_type(":Function")) == 2


def _problems(raw: dict[str, str]) -> list[tuple[str, object, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, project="async-webhook", stack="dev")
    return [(p.key, p.value, p.rule) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("raw", "key", "value", "rule_part"),
    [
        ({"alarmEmail": "ops"}, "alarmEmail", "ops", "one e-mail address"),
        ({"alarmEmail": "ops@localhost"}, "alarmEmail", "ops@localhost", "one e-mail address"),
        ({"alarmEmail": "a b@example.com"}, "alarmEmail", "a b@example.com", "e-mail"),
        ({"alarmEmail": "a@x.com,b@x.com"}, "alarmEmail", "a@x.com,b@x.com", "one e-mail"),
        (
            {"alarmEmail": "x" * 65 + "@example.com"},
            "alarmEmail",
            "x" * 65 + "@example.com",
            "e-mail",
        ),
        (
            {"alarms": "false", "alarmEmail": "ops@example.com"},
            "alarmEmail",
            "ops@example.com",
            "needs alarms: true",
        ),
        ({"alarms": "sometimes"}, "alarms", "sometimes", "true or false"),
        ({"queueAgeAlarmSeconds": "59"}, "queueAgeAlarmSeconds", 59, "between 60 and 1209600"),
        ({"queueAgeAlarmSeconds": "soon"}, "queueAgeAlarmSeconds", "soon", "whole number"),
        (
            {"queueAgeAlarmSeconds": "345600"},
            "queueAgeAlarmSeconds",
            345600,
            "less than messageRetentionSeconds (345600)",
        ),
        (
            {"queueAgeAlarmSeconds": "900", "messageRetentionSeconds": "600"},
            "queueAgeAlarmSeconds",
            900,
            "less than messageRetentionSeconds (600)",
        ),
        ({"listenerP99AlarmMs": "9"}, "listenerP99AlarmMs", 9, "between 10 and 900000"),
        (
            {"listenerP99AlarmMs": "5000"},
            "listenerP99AlarmMs",
            5000,
            "less than listenerTimeoutSeconds in ms (5000)",
        ),
        ({"errorsAlarmThreshold": "-1"}, "errorsAlarmThreshold", -1, "between 0 and 1000000"),
        ({"throttlesAlarmThreshold": "1.5"}, "throttlesAlarmThreshold", 1.5, "whole number"),
        (
            {"rejectedAlarmThreshold": "1000001"},
            "rejectedAlarmThreshold",
            1000001,
            "between 0 and 1000000",
        ),
    ],
)
def test_each_monitoring_rule_names_key_value_and_rule(raw, key, value, rule_part):
    found = _problems(raw)
    assert [(k, v) for k, v, _ in found] == [(key, value)], found
    assert rule_part in found[0][2]


@pytest.mark.parametrize(
    "email", ["ops@example.com", "first.last+alarms@sub.example.co.uk", "o'neil@example.org"]
)
def test_valid_alarm_emails_pass(email):
    config = parse_config({"alarmEmail": email}, project="async-webhook", stack="dev")
    assert config.monitoring.alarm_email == email


def test_thresholds_are_not_checked_against_a_pipeline_that_has_no_alarms():
    # The thresholds configure nothing with alarms off, so they cannot block a deploy.
    raw = {"alarms": "false", "queueAgeAlarmSeconds": "345600", "listenerP99AlarmMs": "9000"}
    config = parse_config(raw, project="async-webhook", stack="dev")
    assert config.monitoring.alarms is False


def test_a_value_that_did_not_parse_does_not_also_break_a_rule_it_takes_part_in():
    found = _problems({"messageRetentionSeconds": "a week", "queueAgeAlarmSeconds": "999999"})
    assert [k for k, _, _ in found] == ["messageRetentionSeconds"]
