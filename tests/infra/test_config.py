"""Config validation: every rule names key, value and rule; all problems come at once."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from infra.config import RETIRED, StackConfig, components, known_keys, parse_config
from infra.settings import ConfigError, settings_of
from infra.stack import default_name_prefix

ROOT = Path(__file__).resolve().parents[2]


def parse(raw: dict[str, str], *, secret_keys: tuple[str, ...] = ()) -> StackConfig:
    return parse_config(raw, project="async-webhook", stack="dev", secret_keys=secret_keys)


def problems_of(raw: dict[str, str], **kwargs) -> list[tuple[str, object, str]]:
    with pytest.raises(ConfigError) as caught:
        parse(raw, **kwargs)
    return [(p.key, p.value, p.rule) for p in caught.value.problems]


def routes(*entries: dict) -> str:
    return json.dumps(list(entries))


def test_defaults_need_no_config():
    config = parse({})
    assert [(r.name, r.path, r.source) for r in config.listener.routes] == [
        ("demo", "/append_queue", "none")
    ]
    assert config.listener.auth_type == "NONE"
    assert config.listener.accepted_content_types == ("application/json",)
    assert config.queue.max_receive_count == 5
    assert config.queue.fifo is False
    assert config.queue.max_message_bytes == 1024 * 1024
    assert config.runtime.architecture == "arm64"
    assert config.runtime.runtime == "python3.13"
    assert config.listener.route_secrets == ()
    assert config.stack.prefix == "async-webhook-dev"
    assert config.processor.visibility_timeout_seconds == 6 * config.processor.timeout_seconds
    assert config.listener.reserved_concurrency == 20


def test_reserved_concurrency_can_be_left_to_the_account_pool():
    assert parse({"listenerReservedConcurrency": "none"}).listener.reserved_concurrency is None
    assert parse({"listenerReservedConcurrency": "7"}).listener.reserved_concurrency == 7


@pytest.mark.parametrize(
    ("raw", "key", "rule_part"),
    [
        ({"batchSize": "0"}, "batchSize", "between 1 and 10000"),
        ({"batchSize": "10001"}, "batchSize", "between 1 and 10000"),
        ({"batchSize": "ten"}, "batchSize", "whole number"),
        ({"batchSize": "11", "fifo": "true"}, "batchSize", "at most 10 on a FIFO"),
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
        ({"acceptedContentTypes": '["json"]'}, "acceptedContentTypes", "media type"),
        (
            {"acceptedContentTypes": '["application/json; charset=utf-8"]'},
            "acceptedContentTypes",
            "media type",
        ),
        ({"acceptedContentTypes": "application/json"}, "acceptedContentTypes", "list of strings"),
        ({"acceptedContentTypes": "[]"}, "acceptedContentTypes", "must not be empty"),
        ({"listenerAuthType": "IAM"}, "listenerAuthType", "one of NONE, AWS_IAM"),
        ({"architecture": "x86"}, "architecture", "one of arm64, x86_64"),
        ({"runtime": "python3.9"}, "runtime", "one of python3.13"),
        ({"fifo": "yes"}, "fifo", "true or false"),
        ({"messageGroupField": "owner_id"}, "messageGroupField", "FIFO"),
        ({"messageGroupField": "owner id", "fifo": "true"}, "messageGroupField", "without spaces"),
        ({"processorTimeoutSeconds": "901"}, "processorTimeoutSeconds", "between 1 and 900"),
        ({"processorTimeoutSeconds": "0"}, "processorTimeoutSeconds", "between 1 and 900"),
        ({"listenerTimeoutSeconds": "1"}, "listenerTimeoutSeconds", "at least 2"),
        ({"listenerMemoryMb": "64"}, "listenerMemoryMb", "between 128 and 10240"),
        ({"processorMemoryMb": "20000"}, "processorMemoryMb", "between 128 and 10240"),
        ({"listenerReservedConcurrency": "0"}, "listenerReservedConcurrency", "between 1"),
        ({"listenerReservedConcurrency": "lots"}, "listenerReservedConcurrency", "or none"),
        ({"namePrefix": "my.app"}, "namePrefix", "letters, digits"),
        ({"namePrefix": "x" * 41}, "namePrefix", "1-40"),
        ({"namePrefix": "aws-x"}, "namePrefix", "must not start with 'aws' or 'ssm'"),
        ({"namePrefix": "SSM-x"}, "namePrefix", "must not start with 'aws' or 'ssm'"),
        ({"batchsize": "10"}, "batchsize", "did you mean batchSize"),
        ({"listenerPaths": '["/a"]'}, "listenerPaths", "replaced by routes"),
        ({"routes": "[]"}, "routes", "non-empty list"),
        ({"routes": '"/a"'}, "routes", "non-empty list"),
        ({"routes": routes({"name": "a", "path": "/a"})}, "routes[0].source", "is required"),
        (
            {"routes": routes({"name": "a", "path": "/a", "source": "gitlab"})},
            "routes[0].source",
            "one of strava, github",
        ),
        ({"routes": routes({"path": "/a", "source": "none"})}, "routes[0].name", "is required"),
        (
            {"routes": routes({"name": "a", "path": "a", "source": "none"})},
            "routes[0].path",
            "starting with '/'",
        ),
        (
            {"routes": routes({"name": "a", "path": "/a?x=1", "source": "none"})},
            "routes[0].path",
            "query",
        ),
        (
            {
                "routes": routes(
                    {"name": "a", "path": "/a", "source": "none"},
                    {"name": "a", "path": "/b", "source": "none"},
                )
            },
            "routes[1].name",
            "must be unique",
        ),
        (
            {
                "routes": routes(
                    {"name": "a", "path": "/a", "source": "none"},
                    {"name": "b", "path": "/a/", "source": "none"},
                )
            },
            "routes[1].path",
            "must be unique",
        ),
        (
            {"routes": routes({"name": "h", "path": "/h", "source": "hmac"})},
            "routes[0].header",
            "is required",
        ),
        (
            {
                "routes": routes(
                    {"name": "h", "path": "/h", "source": "hmac", "header": "X", "algorithm": "md5"}
                )
            },
            "routes[0].algorithm",
            "one of sha256, sha1, sha512",
        ),
        (
            {"routes": routes({"name": "g", "path": "/g", "source": "github", "header": "X"})},
            "routes[0].header",
            "not an option of a github route",
        ),
        (
            {
                "routes": routes(
                    {"name": "s", "path": "/s", "source": "stripe", "toleranceSeconds": 0}
                )
            },
            "routes[0].toleranceSeconds",
            "between 1 and 3600",
        ),
        (
            {"routes": routes({"name": "s", "path": "/s", "source": "strava", "ownerIds": ["me"]})},
            "routes[0].ownerIds",
            "whole numbers",
        ),
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
        "routes": routes({"name": "x", "path": "nope", "source": "none"}),
        "architecture": "sparc",
    }
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    keys = {p.key for p in caught.value.problems}
    assert keys == {
        "batchSize",
        "maxConcurrency",
        "logRetentionDays",
        "routes[0].path",
        "architecture",
    }
    text = str(caught.value)
    assert "5 problems" in text
    assert "async-webhook:batchSize = 0: must be between 1 and 10000" in text
    assert 'async-webhook:architecture = "sparc": must be one of arm64, x86_64' in text


SIGNED = routes(
    {"name": "gh", "path": "/github", "source": "github"},
    {"name": "strava", "path": "/strava", "source": "strava"},
    {"name": "open", "path": "/open", "source": "none"},
)


def test_a_route_that_verifies_with_a_secret_needs_one_named_after_it():
    found = problems_of({"routes": SIGNED})
    assert [(key, rule.split(":")[0]) for key, _, rule in found] == [
        ("routeSecrets.gh", "is required")
    ]
    assert "route 'gh' (source github)" in found[0][2]
    assert "--path 'routeSecrets.gh'" in found[0][2]


def test_route_secrets_must_match_routes_and_sources():
    secrets = json.dumps({"gh": "a", "open": "b", "nobody": "c"})
    found = problems_of({"routes": SIGNED, "routeSecrets": secrets}, secret_keys=("routeSecrets",))
    assert {key: rule.split(",")[0] for key, _, rule in found} == {
        "routeSecrets.open": "route 'open' has source none",
        "routeSecrets.nobody": "names no route (routes: gh",
    }


def test_a_secret_is_never_shown_not_even_when_its_key_is_wrong():
    secret = "s3cret-value-9d1c"
    cases = [
        ({"routeSecrets": json.dumps({"nobody": secret})}, ("routeSecrets",)),
        ({"routeSecrets": json.dumps({"demo": [secret, secret, secret]})}, ("routeSecrets",)),
        ({"routeSecrets": json.dumps({"gh": secret}), "routes": SIGNED}, ()),  # plain text
        ({"routeSecret": json.dumps({"gh": secret})}, ("routeSecret",)),  # misspelled key
        ({"verifyToken": secret}, ("verifyToken",)),  # retired key
        (
            {
                "routes": routes({"name": "sw", "path": "/sw", "source": "standard-webhooks"}),
                "routeSecrets": json.dumps({"sw": secret}),
            },
            ("routeSecrets",),
        ),
    ]
    for raw, secret_keys in cases:
        with pytest.raises(ConfigError) as caught:
            parse(raw, secret_keys=secret_keys)
        assert secret not in str(caught.value), raw
        assert secret not in repr(caught.value.problems), raw


def test_a_plain_text_route_secret_is_refused():
    found = problems_of({"routes": SIGNED, "routeSecrets": json.dumps({"gh": "x"})})
    assert [key for key, _, _ in found] == ["routeSecrets"]
    assert "must be a secret" in found[0][2]


def test_route_options_get_their_defaults_and_header_names_are_lower_cased():
    raw = {
        "routes": routes(
            {"name": "s", "path": "/s/", "source": "stripe"},
            {"name": "h", "path": "/h", "source": "hmac", "header": "X-Signature"},
            {"name": "t", "path": "/t", "source": "token"},
        ),
        "routeSecrets": json.dumps({"s": "whsec_x", "h": ["new", "old"], "t": "tok"}),
    }
    config = parse(raw, secret_keys=("routeSecrets",))
    by_name = {r.name: r for r in config.listener.routes}
    assert by_name["s"].path == "/s"
    assert by_name["s"].to_listener() == {
        "name": "s",
        "path": "/s",
        "source": "stripe",
        "toleranceSeconds": 300,
    }
    assert dict(by_name["h"].options) == {
        "header": "x-signature",
        "algorithm": "sha256",
        "encoding": "hex",
        "prefix": "",
    }
    assert dict(by_name["t"].options) == {"header": "authorization", "prefix": "Bearer "}
    assert config.listener.secrets["h"] == ("new", "old")
    assert "new" not in repr(config)


def test_a_broken_routes_value_does_not_also_blame_the_secrets():
    raw = {
        "routes": routes({"name": "gh", "path": "/g", "source": "gitlab"}),
        "routeSecrets": json.dumps({"gh": "x"}),
    }
    found = problems_of(raw, secret_keys=("routeSecrets",))
    assert [key for key, _, _ in found] == ["routes[0].source"]


def test_valid_edge_values_pass():
    config = parse(
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
    assert config.processor.visibility_timeout_seconds == 6 * 900 + 300
    fifo = parse({"fifo": "true", "batchSize": "10", "messageGroupField": "owner_id"})
    assert fifo.listener.message_group_field == "owner_id"


def test_default_name_prefix_is_safe_for_lambda_and_sqs():
    assert default_name_prefix("async-webhook", "org.team/prod") == "async-webhook-org-team-prod"
    assert len(default_name_prefix("p" * 30, "s" * 30)) <= 40


def test_every_setting_is_spelled_out_in_the_dev_stack_and_documented():
    stack_file = (ROOT / "Pulumi.dev.yaml").read_text()
    readme = (ROOT / "README.md").read_text()
    for key in known_keys():
        assert f"async-webhook:{key}" in stack_file, key
        assert f"| `{key}` |" in readme, key
    for key in RETIRED:
        assert f"async-webhook:{key}" not in stack_file, key


def test_every_setting_belongs_to_exactly_one_component():
    keys = [spec.key for cls in components().values() for _, spec in settings_of(cls)]
    assert len(keys) == len(set(keys))
    for cls in components().values():
        assert dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]


def test_program_fails_before_any_resource_with_every_problem(run_program):
    with pytest.raises(ConfigError) as caught:
        run_program({"batchSize": 20000, "maxReceiveCount": 2})
    assert {p.key for p in caught.value.problems} == {"batchSize", "maxReceiveCount"}
