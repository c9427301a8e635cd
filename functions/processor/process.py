"""The business logic: replace process() with your own.

process(message) is called once per SQS record. Return normally and the record is done (the
event source mapping deletes it); raise anything and the record is reported failed, so SQS hands
it out again and, after maxReceiveCount tries, moves it to the dead-letter queue. Make it
idempotent: SQS delivers at least once (or set `idempotency: true` and the processor calls it
at most once per delivery). Log with `logger` (Powertools): every line carries the message id.
A package listed in requirements.txt beside this file is bundled with the function.
"""

from typing import Any

from message import Message, MessageDecodeError, logger

STRAVA_FIELDS = (
    "object_type",
    "aspect_type",
    "object_id",
    "owner_id",
    "subscription_id",
    "event_time",
)
"""Summary fields of a Strava webhook event, safe to log (ids, no athlete content)."""


def strava_summary(message: Message) -> dict[str, Any] | None:
    """The loggable part of a Strava event, or None when the body is not one.

    Names of the updated fields are kept, their values are not: a new activity title is the
    athlete's content. A deauthorization ({"authorized": "false"}) is flagged because an app
    must react to it (stop using, and delete, that athlete's data).
    """
    try:
        event = message.json()
    except MessageDecodeError:
        return None
    if not isinstance(event, dict) or "object_type" not in event or "aspect_type" not in event:
        return None
    summary = {name: event[name] for name in STRAVA_FIELDS if name in event}
    updates = event.get("updates")
    if isinstance(updates, dict) and updates:
        summary["updated_fields"] = sorted(str(key) for key in updates)
        if event.get("object_type") == "athlete" and updates.get("authorized") == "false":
            summary["deauthorized"] = True
    return summary


PREVIEW_CHARS = 256
"""How much of a text body the DEBUG preview shows."""


def preview(message: Message) -> dict[str, Any]:
    """A bounded look at the content: the first characters of a text body, the size of a
    binary one. Logged at DEBUG only (the dev stack's level): it may hold the sender's data."""
    try:
        text = message.text
    except MessageDecodeError:
        return {"binary_bytes": message.size}
    shown = text[:PREVIEW_CHARS]
    return {"text": shown, "truncated": len(text) > len(shown)}


def process(message: Message) -> None:
    """Default business logic: log what arrived (never the whole payload)."""
    fields: dict[str, Any] = {
        "message_id": message.message_id,
        "path": message.path,
        "size": message.size,
        "receive_count": message.receive_count,
        "request_id": message.request_id,
    }
    if message.group_id is not None:
        fields["group_id"] = message.group_id
    summary = strava_summary(message)
    if summary is not None:
        fields["strava"] = summary
    logger.debug("message content", message_id=message.message_id, preview=preview(message))
    logger.info("message processed", **fields)
