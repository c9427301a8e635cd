"""One test per infrastructure rule of the design (§5); each fails when its rule is broken."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policy import rules

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


def test_one_role_per_function(dev_stack):
    stack = dev_stack
    roles = [f.inputs["role"] for f in stack.of_type(":Function")]
    assert len(roles) == len(set(roles)) == 2
    trust = json.loads(stack.of_type("iam/role:Role")[0].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_listener_may_only_send_to_the_main_queue(dev_stack):
    stack = dev_stack
    queue_arn = stack.one("sqs/queue:Queue", "webhook-queue").state["arn"]
    statements = _statements_of(stack, _role_of(stack, "listener"))
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in _actions(s))]
    assert len(sqs) == 1
    assert _actions(sqs[0]) == {"sqs:SendMessage"}
    assert _resources(sqs[0]) == {queue_arn}
    others = {a for s in statements for a in _actions(s)} - {"sqs:SendMessage"}
    assert others == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_listener_may_read_only_its_route_secrets(run_program):
    routes = [
        {"name": "gh", "path": "/github", "source": "github"},
        {"name": "shop", "path": "/shopify", "source": "shopify"},
    ]
    stack = run_program({"routes": routes}, secrets={"routeSecrets": {"gh": "a", "shop": "b"}})
    parameter_arns = {p.state["arn"] for p in stack.of_type(":Parameter")}
    assert len(parameter_arns) == 2
    statements = _statements_of(stack, _role_of(stack, "listener"))
    ssm = [s for s in statements if any(a.startswith("ssm:") for a in _actions(s))]
    assert len(ssm) == 1
    assert _actions(ssm[0]) == {"ssm:GetParameter"}
    assert _resources(ssm[0]) == parameter_arns
    assert not any(a.startswith("ssm:") for a in _actions_of(stack, "processor"))


def _actions_of(stack, function_name: str) -> set[str]:
    return {a for s in _statements_of(stack, _role_of(stack, function_name)) for a in _actions(s)}


def test_processor_may_only_consume_the_main_queue(dev_stack):
    stack = dev_stack
    queue_arn = stack.one("sqs/queue:Queue", "webhook-queue").state["arn"]
    statements = _statements_of(stack, _role_of(stack, "processor"))
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in _actions(s))]
    assert len(sqs) == 1
    assert _actions(sqs[0]) == CONSUME
    assert _resources(sqs[0]) == {queue_arn}


@pytest.mark.parametrize("function", ["listener", "processor"])
def test_functions_log_only_to_their_own_log_group(dev_stack, function):
    stack = dev_stack
    group = stack.one(":LogGroup", f"{function}-logs")
    statements = _statements_of(stack, _role_of(stack, function))
    logs = [s for s in statements if any(a.startswith("logs:") for a in _actions(s))]
    assert logs, "the function could not write its logs"
    for statement in logs:
        assert _resources(statement) == {f"{group.state['arn']}:*"}
        assert "logs:CreateLogGroup" not in _actions(statement)


@pytest.mark.parametrize("function", ["listener", "processor"])
def test_each_function_logs_to_its_own_explicit_log_group(dev_stack, function):
    stack = dev_stack
    fn = stack.one(":Function", function)
    group = stack.one(":LogGroup", f"{function}-logs")
    assert group.inputs["name"] == f"/aws/lambda/{fn.inputs['name']}"
    assert fn.inputs["loggingConfig"]["logGroup"] == group.inputs["name"]
    assert group.urn in fn.dependencies, "the function must not run before its log group exists"


@pytest.mark.parametrize("queue", ["webhook-queue", "webhook-dlq"])
def test_queues_deny_requests_without_tls(dev_stack, queue):
    stack = dev_stack
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


def test_main_queue_redrives_to_its_own_dlq_which_only_it_may_redrive_to(dev_stack):
    stack = dev_stack
    queue = stack.one("sqs/queue:Queue", "webhook-queue")
    dlq = stack.one("sqs/queue:Queue", "webhook-dlq")
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq.state["arn"]
    allow = json.loads(stack.one(":RedriveAllowPolicy").inputs["redriveAllowPolicy"])
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [queue.state["arn"]]}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, 6 * 30),
        ({"processorTimeoutSeconds": 60, "batchSize": 100, "batchingWindowSeconds": 20}, 380),
    ],
)
def test_visibility_timeout_is_derived_from_the_consumer(run_program, overrides, expected):
    # The rule itself (at least 6 x timeout + window) is the policy pack's; here: the queue
    # takes exactly that from its consumer's settings, never a configured value.
    stack = run_program(overrides)
    queue = stack.one("sqs/queue:Queue", "webhook-queue")
    assert queue.inputs["visibilityTimeoutSeconds"] == expected


def test_function_url_only_on_the_listener_and_public_by_default(dev_stack):
    stack = dev_stack
    (url,) = stack.of_type(":FunctionUrl")
    assert url.inputs["functionName"] == stack.one(":Function", "listener").inputs["name"]
    assert url.inputs["authorizationType"] == "NONE"


def test_public_url_permissions_are_exactly_what_aws_requires(dev_stack):
    stack = dev_stack
    listener = stack.one(":Function", "listener").inputs["name"]
    url = stack.one(":FunctionUrl")
    permissions = stack.of_type(":Permission")
    assert len(permissions) == 2
    for permission in permissions:
        # After the URL: the provider adds its own two statements when it creates the URL,
        # and concurrent AddPermission calls on one function can drop one of them.
        assert url.urn in permission.dependencies, permission.name
        assert permission.inputs["statementId"] not in {
            "FunctionURLAllowPublicAccess",
            "FunctionURLAllowInvokeAction",
        }
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
def test_runtime_is_current_python_on_arm64_by_default(dev_stack, function):
    stack = dev_stack
    fn = stack.one(":Function", function)
    family, version = fn.inputs["runtime"][:6], fn.inputs["runtime"][6:]
    assert family == "python"
    assert tuple(int(x) for x in version.split(".")) >= (3, 13)
    assert fn.inputs["architectures"] == ["arm64"]


def test_mapping_feeds_the_processor_from_the_main_queue(dev_stack):
    stack = dev_stack
    mapping = stack.one(":EventSourceMapping")
    assert (
        mapping.inputs["eventSourceArn"]
        == stack.one("sqs/queue:Queue", "webhook-queue").state["arn"]
    )
    assert mapping.inputs["functionName"] == stack.one(":Function", "processor").state["arn"]


VARIANTS = {
    "dev": {},
    "fifo": {"fifo": True, "messageGroupField": "owner_id", "batchSize": 10},
    "batched": {"processorTimeoutSeconds": 120, "batchSize": 500, "batchingWindowSeconds": 30},
    "signed routes": {
        "routes": [
            {"name": "gh", "path": "/github", "source": "github"},
            {"name": "strava", "path": "/strava", "source": "strava"},
        ]
    },
    "iam url": {"listenerAuthType": "AWS_IAM"},
    "production": {
        "tracing": True,
        "protectData": True,
        "tags": {"team": "x"},
        "alarmEmail": "ops@example.com",
    },
    "alarms off": {"alarms": False},
    "idempotency": {"idempotency": True, "protectData": True, "fifo": True, "batchSize": 10},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_program_breaks_no_rule_of_the_policy_pack(run_program, variant):
    # The infrastructure rules live once, in the policy pack; every shape of the program is
    # checked against all of them (each rule's own failing cases are in tests/policy).
    secrets = {"routeSecrets": {"gh": "x", "strava": "y"}} if variant == "signed routes" else None
    stack = run_program(VARIANTS[variant], secrets=secrets)
    resources = [rules.Resource(r.type, r.name, r.state, r.urn) for r in stack.declared]
    violations = [
        message
        for resource in resources
        for rule in rules.RESOURCE_RULES
        for message in rule(resource.type, resource.props, resource.name)
    ]
    violations += [v.message for rule in rules.STACK_RULES for v in rule(resources)]
    assert violations == []
