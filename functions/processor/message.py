"""The Message a processor works with, built from one SQS record, and the processor's logger.

The listener puts the request body on the queue exactly as received (base64 text when the
Function URL delivered it base64-encoded) and the request metadata in message attributes; this
module undoes that, so business logic sees bytes, text or JSON without caring how it travelled.
"""

import base64
import functools
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger


class MessageDecodeError(ValueError):
    """The record's body cannot be turned into what was asked for (bytes, text or JSON)."""


class _CurrentStdout(logging.StreamHandler[Any]):
    """Writes to whatever sys.stdout is when a line is logged, as print() does (Lambda's
    runtime reads stdout; a test may swap it after the logger was made)."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        """The stream is always the current sys.stdout."""


logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "processor"),
    logger_handler=_CurrentStdout(),
    # RFC 3339 in UTC ("...T07:00:00.123Z"): Lambda's JSON log format filters a line by its
    # level only when it also carries a timestamp it can read.
    datefmt="%Y-%m-%dT%H:%M:%S.%FZ",
    utc=True,
    log_record_order=["timestamp", "level", "message"],
    # json.dumps' own spacing, as the processor's lines always had (readers grep for it).
    json_serializer=functools.partial(json.dumps, default=str),
)
"""JSON lines on stdout. Powertools takes the level from AWS_LAMBDA_LOG_LEVEL, which Lambda sets
from the function's application log level (the stack's logLevel)."""
for _library in ("boto3", "botocore", "urllib3"):
    # At a DEBUG log level the runtime's root logger would pass on every HTTP exchange of the
    # AWS SDK (the idempotency table's calls): the DEBUG level is for this project's own lines.
    logging.getLogger(_library).setLevel(logging.WARNING)
if logging.getLogger(logger.name).level == logging.NOTSET:
    # Powertools maps Lambda's TRACE to NOTSET, which would inherit the root logger's WARNING
    # and drop every DEBUG and INFO line: TRACE is the most detailed level, so log everything.
    logging.getLogger(logger.name).setLevel(logging.DEBUG)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _datetime(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One queued webhook request. Immutable, so process() cannot change what is reported."""

    message_id: str
    """The SQS message id (also what batchItemFailures reports)."""
    body: str
    """The SQS body as stored: the request body, or its base64 text when body_encoding is base64."""
    data: bytes
    """The request body as the caller sent it."""
    body_encoding: str
    """How body carries data: "text", "base64", or "generated" (the listener made the body:
    the receive time, for an empty POST on an open route, as the original demo did)."""
    attributes: dict[str, str]
    """Every message attribute with a string value (the listener's metadata and any others)."""
    path: str | None
    """The listener path the request arrived on."""
    route: str | None
    """The name of the listener route it arrived on."""
    source: str | None
    """How that route verified the sender (github, stripe, strava, none, ...)."""
    delivery_id: str | None
    """The sender's own id of this delivery (X-GitHub-Delivery, Stripe's event id, ...), the
    same on each of the sender's retries: the key to process a delivery once."""
    content_type: str | None
    """The request's Content-Type header, parameters included."""
    received_at: datetime | None
    """When the listener received the request (UTC)."""
    request_id: str | None
    """The Function URL request id, to correlate with the listener's log."""
    receive_count: int
    """How many times SQS has handed this message out (1 on the first try)."""
    group_id: str | None
    """The FIFO MessageGroupId; None on a standard queue."""
    record: dict[str, Any] = field(repr=False, compare=False)
    """The raw SQS record, for anything not lifted into a field."""

    @property
    def size(self) -> int:
        """Size of the request body in bytes."""
        return len(self.data)

    @property
    def text(self) -> str:
        """The body as UTF-8 text; MessageDecodeError if it is not."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MessageDecodeError(f"message {self.message_id}: body is not UTF-8") from exc

    def json(self) -> Any:
        """The body parsed as JSON; MessageDecodeError (a ValueError) if it is not JSON."""
        text = self.text
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise MessageDecodeError(f"message {self.message_id}: body is not JSON") from exc

    @classmethod
    def from_sqs_record(cls, record: dict[str, Any]) -> "Message":
        """Build from a Lambda SQS event record; MessageDecodeError when the body cannot be read."""
        if not isinstance(record, dict):
            raise MessageDecodeError("an SQS record must be an object")
        message_id = str(record.get("messageId", ""))
        body = record.get("body")
        if not isinstance(body, str):
            raise MessageDecodeError(f"message {message_id}: record has no body")
        attributes: dict[str, str] = {}
        raw_attributes = record.get("messageAttributes")
        for name, attribute in (raw_attributes if isinstance(raw_attributes, dict) else {}).items():
            if isinstance(attribute, dict):
                value = attribute.get("stringValue", attribute.get("binaryValue"))
                if isinstance(value, str):
                    attributes[name] = value
        encoding = attributes.get("bodyEncoding", "text")
        if encoding == "base64":
            try:
                data = base64.b64decode(body, validate=True)
            except ValueError as exc:  # binascii.Error, or a non-ASCII str
                raise MessageDecodeError(f"message {message_id}: body is not base64") from exc
        elif encoding in ("text", "generated"):
            try:
                data = body.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise MessageDecodeError(f"message {message_id}: body is not text") from exc
        else:
            raise MessageDecodeError(f"message {message_id}: unknown bodyEncoding {encoding!r}")
        system = record.get("attributes")
        system = system if isinstance(system, dict) else {}
        return cls(
            message_id=message_id,
            body=body,
            data=data,
            body_encoding=encoding,
            attributes=attributes,
            path=attributes.get("path"),
            route=attributes.get("route"),
            source=attributes.get("source"),
            delivery_id=attributes.get("deliveryId"),
            content_type=attributes.get("contentType"),
            received_at=_datetime(attributes.get("receivedAt")),
            request_id=attributes.get("requestId"),
            receive_count=_int(system.get("ApproximateReceiveCount"), 1),
            group_id=system.get("MessageGroupId"),
            record=record,
        )
