"""Monitoring: alarms that tell someone, and a dashboard of the same signals.

A pipeline that fails quietly is worse than one that fails loudly: a dead-letter queue can fill
for days with nobody told. Every alarm here notifies one SNS topic (an optional e-mail
subscription from `alarmEmail`), and the dashboard shows what the alarms watch. Why each alarm
has its period, its evaluation and its treatment of missing data: docs/design.md, "Monitoring".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import limits
from infra.consumer import Consumer
from infra.listener import Listener, ListenerArgs
from infra.policies import document
from infra.queue import Queue, QueueArgs
from infra.settings import Problem, boolean, integer, setting, text
from infra.stack import StackArgs

COMPONENT_TYPE = "async-webhook:index:Monitoring"

REQUEST_LOG_MESSAGE = "request handled"
"""The message of the listener's one log line per request (functions/listener/handler.py)."""
REJECTED_STATUSES = (401, 403)
"""A sender that failed verification (401) or is outside an allow-list (403)."""
REJECTED_METRIC = "RejectedRequests"
"""Custom metric the listener's log lines feed, in the stack's own namespace."""


def rejected_pattern() -> str:
    """The CloudWatch Logs JSON filter matching exactly the listener's request lines that were
    refused: `{ ($.message = "request handled") && (($.status = 401) || ($.status = 403)) }`.

    Fully parenthesised, so nothing hangs on the precedence of `&&` and `||`; `status` is a
    number in the log line, so it is compared as one (no quotes).
    """
    statuses = " || ".join(f"($.status = {status})" for status in REJECTED_STATUSES)
    return f'{{ ($.message = "{REQUEST_LOG_MESSAGE}") && ({statuses}) }}'


_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)(?=.{6,254}\Z)"
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)

ALARM_PERIOD_SECONDS = 300
"""Counts (errors, throttles, rejections) are summed over five minutes: one notification per
incident rather than one per minute."""
QUEUE_PERIOD_SECONDS = 60
"""SQS publishes its queue metrics once a minute."""

# The largest thresholds the config accepts: far beyond any sensible one, and numbers
# CloudWatch takes.
_MAX_COUNT = 1_000_000
_MAX_DURATION_MS = limits.LAMBDA_TIMEOUT_SECONDS[1] * 1000


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """Whether the stack is monitored, who is told, and when an alarm fires."""

    alarms: bool = setting("alarms", True, boolean)
    """The alarms, their topic and the dashboard; false declares none of them."""
    alarm_email: str | None = setting(
        "alarmEmail",
        None,
        text(_EMAIL, "must be one e-mail address such as ops@example.com"),
    )
    """Subscribed to the alarm topic; AWS mails a confirmation link that must be clicked."""
    queue_age_seconds: int = setting(
        "queueAgeAlarmSeconds", 600, integer(60, limits.RETENTION_SECONDS[1])
    )
    """Age of the oldest message in the main queue that means the processor is behind."""
    listener_p99_ms: int = setting("listenerP99AlarmMs", 1000, integer(10, _MAX_DURATION_MS))
    """p99 listener duration that eats too much of a sender's deadline (Strava's is 2 s)."""
    errors_threshold: int = setting("errorsAlarmThreshold", 0, integer(0, _MAX_COUNT))
    """Errors of either function in five minutes above which its alarm fires (0: any)."""
    throttles_threshold: int = setting("throttlesAlarmThreshold", 0, integer(0, _MAX_COUNT))
    """Throttled invocations of either function in five minutes above which its alarm fires."""
    rejected_threshold: int = setting("rejectedAlarmThreshold", 10, integer(0, _MAX_COUNT))
    """Rejected requests (401/403) in five minutes above which the alarm fires: a sender whose
    secret went stale, or someone probing the URL."""

    def problems(
        self, queue: QueueArgs, listener: ListenerArgs, failed: frozenset[str] = frozenset()
    ) -> list[Problem]:
        found: list[Problem] = []
        if not self.alarms:
            if self.alarm_email is not None and not {"alarms", "alarmEmail"} & failed:
                found.append(
                    Problem(
                        "alarmEmail",
                        self.alarm_email,
                        "needs alarms: true (with alarms: false there is no topic to subscribe "
                        "to and nothing would ever be sent)",
                    )
                )
            return found  # the thresholds configure nothing
        retention = queue.message_retention_seconds
        if (
            not {"queueAgeAlarmSeconds", "messageRetentionSeconds"} & failed
            and self.queue_age_seconds >= retention
        ):
            found.append(
                Problem(
                    "queueAgeAlarmSeconds",
                    self.queue_age_seconds,
                    f"must be less than messageRetentionSeconds ({retention}): a message "
                    "expires before it is that old, so the alarm could never fire",
                )
            )
        timeout_ms = listener.timeout_seconds * 1000
        if (
            not {"listenerP99AlarmMs", "listenerTimeoutSeconds"} & failed
            and self.listener_p99_ms >= timeout_ms
        ):
            found.append(
                Problem(
                    "listenerP99AlarmMs",
                    self.listener_p99_ms,
                    f"must be less than listenerTimeoutSeconds in ms ({timeout_ms}): Lambda "
                    "stops the listener at its timeout, so no duration is ever above it",
                )
            )
        return found


@dataclass(frozen=True)
class _Alarm:
    """One alarm's shape; the component turns each into a MetricAlarm on the topic."""

    key: str
    description: str
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    threshold: float
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int | None = None
    statistic: str | None = "Sum"
    extended_statistic: str | None = None


class Monitoring(pulumi.ComponentResource):
    """KMS key + encrypted SNS topic (+ e-mail subscription) + one alarm per signal + the
    listener's rejected-requests metric filter + a dashboard of the same signals."""

    topic_arn: pulumi.Output[str]
    """The topic every alarm notifies (subscribe more recipients to it)."""
    dashboard_name: pulumi.Output[str]
    """Name of the CloudWatch dashboard."""
    dashboard_url: pulumi.Output[str]
    """The dashboard in the AWS console."""

    def __init__(
        self,
        name: str,
        args: MonitoringArgs,
        *,
        queue: Queue,
        listener: Listener,
        processor: Consumer,
        stack: StackArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = stack.resource_tags
        prefix = stack.prefix
        # Region, account and partition from an ARN the provider returned: right however the
        # provider was given its region (aws:region, AWS_REGION, a profile), and no data
        # source call (docs/design.md, "Monitoring").
        region = _arn_part(queue.arn, 3)
        account = _arn_part(queue.arn, 4)
        partition = _arn_part(queue.arn, 1)

        # CloudWatch cannot publish to a topic encrypted with the AWS-managed key alias/aws/sns:
        # that key's policy grants CloudWatch nothing and cannot be changed, so every
        # notification would fail silently (docs/design.md, "Monitoring").
        self.key = aws.kms.Key(
            f"{name}-topic-key",
            description=f"Encrypts the alarm topic of {prefix}",
            enable_key_rotation=True,
            # The topic keeps no messages once delivered: nothing waits to be decrypted later.
            deletion_window_in_days=7,
            policy=document(
                [
                    {
                        "Sid": "AccountAdministersTheKey",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": pulumi.Output.format("arn:{0}:iam::{1}:root", partition, account)
                        },
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    # AWS's documented statement for alarms on an encrypted topic. No condition:
                    # which condition keys CloudWatch's KMS calls carry is not documented, and
                    # one they lack would drop every notification without a word.
                    {
                        "Sid": "CloudWatchAlarmsPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                    },
                ]
            ),
            tags=tags,
            opts=child,
        )
        self.topic = aws.sns.Topic(
            f"{name}-alarms",
            name=f"{prefix}-alarms",
            kms_master_key_id=self.key.arn,
            tags=tags,
            opts=child,
        )
        if args.alarm_email is not None:
            aws.sns.TopicSubscription(
                f"{name}-alarm-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=child,
            )

        self.rejected_filter = aws.cloudwatch.LogMetricFilter(
            f"{name}-rejected-requests",
            name=f"{prefix}-rejected-requests",
            log_group_name=listener.function.log_group.name,
            pattern=rejected_pattern(),
            metric_transformation={
                "name": REJECTED_METRIC,
                "namespace": prefix,
                "value": "1",
                # 0 for every other log line, so the metric is 0 rather than missing while
                # requests arrive and none is refused.
                "default_value": "0",
                "unit": "Count",
            },
            opts=child,
        )

        queue_name = _arn_part(queue.arn, 5)
        dlq_name = _arn_part(queue.dlq_arn, 5)
        functions = {"listener": listener.function_name, "processor": processor.function_name}
        shapes = [
            _Alarm(
                "dlq-not-empty",
                "Messages are waiting in the dead-letter queue: the processor failed them "
                "maxReceiveCount times. Inspect with `python -m ops dlq peek`; after a fix, "
                "`python -m ops dlq redrive`.",
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                {"QueueName": dlq_name},
                0,
                QUEUE_PERIOD_SECONDS,
                1,
                statistic="Maximum",
            ),
            _Alarm(
                "queue-oldest-message",
                f"The oldest message in the queue is over {args.queue_age_seconds} s old: the "
                "processor is behind, failing, or not polling.",
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                {"QueueName": queue_name},
                args.queue_age_seconds,
                QUEUE_PERIOD_SECONDS,
                5,
                datapoints_to_alarm=3,
                statistic="Maximum",
            ),
            *(
                _Alarm(
                    f"{role}-{metric.lower()}",
                    f"The {role} function had more than {threshold} {what} in 5 minutes.",
                    "AWS/Lambda",
                    metric,
                    {"FunctionName": function_name},
                    threshold,
                    ALARM_PERIOD_SECONDS,
                    1,
                )
                for role, function_name in functions.items()
                for metric, threshold, what in (
                    ("Errors", args.errors_threshold, "errors (crashes or timeouts)"),
                    ("Throttles", args.throttles_threshold, "throttled invocations"),
                )
            ),
            _Alarm(
                "listener-p99-duration",
                f"The listener's p99 duration is over {args.listener_p99_ms} ms: senders with "
                "a short deadline (Strava: 2 s) will start to retry.",
                "AWS/Lambda",
                "Duration",
                {"FunctionName": listener.function_name},
                args.listener_p99_ms,
                ALARM_PERIOD_SECONDS,
                3,
                datapoints_to_alarm=2,
                statistic=None,
                extended_statistic="p99",
            ),
            _Alarm(
                "rejected-requests",
                f"More than {args.rejected_threshold} requests were refused (401/403) in 5 "
                "minutes: a sender's secret or allow-list is out of date, or someone is "
                "probing the URL. The listener's log lines name the route and the reason.",
                prefix,
                REJECTED_METRIC,
                {},
                args.rejected_threshold,
                ALARM_PERIOD_SECONDS,
                1,
            ),
        ]
        self.alarms = {shape.key: self._alarm(name, shape, prefix, tags) for shape in shapes}

        body = _dashboard_body(
            region=region,
            queue_name=queue_name,
            dlq_name=dlq_name,
            listener=listener.function_name,
            processor=processor.function_name,
            namespace=prefix,
            args=args,
            alarm_arns=[alarm.arn for alarm in self.alarms.values()],
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=prefix,
            dashboard_body=pulumi.Output.json_dumps(body),
            opts=child,
        )

        self.topic_arn = self.topic.arn
        self.dashboard_name = self.dashboard.dashboard_name
        self.dashboard_url = pulumi.Output.format(
            "https://{0}.console.aws.amazon.com/cloudwatch/home?region={0}#dashboards:name={1}",
            region,
            self.dashboard.dashboard_name,
        )
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "dashboard_name": self.dashboard_name,
                "dashboard_url": self.dashboard_url,
            }
        )

    def _alarm(
        self, name: str, shape: _Alarm, prefix: str, tags: Mapping[str, str]
    ) -> aws.cloudwatch.MetricAlarm:
        # Missing data is never breaching: each of these metrics is missing exactly when
        # nothing happens (no invocations, an empty and idle queue, no requests), and an
        # idle pipeline is a healthy one (docs/design.md, "Monitoring").
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{shape.key}",
            name=f"{prefix}-{shape.key}",
            alarm_description=shape.description,
            namespace=shape.namespace,
            metric_name=shape.metric,
            dimensions=dict(shape.dimensions) or None,
            statistic=shape.statistic,
            extended_statistic=shape.extended_statistic,
            # A webhook receiver rarely sees the samples CloudWatch wants before it trusts a
            # p99; "ignore" would leave the alarm silent on exactly such a stack.
            evaluate_low_sample_count_percentiles="evaluate" if shape.extended_statistic else None,
            comparison_operator="GreaterThanThreshold",
            threshold=shape.threshold,
            period=shape.period,
            evaluation_periods=shape.evaluation_periods,
            datapoints_to_alarm=shape.datapoints_to_alarm,
            treat_missing_data="notBreaching",
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )


def _arn_part(arn: pulumi.Input[str], index: int) -> pulumi.Output[str]:
    """One field of an ARN (`arn:partition:service:region:account:resource`)."""
    return pulumi.Output.from_input(arn).apply(lambda value: value.split(":", 5)[index])


def _dashboard_body(
    *,
    region: pulumi.Output[str],
    queue_name: pulumi.Output[str],
    dlq_name: pulumi.Output[str],
    listener: pulumi.Output[str],
    processor: pulumi.Output[str],
    namespace: str,
    args: MonitoringArgs,
    alarm_arns: Sequence[pulumi.Output[str]],
) -> dict[str, Any]:
    """The dashboard as a structure of Outputs, for `Output.json_dumps`: the alarms' states,
    then one row each for the listener, the queue and the processor."""

    def lambda_metric(function: pulumi.Output[str], metric: str, stat: str, label: str) -> list:
        return ["AWS/Lambda", metric, "FunctionName", function, {"stat": stat, "label": label}]

    def sqs_metric(queue: pulumi.Output[str], metric: str, label: str) -> list:
        return ["AWS/SQS", metric, "QueueName", queue, {"stat": "Maximum", "label": label}]

    def graph(
        title: str, metrics: list[list], *, line: tuple[str, float] | None = None
    ) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "period": 60,
            "metrics": metrics,
        }
        if line is not None:
            properties["annotations"] = {"horizontal": [{"label": line[0], "value": line[1]}]}
        return {"type": "metric", "properties": properties}

    def function_graphs(
        function: pulumi.Output[str], invoked: str, duration_line: tuple[str, float] | None = None
    ) -> list[dict[str, Any]]:
        """What both functions show: invocations, errors and throttles, p50/p99 duration."""
        return [
            graph("Invocations", [lambda_metric(function, "Invocations", "Sum", invoked)]),
            graph(
                "Errors and throttles",
                [
                    lambda_metric(function, "Errors", "Sum", "errors"),
                    lambda_metric(function, "Throttles", "Sum", "throttles"),
                ],
            ),
            graph(
                "Duration (ms)",
                [
                    lambda_metric(function, "Duration", "p50", "p50"),
                    lambda_metric(function, "Duration", "p99", "p99"),
                ],
                line=duration_line,
            ),
        ]

    rows: list[tuple[str, list[dict[str, Any]]]] = [
        (
            "Listener",
            [
                *function_graphs(listener, "requests", ("p99 alarm", args.listener_p99_ms)),
                graph(
                    "Rejected (401/403)",
                    [[namespace, REJECTED_METRIC, {"stat": "Sum", "label": "rejected"}]],
                ),
            ],
        ),
        (
            "Queue",
            [
                graph(
                    "Queue depth",
                    [
                        sqs_metric(queue_name, "ApproximateNumberOfMessagesVisible", "waiting"),
                        sqs_metric(
                            queue_name, "ApproximateNumberOfMessagesNotVisible", "in flight"
                        ),
                    ],
                ),
                graph(
                    "Age of oldest message (s)",
                    [sqs_metric(queue_name, "ApproximateAgeOfOldestMessage", "oldest")],
                    line=("alarm", args.queue_age_seconds),
                ),
                graph(
                    "Dead-letter queue depth",
                    [sqs_metric(dlq_name, "ApproximateNumberOfMessagesVisible", "dead letters")],
                    line=("alarm above", 0),
                ),
            ],
        ),
        (
            "Processor",
            [
                *function_graphs(processor, "batches"),
                graph(
                    "Concurrency",
                    [lambda_metric(processor, "ConcurrentExecutions", "Maximum", "concurrent")],
                ),
            ],
        ),
    ]
    widgets: list[dict[str, Any]] = [
        {
            "type": "alarm",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 3,
            "properties": {"title": "Alarms", "alarms": list(alarm_arns)},
        }
    ]
    y = 3
    for heading, graphs in rows:
        widgets.append(
            {
                "type": "text",
                "x": 0,
                "y": y,
                "width": 24,
                "height": 1,
                "properties": {"markdown": f"## {heading}"},
            }
        )
        width = 24 // len(graphs)
        for column, widget in enumerate(graphs):
            widgets.append({**widget, "x": column * width, "y": y + 1, "width": width, "height": 6})
        y += 7
    return {"widgets": widgets}
