"""What each patch of moto adds, shown through a real embedded server, and the version guard.

Covered elsewhere, end to end: the queue snapshot (in-flight messages included) by
test_lifecycle.py::test_queued_and_in_flight_messages_survive_a_restart, and IAM enforcement of
a function's own role by test_programs.py::test_a_call_the_role_does_not_allow_is_denied_as_on_aws.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloud_helpers import shared_session

from local import moto_patches
from local.moto_server import EmbeddedAws
from tests.python_child import run_python

REGION = "us-east-1"
ACCOUNT = "123456789012"
ALLOWED_PARAMETER = "/app/allowed"


# -- the version guard ---------------------------------------------------------------------


def test_the_pinned_version_is_supported() -> None:
    moto_patches.check_moto_version("5.2.5")
    assert moto_patches.installed_moto_version() in moto_patches.SUPPORTED_MOTO_VERSIONS


@pytest.mark.parametrize("version", ["5.2.4", "5.3.0", "6.0.0"])
def test_any_other_version_fails_naming_installed_and_supported(version: str) -> None:
    with pytest.raises(moto_patches.UnsupportedMotoVersionError) as caught:
        moto_patches.check_moto_version(version)
    message = str(caught.value)
    assert f"moto {version} is installed" in message
    assert "written for moto 5.2.5" in message
    assert "local/moto_patches.py" in message


@pytest.mark.parametrize(
    "patch",
    [
        moto_patches.patch_server,
        moto_patches.teach_ssm_resources,
        moto_patches.teach_table_resources,
        lambda: moto_patches.when_service_loads({}),
        moto_patches.authorize_batches_as_aws_does,
        moto_patches.speed_up_moto,
        moto_patches.enforce_iam,
        moto_patches.snapshot_queues,
    ],
)
def test_no_patch_touches_moto_of_an_unsupported_version(
    patch: Callable[[], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a moto release the patches were not written for
    monkeypatch.setattr(moto_patches, "installed_moto_version", lambda: "9.9.9")
    # WHEN any patch (or the embedded server) is about to be applied THEN it refuses first
    with pytest.raises(moto_patches.UnsupportedMotoVersionError) as caught:
        patch()
    assert "moto 9.9.9 is installed" in str(caught.value)


def test_the_embedded_server_refuses_to_start_on_an_unsupported_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(moto_patches, "installed_moto_version", lambda: None)
    with pytest.raises(moto_patches.UnsupportedMotoVersionError, match="moto is not installed"):
        EmbeddedAws()


# -- each patch's behaviour, through the embedded server ------------------------------------


class Aws:
    """The embedded server with IAM enforced, a queue, two parameters and a limited user."""

    def __init__(self, server: EmbeddedAws) -> None:
        self.endpoint = server.endpoint_url
        bootstrap = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        sqs = self.client("sqs", bootstrap)
        self.queue_url = sqs.create_queue(QueueName="patched")["QueueUrl"]
        queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:patched"
        ssm = self.client("ssm", bootstrap)
        for name in (ALLOWED_PARAMETER, "/app/other"):
            ssm.put_parameter(Name=name, Value=f"value of {name}", Type="String")
        iam = self.client("iam", bootstrap)
        iam.create_user(UserName="limited")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "sqs:SendMessage",
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                    ],
                    "Resource": queue_arn,
                },
                {
                    "Effect": "Allow",
                    "Action": "ssm:GetParameter",
                    "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{ALLOWED_PARAMETER}",
                },
            ],
        }
        iam.put_user_policy(
            UserName="limited", PolicyName="limited", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="limited")["AccessKey"]
        self.limited = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }
        server.enforce_iam()

    def client(self, service: str, keys: dict[str, str] | None = None) -> Any:
        return shared_session().client(
            service, endpoint_url=self.endpoint, region_name=REGION, **(keys or self.limited)
        )


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    server = EmbeddedAws()
    try:
        yield Aws(server)
    finally:
        server.stop(timeout=0)  # nothing to keep: no need to wait for a graceful exit


def _refusal(call: Callable[[], object]) -> str:
    """The error a call fails with (moto answers JSON-protocol calls with an XML error body,
    so the code is read from the message)."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return f"{error.get('Code')} {error.get('Message')}"


def test_an_ssm_policy_scoped_to_one_parameter_arn_allows_that_parameter(aws: Aws) -> None:
    # teach_ssm_resources: moto judged SSM calls against "*", denying ARN-scoped policies
    ssm = aws.client("ssm")
    value = ssm.get_parameter(Name=ALLOWED_PARAMETER)["Parameter"]["Value"]
    assert value == f"value of {ALLOWED_PARAMETER}"
    refusal = _refusal(lambda: ssm.get_parameter(Name="/app/other"))
    assert "AccessDenied" in refusal and "ssm:GetParameter" in refusal


def test_batch_actions_are_allowed_by_their_single_action_permissions(aws: Aws) -> None:
    # authorize_batches_as_aws_does: there is no IAM action sqs:SendMessageBatch on AWS
    sqs = aws.client("sqs")
    sent = sqs.send_message_batch(
        QueueUrl=aws.queue_url,
        Entries=[{"Id": str(i), "MessageBody": f"batch-{i}"} for i in range(3)],
    )
    assert len(sent["Successful"]) == 3 and not sent.get("Failed")
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while len(received) < 3 and time.monotonic() < deadline:
        received += sqs.receive_message(
            QueueUrl=aws.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
    handles = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
    changed = sqs.change_message_visibility_batch(
        QueueUrl=aws.queue_url,
        Entries=[{**entry, "VisibilityTimeout": 30} for entry in handles],
    )
    assert not changed.get("Failed")
    deleted = sqs.delete_message_batch(QueueUrl=aws.queue_url, Entries=handles)
    assert len(deleted["Successful"]) == 3 and not deleted.get("Failed")


def test_once_enforced_unknown_keys_and_unallowed_actions_are_denied(aws: Aws) -> None:
    # enforce_iam: moto lets its first requests through unchecked unless told otherwise
    unknown = {"aws_access_key_id": "AKIASTRANGER", "aws_secret_access_key": "x"}
    stranger = aws.client("sqs", unknown)
    assert "InvalidClientTokenId" in _refusal(lambda: stranger.list_queues())
    limited = aws.client("sqs")
    refusal = _refusal(lambda: limited.create_queue(QueueName="not-allowed"))
    assert "AccessDenied" in refusal and "sqs:CreateQueue" in refusal


def test_message_timestamps_are_the_current_time(aws: Aws) -> None:
    # speed_up_moto replaced moto's clock: it must still tell the time
    sqs = aws.client("sqs")
    before = int(time.time() * 1000) - 1
    sqs.send_message(QueueUrl=aws.queue_url, MessageBody="timestamped")
    after = int(time.time() * 1000) + 1
    messages = sqs.receive_message(
        QueueUrl=aws.queue_url, MessageSystemAttributeNames=["SentTimestamp"], WaitTimeSeconds=1
    )["Messages"]
    assert before <= int(messages[0]["Attributes"]["SentTimestamp"]) <= after


SSM_WITHOUT_EC2 = """
import json, sys
from local import moto_patches
moto_patches.patch_server()
from moto import backends
ssm = backends.get_backend("ssm")["123456789012"]["us-east-1"]
ssm.put_parameter(name="/p", description="", value="v", parameter_type="String",
                  allowed_pattern=None, keyid=None, overwrite=False, tags=[], data_type="text",
                  tier=None, policies=None)
loaded_before = "moto.ec2" in sys.modules
value = ssm.get_parameter("/p").value
import moto.ssm.models as models
ec2 = models.ec2_backends["123456789012"]["us-east-1"]
print(json.dumps({"ec2_loaded_with_ssm": loaded_before, "value": value,
                  "ec2_backend": type(ec2).__name__}))
"""


def fresh_process(script: str, *args: str) -> Any:
    """What ``script`` prints as JSON, run in a new interpreter (moto imported afresh)."""
    return json.loads(run_python("-c", script, *args, timeout=60).stdout)


def test_ssm_loads_without_ec2_and_reaches_the_real_ec2_when_asked() -> None:
    assert fresh_process(SSM_WITHOUT_EC2) == {
        "ec2_loaded_with_ssm": False,
        "value": "v",
        "ec2_backend": "EC2Backend",
    }


REGIONS_ONE_PARSE = """
import json, sys
from botocore.loaders import Loader
from moto.core.base_backend import AccountSpecificBackend
parsed = []
real = Loader.load_data_with_path
def counting(self, name, *args, **kwargs):
    if name.endswith("service-2"):
        parsed.append(name)
    return real(self, name, *args, **kwargs)
Loader.load_data_with_path = counting
if sys.argv[1] == "patched":
    from local import moto_patches
    moto_patches.speed_up_moto()
from moto import backends
regions = {s: sorted(backends.get_backend(s)["123456789012"].regions) for s in ("iam", "sqs")}
from moto.core.utils import get_service_model
for service in ("iam", "sqs"):
    get_service_model(service)  # as moto does on a service's first request
print(json.dumps({"regions": regions, "parses": len(parsed)}))
"""


def test_a_service_model_is_parsed_once_and_backends_list_the_same_regions() -> None:
    # GIVEN moto as it comes and moto with the local cloud's speed-ups, each in a fresh process
    plain = fresh_process(REGIONS_ONE_PARSE, "plain")
    patched = fresh_process(REGIONS_ONE_PARSE, "patched")
    # WHEN each lists two services' regions and loads their models for requests
    # THEN the backends list the same regions, and each model is parsed once (moto as it comes
    # parses SQS's twice; IAM, a global service, lists no regions)
    assert patched["regions"] == plain["regions"]
    assert "us-east-1" in patched["regions"]["sqs"]
    assert plain["parses"] == 3
    assert patched["parses"] == 2


KEY_PAIRS = """
import json
import boto3
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws
made = []
generate = rsa.generate_private_key
def counting(*args, **kwargs):
    made.append(1)
    return generate(*args, **kwargs)
rsa.generate_private_key = counting
def sign_and_verify(kms):
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    algorithm = "RSASSA_PSS_SHA_256"
    signature = kms.sign(KeyId=key, Message=b"m", SigningAlgorithm=algorithm)["Signature"]
    return kms.verify(KeyId=key, Message=b"m", Signature=signature,
                      SigningAlgorithm=algorithm)["SignatureValid"]
counts = {}
with mock_aws():
    kms = boto3.client("kms", region_name="us-east-1")
    for name in ("plain", "patched"):
        if name == "patched":
            from local import moto_patches
            moto_patches.speed_up_moto()
        before = len(made)
        symmetric = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)]
        counts[name] = {"symmetric": len(made) - before, "valid": sign_and_verify(kms)}
    from moto.kms.models import kms_backends
    key = kms_backends["123456789012"]["us-east-1"].keys[symmetric[0]]
    before = len(made)
    key.private_key.public_key()
    counts["asked"] = len(made) - before
print(json.dumps(counts))
"""


def test_a_symmetric_key_gets_its_key_pair_only_when_one_is_asked_for() -> None:
    # GIVEN moto as it comes, then with the speed-ups, in one fresh process
    # WHEN each creates three symmetric keys and signs with an asymmetric one
    counts = fresh_process(KEY_PAIRS)
    # THEN moto made an RSA pair for every symmetric key; patched, for none, until asked
    assert counts["plain"] == {"symmetric": 3, "valid": True}
    assert counts["patched"] == {"symmetric": 0, "valid": True}
    assert counts["asked"] == 1
