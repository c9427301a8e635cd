"""The local cloud's monitoring handlers against the session's moto server: created in moto,
refused where AWS would refuse, never sending mail, and named in one start-up warning."""

from __future__ import annotations

import functools
import smtplib
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from local.monitoring_resources import MonitoringResourceError, monitoring_handlers
from local.provider import _autoname

REGION = "us-east-1"
RECORDED = "monitoring resources created in the embedded AWS but only recorded: "


@dataclass
class Declared:
    """What a handler reads of the engine's MockResourceArgs."""

    name: str


@dataclass
class Local:
    """The handlers over a provider that is just the session's moto server."""

    endpoint: str
    region: str = REGION
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.handlers = monitoring_handlers(self, self.warnings, _autoname)

    def client(self, service: str) -> Any:
        return _client(self.endpoint, service)

    def create(self, typ: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return self.handlers[typ](Declared(f"r-{uuid.uuid4().hex[:8]}"), inputs)


@functools.cache
def _client(endpoint: str, service: str) -> Any:
    """One client per service for the module: creating one costs more than the calls."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def local(moto_endpoint: str) -> Local:
    return Local(moto_endpoint)


def _unique(prefix: str) -> str:
    """Names unique within the session's one moto server."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _alarm(topic_arn: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": _unique("alarm"),
        "namespace": "AWS/SQS",
        "metricName": "ApproximateNumberOfMessagesVisible",
        "dimensions": {"QueueName": "q"},
        "statistic": "Maximum",
        "comparisonOperator": "GreaterThanThreshold",
        "threshold": 0.0,
        "period": 60.0,  # numbers arrive from the engine as floats
        "evaluationPeriods": 1.0,
        "treatMissingData": "notBreaching",
        "alarmActions": [topic_arn],
        "okActions": [topic_arn],
        "tags": {"stack": "test"},
        **extra,
    }


def test_an_email_subscription_is_created_but_no_mail_is_ever_sent(local: Local, monkeypatch):
    # GIVEN that nothing in this process (the moto server included) may open an SMTP connection
    attempts: list[object] = []
    monkeypatch.setattr(smtplib.SMTP, "connect", lambda self, *a, **k: attempts.append(a))
    # WHEN a topic with an e-mail subscription is created and a notification is published
    topic_arn, _ = local.create("aws:sns/topic:Topic", {"name": _unique("topic")})
    local.create(
        "aws:sns/topicSubscription:TopicSubscription",
        {"topic": topic_arn, "protocol": "email", "endpoint": "ops@example.com"},
    )
    sns = local.client("sns")
    sns.publish(TopicArn=topic_arn, Message="ALARM")
    # THEN the subscription is in moto and no mail was attempted
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ops@example.com")
    assert attempts == []
    # AND the start-up warning says so
    assert local.warnings == [
        RECORDED + "1 e-mail subscription (no confirmation or alarm mail is sent)"
    ]


def test_the_topic_is_encrypted_with_the_declared_key(local: Local):
    key_id, key = local.create(
        "aws:kms/key:Key", {"description": "alarms", "enableKeyRotation": True, "tags": {"a": "b"}}
    )
    topic_arn, topic = local.create(
        "aws:sns/topic:Topic", {"name": _unique("topic"), "kmsMasterKeyId": key["arn"]}
    )
    assert topic["arn"] == topic_arn
    attributes = local.client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["KmsMasterKeyId"] == key["arn"]
    kms = local.client("kms")
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert local.warnings == [], "a key and a topic work locally as on AWS"


def test_alarms_are_created_with_what_was_declared_and_counted_in_one_warning(local: Local):
    topic_arn, _ = local.create("aws:sns/topic:Topic", {"name": _unique("topic")})
    declared = [
        _alarm(topic_arn),
        _alarm(topic_arn, statistic=None, extendedStatistic="p99", datapointsToAlarm=2.0),
    ]
    # WHEN two alarms are declared, from two threads as the engine does
    results: list[tuple[str, dict[str, Any]]] = []
    threads = [
        threading.Thread(
            target=lambda i=inputs: results.append(
                local.create("aws:cloudwatch/metricAlarm:MetricAlarm", i)
            )
        )
        for inputs in declared
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # THEN moto holds both as declared, with the ARNs it gave them
    names = [inputs["name"] for inputs in declared]
    found = {
        a["AlarmName"]: a
        for a in local.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    }
    assert {name: result["arn"] for name, result in results} == {
        name: found[name]["AlarmArn"] for name in names
    }
    first, second = (found[name] for name in names)
    assert (first["Period"], first["Statistic"], first["AlarmActions"]) == (
        60,
        "Maximum",
        [topic_arn],
    )
    assert (second["ExtendedStatistic"], second["DatapointsToAlarm"]) == ("p99", 2)
    assert first["TreatMissingData"] == "notBreaching"
    # AND one warning line counts them
    assert local.warnings == [
        RECORDED + "2 metric alarms (never evaluated: no metrics are published locally)"
    ]


def test_a_metric_filter_needs_its_log_group_as_on_aws(local: Local):
    group = _unique("/aws/lambda/listener")
    inputs = {
        "name": _unique("rejected"),
        "logGroupName": group,
        "pattern": "{ $.status = 401 }",
        "metricTransformation": {"name": "Rejected", "namespace": "ns", "value": "1"},
    }
    with pytest.raises(MonitoringResourceError, match=f"log group {group} does not exist"):
        local.create("aws:cloudwatch/logMetricFilter:LogMetricFilter", inputs)
    local.client("logs").create_log_group(logGroupName=group)
    local.create(
        "aws:cloudwatch/logMetricFilter:LogMetricFilter",
        {**inputs, "metricTransformation": {**inputs["metricTransformation"], "defaultValue": "0"}},
    )
    (stored,) = local.client("logs").describe_metric_filters(logGroupName=group)["metricFilters"]
    assert stored["filterPattern"] == inputs["pattern"]
    assert stored["metricTransformations"][0]["defaultValue"] == 0


def test_a_metric_math_alarm_is_a_clear_error(local: Local):
    with pytest.raises(MonitoringResourceError, match="metricQueries"):
        local.create(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            _alarm("arn:aws:sns:us-east-1:123456789012:t", metricQueries=[{"id": "m1"}]),
        )
