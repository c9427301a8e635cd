"""The processor's batch handling: partial failures, FIFO ordering, undecodable records, logs."""

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from factories import LambdaContext, listener_record, sqs_event, sqs_record

FIFO_QUEUE = "async-webhook-queue.fifo"


class Recorder:
    """A process() stand-in: remembers each message and fails the ones it is told to."""

    def __init__(self, fail_ids: set[str] | None = None) -> None:
        self.fail_ids = fail_ids or set()
        self.seen: list[str] = []

    def __call__(self, message: Any) -> None:
        self.seen.append(message.message_id)
        if message.message_id in self.fail_ids:
            raise RuntimeError(f"cannot handle {message.json()}")


def run(processor: Any, records: list[dict[str, Any]]) -> list[str]:
    result = processor.handler.handler(sqs_event(records), LambdaContext(function_name="processor"))
    assert set(result) == {"batchItemFailures"}
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


@pytest.fixture
def recorder(processor: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Recorder]:
    def install(*fail_ids: str) -> Recorder:
        fake = Recorder(set(fail_ids))
        monkeypatch.setattr(processor.handler, "process", fake)
        return fake

    return install


def records(count: int, **kwargs: Any) -> list[dict[str, Any]]:
    return [listener_record({"n": n}, message_id=f"m-{n}", **kwargs) for n in range(count)]


def test_all_good_reports_no_failures(processor: Any, recorder: Callable[..., Recorder]) -> None:
    # GIVEN a batch that process() handles
    fake = recorder()
    batch = records(4)
    # WHEN the batch is processed
    failures = run(processor, batch)
    # THEN nothing is reported, each record was processed once, in order
    assert failures == []
    assert fake.seen == ["m-0", "m-1", "m-2", "m-3"]


def test_one_failing_record_reports_only_that_one(
    processor: Any, recorder: Callable[..., Recorder]
) -> None:
    # GIVEN a standard-queue batch where process() fails on one record
    fake = recorder("m-1")
    # WHEN the batch is processed
    failures = run(processor, records(4))
    # THEN only that record comes back, and the later ones were still processed
    assert failures == ["m-1"]
    assert fake.seen == ["m-0", "m-1", "m-2", "m-3"]


def test_several_failures_in_a_standard_batch_are_all_reported(
    processor: Any, recorder: Callable[..., Recorder]
) -> None:
    # GIVEN failures on the first and last records
    recorder("m-0", "m-3")
    # WHEN the batch is processed
    # THEN both, and only both, are reported
    assert run(processor, records(4)) == ["m-0", "m-3"]


@pytest.mark.parametrize(
    "fifo_kwargs",
    [
        pytest.param({"queue_name": FIFO_QUEUE}, id="fifo by arn"),
        pytest.param({"group_id": "4567890"}, id="fifo by group attribute"),
    ],
)
def test_fifo_stops_at_the_first_failure_and_reports_the_rest(
    processor: Any, recorder: Callable[..., Recorder], fifo_kwargs: dict[str, Any]
) -> None:
    # GIVEN a FIFO batch where the second record fails
    fake = recorder("m-1")
    # WHEN the batch is processed
    failures = run(processor, records(5, **fifo_kwargs))
    # THEN processing stopped there, and it and every later record are reported, in order
    assert fake.seen == ["m-0", "m-1"]
    assert failures == ["m-1", "m-2", "m-3", "m-4"]


def test_fifo_failure_on_the_last_record_reports_just_it(
    processor: Any, recorder: Callable[..., Recorder]
) -> None:
    # GIVEN a FIFO batch failing on its last record
    recorder("m-2")
    # WHEN the batch is processed
    # THEN only the last record is reported
    assert run(processor, records(3, queue_name=FIFO_QUEUE)) == ["m-2"]


def test_undecodable_base64_record_fails_alone(
    processor: Any, recorder: Callable[..., Recorder], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a standard batch with a record marked base64 whose body is not base64
    fake = recorder()
    batch = records(3)
    batch[1] = listener_record(
        "%%% not base64 %%%", message_id="m-bad", attributes={"bodyEncoding": "base64"}
    )
    # WHEN the batch is processed
    failures = run(processor, batch)
    # THEN that record is failed, the others processed, the batch did not crash
    assert failures == ["m-bad"]
    assert fake.seen == ["m-0", "m-2"]
    # AND the failure is logged with the message id and the exception type
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [failure] = [line for line in logged if line["message"] == "record failed"]
    assert failure["message_id"] == "m-bad"
    assert failure["error"].endswith("MessageDecodeError")


def test_unknown_body_encoding_fails_the_record(
    processor: Any, recorder: Callable[..., Recorder]
) -> None:
    # GIVEN a record with an encoding nobody wrote
    recorder()
    record = listener_record("{}", message_id="m-odd", attributes={"bodyEncoding": "gzip"})
    # WHEN it is processed
    # THEN it is a failed record
    assert run(processor, [record]) == ["m-odd"]


def test_undecodable_record_in_fifo_stops_the_batch(
    processor: Any, recorder: Callable[..., Recorder]
) -> None:
    # GIVEN a FIFO batch whose first record cannot be decoded
    fake = recorder()
    batch = records(3, queue_name=FIFO_QUEUE)
    batch[0]["body"] = "!!"
    batch[0]["messageAttributes"]["bodyEncoding"]["stringValue"] = "base64"
    # WHEN it is processed
    # THEN nothing is processed and the whole batch returns
    assert run(processor, batch) == ["m-0", "m-1", "m-2"]
    assert fake.seen == []


def test_failure_log_names_the_message_and_error_type_not_the_payload(
    processor: Any, recorder: Callable[..., Recorder], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a failing record whose payload (and exception text) holds a secret-ish value
    recorder("m-0")
    record = listener_record({"token": "never-log-81c2"}, message_id="m-0")
    # WHEN it is processed
    run(processor, [record])
    # THEN the log names the id and type, without the payload
    out = capsys.readouterr().out
    assert "never-log-81c2" not in out
    failure = json.loads(out.splitlines()[0])
    assert failure["level"] == "ERROR"
    assert failure["message_id"] == "m-0"
    assert failure["error"] == "builtins.RuntimeError"


def test_records_reach_process_as_messages(processor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a base64 record from the listener
    seen: list[Any] = []
    monkeypatch.setattr(processor.handler, "process", seen.append)
    raw = b"\x00\xffbinary"
    # WHEN it is processed
    assert run(processor, [listener_record(raw, message_id="m-bin")]) == []
    # THEN process() got a Message with the decoded bytes
    [message] = seen
    assert isinstance(message, processor.modules["message"].Message)
    assert (message.message_id, message.data, message.body) == (
        "m-bin",
        raw,
        base64.b64encode(raw).decode(),
    )


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": None}, None, []])
def test_empty_or_odd_events_report_nothing(processor: Any, event: Any) -> None:
    # GIVEN an event with no records
    # WHEN it is handled
    result = processor.handler.handler(event, LambdaContext())
    # THEN no failures and no raise
    assert result == {"batchItemFailures": []}


def test_default_process_handles_a_plain_sqs_message(processor: Any) -> None:
    # GIVEN a message sent by something other than the listener (no attributes, plain text)
    record = sqs_record("hello", message_id="m-plain")
    # WHEN it is processed by the default business logic
    # THEN it succeeds
    assert run(processor, [record]) == []
