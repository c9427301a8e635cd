"""Config validation: every rule names key, value and rule; all problems come at once."""

from __future__ import annotations

import pytest

from infra.config import KEYS, ConfigError, Settings, default_name_prefix, parse_settings


def parse(raw: dict[str, str], **kwargs) -> Settings:
    return parse_settings(raw, project="async-webhook", stack="dev", **kwargs)


def problems_of(raw: dict[str, str], **kwargs) -> list[tuple[str, object, str]]:
    with pytest.raises(ConfigError) as caught:
        parse(raw, **kwargs)
    return [(p.key, p.value, p.rule) for p in caught.value.problems]


def test_defaults_need_no_config():
    settings = parse({})
    assert settings.listener_paths == ("/append_queue",)
    assert settings.listener_auth_type == "NONE"
    assert settings.accepted_content_types == ("application/json",)
    assert settings.max_receive_count == 5
    assert settings.fifo is False
    assert settings.max_message_bytes == 1024 * 1024
    assert settings.architecture == "arm64"
    assert settings.runtime == "python3.13"
    assert settings.verify_token is None
    assert settings.name_prefix == "async-webhook-dev"
    assert settings.visibility_timeout_seconds == 6 * settings.processor_timeout_seconds


@pytest.mark.parametrize(
    ("raw", "key", "rule_part"),
    [
        ({"batchSize": "0"}, "batchSize", "between 1 and 10000"),
        ({"batchSize": "10001"}, "batchSize", "between 1 and 10000"),
        ({"batchSize": "ten"}, "batchSize", "whole number"),
        ({"batchSize": "11", "fifo": "true"}, "batchSize", "between 1 and 10"),
        ({"batchSize": "11"}, "batchingWindowSeconds", "at least 1"),
        ({"batchingWindowSeconds": "301"}, "batchingWindowSeconds", "between 0 and 300"),
        ({"batchingWindowSeconds": "5", "fifo": "true"}, "batchingWindowSeconds", "FIFO"),
        ({"maxConcurrency": "1"}, "maxConcurrency", "between 2 and 1000"),
        ({"maxConcurrency": "1001"}, "maxConcurrency", "between 2 and 1000"),
        ({"maxReceiveCount": "4"}, "maxReceiveCount", "between 5 and 1000"),
        ({"messageRetentionSeconds": "59"}, "messageRetentionSeconds", "between 60"),
        ({"messageRetentionSeconds": "1209601"}, "messageRetentionSeconds", "1209600"),
        ({"messageRetentionSeconds": "1209600"}, "dlqRetentionSeconds", "longer than"),
        ({"dlqRetentionSeconds": "3600"}, "dlqRetentionSeconds", "longer than"),
        ({"maxMessageBytes": "1048577"}, "maxMessageBytes", "between 1024 and 1048576"),
        ({"maxMessageBytes": "1023"}, "maxMessageBytes", "between 1024"),
        ({"logRetentionDays": "15"}, "logRetentionDays", "one of 1, 3, 5"),
        ({"listenerPaths": '["append_queue"]'}, "listenerPaths", "start with '/'"),
        ({"listenerPaths": '["/a?b=1"]'}, "listenerPaths", "query"),
        ({"listenerPaths": '["/a", "/a"]'}, "listenerPaths", "unique"),
        ({"listenerPaths": "[]"}, "listenerPaths", "must not be empty"),
        ({"listenerPaths": "/append_queue"}, "listenerPaths", "list of strings"),
        ({"acceptedContentTypes": '["json"]'}, "acceptedContentTypes", "media type"),
        (
            {"acceptedContentTypes": '["application/json; charset=utf-8"]'},
            "acceptedContentTypes",
            "media type",
        ),
        ({"listenerAuthType": "IAM"}, "listenerAuthType", "one of NONE, AWS_IAM"),
        ({"architecture": "x86"}, "architecture", "one of arm64, x86_64"),
        ({"runtime": "python3.9"}, "runtime", "one of python3.13"),
        ({"fifo": "yes"}, "fifo", "true or false"),
        ({"messageGroupField": "owner_id"}, "messageGroupField", "FIFO"),
        ({"processorTimeoutSeconds": "901"}, "processorTimeoutSeconds", "between 1 and 900"),
        ({"processorTimeoutSeconds": "0"}, "processorTimeoutSeconds", "between 1 and 900"),
        ({"listenerTimeoutSeconds": "1"}, "listenerTimeoutSeconds", "at least 2"),
        ({"listenerMemoryMb": "64"}, "listenerMemoryMb", "between 128 and 10240"),
        ({"processorMemoryMb": "20000"}, "processorMemoryMb", "between 128 and 10240"),
        ({"listenerReservedConcurrency": "0"}, "listenerReservedConcurrency", "between 1"),
        ({"namePrefix": "my.app"}, "namePrefix", "letters, digits"),
        ({"namePrefix": "x" * 41}, "namePrefix", "1-40"),
        ({"batchsize": "10"}, "batchsize", "did you mean batchSize"),
    ],
)
def test_each_rule_names_key_value_and_rule(raw, key, rule_part):
    found = problems_of(raw)
    matching = [p for p in found if p[0] == key]
    assert matching, f"no problem reported for {key}: {found}"
    assert any(rule_part in rule for _, _, rule in matching), matching


def test_every_problem_is_reported_at_once():
    raw = {
        "batchSize": "0",
        "maxConcurrency": "1",
        "logRetentionDays": "15",
        "listenerPaths": '["nope"]',
        "architecture": "sparc",
    }
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    keys = {p.key for p in caught.value.problems}
    assert keys == {
        "batchSize",
        "maxConcurrency",
        "logRetentionDays",
        "listenerPaths",
        "architecture",
    }
    text = str(caught.value)
    assert "5 problems" in text
    assert "async-webhook:batchSize = 0: must be between 1 and 10000" in text
    assert 'async-webhook:architecture = "sparc": must be one of arm64, x86_64' in text


def test_a_plain_text_verify_token_is_refused_without_showing_it():
    import pulumi

    with pytest.raises(ConfigError) as caught:
        parse({}, verify_token=pulumi.Output.from_input("hunter2"), verify_token_is_secret=False)
    assert caught.value.problems[0].key == "verifyToken"
    assert "--secret" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_valid_edge_values_pass():
    settings = parse(
        {
            "batchSize": "10000",
            "batchingWindowSeconds": "300",
            "maxConcurrency": "2",
            "maxReceiveCount": "1000",
            "maxMessageBytes": "1024",
            "logRetentionDays": "3653",
            "processorTimeoutSeconds": "900",
        }
    )
    assert settings.visibility_timeout_seconds == 6 * 900 + 300
    fifo = parse({"fifo": "true", "batchSize": "10", "messageGroupField": "owner_id"})
    assert fifo.message_group_field == "owner_id"


def test_default_name_prefix_is_safe_for_lambda_and_sqs():
    assert default_name_prefix("async-webhook", "org.team/prod") == "async-webhook-org-team-prod"
    assert len(default_name_prefix("p" * 30, "s" * 30)) <= 40


def test_every_key_is_spelled_out_in_the_dev_stack_or_documented_optional():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "Pulumi.dev.yaml").read_text()
    for key in KEYS:
        assert f"async-webhook:{key}" in text or key == "verifyToken", key


def test_program_fails_before_any_resource_with_every_problem(run_program):
    with pytest.raises(ConfigError) as caught:
        run_program({"batchSize": 20000, "maxReceiveCount": 2})
    assert {p.key for p in caught.value.problems} == {"batchSize", "maxReceiveCount"}
