"""Values in the stack's config reach the resources they configure, and nowhere else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import parse_stack_values
from infra.settings import ConfigError
from local.stackfile import load_stack_config

ROOT = Path(__file__).resolve().parents[2]


def listener_config(stack: Any) -> dict[str, Any]:
    env = stack.one(":Function", "listener").inputs["environment"]["variables"]
    assert set(env) == {"LISTENER_CONFIG"}, "the listener reads one variable"
    config: dict[str, Any] = json.loads(env["LISTENER_CONFIG"])
    return config


def test_dev_stack_file_values_reach_the_resources(dev_stack):
    config = load_stack_config(ROOT, "dev").values

    def value(key: str) -> object:
        return json.loads(config[f"async-webhook:{key}"])

    stack = dev_stack
    listener = stack.one(":Function", "listener").inputs
    processor = stack.one(":Function", "processor").inputs
    queue = stack.one("sqs/queue:Queue", "webhook-queue").inputs
    dlq = stack.one("sqs/queue:Queue", "webhook-dlq").inputs
    mapping = stack.one(":EventSourceMapping").inputs
    seen = listener_config(stack)

    assert listener["timeout"] == value("listenerTimeoutSeconds")
    assert listener["memorySize"] == value("listenerMemoryMb")
    assert processor["timeout"] == value("processorTimeoutSeconds")
    assert processor["memorySize"] == value("processorMemoryMb")
    assert mapping["batchSize"] == value("batchSize")
    assert queue["messageRetentionSeconds"] == value("messageRetentionSeconds")
    assert dlq["messageRetentionSeconds"] == value("dlqRetentionSeconds")
    assert queue["maxMessageSize"] == value("maxMessageBytes")
    assert json.loads(queue["redrivePolicy"])["maxReceiveCount"] == value("maxReceiveCount")
    assert [
        {k: v for k, v in route.items() if k != "secretParameter"} for route in seen["routes"]
    ] == value("routes")
    assert seen["acceptedContentTypes"] == value("acceptedContentTypes")
    assert seen["maxMessageBytes"] == value("maxMessageBytes")
    assert seen["queueUrl"] == stack.outputs["queue_url"]
    assert listener["runtime"] == config["async-webhook:runtime"]
    assert listener["architectures"] == [config["async-webhook:architecture"]]
    for group in stack.of_type(":LogGroup"):
        assert group.inputs["retentionInDays"] == value("logRetentionDays")


def test_changed_settings_reach_the_resources(run_program):
    stack = run_program(
        {
            "batchSize": 200,
            "batchingWindowSeconds": 5,
            "maxConcurrency": 7,
            "processorTimeoutSeconds": 45,
            "routes": [
                {"name": "s", "path": "/strava", "source": "strava", "ownerIds": [7]},
                {"name": "gh", "path": "/github/", "source": "github"},
            ],
            "acceptedContentTypes": ["application/json", "Application/X-WWW-Form-Urlencoded"],
            "architecture": "x86_64",
            "runtime": "python3.14",
            "listenerReservedConcurrency": 20,
            "namePrefix": "hooks-prod",
            "maxMessageBytes": 262144,
        },
        secrets={"routeSecrets": {"gh": "github-secret"}},
    )
    mapping = stack.one(":EventSourceMapping").inputs
    assert mapping["batchSize"] == 200
    assert mapping["maximumBatchingWindowInSeconds"] == 5
    assert mapping["scalingConfig"] == {"maximumConcurrency": 7}
    queue = stack.one("sqs/queue:Queue", "webhook-queue").inputs
    assert queue["visibilityTimeoutSeconds"] == 6 * 45 + 5
    assert queue["name"] == "hooks-prod"
    assert stack.one("sqs/queue:Queue", "webhook-dlq").inputs["name"] == "hooks-prod-dlq"
    listener = stack.one(":Function", "listener").inputs
    assert listener["name"] == "hooks-prod-listener"
    assert listener["reservedConcurrentExecutions"] == 20
    assert listener["architectures"] == ["x86_64"]
    assert listener["runtime"] == "python3.14"
    seen = listener_config(stack)
    assert seen["routes"] == [
        {
            "name": "s",
            "path": "/strava",
            "source": "strava",
            "subscriptionIds": [],
            "ownerIds": [7],
            "secretParameter": None,
        },
        {
            "name": "gh",
            "path": "/github",
            "source": "github",
            "secretParameter": "/hooks-prod/routes/gh",
        },
    ]
    assert seen["acceptedContentTypes"] == [
        "application/json",
        "application/x-www-form-urlencoded",
    ]
    assert seen["maxMessageBytes"] == 262144
    assert stack.outputs["processor_function_name"] == "hooks-prod-processor"


def test_fifo_stack_declares_fifo_queues_and_group_field(run_program):
    stack = run_program({"fifo": True, "messageGroupField": "owner_id"})
    queue = stack.one("sqs/queue:Queue", "webhook-queue").inputs
    dlq = stack.one("sqs/queue:Queue", "webhook-dlq").inputs
    assert queue["name"].endswith(".fifo") and dlq["name"].endswith(".fifo")
    assert queue["fifoQueue"] is True and dlq["fifoQueue"] is True
    assert queue["contentBasedDeduplication"] is True
    seen = listener_config(stack)
    assert seen["fifo"] is True
    assert seen["messageGroupField"] == "owner_id"
    assert "maximumBatchingWindowInSeconds" not in stack.one(":EventSourceMapping").inputs


def test_standard_stack_sets_no_fifo_only_attributes(dev_stack):
    stack = dev_stack
    queue = stack.one("sqs/queue:Queue", "webhook-queue").inputs
    assert queue.get("fifoQueue") is False
    assert "contentBasedDeduplication" not in queue
    seen = listener_config(stack)
    assert seen["fifo"] is False and seen["messageGroupField"] is None


def test_a_renamed_project_keeps_every_setting(run_program):
    # GIVEN the dev stack's settings under another project's namespace, as they are after
    # renaming the project in Pulumi.yaml (the stack file's keys renamed with it)
    renamed = {
        key.replace("async-webhook:", "hooks-renamed:", 1): value
        for key, value in load_stack_config(ROOT, "dev").values.items()
    }
    # WHEN the program runs as that project, with one setting changed
    stack = run_program({"batchSize": 7}, base=renamed, project="hooks-renamed")
    # THEN the settings are read (not silently defaulted) and names follow the project
    assert stack.one(":EventSourceMapping").inputs["batchSize"] == 7
    assert [r["name"] for r in listener_config(stack)["routes"]] == ["demo", "strava"]
    assert stack.one(":Function", "listener").inputs["name"] == "hooks-renamed-dev-listener"
    assert stack.one("sqs/queue:Queue", "webhook-queue").inputs["name"] == "hooks-renamed-dev"


def test_settings_left_under_the_old_name_of_a_renamed_project_are_refused_by_name() -> None:
    # GIVEN the project renamed in Pulumi.yaml, but two settings (one secret) still under the
    # old namespace beside one in the new and the provider's own
    values = {
        "aws:region": "eu-west-1",
        "hooks-renamed:batchSize": "7",
        "async-webhook:processorTimeoutSeconds": "1",
        "async-webhook:routeSecrets": '{"gh": "s3cr3t"}',
    }
    # WHEN the stack's values are read
    with pytest.raises(ConfigError) as raised:
        parse_stack_values(
            values,
            project="hooks-renamed",
            stack="dev",
            secret_keys=["async-webhook:routeSecrets"],
        )
    # THEN each stray key is named with its namespace and the key to write instead, and the
    # secret's value is never shown
    message = str(raised.value)
    assert [p.key for p in raised.value.problems] == ["processorTimeoutSeconds", "routeSecrets"]
    assert "async-webhook:processorTimeoutSeconds = 1: set under 'async-webhook'" in message
    assert "write it as hooks-renamed:processorTimeoutSeconds" in message
    assert "write it as hooks-renamed:routeSecrets" in message
    assert "s3cr3t" not in message
