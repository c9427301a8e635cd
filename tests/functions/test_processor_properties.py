"""Properties of the processor over generated batches: exactly the bad records come back.

Each generated batch mixes records the listener would enqueue (text and base64 bodies), records
that cannot be decoded (bodyEncoding=base64 over text that is not base64, an unknown encoding, a
body that is not a string), records from other senders (no attributes, arbitrary unicode) and odd
attribute shapes. process() is replaced by a fake that raises, with a generated exception type,
for a generated subset of message ids. The oracle knows, from how each record was built, whether
it decodes; then:

- the handler never raises, and answers {"batchItemFailures": [{"itemIdentifier": id}, ...]};
- every reported id is one of the batch's, reported once;
- standard queue: exactly the undecodable records and the ones process() failed are reported,
  in batch order, and process() saw every decodable record once, in order;
- FIFO: the first bad record and every later one are reported, nothing before it, and
  process() saw nothing after the first bad record.
"""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
from factories import LambdaContext, listener_attributes, sqs_event, sqs_record
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis_profile import examples

FIFO_QUEUE = "async-webhook-queue.fifo"
STANDARD_QUEUE = "async-webhook-queue"


class BrokenStr(Exception):
    """An exception whose str() itself raises: logging it must not take the batch down."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")


EXCEPTIONS: list[Callable[[], Exception]] = [
    lambda: RuntimeError("downstream unavailable"),
    lambda: ValueError("bad payload"),
    lambda: KeyError("object_id"),
    lambda: TimeoutError("slow API"),
    lambda: json.JSONDecodeError("x", "doc", 0),
    lambda: UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    lambda: BrokenStr(),
    lambda: Exception(),
]


@dataclass(frozen=True)
class Spec:
    """One generated record and whether Message.from_sqs_record can read it."""

    record: dict[str, Any]
    decodable: bool
    kind: str


any_text = st.text(st.characters(codec="utf-8"), max_size=40)


def with_message_attributes(record: dict[str, Any], attributes: dict[str, Any] | None) -> None:
    if attributes is None:
        record.pop("messageAttributes", None)
    else:
        record["messageAttributes"] = attributes


@st.composite
def records(draw: st.DrawFn, message_id: str, fifo: bool) -> Spec:
    queue = {"queue_name": FIFO_QUEUE if fifo else STANDARD_QUEUE}
    receive_count = draw(st.integers(1, 10))
    common: dict[str, Any] = {"message_id": message_id, "receive_count": receive_count, **queue}
    kind = draw(
        st.sampled_from(
            [
                *["listener text"] * 6,
                *["listener base64"] * 3,
                *["plain text"] * 2,
                "no attributes key",
                "odd attribute shapes",
                "base64 that is not",
                "unknown encoding",
                "body not a string",
                "lone surrogate",
            ]
        )
    )
    hypothesis.event(kind)
    if kind == "listener text":
        body = draw(any_text | st.just(json.dumps({"object_id": draw(st.integers())})))
        record = sqs_record(body, message_attributes=listener_attributes(), **common)
        return Spec(record, True, kind)
    if kind == "listener base64":
        raw = draw(st.binary(max_size=60))
        attributes = listener_attributes(body_encoding="base64")
        return Spec(sqs_record(raw, message_attributes=attributes, **common), True, kind)
    if kind == "plain text":
        return Spec(sqs_record(draw(any_text), **common), True, kind)
    if kind == "no attributes key":
        record = sqs_record(draw(any_text), **common)
        with_message_attributes(record, draw(st.sampled_from([None, {}])))
        if draw(st.booleans()):
            record.pop("attributes", None)  # no system attributes either
        return Spec(record, True, kind)
    if kind == "odd attribute shapes":
        # Binary, list and malformed attributes are ignored; the body is read as text.
        record = sqs_record(draw(any_text), **common)
        odd = {
            "blob": {"dataType": "Binary", "binaryValue": base64.b64encode(b"\x00").decode()},
            "list": {"dataType": "String", "stringListValues": ["a"]},
            "junk": draw(st.sampled_from([None, 1, "x", []])),
            draw(any_text): {"dataType": "String", "stringValue": draw(any_text)},
        }
        odd.pop("bodyEncoding", None)
        with_message_attributes(record, odd)
        record["attributes"]["ApproximateReceiveCount"] = draw(st.sampled_from(["x", "", "-1"]))
        return Spec(record, True, kind)
    if kind == "base64 that is not":
        body = draw(st.sampled_from(["%%% not base64 %%%", "e30", "é", "e30=\n", "!!"]))
        attributes = listener_attributes(body_encoding="base64")
        return Spec(sqs_record(body, message_attributes=attributes, **common), False, kind)
    if kind == "unknown encoding":
        encoding = draw(st.sampled_from(["gzip", "", "BASE64", "Text", "utf-8"]))
        attributes = listener_attributes(body_encoding=encoding)
        return Spec(sqs_record("{}", message_attributes=attributes, **common), False, kind)
    if kind == "body not a string":
        record = sqs_record("{}", message_attributes=listener_attributes(), **common)
        missing = draw(st.sampled_from([None, 1, ["x"], {"a": 1}, "missing"]))
        if missing == "missing":
            del record["body"]
        else:
            record["body"] = missing
        return Spec(record, False, kind)
    # A lone surrogate: a JSON event can carry "\ud800", but it is not UTF-8 text.
    record = sqs_record("{}", message_attributes=listener_attributes(), **common)
    record["body"] = draw(any_text) + "\ud800"
    return Spec(record, False, kind)


@dataclass(frozen=True)
class Batch:
    specs: list[Spec]
    fifo: bool
    fail: dict[str, int]
    """message id -> index into EXCEPTIONS, for the records process() fails."""

    @property
    def ids(self) -> list[str]:
        return [spec.record["messageId"] for spec in self.specs]

    def bad(self, spec: Spec) -> bool:
        return not spec.decodable or spec.record["messageId"] in self.fail


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    fifo = draw(st.booleans())
    ids = draw(
        st.lists(
            st.uuids().map(str) | st.text(min_size=1, max_size=12),
            min_size=1,
            max_size=10,
            unique=True,
        )
    )
    specs = [draw(records(message_id, fifo)) for message_id in ids]
    failing = draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids)))
    fail = {i: draw(st.integers(0, len(EXCEPTIONS) - 1)) for i in failing}
    return Batch(specs=specs, fifo=fifo, fail=fail)


class FailingProcess:
    """process() stand-in: records what it saw, raises for the chosen ids."""

    def __init__(self, fail: dict[str, int]) -> None:
        self.fail = fail
        self.seen: list[str] = []

    def __call__(self, message: Any) -> None:
        self.seen.append(message.message_id)
        _ = message.data  # the decoded request is there to be used
        if message.message_id in self.fail:
            raise EXCEPTIONS[self.fail[message.message_id]]()


@settings(
    max_examples=examples(500),
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=batches())
def test_exactly_the_bad_records_come_back_and_the_batch_never_fails(
    processor: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    batch: Batch,
) -> None:
    # GIVEN a generated batch and a process() failing for a generated subset
    fake = FailingProcess(batch.fail)
    monkeypatch.setattr(processor.handler, "process", fake)
    note(f"fifo={batch.fifo} kinds={[s.kind for s in batch.specs]} fail={batch.fail}")
    ids = batch.ids
    # WHEN the processor handles it
    result = processor.handler.handler(
        sqs_event(spec.record for spec in batch.specs), LambdaContext(function_name="processor")
    )
    capsys.readouterr()
    # THEN a well-formed partial batch response, naming only ids of this batch, each once
    assert isinstance(result, dict) and set(result) == {"batchItemFailures"}
    items = result["batchItemFailures"]
    assert all(isinstance(item, dict) and set(item) == {"itemIdentifier"} for item in items)
    reported = [item["itemIdentifier"] for item in items]
    assert len(set(reported)) == len(reported)
    assert set(reported) <= set(ids)
    bad = [batch.bad(spec) for spec in batch.specs]
    if not batch.fifo:
        # AND standard: exactly the bad ones, and process() saw every decodable record once
        assert reported == [i for i, is_bad in zip(ids, bad, strict=True) if is_bad]
        assert fake.seen == [s.record["messageId"] for s in batch.specs if s.decodable]
    elif True in bad:
        # AND FIFO: the first bad record and everything after it, nothing before it
        first = bad.index(True)
        assert reported == ids[first:]
        assert fake.seen == [s.record["messageId"] for s in batch.specs[: first + 1] if s.decodable]
    else:
        assert reported == []
        assert fake.seen == ids
    share = "none" if not reported else "all" if len(reported) == len(ids) else "some"
    hypothesis.event(f"{'fifo' if batch.fifo else 'standard'}: {share} reported")
