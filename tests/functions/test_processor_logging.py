"""The processor's log lines (Powertools Logger): JSON Lambda can filter, with the ids to search."""

import json
from typing import Any

import pytest
from factories import LambdaContext, listener_record, sqs_event


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_each_line_carries_the_request_id_the_message_id_and_a_utc_timestamp(
    load_function: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the processor at the default level
    processor = load_function("processor")
    context = LambdaContext(function_name="processor")
    # WHEN it handles a record
    processor.handler.handler(sqs_event([listener_record({"a": 1}, message_id="m-7")]), context)
    logged = lines(capsys)
    # THEN the record's lines name the message, every line the Lambda request, in RFC 3339 UTC
    [processed] = [x for x in logged if x["message"] == "message processed"]
    assert processed["message_id"] == "m-7"
    assert all(x["function_request_id"] == context.aws_request_id for x in logged)
    assert all(x["timestamp"].endswith("Z") and "T" in x["timestamp"] for x in logged)
    # AND the batch's own line does not carry a record's id
    [done] = [x for x in logged if x["message"] == "batch done"]
    assert "message_id" not in done and (done["records"], done["failed"]) == (1, 0)


@pytest.mark.parametrize(("level", "previewed"), [("TRACE", True), ("WARN", False)])
def test_lambda_levels_powertools_does_not_name_keep_their_meaning(
    load_function: Any, capsys: pytest.CaptureFixture[str], level: str, previewed: bool
) -> None:
    # GIVEN the processor at Lambda's TRACE (most detailed) or WARN
    processor = load_function("processor", {"AWS_LAMBDA_LOG_LEVEL": level})
    # WHEN it handles a record
    processor.handler.handler(sqs_event([listener_record("hi", message_id="m-1")]), LambdaContext())
    messages = [x["message"] for x in lines(capsys)]
    # THEN TRACE shows the DEBUG preview and everything else; WARN shows none of it
    assert ("message content" in messages) is previewed
    assert ("message processed" in messages) is previewed


def test_lines_the_business_logic_logs_carry_the_message_id_too(
    load_function: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN business logic that logs with the processor's logger, naming no id
    processor = load_function("processor")
    logger = processor.modules["message"].logger
    monkeypatch.setattr(processor.handler, "process", lambda message: logger.info("user line"))
    # WHEN two records are handled
    records = [listener_record("a", message_id="m-1"), listener_record("b", message_id="m-2")]
    processor.handler.handler(sqs_event(records), LambdaContext())
    # THEN each of its lines names the record it was logged for
    user = [x.get("message_id") for x in lines(capsys) if x["message"] == "user line"]
    assert user == ["m-1", "m-2"]
