"""The local cloud's monitoring resources: the KMS key, the SNS topic and its subscriptions,
metric alarms, dashboards and log metric filters, each created in the embedded moto server.

Created, so AWS-side validation applies (a subscription to a missing topic, an alarm moto
refuses, a metric filter on a log group that does not exist) and the AWS CLI finds them. Not
acted on: the local cloud publishes no CloudWatch metrics and its logs go to
`.local/<stack>/logs`, not CloudWatch Logs, so no alarm changes state and no filter counts
anything; an e-mail subscription never sends mail (moto 5.2.5 delivers SNS messages to SQS,
HTTP and Lambda endpoints only, and has no mail client at all). One start-up warning names
what is only recorded (docs/design.md, "Monitoring").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pulumi

Handler = Callable[[pulumi.runtime.MockResourceArgs, dict[str, Any]], tuple[str, dict[str, Any]]]


class MonitoringResourceError(ValueError):
    """A declared monitoring resource AWS would refuse (the provider names the resource)."""


class Provider(Protocol):
    """What these handlers need of the local provider."""

    region: str

    def client(self, service: str) -> Any: ...


def monitoring_handlers(
    provider: Provider, warnings: list[str], autoname: Callable[..., str]
) -> dict[str, Handler]:
    """Type token -> handler, to add to the provider's; `warnings` is the list printed at
    start-up, which gets one line naming what is only recorded; `autoname(logical, suffix)`
    names a resource the program left unnamed, as the provider does."""
    return _Monitoring(provider, warnings, autoname).handlers


class _Monitoring:
    def __init__(
        self, provider: Provider, warnings: list[str], autoname: Callable[..., str]
    ) -> None:
        self._provider = provider
        self._autoname = autoname
        self._warnings = warnings
        self._recorded: dict[str, tuple[int, str]] = {}
        """Kind of resource -> how many were only recorded, and why that is all."""
        self._warning_at: int | None = None
        self._lock = threading.Lock()  # the engine declares resources from several threads
        self.handlers: dict[str, Handler] = {
            "aws:kms/key:Key": self._key,
            "aws:sns/topic:Topic": self._topic,
            "aws:sns/topicSubscription:TopicSubscription": self._subscription,
            "aws:cloudwatch/metricAlarm:MetricAlarm": self._alarm,
            "aws:cloudwatch/dashboard:Dashboard": self._dashboard,
            "aws:cloudwatch/logMetricFilter:LogMetricFilter": self._metric_filter,
        }

    # ---- created and working ----------------------------------------------------------------

    def _key(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kms = self._provider.client("kms")
        optional = {"Policy": i.get("policy"), "Description": i.get("description")}
        metadata = kms.create_key(
            KeyUsage=i.get("keyUsage") or "ENCRYPT_DECRYPT",
            Tags=[{"TagKey": k, "TagValue": v} for k, v in (i.get("tags") or {}).items()],
            **{k: v for k, v in optional.items() if v},
        )["KeyMetadata"]
        key_id = metadata["KeyId"]
        if i.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=key_id)
        return key_id, {"arn": metadata["Arn"], "keyId": key_id}

    def _topic(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        fifo = bool(i.get("fifoTopic"))
        name = i.get("name") or self._autoname(args.name, ".fifo" if fifo else "")
        attributes = {
            "KmsMasterKeyId": i.get("kmsMasterKeyId"),
            "DisplayName": i.get("displayName"),
            "Policy": i.get("policy"),
            "FifoTopic": "true" if fifo else None,
        }
        arn = self._provider.client("sns").create_topic(
            Name=name,
            Attributes={k: v for k, v in attributes.items() if v},
            Tags=_tags(i),
        )["TopicArn"]
        return arn, {"name": name, "arn": arn}

    # ---- created, only recorded -------------------------------------------------------------

    def _subscription(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        protocol = i["protocol"]
        arn = self._provider.client("sns").subscribe(
            TopicArn=i["topic"],
            Protocol=protocol,
            Endpoint=i["endpoint"],
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        if protocol in ("email", "email-json"):
            self._record_only("e-mail subscription", "no confirmation or alarm mail is sent")
        return arn, {"arn": arn}

    def _alarm(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if i.get("metricQueries"):
            raise MonitoringResourceError("metric math alarms (metricQueries) are not emulated")
        name = i.get("name") or self._autoname(args.name)
        optional = {
            "AlarmDescription": i.get("alarmDescription"),
            "Statistic": i.get("statistic"),
            "ExtendedStatistic": i.get("extendedStatistic"),
            "EvaluateLowSampleCountPercentile": i.get("evaluateLowSampleCountPercentiles"),
            "DatapointsToAlarm": _whole(i.get("datapointsToAlarm")),
            "TreatMissingData": i.get("treatMissingData"),
            "Unit": i.get("unit"),
        }
        cloudwatch = self._provider.client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace=i["namespace"],
            MetricName=i["metricName"],
            Dimensions=[
                {"Name": k, "Value": str(v)} for k, v in (i.get("dimensions") or {}).items()
            ],
            ComparisonOperator=i["comparisonOperator"],
            Threshold=float(i["threshold"]),
            Period=_whole(i["period"]),
            EvaluationPeriods=_whole(i["evaluationPeriods"]),
            ActionsEnabled=i.get("actionsEnabled", True),
            AlarmActions=list(i.get("alarmActions") or []),
            OKActions=list(i.get("okActions") or []),
            InsufficientDataActions=list(i.get("insufficientDataActions") or []),
            Tags=_tags(i),
            **{k: v for k, v in optional.items() if v is not None},
        )
        arn = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
        self._record_only("metric alarm", "never evaluated: no metrics are published locally")
        return name, {"name": name, "arn": arn}

    def _dashboard(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = i["dashboardName"]
        cloudwatch = self._provider.client("cloudwatch")
        cloudwatch.put_dashboard(DashboardName=name, DashboardBody=i["dashboardBody"])
        arn = cloudwatch.get_dashboard(DashboardName=name)["DashboardArn"]
        self._record_only(
            "dashboard",
            "no console here: dashboard_url points at the AWS console; read it with "
            "`aws cloudwatch get-dashboard`",
        )
        return name, {"dashboardArn": arn}

    def _metric_filter(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = i.get("name") or self._autoname(args.name)
        group = i["logGroupName"]
        logs = self._provider.client("logs")
        # AWS refuses a filter on a missing log group; moto does not check, so check here.
        groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        if not any(g["logGroupName"] == group for g in groups):
            raise MonitoringResourceError(f"log group {group} does not exist")
        transformation = i["metricTransformation"]
        metric = {
            "metricName": transformation["name"],
            "metricNamespace": transformation["namespace"],
            "metricValue": transformation["value"],
        }
        if transformation.get("defaultValue") is not None:
            metric["defaultValue"] = float(transformation["defaultValue"])
        if transformation.get("unit"):
            metric["unit"] = transformation["unit"]
        logs.put_metric_filter(
            logGroupName=group,
            filterName=name,
            filterPattern=i["pattern"],
            metricTransformations=[metric],
        )
        self._record_only("log metric filter", "never applied: the logs stay on this machine")
        return name, {"name": name}

    def _record_only(self, kind: str, why: str) -> None:
        """Counts one `kind` into the one start-up warning about resources only recorded."""
        with self._lock:
            count = self._recorded.get(kind, (0, why))[0] + 1
            self._recorded[kind] = (count, why)
            listed = "; ".join(
                f"{n} {k}{'' if n == 1 else 's'} ({reason})"
                for k, (n, reason) in self._recorded.items()
            )
            line = f"monitoring resources created in the embedded AWS but only recorded: {listed}"
            if self._warning_at is None:
                self._warning_at = len(self._warnings)
                self._warnings.append(line)
            else:
                self._warnings[self._warning_at] = line


def _tags(i: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in (i.get("tags") or {}).items()]


def _whole(value: Any) -> int | None:
    """Numbers arrive from the engine as floats (300.0); AWS wants integers here."""
    return None if value is None else int(value)
