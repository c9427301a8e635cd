"""local/shapes.py: each AWS shape once, and the builders that share it agreeing with AWS."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from local import shapes

ROOT = Path(__file__).resolve().parents[2]

# -- the module itself ---------------------------------------------------------------------------


def test_shapes_import_nothing_but_the_standard_library() -> None:
    # GIVEN a fresh interpreter WHEN it imports local.shapes
    code = (
        "import sys; before = set(sys.modules); import local.shapes; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # THEN no third-party package came along (benchmarks import it into cold processes)
    third_party = {name.split(".")[0] for name in loaded} - set(sys.stdlib_module_names)
    assert third_party == {"local"}, third_party


# -- Function URL events -------------------------------------------------------------------------


def _keys(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a nested dict (headers' own names left out: they differ by design)."""
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, item in value.items():
        path = f"{prefix}{key}"
        found.add(path)
        if key != "headers":
            found |= _keys(item, f"{path}.")
    return found


def test_the_local_cloud_and_the_tests_build_the_same_event_shape() -> None:
    # GIVEN one POST with a query, a cookie and a JSON body, as the local Function URL reads it
    # off the wire and as the tests' builder describes it
    served = shapes.event_from_http_request(
        method="POST",
        target="/append_queue?a=1",
        headers=[
            ("Host", "127.0.0.1:3000"),
            ("User-Agent", "agent/1"),
            ("Content-Type", "application/json"),
            ("Cookie", "c=1"),
        ],
        body=b'{"k": 1}',
        source_ip="127.0.0.1",
        url_id="u",
        request_id="r-1",
        now=1583348638.390,
    )
    built = shapes.deployed_function_url_event(
        body='{"k": 1}',
        query={"a": "1"},
        cookies=["c=1"],
        user_agent="agent/1",
        source_ip="127.0.0.1",
        request_id="r-1",
        time_epoch_ms=1583348638390,
    )
    # THEN both have the same fields at every level, and the same values where the request is
    # the same (only the host, and the headers an HTTPS front end adds, differ)
    assert _keys(served) == _keys(built)
    for key in ("version", "routeKey", "rawPath", "rawQueryString", "cookies", "body"):
        assert served[key] == built[key], key
    assert served["queryStringParameters"] == built["queryStringParameters"] == {"a": "1"}
    assert served["isBase64Encoded"] is built["isBase64Encoded"] is False
    for key in ("http", "requestId", "time", "timeEpoch", "accountId", "stage"):
        assert served["requestContext"][key] == built["requestContext"][key], key
    assert served["headers"]["content-type"] == built["headers"]["content-type"]


def test_deployed_event_has_the_headers_an_https_function_url_adds() -> None:
    event = shapes.deployed_function_url_event(body=b"\x00\xff", content_type="image/png")

    headers = event["headers"]
    assert headers["host"] == f"{shapes.EXAMPLE_URL_ID}.lambda-url.us-east-1.on.aws"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-port"] == "443"
    assert headers["x-amzn-trace-id"].startswith("Root=1-")
    assert headers["content-length"] == "2"  # of the bytes, not of their base64
    assert event["isBase64Encoded"] is True
    assert event["body"] == "AP8="
    assert event["requestContext"]["accountId"] == "anonymous"  # auth type NONE


def test_query_parameters_join_repeated_keys_with_commas() -> None:
    assert shapes.query_parameters("a=1&a=2&b=&c=x%20y") == {"a": "1,2", "b": "", "c": "x y"}


def test_request_time_is_the_access_log_format_whatever_the_locale() -> None:
    assert shapes.request_time(1583348638390) == "04/Mar/2020:19:03:58 +0000"


# -- Function URL responses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "status", "body"),
    [
        ({"statusCode": 204}, 204, b""),
        ({"statusCode": "201", "body": {"a": 1}}, 201, b'{"a": 1}'),
        ({"statusCode": True}, 502, b'{"Message":"Internal Server Error"}'),
        ({"statusCode": 600}, 502, b'{"Message":"Internal Server Error"}'),
        ({"statusCode": 200, "cookies": "a=1"}, 502, b'{"Message":"Internal Server Error"}'),
        ({"no": "statusCode"}, 200, b'{"no": "statusCode"}'),
    ],
)
def test_http_response_follows_the_payload_2_0_rules(result: Any, status: int, body: bytes) -> None:
    response = shapes.http_response(result)

    assert (response.status, response.body) == (status, body)
    assert dict(response.headers)["Content-Type"] == "application/json"


def test_hop_by_hop_headers_are_dropped_and_booleans_spelt_as_json() -> None:
    response = shapes.http_response(
        {"statusCode": 200, "headers": {"Connection": "close", "X-Flag": True}, "body": "x"}
    )

    assert response.headers == [("X-Flag", "true"), ("Content-Type", "application/json")]


def test_the_runtime_json_text_is_sent_as_is_when_known() -> None:
    assert shapes.http_response({"a": 1}, '{"a":1}').body == b'{"a":1}'


# -- SQS records ---------------------------------------------------------------------------------


def test_receive_message_entry_becomes_a_lambda_sqs_record() -> None:
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "MD5OfBody": "md5-body",
        "MD5OfMessageAttributes": "md5-attrs",
        "Body": "hello",
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "MessageAttributes": {
            "path": {"DataType": "String", "StringValue": "/append_queue"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    }

    record = shapes.sqs_record(message, queue_arn="arn:aws:sqs:eu-west-1:123456789012:jobs")

    assert record == {
        "messageId": "m-1",
        "receiptHandle": "rh-1",
        "body": "hello",
        "attributes": message["Attributes"],
        "messageAttributes": {
            "path": {
                "stringValue": "/append_queue",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "raw": {
                "binaryValue": "AAE=",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        },
        "md5OfMessageAttributes": "md5-attrs",
        "md5OfBody": "md5-body",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:jobs",
        "awsRegion": "eu-west-1",
    }


def _received(sqs: Any, queue_url: str) -> dict[str, Any]:
    [message] = sqs.receive_message(
        QueueUrl=queue_url,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
        WaitTimeSeconds=0,
    )["Messages"]
    return dict(message)


@pytest.mark.parametrize("fifo", [False, True])
def test_a_message_built_from_plain_values_is_what_sqs_hands_out(sqs: Any, fifo: bool) -> None:
    # GIVEN a message with the listener's attributes, sent to a real SQS API (moto)
    suffix = ".fifo" if fifo else ""
    attributes = {"ContentBasedDeduplication": "true", "FifoQueue": "true"} if fifo else {}
    url = sqs.create_queue(QueueName=f"s-{uuid.uuid4().hex[:10]}{suffix}", Attributes=attributes)[
        "QueueUrl"
    ]
    body = '{"object_id": 1, "text": "Café ✓"}'
    values = shapes.listener_attributes(request_id="req-1")
    group = {"MessageGroupId": "g"} if fifo else {}
    sent = sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageAttributes=shapes.string_attributes(values), **group
    )
    real = _received(sqs, url)
    # WHEN the same values are given to the plain-values builder
    built = shapes.received_message(
        body,
        message_id=sent["MessageId"],
        message_attributes=values,
        fifo=fifo,
        group_id="g" if fifo else None,
    )
    # THEN it has the fields, digests and attribute shape SQS gave, and so the same record
    # (AWS also returns a FIFO message's SequenceNumber; moto leaves it out)
    assert set(built) == set(real)
    assert set(built["Attributes"]) - {"SequenceNumber"} == set(real["Attributes"])
    for key in ("MessageId", "Body", "MD5OfBody", "MD5OfMessageAttributes", "MessageAttributes"):
        assert built[key] == real[key], key
    arn = shapes.queue_arn_from_url(url)
    real_record = shapes.sqs_record(real, queue_arn=arn)
    built_record = shapes.sqs_record(built, queue_arn=arn)
    assert set(built_record) == set(real_record)
    assert built_record["messageAttributes"] == real_record["messageAttributes"]
    if fifo:
        assert real["Attributes"]["MessageGroupId"] == built["Attributes"]["MessageGroupId"]
        assert (
            real["Attributes"]["MessageDeduplicationId"]
            == built["Attributes"]["MessageDeduplicationId"]
        )


def test_queue_arn_from_a_url_takes_the_region_the_url_names() -> None:
    url = "https://sqs.eu-west-1.amazonaws.com/111122223333/jobs"
    assert shapes.queue_arn_from_url(url) == "arn:aws:sqs:eu-west-1:111122223333:jobs"
    local = "http://127.0.0.1:4566/123456789012/jobs"
    assert shapes.queue_arn_from_url(local) == "arn:aws:sqs:us-east-1:123456789012:jobs"


# -- ReportBatchItemFailures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, []),
        ({}, []),
        ({"batchItemFailures": None}, []),
        ({"batchItemFailures": []}, []),
        ({"batchItemFailures": [{"itemIdentifier": "a"}]}, ["a"]),
        (
            {"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "a"}]},
            ["b", "a"],
        ),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "a"}]}, ["a"]),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": [{"itemIdentifer": "a"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, "b"]}, None),
        ({"batchItemFailures": "a"}, None),
        ("ok", None),
        ([{"itemIdentifier": "a"}], None),
    ],
)
def test_batch_item_failures_are_read_like_aws(response: Any, expected: list[str] | None) -> None:
    assert shapes.failed_message_ids(response, {"a", "b"}) == expected


# -- LambdaContext -------------------------------------------------------------------------------


def _worker_module() -> ModuleType:
    """local/_worker.py, imported under a name of its own (it is run as a script)."""
    spec = importlib.util.spec_from_file_location("_worker_for_tests", ROOT / "local/_worker.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _surface(context: object) -> dict[str, str]:
    """Public attributes (with their value types) and methods (with their signatures)."""
    surface: dict[str, str] = {}
    for name in dir(context):
        if name.startswith("_"):
            continue
        value = getattr(context, name)
        if inspect.ismethod(value):
            surface[name] = f"method{inspect.signature(value)}"
        else:
            surface[name] = type(value).__name__
    return surface


def test_the_worker_context_and_the_shared_fake_expose_the_same_surface(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the worker's context, built with the environment the runtime gives a function
    for name, value in {
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]abc",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    }.items():
        monkeypatch.setenv(name, value)
    worker = _worker_module()
    real = worker.LambdaContext("req-1", 10**13, "arn:aws:lambda:us-east-1:123456789012:function:f")
    # WHEN set beside the fake the tests and benchmarks use
    fake = shapes.LambdaContext(function_name="f", aws_request_id="req-1")
    # THEN both have the same attributes, value types and methods
    assert _surface(fake) == _surface(real)
    assert _surface(fake.identity) == _surface(real.identity)
    assert repr(fake) == repr(real)
    assert isinstance(fake.memory_limit_in_mb, str)  # as awslambdaric gives it


def test_the_fake_context_counts_down_from_its_timeout() -> None:
    context = shapes.LambdaContext(timeout_ms=60_000)

    remaining = context.get_remaining_time_in_millis()

    assert 0 < remaining <= 60_000
    assert shapes.LambdaContext(timeout_ms=0).get_remaining_time_in_millis() == 0


# -- the listener's attributes -------------------------------------------------------------------


def test_listener_attribute_names_cover_every_attribute_the_builder_sets() -> None:
    full = shapes.listener_attributes(delivery_id="d-1")
    assert tuple(full) == shapes.LISTENER_ATTRIBUTE_NAMES
    bare = shapes.listener_attributes(user_agent=None, source_ip=None)
    assert set(full) - set(bare) == shapes.OPTIONAL_LISTENER_ATTRIBUTES
