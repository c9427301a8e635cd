"""Each rule of the policy pack: our program passes it, and a broken variant of the resource
our program declares (or of a stack) makes it fire."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest
import rules
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy


def _all_violations(resources: list[rules.Resource]) -> list[str]:
    found = [
        m for r in resources for rule in rules.RESOURCE_RULES for m in rule(r.type, r.props, r.name)
    ]
    found += [v.message for rule in rules.STACK_RULES for v in rule(resources)]
    return found


def _with(resource: rules.Resource, **changes: Any) -> rules.Resource:
    """A deep copy of `resource` whose props have `changes` applied (None removes the key)."""
    props = copy.deepcopy(dict(resource.props))
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return replace(resource, props=props)


def _swap(resources: list[rules.Resource], changed: rules.Resource) -> list[rules.Resource]:
    return [changed if (r.type, r.name) == (changed.type, changed.name) else r for r in resources]


def _check(rule, resource: rules.Resource) -> list[str]:
    return rule(resource.type, resource.props, resource.name)


# ----------------------------------------------------------------- our program passes


def test_our_program_declares_every_type_the_pack_checks(ours):
    types = {r.type for r in ours}
    for typ in (
        rules.FUNCTION,
        rules.QUEUE,
        rules.MAPPING,
        rules.ROLE,
        rules.ROLE_POLICY,
        rules.PERMISSION,
        rules.LOG_GROUP,
    ):
        assert typ in types, typ


def test_our_program_breaks_no_rule(ours):
    assert _all_violations(ours) == []


# ----------------------------------------------------------------- each rule fires


@pytest.mark.parametrize("runtime", ["python3.9", "python3.12"])
def test_old_python_runtime_fires(find, runtime):
    found = _check(rules.python_runtime, _with(find("processor"), runtime=runtime))
    assert len(found) == 1
    assert "'processor'" in found[0] and runtime in found[0] and "python3.13" in found[0]


@pytest.mark.parametrize("runtime", ["python3.13", "python3.14", "nodejs22.x", None])
def test_new_python_and_other_runtimes_pass(find, runtime):
    assert _check(rules.python_runtime, _with(find("processor"), runtime=runtime)) == []


def test_unencrypted_queue_fires(find):
    plain = _with(find("webhook-dlq"), sqsManagedSseEnabled=None)
    found = _check(rules.queue_encryption, plain)
    assert len(found) == 1 and "'webhook-dlq'" in found[0] and "kmsMasterKeyId" in found[0]
    assert _check(rules.queue_encryption, _with(plain, sqsManagedSseEnabled=False)) != []
    assert _check(rules.queue_encryption, _with(plain, kmsMasterKeyId="alias/aws/sqs")) == []


@pytest.mark.parametrize("types", [None, [], ["Other"]])
def test_mapping_without_report_batch_item_failures_fires(find, types):
    found = _check(
        rules.report_batch_item_failures,
        _with(find("processor-mapping"), functionResponseTypes=types),
    )
    assert (
        len(found) == 1
        and "'processor-mapping'" in found[0]
        and "ReportBatchItemFailures" in found[0]
    )


def test_non_sqs_mapping_is_ignored(find):
    kinesis = _with(
        find("processor-mapping"),
        eventSourceArn="arn:aws:kinesis:us-east-1:123456789012:stream/s",
        functionResponseTypes=None,
    )
    assert _check(rules.report_batch_item_failures, kinesis) == []


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("sqs:*", None, ['"sqs:*"']),
        (["sqs:SendMessage", "*"], None, ['"*"']),
        ("sqs:Get*", None, ['"sqs:Get*"']),
        (None, "*", ['"Resource": "*"']),
        ("*", ["arn:aws:sqs:us-east-1:1:q", "*"], ['"*"', '"Resource": "*"']),
    ],
)
def test_wildcards_in_a_role_policy_fire(find, action, resource, expected):
    policy = find("listener-access-policy")
    document = json.loads(policy.props["policy"])
    statement = document["Statement"][0]
    if action is not None:
        statement["Action"] = action
    if resource is not None:
        statement["Resource"] = resource
    found = _check(rules.inline_policy_wildcards, _with(policy, policy=json.dumps(document)))
    assert len(found) == len(expected)
    for message, needle in zip(found, expected, strict=True):
        assert (
            "'listener-access-policy'" in message and needle in message and "SendToQueue" in message
        )


@pytest.mark.parametrize(
    ("actions", "fires"),
    [
        (["xray:PutTraceSegments", "xray:PutTelemetryRecords"], False),
        (["xray:PutTraceSegments", "sqs:SendMessage"], True),  # one action has resources
        (["xray:GetTraceSummaries"], True),  # a read action: not in the allowed set
    ],
)
def test_star_resource_is_allowed_only_for_actions_without_resources(find, actions, fires):
    policy = find("listener-access-policy")
    document = json.loads(policy.props["policy"])
    document["Statement"][0].update(Action=actions, Resource="*")
    found = _check(rules.inline_policy_wildcards, _with(policy, policy=json.dumps(document)))
    assert bool(found) is fires, found


def test_wildcards_on_deny_statements_are_allowed(find):
    policy = find("listener-access-policy")
    document = json.loads(policy.props["policy"])
    document["Statement"][0].update(Effect="Deny", Action="sqs:*", Resource="*")
    assert _check(rules.inline_policy_wildcards, _with(policy, policy=json.dumps(document))) == []


def test_wildcards_in_a_role_inline_policy_fire(find):
    role = find("processor-role")
    inline = [
        {
            "name": "all",
            "policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                }
            ),
        }
    ]
    found = _check(rules.inline_policy_wildcards, _with(role, inlinePolicies=inline))
    assert len(found) == 2 and all("'processor-role'" in m and "(all)" in m for m in found)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::aws:policy/AmazonSQSFullAccess",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ],
)
def test_broad_managed_policy_attachment_fires(arn):
    attachment = rules.Resource(
        rules.ROLE_POLICY_ATTACHMENT, "attach", {"role": "r", "policyArn": arn}
    )
    found = _check(rules.managed_policy_attachments, attachment)
    assert len(found) == 1 and arn in found[0] and "'attach'" in found[0]
    role = rules.Resource(rules.ROLE, "role", {"managedPolicyArns": [arn]})
    assert len(_check(rules.managed_policy_attachments, role)) == 1


def test_narrow_managed_policy_attachment_passes():
    arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
    attachment = rules.Resource(
        rules.ROLE_POLICY_ATTACHMENT, "attach", {"role": "r", "policyArn": arn}
    )
    assert _check(rules.managed_policy_attachments, attachment) == []


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("listener-url-public", {"functionUrlAuthType": "AWS_IAM"}),
        ("listener-url-public", {"functionUrlAuthType": None}),
        ("listener-invoke-via-url", {"invokedViaFunctionUrl": None}),
        ("listener-invoke-via-url", {"invokedViaFunctionUrl": False}),
        ("listener-invoke-via-url", {"action": "lambda:*"}),
    ],
)
def test_broader_public_permission_fires(find, name, changes):
    found = _check(rules.public_lambda_permission, _with(find(name), **changes))
    assert len(found) == 1 and f"'{name}'" in found[0] and "principal '*'" in found[0]


def test_non_public_permission_is_ignored(find):
    scoped = _with(
        find("listener-invoke-via-url"), principal="sns.amazonaws.com", invokedViaFunctionUrl=None
    )
    assert _check(rules.public_lambda_permission, scoped) == []


@pytest.mark.parametrize(
    "key", ["VERIFY_TOKEN", "DB_PASSWORD", "STRIPE_SECRET", "API_KEY", "GITHUB_TOKEN", "apikey"]
)
def test_secret_looking_environment_variable_fires(find, key):
    listener = find("listener")
    environment = copy.deepcopy(listener.props["environment"])
    environment["variables"][key] = "hunter2"
    found = _check(rules.secret_environment, _with(listener, environment=environment))
    assert len(found) == 1 and key in found[0] and "'listener'" in found[0]


@pytest.mark.parametrize(
    "key",
    ["VERIFY_TOKEN_PARAMETER", "SIGNING_KEY_ARN", "SECRET_NAME", "MONKEY", "QUEUE_URL", "KEYBOARD"],
)
def test_reference_and_innocent_names_pass(key):
    assert not rules.looks_like_secret(key)


@pytest.mark.parametrize("retention", [None, 0])
def test_log_group_without_retention_fires(find, retention):
    found = _check(
        rules.log_group_retention, _with(find("processor-logs"), retentionInDays=retention)
    )
    assert len(found) == 1 and "'processor-logs'" in found[0] and "retentionInDays" in found[0]


# ----------------------------------------------------------------- stack rules


def test_queue_without_redrive_fires(ours, find):
    found = rules.queue_redrive(_swap(ours, _with(find("webhook-queue"), redrivePolicy=None)))
    # Without the redrive the DLQ is no longer a DLQ: both queues lack one.
    assert sorted(v.urn for v in found) == sorted(
        [find("webhook-queue").urn, find("webhook-dlq").urn]
    )
    assert all("no redrivePolicy" in v.message for v in found)


def test_low_max_receive_count_fires(ours, find):
    queue = find("webhook-queue")
    policy = {**json.loads(queue.props["redrivePolicy"]), "maxReceiveCount": 3}
    found = rules.queue_redrive(_swap(ours, _with(queue, redrivePolicy=json.dumps(policy))))
    assert (
        len(found) == 1 and found[0].urn == queue.urn and "maxReceiveCount = 3" in found[0].message
    )


@pytest.mark.parametrize("retention", [345600, 60, None])
def test_dlq_retention_not_longer_fires(ours, find, retention):
    dlq = _with(find("webhook-dlq"), messageRetentionSeconds=retention)
    found = rules.queue_redrive(_swap(ours, dlq))
    assert len(found) == 1 and found[0].urn == dlq.urn and "'webhook-queue'" in found[0].message


def test_redrive_from_a_separate_redrive_policy_resource_counts(ours, find):
    queue = find("webhook-queue")
    separate = rules.Resource(
        rules.REDRIVE_POLICY,
        "separate",
        {"queueUrl": queue.props["url"], "redrivePolicy": queue.props["redrivePolicy"]},
    )
    assert rules.queue_redrive([*_swap(ours, _with(queue, redrivePolicy=None)), separate]) == []


@pytest.mark.parametrize(
    ("resource", "changes"),
    [
        ("webhook-queue", {"visibilityTimeoutSeconds": 179}),
        ("webhook-queue", {"visibilityTimeoutSeconds": None}),
        ("processor", {"timeout": 31}),
        ("processor-mapping", {"maximumBatchingWindowInSeconds": 1}),
    ],
)
def test_short_visibility_timeout_fires(ours, find, resource, changes):
    found = rules.visibility_timeout(_swap(ours, _with(find(resource), **changes)))
    assert len(found) == 1 and found[0].urn == find("webhook-queue").urn
    assert "'processor'" in found[0].message and "'processor-mapping'" in found[0].message


def test_visibility_follows_a_mapping_that_names_the_function(ours, find):
    mapping = _with(find("processor-mapping"), functionName=find("processor").props["name"])
    slow = _with(find("processor"), timeout=60)
    assert len(rules.visibility_timeout(_swap(_swap(ours, mapping), slow))) == 1


def test_unknown_values_during_preview_propagate_instead_of_passing(find):
    """The SDK skips a policy that reads an unknown value (and says so); a rule that swallowed
    the error would pass an unchecked resource."""
    queue = find("webhook-queue")
    props = unknown_checking_proxy({**queue.props, "redrivePolicy": UNKNOWN_STRING_VALUE})
    unknown = rules.Resource(queue.type, queue.name, props, queue.urn)
    with pytest.raises(UnknownValueError):
        rules.queue_redrive([unknown])
    mapping = find("processor-mapping")
    props = unknown_checking_proxy({**mapping.props, "functionResponseTypes": UNKNOWN_STRING_VALUE})
    with pytest.raises(UnknownValueError):
        rules.report_batch_item_failures(mapping.type, props, mapping.name)


# ----------------------------------------------------------------- listener routes


def _listener_with_routes(find, routes: object) -> rules.Resource:
    listener = find("listener")
    variables = dict(listener.props["environment"]["variables"])
    config = json.loads(variables["LISTENER_CONFIG"])
    config["routes"] = routes
    variables["LISTENER_CONFIG"] = json.dumps(config)
    return _with(listener, environment={"variables": variables})


@pytest.mark.parametrize(
    ("route", "fires"),
    [
        ({"name": "gh", "path": "/g", "source": "github"}, False),
        ({"name": "open", "path": "/o", "source": "none"}, False),
        ({"name": "nosource", "path": "/n"}, True),
        ({"name": "odd", "path": "/x", "source": "gitlab"}, True),
        ({"name": "null", "path": "/x", "source": None}, True),
    ],
)
def test_a_listener_route_must_verify_or_say_none(find, route, fires):
    found = _check(rules.listener_routes_verified, _listener_with_routes(find, [route]))
    assert bool(found) is fires, found
    if fires:
        assert json.dumps(route["name"]) in found[0] and "none" in found[0]


def test_a_listener_without_routes_fires(find):
    assert _check(rules.listener_routes_verified, _listener_with_routes(find, []))


def test_open_routes_are_reported_as_advice(find):
    # The dev stack keeps the original demo's open route on purpose: advice, never a block.
    found = _check(rules.listener_open_routes, find("listener"))
    assert len(found) == 1 and '"demo"' in found[0] and "/append_queue" in found[0]
    signed = _listener_with_routes(find, [{"name": "gh", "path": "/g", "source": "github"}])
    assert _check(rules.listener_open_routes, signed) == []


def test_policy_pack_knows_the_same_sources_as_the_program():
    from infra.routes import SOURCES

    assert set(SOURCES) == rules.VERIFYING_SOURCES | {"none"}
