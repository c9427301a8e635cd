"""The local provider: Pulumi's mock hooks, answered by creating each resource for real.

`new_resource` is called once per declared resource, in dependency order (an input that is
another resource's output arrives resolved), so each handler below creates the local thing
and returns the identifiers AWS would: queue URLs and ARNs that point at the embedded moto
server, a Function URL on 127.0.0.1, and so on. Cross-references in the program (the queue URL
in the listener's environment, ARNs in policies) therefore point at local things.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pulumi
from botocore.config import Config

from local.concurrency import ACCOUNT_CONCURRENCY, ConcurrencyAccount, ConcurrencyLimitError
from local.dependencies import runnable_here
from local.dynamodb import table_handler
from local.function_url import FunctionUrlServer
from local.lambda_code import CodeShapeError, prepare_code
from local.lambda_runtime import FunctionSpec, LocalFunction, MachineCapacity
from local.logs import LogSink
from local.monitoring_resources import monitoring_handlers
from local.poller import SqsPoller

ACCOUNT_ID = "123456789012"
_SECRET_SIG = "4dabf18193072939515e22adb298388d"
_BOOTSTRAP = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
DEPLOYER = "local-deployer"
"""The IAM user the provider deploys as, like the developer's own credentials on AWS."""


_SESSION_LOCK = threading.Lock()
_sessions: list[boto3.session.Session] = []
"""The one session every provider of this process makes its clients from (created on first
use): a new session parses each service's model again, about 50 ms of CPU per client and most
of a deployment's own work. A session is not thread-safe, the clients it makes are: only their
creation holds the lock."""


class UnsupportedResourceError(TypeError):
    """The program declares a resource type the local cloud cannot emulate."""

    def __init__(self, type_: str, supported: list[str]) -> None:
        super().__init__(
            f"the local cloud cannot emulate resources of type {type_}; "
            f"it supports: {', '.join(supported)}"
        )
        self.type = type_


class LocalResourceError(RuntimeError):
    """A declared resource could not be created locally (AWS-side validation failed)."""


@dataclass
class Deployment:
    """What the provider created and must start, serve and stop."""

    functions: dict[str, LocalFunction] = field(default_factory=dict)
    url_servers: list[FunctionUrlServer] = field(default_factory=list)
    pollers: list[SqsPoller] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """Stops intake first (URLs, pollers), then the workers, in parallel where slow."""
        threads = [threading.Thread(target=p.stop) for p in self.pollers]
        threads += [threading.Thread(target=s.stop) for s in self.url_servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        for function in self.functions.values():
            function.close()


Handler = Callable[[pulumi.runtime.MockResourceArgs, dict[str, Any]], tuple[str, dict[str, Any]]]


class LocalProvider(pulumi.runtime.Mocks):
    """Creates every declared resource in moto or as a local process, or refuses clearly."""

    def __init__(
        self,
        *,
        endpoint_url: Callable[[], str],
        region: str,
        logs: LogSink,
        url_port: int = 0,
        start_pollers: bool = True,
        code_root: Path | None = None,
        account_concurrency: int = ACCOUNT_CONCURRENCY,
        max_workers: int | None = None,
    ) -> None:
        """``code_root``: where code that is not one folder on disk is unpacked, one folder per
        function; ``account_concurrency`` and ``max_workers``: see ``local/concurrency.py`` and
        ``local/worker_pool.py``."""
        self._endpoint_url = endpoint_url
        self._code_root = code_root
        self.account = ConcurrencyAccount(account_concurrency)
        self.machine = MachineCapacity(max_workers)
        self.region = region
        self.logs = logs
        self._next_port = url_port
        self._start_pollers = start_pollers
        self.deployment = Deployment()
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._credentials: dict[str, str] | None = None
        self._role_credentials: dict[str, dict[str, str]] = {}
        self._queues_by_arn: dict[str, str] = {}
        self._functions_by_ref: dict[str, LocalFunction] = {}
        self._roles_by_function: dict[str, str] = {}
        self._handlers: dict[str, Handler] = {
            "aws:sqs/queue:Queue": self._queue,
            "aws:sqs/queuePolicy:QueuePolicy": self._queue_policy,
            "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": self._redrive_allow_policy,
            "aws:iam/role:Role": self._role,
            "aws:iam/rolePolicy:RolePolicy": self._role_policy,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:ssm/parameter:Parameter": self._parameter,
            "aws:lambda/function:Function": self._function,
            "aws:lambda/functionUrl:FunctionUrl": self._function_url,
            "aws:lambda/permission:Permission": self._permission,
            "aws:lambda/eventSourceMapping:EventSourceMapping": self._event_source_mapping,
            "aws:dynamodb/table:Table": table_handler(self.client, _autoname),
        }
        self._handlers.update(monitoring_handlers(self, self.deployment.warnings, _autoname))

    @property
    def supported_types(self) -> list[str]:
        return sorted(self._handlers)

    # ---- Pulumi mock hooks ------------------------------------------------------------------

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if not args.custom:  # a component: nothing to create
            return f"{args.name}-component", {}
        handler = self._handlers.get(args.typ)
        if handler is None:
            raise UnsupportedResourceError(args.typ, self.supported_types)
        inputs = _unsecret(dict(args.inputs))
        try:
            rid, computed = handler(args, inputs)
        except (UnsupportedResourceError, LocalResourceError):
            raise
        except Exception as exc:  # re-raised with the resource named
            raise LocalResourceError(
                f"creating {args.typ} {args.name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return rid, {**inputs, **computed}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:root"}, None
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region}, None
        raise UnsupportedResourceError(f"data source {args.token}", self.supported_types)

    # ---- helpers ----------------------------------------------------------------------------

    @property
    def credentials(self) -> dict[str, str]:
        """Keys of the deployer user (all permissions), created on first use.

        Once the embedded AWS enforces IAM, these (or a function role's) are the only keys it
        accepts; print them for the AWS CLI with `python -m local env`.
        """
        with self._lock:
            if self._credentials is None:
                iam = self._new_client("iam", _BOOTSTRAP)
                iam.create_user(UserName=DEPLOYER)
                iam.put_user_policy(
                    UserName=DEPLOYER,
                    PolicyName="deploy-anything",
                    PolicyDocument=json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                        }
                    ),
                )
                key = iam.create_access_key(UserName=DEPLOYER)["AccessKey"]
                self._credentials = {
                    "aws_access_key_id": key["AccessKeyId"],
                    "aws_secret_access_key": key["SecretAccessKey"],
                }
            return dict(self._credentials)

    def client(self, service: str) -> Any:
        """A client of the embedded AWS signed with the deployer's keys."""
        credentials = self.credentials
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service, credentials)
            return self._clients[service]

    def _new_client(self, service: str, credentials: Mapping[str, str]) -> Any:
        endpoint_url = self._endpoint_url()  # may wait for the embedded AWS: not under the lock
        with _SESSION_LOCK:
            if not _sessions:
                _sessions.append(boto3.session.Session())
            return _sessions[0].client(
                service,
                endpoint_url=endpoint_url,
                region_name=self.region,
                config=Config(retries={"max_attempts": 2}),
                **credentials,
            )

    def role_credentials(self, role_arn: str, session: str) -> dict[str, str]:
        """Temporary keys of a role, as Lambda gets them for a function's execution role."""
        with self._lock:
            cached = self._role_credentials.get(role_arn)
        if cached is not None:
            return cached
        issued = self.client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName=session[:64], DurationSeconds=3600
        )["Credentials"]
        keys = {
            "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
            "AWS_SESSION_TOKEN": issued["SessionToken"],
        }
        with self._lock:
            self._role_credentials[role_arn] = keys
        return keys

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{resource}"

    # ---- SQS ----------------------------------------------------------------------------------

    def _queue(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        fifo = bool(i.get("fifoQueue"))
        name = i.get("name") or _autoname(args.name, ".fifo" if fifo else "")
        attributes = {
            "VisibilityTimeout": i.get("visibilityTimeoutSeconds"),
            "MessageRetentionPeriod": i.get("messageRetentionSeconds"),
            "MaximumMessageSize": i.get("maxMessageSize"),
            "ReceiveMessageWaitTimeSeconds": i.get("receiveWaitTimeSeconds"),
            "DelaySeconds": i.get("delaySeconds"),
            "RedrivePolicy": i.get("redrivePolicy"),
            "SqsManagedSseEnabled": i.get("sqsManagedSseEnabled"),
        }
        if fifo:
            attributes["FifoQueue"] = True
            attributes["ContentBasedDeduplication"] = i.get("contentBasedDeduplication")
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=_attribute_strings(attributes))[
            "QueueUrl"
        ]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        with self._lock:
            self._queues_by_arn[arn] = url
        return url, {"name": name, "url": url, "arn": arn, "id": url}

    def _queue_policy(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _require_json(i["policy"], "policy")
        self.client("sqs").set_queue_attributes(
            QueueUrl=i["queueUrl"], Attributes={"Policy": i["policy"]}
        )
        return i["queueUrl"], {}

    def _redrive_allow_policy(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _require_json(i["redriveAllowPolicy"], "redriveAllowPolicy")
        self.client("sqs").set_queue_attributes(
            QueueUrl=i["queueUrl"], Attributes={"RedriveAllowPolicy": i["redriveAllowPolicy"]}
        )
        return i["queueUrl"], {}

    # ---- IAM, logs, SSM -----------------------------------------------------------------------

    def _role(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = i.get("name") or _autoname(args.name)
        role = self.client("iam").create_role(
            RoleName=name,
            AssumeRolePolicyDocument=i["assumeRolePolicy"],
            Description=i.get("description") or "",
            Path=i.get("path") or "/",
        )["Role"]
        return name, {"name": name, "arn": role["Arn"], "uniqueId": role["RoleId"]}

    def _role_policy(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = i.get("name") or _autoname(args.name)
        self.client("iam").put_role_policy(
            RoleName=i["role"], PolicyName=name, PolicyDocument=i["policy"]
        )
        return f"{i['role']}:{name}", {"name": name}

    def _log_group(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = i.get("name") or _autoname(args.name)
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        if i.get("retentionInDays"):
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(i["retentionInDays"]))
        return name, {"name": name, "arn": self._arn("logs", f"log-group:{name}")}

    def _parameter(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = i.get("name") or _autoname(args.name)
        ssm = self.client("ssm")
        ssm.put_parameter(
            Name=name,
            Type=i.get("type", "String"),
            Value=i["value"],
            Description=i.get("description") or "",
            Overwrite=True,
        )
        arn = ssm.get_parameter(Name=name)["Parameter"]["ARN"]
        return name, {"name": name, "arn": arn, "version": 1}

    # ---- Lambda -------------------------------------------------------------------------------

    def _function(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = i.get("name") or _autoname(args.name)
        handler = i.get("handler")
        if not handler:
            raise LocalResourceError(f"function {name}: only zip packages with a handler run here")
        work_dir = self._code_root / name if self._code_root is not None else None
        try:
            code = prepare_code(
                i.get("code"), resource=f"function {name}", work_dir=work_dir, handler=handler
            )
        except CodeShapeError as exc:
            raise LocalResourceError(f"{args.typ} {args.name!r}: {exc}") from exc
        environment = {
            k: str(v) for k, v in ((i.get("environment") or {}).get("variables") or {}).items()
        }
        architecture = (i.get("architectures") or ["x86_64"])[0]
        reserved = i.get("reservedConcurrentExecutions")
        logging_config = i.get("loggingConfig") or {}
        spec = FunctionSpec(
            name=name,
            code_dir=code.directory,
            handler=handler,
            environment=environment,
            timeout_seconds=float(i.get("timeout") or 3),
            memory_mb=int(i.get("memorySize") or 128),
            reserved_concurrency=int(reserved) if reserved not in (None, -1) else None,
            region=self.region,
            account_id=ACCOUNT_ID,
            architecture=architecture,
            runtime=str(i.get("runtime") or "python3.13"),
            log_format=str(logging_config.get("logFormat") or "Text"),
            application_log_level=logging_config.get("applicationLogLevel"),
            # Bundled packages sit in folders of their own (the archive's other roots): they
            # follow the code on the import path, rebuilt for this machine if compiled for
            # Lambda's.
            layer_paths=tuple(
                runnable_here(d, name, self.deployment.warnings.append) for d in code.extra_roots
            ),
            credentials=self.role_credentials(i["role"], name),
        )
        # Registered in moto too, so the role must exist and the settings must be valid.
        lambda_ = self.client("lambda")
        created = lambda_.create_function(
            FunctionName=name,
            Runtime=spec.runtime,
            Role=i["role"],
            Handler=handler,
            Code={"ZipFile": code.zip_bytes()},
            Timeout=int(spec.timeout_seconds),
            MemorySize=spec.memory_mb,
            Architectures=[architecture],
            Environment={"Variables": environment},
        )
        if spec.reserved_concurrency is not None:
            lambda_.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=spec.reserved_concurrency
            )
        try:
            function = LocalFunction(
                spec,
                endpoint_url=self._endpoint_url(),
                logs=self.logs,
                account=self.account,
                machine=self.machine,
            )
        except ConcurrencyLimitError as exc:
            raise LocalResourceError(f"{args.typ} {args.name!r}: {exc}") from exc
        arn = created["FunctionArn"]
        with self._lock:
            self._roles_by_function[name] = i["role"]
            self._roles_by_function[arn] = i["role"]
        with self._lock:
            self.deployment.functions[name] = function
            self._functions_by_ref[name] = function
            self._functions_by_ref[arn] = function
        return name, {
            "name": name,
            "arn": arn,
            "qualifiedArn": f"{arn}:$LATEST",
            "invokeArn": self._arn("apigateway", f"lambda:path/functions/{arn}/invocations"),
            "version": "$LATEST",
        }

    def _lookup_function(self, ref: str) -> LocalFunction:
        function = self._functions_by_ref.get(ref)
        if function is None:
            raise LocalResourceError(f"no function {ref!r} was declared before it was referenced")
        return function

    def _function_url(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        function = self._lookup_function(i["functionName"])
        auth = i.get("authorizationType", "NONE")
        if auth != "NONE":
            self.deployment.warnings.append(
                f"{i['functionName']}: Function URL auth type {auth} is not enforced locally; "
                "the local URL accepts unsigned requests"
            )
        self.client("lambda").create_function_url_config(
            FunctionName=function.spec.name, AuthType=auth
        )
        with self._lock:
            port = self._next_port
            if self._next_port:
                self._next_port += 1
        server = FunctionUrlServer(function, port=port)
        server.start()
        with self._lock:
            self.deployment.url_servers.append(server)
        return server.url, {"functionUrl": server.url, "urlId": server.url_id}

    def _permission(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        function = self._lookup_function(i["function"])
        statement_id = i.get("statementId") or _autoname(args.name)
        extra: dict[str, Any] = {}
        if "functionUrlAuthType" in i:
            extra["FunctionUrlAuthType"] = i["functionUrlAuthType"]
        if "invokedViaFunctionUrl" in i:
            extra["InvokedViaFunctionUrl"] = bool(i["invokedViaFunctionUrl"])
        self.client("lambda").add_permission(
            FunctionName=function.spec.name,
            StatementId=statement_id,
            Action=i["action"],
            Principal=i["principal"],
            **extra,
        )
        return statement_id, {"statementId": statement_id}

    def _event_source_mapping(self, args: Any, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        function = self._lookup_function(i["functionName"])
        source = i.get("eventSourceArn", "")
        queue_url = self._queues_by_arn.get(source)
        if queue_url is None:
            raise UnsupportedResourceError(
                f"event source mapping from {source or 'an unknown source'} (only SQS queues "
                "declared in the program)",
                self.supported_types,
            )
        scaling = i.get("scalingConfig") or {}
        max_concurrency = scaling.get("maximumConcurrency")
        # As on AWS, the mapping reads the queue with the function's execution role, so a
        # role without sqs:ReceiveMessage fails here as it would there.
        keys = self.role_credentials(self._roles_by_function[i["functionName"]], function.name)
        poller_client = self._new_client(
            "sqs",
            {
                "aws_access_key_id": keys["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": keys["AWS_SECRET_ACCESS_KEY"],
                "aws_session_token": keys["AWS_SESSION_TOKEN"],
            },
        )
        poller = SqsPoller(
            function,
            sqs_client=poller_client,
            queue_url=queue_url,
            queue_arn=source,
            batch_size=int(i.get("batchSize") or 10),
            batching_window_seconds=float(i.get("maximumBatchingWindowInSeconds") or 0),
            max_concurrency=int(max_concurrency) if max_concurrency else None,
            report_batch_item_failures="ReportBatchItemFailures"
            in (i.get("functionResponseTypes") or []),
        )
        if i.get("enabled", True) and self._start_pollers:
            poller.start()
        with self._lock:
            self.deployment.pollers.append(poller)
        mapping_id = f"{secrets.token_hex(4)}-local-{args.name}"
        return mapping_id, {"uuid": mapping_id, "functionArn": i["functionName"]}


def _autoname(logical: str, suffix: str = "") -> str:
    """Pulumi's auto-naming: the logical name plus a 7-character suffix.

    Pulumi keeps the random suffix in its state; the local cloud has no state, so the suffix is
    derived from the name instead and stays the same across restarts (log files included).
    """
    return f"{logical}-{hashlib.sha256(logical.encode()).hexdigest()[:7]}{suffix}"


def _attribute_strings(attributes: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            out[key] = str(int(value))
        else:
            out[key] = str(value)
    return out


def _require_json(text: str, what: str) -> None:
    try:
        json.loads(text)
    except ValueError as exc:
        raise LocalResourceError(f"{what} is not valid JSON: {exc}") from exc


def _unsecret(value: Any) -> Any:
    """Secrets arrive wrapped on the wire; the local resources need the plain values."""
    if isinstance(value, dict):
        if _SECRET_SIG in value and "value" in value:
            return _unsecret(value["value"])
        return {k: _unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsecret(v) for v in value]
    return value
