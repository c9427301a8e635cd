"""Values in the stack's config reach the resources they configure."""

from __future__ import annotations

import json

from local.stackfile import load_stack_config

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_dev_stack_file_values_reach_the_resources(run_program):
    config = load_stack_config(ROOT, "dev").values

    def value(key: str) -> object:
        return json.loads(config[f"async-webhook:{key}"])

    stack = run_program()
    listener = stack.one(":Function", "listener").inputs
    processor = stack.one(":Function", "processor").inputs
    queue = stack.one("sqs/queue:Queue", "webhook-queue").inputs
    dlq = stack.one("sqs/queue:Queue", "webhook-dlq").inputs
    mapping = stack.one(":EventSourceMapping").inputs
    env = listener["environment"]["variables"]

    assert listener["timeout"] == value("listenerTimeoutSeconds")
    assert listener["memorySize"] == value("listenerMemoryMb")
    assert processor["timeout"] == value("processorTimeoutSeconds")
    assert processor["memorySize"] == value("processorMemoryMb")
    assert mapping["batchSize"] == value("batchSize")
    assert queue["messageRetentionSeconds"] == value("messageRetentionSeconds")
    assert dlq["messageRetentionSeconds"] == value("dlqRetentionSeconds")
    assert queue["maxMessageSize"] == value("maxMessageBytes")
    assert json.loads(queue["redrivePolicy"])["maxReceiveCount"] == value("maxReceiveCount")
    assert json.loads(env["LISTENER_PATHS"]) == value("listenerPaths")
    assert json.loads(env["ACCEPTED_CONTENT_TYPES"]) == value("acceptedContentTypes")
    assert env["MAX_MESSAGE_BYTES"] == str(value("maxMessageBytes"))
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
            "listenerPaths": ["/strava", "/github"],
            "acceptedContentTypes": ["application/json", "application/x-www-form-urlencoded"],
            "architecture": "x86_64",
            "runtime": "python3.14",
            "listenerReservedConcurrency": 20,
            "namePrefix": "hooks-prod",
            "maxMessageBytes": 262144,
        }
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
    env = listener["environment"]["variables"]
    assert json.loads(env["LISTENER_PATHS"]) == ["/strava", "/github"]
    assert json.loads(env["ACCEPTED_CONTENT_TYPES"]) == [
        "application/json",
        "application/x-www-form-urlencoded",
    ]
    assert env["MAX_MESSAGE_BYTES"] == "262144"
    assert stack.outputs["processor_function_name"] == "hooks-prod-processor"


def test_fifo_stack_declares_fifo_queues_and_group_field(run_program):
    stack = run_program({"fifo": True, "messageGroupField": "owner_id"})
    queue = stack.one("sqs/queue:Queue", "webhook-queue").inputs
    dlq = stack.one("sqs/queue:Queue", "webhook-dlq").inputs
    assert queue["name"].endswith(".fifo") and dlq["name"].endswith(".fifo")
    assert queue["fifoQueue"] is True and dlq["fifoQueue"] is True
    assert queue["contentBasedDeduplication"] is True
    env = stack.one(":Function", "listener").inputs["environment"]["variables"]
    assert env["FIFO"] == "true"
    assert env["MESSAGE_GROUP_FIELD"] == "owner_id"
    assert "maximumBatchingWindowInSeconds" not in stack.one(":EventSourceMapping").inputs


def test_standard_stack_sets_no_fifo_only_attributes(run_program):
    stack = run_program()
    queue = stack.one("sqs/queue:Queue", "webhook-queue").inputs
    assert queue.get("fifoQueue") is False
    assert "contentBasedDeduplication" not in queue
    env = stack.one(":Function", "listener").inputs["environment"]["variables"]
    assert env["FIFO"] == "false" and "MESSAGE_GROUP_FIELD" not in env
