"""Every change the local cloud makes to moto's internals, and every private attribute it reads.

moto is an emulator, not AWS: in a few places the local cloud corrects it (so that a policy
written the AWS way is judged the AWS way) or speeds it up. Those changes reach into moto's
private classes and attributes, which any release may rename, so they live here alone, behind
a guard that refuses any moto version they were not written and tested against: a patch that
silently stops applying would let the local cloud allow what AWS denies. To support a new moto
version, run ``tests/local/test_moto_patches.py`` against it, then add it to
``SUPPORTED_MOTO_VERSIONS``. See docs/design.md, 'The local cloud'.
"""

from __future__ import annotations

import base64
import functools
import importlib
import importlib.metadata
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

__all__ = [
    "SUPPORTED_MOTO_VERSIONS",
    "UnsupportedMotoVersionError",
    "authorize_batches_as_aws_does",
    "check_moto_version",
    "enforce_iam",
    "installed_moto_version",
    "patch_server",
    "reseed_random",
    "snapshot_queues",
    "speed_up_moto",
    "teach_ssm_resources",
    "teach_table_resources",
    "warm_up",
    "when_service_loads",
]

SUPPORTED_MOTO_VERSIONS = ("5.2.5",)
"""The versions these patches were written for (requirements-dev.txt pins moto[server])."""


class UnsupportedMotoVersionError(RuntimeError):
    """The installed moto is not one the patches below were written for."""


@functools.cache
def installed_moto_version() -> str | None:
    try:
        return importlib.metadata.version("moto")
    except importlib.metadata.PackageNotFoundError:
        return None


def check_moto_version(installed: str | None = None) -> None:
    """Fail loudly unless ``installed`` (default: the installed moto) is a supported version."""
    version = installed if installed is not None else installed_moto_version()
    if version in SUPPORTED_MOTO_VERSIONS:
        return
    found = f"moto {version} is installed" if version else "moto is not installed"
    raise UnsupportedMotoVersionError(
        f"{found}, but the local cloud's patches of moto internals (local/moto_patches.py) "
        f"were written for moto {', '.join(SUPPORTED_MOTO_VERSIONS)}; install a supported "
        "version (`pip install -r requirements-dev.txt`), or check the patches against "
        f"moto {version or '<version>'} and add it to SUPPORTED_MOTO_VERSIONS"
    )


def patch_server() -> None:
    """Everything the embedded server needs before it serves its first request.

    The SSM and DynamoDB corrections wait until moto loads that service for its first request:
    importing moto's SSM imported all of EC2 (see `_import_ssm_before_ec2`), and a stack
    without secrets or idempotency never calls either.
    """
    check_moto_version()
    speed_up_moto()
    when_service_loads({"ssm": teach_ssm_resources, "dynamodb": teach_table_resources})
    authorize_batches_as_aws_does()


def reseed_random() -> None:
    """Draws moto's ids afresh, in a process forked from one that has imported moto
    (`local/moto_forkserver.py`): moto draws them from a `random.Random` of its own, which,
    unlike the `random` module's, a fork does not reseed; every fork would hand out the same
    message ids, receipt handles and request ids."""
    check_moto_version()
    from moto.moto_api._internal import mock_random

    mock_random.seed()


def when_service_loads(patches: dict[str, Callable[[], None]]) -> None:
    """Run each service's patch once, when moto's server first loads that service's backend
    (``moto.backends.get_backend``, which builds the service's request routes), so before it
    handles a request of that service."""
    check_moto_version()
    from moto import backends

    load = backends.get_backend
    pending = dict(patches)
    lock = threading.Lock()

    def get_backend(name: str) -> Any:
        if name in pending:  # removed only once patched: a racing request waits on the lock
            with lock:
                patch = pending.get(name)
                if patch is not None:
                    patch()
                    del pending[name]
        return load(name)  # type: ignore[call-overload]

    backends.get_backend = get_backend


def teach_table_resources() -> None:
    """Authorize DynamoDB calls against the table's ARN, as AWS does.

    moto checks DynamoDB calls against resource ``*``, so a policy scoped to one table's ARN (as
    the processor's idempotency policy is) would deny every item call.
    """
    check_moto_version()
    from moto.dynamodb.responses import DynamoHandler

    def determine_resource(self: DynamoHandler) -> str:
        name = self._get_param("TableName")
        if not isinstance(name, str) or not name:
            return "*"
        if name.startswith("arn:"):
            return name
        return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{name}"

    DynamoHandler._determine_resource = determine_resource  # type: ignore[attr-defined]


def teach_ssm_resources() -> None:
    """Authorize SSM calls against the parameter's ARN, as AWS does.

    moto checks every SSM call against resource ``*``, so a policy scoped to one parameter's
    ARN (as the listener's is) would be denied.
    """
    check_moto_version()
    _import_ssm_before_ec2()
    from moto.ssm.responses import SimpleSystemManagerResponse

    def determine_resource(self: SimpleSystemManagerResponse) -> str:
        name = self._get_param("Name")
        if not isinstance(name, str) or not name:
            return "*"
        if name.startswith("arn:"):
            return name
        path = name if name.startswith("/") else f"/{name}"
        return f"arn:aws:ssm:{self.region}:{self.current_account}:parameter{path}"

    SimpleSystemManagerResponse._determine_resource = determine_resource  # type: ignore[attr-defined]


class _Ec2BackendsOnFirstUse:
    """Stands for ``moto.ec2.ec2_backends`` until SSM indexes it (only for Run Command targets,
    which no stack here sends): then the real one is imported and asked."""

    def __getitem__(self, account_id: str) -> Any:
        from moto.ec2 import ec2_backends

        return ec2_backends[account_id]


def _import_ssm_before_ec2() -> None:
    """Import moto's SSM without importing all of EC2 (its AMI and instance-type data: 0.3 s of
    CPU of the server's ~1 s start). SSM's models take ``ec2_backends`` from ``moto.ec2`` at
    import; a stand-in module gives them a lazy one, and is gone again once they have it."""
    if "moto.ssm.models" in sys.modules or "moto.ec2" in sys.modules:
        return
    stand_in = types.ModuleType("moto.ec2")
    stand_in.ec2_backends = _Ec2BackendsOnFirstUse()  # type: ignore[attr-defined]
    sys.modules["moto.ec2"] = stand_in
    try:
        importlib.import_module("moto.ssm.models")
    finally:
        if sys.modules.get("moto.ec2") is stand_in:
            del sys.modules["moto.ec2"]


_SQS_BATCH_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
"""SQS authorizes each batch action with its single action's permission (there is no IAM action
named ``sqs:SendMessageBatch``); moto asks for the batch action itself."""


def authorize_batches_as_aws_does() -> None:
    check_moto_version()
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.__init__

    def init(self: IAMRequestBase, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        self._action = _SQS_BATCH_ACTIONS.get(self._action, self._action)

    IAMRequestBase.__init__ = init  # type: ignore[method-assign]


def speed_up_moto() -> None:
    """Five of moto's hot spots, replaced by equivalents that cost microseconds.

    Measured with cProfile under the load test: moto computes "now" by building datetimes
    (millions of calls once a queue is a few thousand deep, because every send recounts the
    queue), and matches each request's host against every service's URL patterns under a lock
    that all request threads share. At depth 3,000 a send went from 43 ms to 2.3 ms. Measured
    with py-spy at start-up: loading each service's model on its first request listed every
    service botocore knows again (a sixth of the server's CPU while a stack deploys), and
    each service's model was parsed twice; and every KMS key, symmetric ones too, was given an
    RSA key pair (a third of a forked server's CPU while a stack with alarms deploys).
    """
    check_moto_version()
    _key_pairs_on_first_use()
    from moto.core import utils
    from moto.moto_server import werkzeug_app
    from moto.sqs import models

    slow_unix_time = utils.unix_time

    def unix_time(dt: object = None) -> float:
        return time.time() if dt is None else slow_unix_time(dt)  # type: ignore[arg-type]

    def unix_time_millis(dt: object = None) -> float:
        return unix_time(dt) * 1000.0

    for module in (utils, models):
        vars(module).update(unix_time=unix_time, unix_time_millis=unix_time_millis)

    # moto reads each service's model through a new botocore loader, which lists every service
    # botocore knows (a few hundred folders) before it loads one: one loader remembers that.
    utils.create_loader = functools.cache(utils.create_loader)
    # Each new backend lists its service's regions through a botocore session of its own, whose
    # loader parsed the whole service model a second time (py-spy: 70 ms of each local cloud
    # start, IAM's model the largest): that session now reads through the one loader above.
    from moto.core.base_backend import AccountSpecificBackend

    @functools.cache
    def regions_session() -> Any:
        import botocore.session

        session = botocore.session.Session()
        session.register_component("data_loader", utils.create_loader())
        return session

    def load_service_model(service_name: str, model_name: str) -> dict[str, Any]:
        # with the arguments botocore's session passes, so both reads are one cache entry
        loader = utils.create_loader()
        model: dict[str, Any] = loader.load_service_model(
            service_name, type_name=model_name, api_version=None
        )
        return model

    AccountSpecificBackend.get_session = classmethod(lambda cls: regions_session())  # type: ignore[assignment,method-assign]
    utils._load_service_model = load_service_model

    dispatcher = werkzeug_app.DomainDispatcherApplication
    lookup = dispatcher.get_backend_for_host
    backends: dict[object, object] = {}

    def get_backend_for_host(self: object, host: object) -> object:
        if host not in backends:  # the answer depends on the host alone
            backends[host] = lookup(self, host)  # type: ignore[arg-type]
        return backends[host]

    dispatcher.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


def _key_pairs_on_first_use() -> None:
    """moto makes an RSA-2048 key pair (tens of milliseconds) for each key it creates, though
    only an asymmetric key signs, verifies or has a public key. A symmetric key's pair is now
    made when one of those is first asked of it, which AWS refuses anyway."""
    from moto.kms import models
    from moto.kms.utils import KeySpec

    make = models.generate_private_key
    asymmetric = {spec.value for spec in KeySpec if spec != KeySpec.SYMMETRIC_DEFAULT}

    class OnFirstUse:
        def __init__(self, key_spec: str) -> None:
            self._key_spec = key_spec
            self._made: Any = None
            self._lock = threading.Lock()

        def __getattr__(self, name: str) -> Any:  # sign, verify, public_key
            with self._lock:
                if self._made is None:
                    self._made = make(self._key_spec)
            return getattr(self._made, name)

    def generate_private_key(key_spec: str) -> Any:
        return make(key_spec) if key_spec in asymmetric else OnFirstUse(key_spec)

    models.generate_private_key = generate_private_key


def warm_up(services: tuple[str, ...]) -> None:
    """What a server builds on each service's first request and every server builds alike,
    built now, for the processes forked from this one (`local/moto_forkserver.py`): each
    service's backend module imported (with its patch from `when_service_loads`) and its
    request router. No backend is created: a forked server starts with no state."""
    check_moto_version()
    from moto import backends
    from moto.core.routing import get_router_class, get_service_router

    for service in services:
        backends.get_backend(service)  # type: ignore[call-overload]
        router = get_service_router(service)
        protocol = router._service_model.metadata["protocol"]
        if get_router_class(service, protocol) is not None:  # moto routes the rest by action
            router._get_router(protocol)


def enforce_iam() -> None:
    """From now on every request must be signed by a known key and allowed by its policies.

    moto lets the first ``INITIAL_NO_AUTH_ACTION_COUNT`` requests through unchecked (so that
    the deployer can be created); zero from here on.
    """
    check_moto_version()
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0


def snapshot_queues() -> dict[str, list[dict[str, Any]]]:
    """Every message moto holds, per queue name, in the shape SendMessage takes back.

    In-flight messages included, which no SQS API call could list: hence the private
    ``queue._messages``.
    """
    check_moto_version()
    from moto.sqs.models import sqs_backends

    queues: dict[str, list[dict[str, Any]]] = {}
    for regions in sqs_backends.values():
        for backend in regions.values():
            for name, queue in backend.queues.items():
                kept: list[dict[str, Any]] = []
                for message in list(queue._messages):
                    attributes = {}
                    for key, value in message.message_attributes.items():
                        value = dict(value)
                        if isinstance(value.get("BinaryValue"), bytes):
                            value["BinaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
                        attributes[key] = value
                    kept.append(
                        {
                            "body": message.body,
                            "attributes": attributes,
                            "group_id": message.group_id,
                            "deduplication_id": message.deduplication_id,
                            "receive_count": message.approximate_receive_count,
                        }
                    )
                if kept:
                    queues[name] = kept
    return queues
