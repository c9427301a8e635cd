"""The default business logic: one JSON log line per message, a Strava summary, no payload."""

import json
from typing import Any

import pytest
from factories import event_body, listener_attributes, listener_record

STRAVA_EVENTS = (
    "strava-activity-create",
    "strava-activity-update",
    "strava-activity-delete",
    "strava-athlete-deauthorize",
)


def process_and_log(
    processor: Any, record: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    message = processor.modules["message"].Message.from_sqs_record(record)
    processor.modules["process"].process(message)
    [line] = capsys.readouterr().out.splitlines()
    logged: dict[str, Any] = json.loads(line)
    return logged


@pytest.mark.parametrize("name", STRAVA_EVENTS)
def test_strava_events_log_id_metadata_and_summary(
    processor: Any, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # GIVEN a Strava event from events/, received twice already
    body = event_body(name)
    event = json.loads(body)
    record = listener_record(
        body,
        message_id="5fd3e2a1-0000-4000-8000-00000000beef",
        receive_count=3,
        attributes=listener_attributes(request_id="req-9"),
    )
    # WHEN the default process() handles it
    logged = process_and_log(processor, record, capsys)
    # THEN one JSON line holds the literal message id, metadata and the summary fields
    assert logged["level"] == "INFO"
    assert logged["message_id"] == "5fd3e2a1-0000-4000-8000-00000000beef"
    assert (logged["path"], logged["size"], logged["receive_count"], logged["request_id"]) == (
        "/append_queue",
        len(body.encode()),
        3,
        "req-9",
    )
    fields = ("object_type", "aspect_type", "object_id", "owner_id", "subscription_id")
    for field in (*fields, "event_time"):
        assert logged["strava"][field] == event[field]
    assert logged["strava"].get("updated_fields", []) == sorted(event["updates"])


def test_update_values_are_not_logged(processor: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an activity update renaming the activity
    body = event_body("strava-activity-update")
    title = json.loads(body)["updates"]["title"]
    # WHEN it is processed
    logged = process_and_log(processor, listener_record(body), capsys)
    # THEN the changed field names are logged, the athlete's new title is not
    assert logged["strava"]["updated_fields"] == ["private", "title", "type"]
    assert title not in json.dumps(logged)


def test_deauthorization_is_flagged(processor: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an athlete revoking access
    record = listener_record(event_body("strava-athlete-deauthorize"))
    # WHEN it is processed
    logged = process_and_log(processor, record, capsys)
    # THEN the summary says so
    assert logged["strava"]["deauthorized"] is True
    assert logged["strava"]["object_type"] == "athlete"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"object_type": "activity"}, id="partial strava"),
        pytest.param({"hello": "secret-value-1"}, id="other json"),
        pytest.param("plain secret-value-1", id="text"),
        pytest.param(b"\xffsecret-value-1", id="binary"),
    ],
)
def test_other_bodies_log_metadata_only(
    processor: Any, capsys: pytest.CaptureFixture[str], body: Any
) -> None:
    # GIVEN a body that is not a Strava event
    record = listener_record(body, message_id="m-other")
    # WHEN it is processed
    logged = process_and_log(processor, record, capsys)
    # THEN the line has the id and no summary, and never the body
    assert logged["message_id"] == "m-other"
    assert "strava" not in logged
    assert "secret-value-1" not in json.dumps(logged)


@pytest.mark.parametrize(
    ("body", "preview"),
    [
        pytest.param(
            "2026-12-01T07:00:00.000Z",
            {"text": "2026-12-01T07:00:00.000Z", "truncated": False},
            id="the demo's timestamp",
        ),
        pytest.param("é" * 300, {"text": "é" * 256, "truncated": True}, id="long text"),
        pytest.param(b"\xff\x00\x01", {"binary_bytes": 3}, id="binary"),
    ],
)
def test_at_debug_the_content_is_previewed_bounded_at_info_it_is_not(
    load_function: Any, capsys: pytest.CaptureFixture[str], body: Any, preview: dict[str, Any]
) -> None:
    # GIVEN the processor at DEBUG (the dev stack) and at INFO (the default)
    record = listener_record(body, message_id="m-preview")
    for level, expected in (("DEBUG", [preview]), ("INFO", [])):
        processor = load_function("processor", {"AWS_LAMBDA_LOG_LEVEL": level})
        message = processor.modules["message"].Message.from_sqs_record(record)
        # WHEN it processes the message
        processor.modules["process"].process(message)
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        # THEN only DEBUG shows a bounded preview of the content; both log the summary
        previews = [line["preview"] for line in lines if line["message"] == "message content"]
        assert previews == expected, level
        assert [line["message"] for line in lines][-1] == "message processed"
        assert all(line["timestamp"].endswith("Z") for line in lines)
