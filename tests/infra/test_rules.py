"""One test per infrastructure rule of the design (§5); each fails when its rule is broken."""

from __future__ import annotations

import json
from typing import Any

import pytest

CONSUME = {
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
}


def _role_of(stack, function_name: str):
    function = stack.one(":Function", function_name)
    return next(
        r for r in stack.of_type("iam/role:Role") if r.state["arn"] == function.inputs["role"]
    )


def _statements_of(stack, role) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in stack.of_type("iam/rolePolicy:RolePolicy"):
        if policy.inputs["role"] == role.id:
            statements.extend(policy.policy()["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _resources(statement: dict[str, Any]) -> set[str]:
    resource = statement["Resource"]
    return {resource} if isinstance(resource, str) else set(resource)


def test_one_role_per_function(run_program):
    stack = run_program()
    roles = [f.inputs["role"] for f in stack.of_type(":Function")]
    assert len(roles) == len(set(roles)) == 2
    trust = json.loads(stack.of_type("iam/role:Role")[0].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_listener_may_only_send_to_the_main_queue(run_program):
    stack = run_program()
    queue_arn = stack.one("sqs/queue:Queue", "webhook-queue").state["arn"]
    statements = _statements_of(stack, _role_of(stack, "listener"))
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in _actions(s))]
    assert len(sqs) == 1
    assert _actions(sqs[0]) == {"sqs:SendMessage"}
    assert _resources(sqs[0]) == {queue_arn}
    others = {a for s in statements for a in _actions(s)} - {"sqs:SendMessage"}
    assert others == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_listener_may_read_only_its_token_parameter(run_program):
    stack = run_program(secrets={"verifyToken": "tok"})
    parameter_arn = stack.one(":Parameter").state["arn"]
    statements = _statements_of(stack, _role_of(stack, "listener"))
    ssm = [s for s in statements if any(a.startswith("ssm:") for a in _actions(s))]
    assert len(ssm) == 1
    assert _actions(ssm[0]) == {"ssm:GetParameter"}
    assert _resources(ssm[0]) == {parameter_arn}


def test_processor_may_only_consume_the_main_queue(run_program):
    stack = run_program()
    queue_arn = stack.one("sqs/queue:Queue", "webhook-queue").state["arn"]
    statements = _statements_of(stack, _role_of(stack, "processor"))
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in _actions(s))]
    assert len(sqs) == 1
    assert _actions(sqs[0]) == CONSUME
    assert _resources(sqs[0]) == {queue_arn}


@pytest.mark.parametrize("function", ["listener", "processor"])
def test_functions_log_only_to_their_own_log_group(run_program, function):
    stack = run_program()
    group = stack.one(":LogGroup", f"{function}-logs")
    statements = _statements_of(stack, _role_of(stack, function))
    logs = [s for s in statements if any(a.startswith("logs:") for a in _actions(s))]
    assert logs, "the function could not write its logs"
    for statement in logs:
        assert _resources(statement) == {f"{group.state['arn']}:*"}
        assert "logs:CreateLogGroup" not in _actions(statement)


def test_no_wildcards_and_no_managed_policies(run_program):
    stack = run_program(secrets={"verifyToken": "tok"})
    for policy in stack.of_type("iam/rolePolicy:RolePolicy"):
        for statement in policy.policy()["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in _actions(statement):
                assert "*" not in action, (policy.name, action)
            for resource in _resources(statement):
                assert resource != "*" and not resource.endswith(":*:*"), (policy.name, resource)
    assert stack.of_type(":RolePolicyAttachment") == []
    assert stack.of_type(":PolicyAttachment") == []
    for role in stack.of_type("iam/role:Role"):
        assert not role.inputs.get("managedPolicyArns")


@pytest.mark.parametrize("function", ["listener", "processor"])
def test_each_function_has_its_log_group_with_retention(run_program, function):
    stack = run_program()
    fn = stack.one(":Function", function)
    group = stack.one(":LogGroup", f"{function}-logs")
    assert group.inputs["name"] == f"/aws/lambda/{fn.inputs['name']}"
    assert group.inputs["retentionInDays"] == 14
    assert fn.inputs["loggingConfig"]["logGroup"] == group.inputs["name"]


@pytest.mark.parametrize("queue", ["webhook-queue", "webhook-dlq"])
def test_queues_are_encrypted(run_program, queue):
    stack = run_program()
    assert stack.one("sqs/queue:Queue", queue).inputs.get("sqsManagedSseEnabled") is True


@pytest.mark.parametrize("queue", ["webhook-queue", "webhook-dlq"])
def test_queues_deny_requests_without_tls(run_program, queue):
    stack = run_program()
    declared = stack.one("sqs/queue:Queue", queue)
    policies = [
        p for p in stack.of_type(":QueuePolicy") if p.inputs["queueUrl"] == declared.state["url"]
    ]
    assert len(policies) == 1
    (statement,) = policies[0].policy()["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Resource"] == declared.state["arn"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_main_queue_redrives_to_the_dlq(run_program):
    stack = run_program()
    queue = stack.one("sqs/queue:Queue", "webhook-queue")
    dlq = stack.one("sqs/queue:Queue", "webhook-dlq")
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq.state["arn"]
    assert redrive["maxReceiveCount"] >= 5
    allow = json.loads(stack.one(":RedriveAllowPolicy").inputs["redriveAllowPolicy"])
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [queue.state["arn"]]}


def test_dlq_keeps_messages_longer_than_the_main_queue(run_program):
    stack = run_program()
    queue = stack.one("sqs/queue:Queue", "webhook-queue")
    dlq = stack.one("sqs/queue:Queue", "webhook-dlq")
    assert dlq.inputs["messageRetentionSeconds"] > queue.inputs["messageRetentionSeconds"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, 6 * 30),
        ({"processorTimeoutSeconds": 60, "batchSize": 100, "batchingWindowSeconds": 20}, 380),
    ],
)
def test_visibility_timeout_covers_six_processor_timeouts_plus_window(
    run_program, overrides, expected
):
    stack = run_program(overrides)
    queue = stack.one("sqs/queue:Queue", "webhook-queue")
    processor = stack.one(":Function", "processor")
    mapping = stack.one(":EventSourceMapping")
    window = mapping.inputs.get("maximumBatchingWindowInSeconds", 0)
    assert queue.inputs["visibilityTimeoutSeconds"] >= 6 * processor.inputs["timeout"] + window
    assert queue.inputs["visibilityTimeoutSeconds"] == expected


def test_function_url_only_on_the_listener_and_public_by_default(run_program):
    stack = run_program()
    (url,) = stack.of_type(":FunctionUrl")
    assert url.inputs["functionName"] == stack.one(":Function", "listener").inputs["name"]
    assert url.inputs["authorizationType"] == "NONE"


def test_public_url_permissions_are_exactly_what_aws_requires(run_program):
    stack = run_program()
    listener = stack.one(":Function", "listener").inputs["name"]
    permissions = stack.of_type(":Permission")
    assert len(permissions) == 2
    by_action = {p.inputs["action"]: p.inputs for p in permissions}
    assert set(by_action) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    url_permission = by_action["lambda:InvokeFunctionUrl"]
    invoke_permission = by_action["lambda:InvokeFunction"]
    assert url_permission["functionUrlAuthType"] == "NONE"
    assert invoke_permission["invokedViaFunctionUrl"] is True
    assert "invokedViaFunctionUrl" not in url_permission
    for permission in (url_permission, invoke_permission):
        assert permission["principal"] == "*"
        assert permission["function"] == listener
        assert "qualifier" not in permission and "sourceArn" not in permission


def test_iam_auth_url_grants_nothing_public(run_program):
    stack = run_program({"listenerAuthType": "AWS_IAM"})
    assert stack.one(":FunctionUrl").inputs["authorizationType"] == "AWS_IAM"
    assert stack.of_type(":Permission") == []


@pytest.mark.parametrize("function", ["listener", "processor"])
def test_runtime_is_current_python_on_arm64_by_default(run_program, function):
    stack = run_program()
    fn = stack.one(":Function", function)
    family, version = fn.inputs["runtime"][:6], fn.inputs["runtime"][6:]
    assert family == "python"
    assert tuple(int(x) for x in version.split(".")) >= (3, 13)
    assert fn.inputs["architectures"] == ["arm64"]


def test_mapping_reports_batch_item_failures(run_program):
    stack = run_program()
    mapping = stack.one(":EventSourceMapping")
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (
        mapping.inputs["eventSourceArn"]
        == stack.one("sqs/queue:Queue", "webhook-queue").state["arn"]
    )
    assert mapping.inputs["functionName"] == stack.one(":Function", "processor").state["arn"]
