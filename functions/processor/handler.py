"""SQS batch entry point: one process() call per record, partial batch failures reported.

The event source mapping enables ReportBatchItemFailures, so only the records listed in
batchItemFailures return to the queue; the rest are deleted. On a FIFO queue a failure stops the
batch (later records of a group must not overtake an earlier one), and every record from the
failed one on is reported. Contract: docs/design.md, "The processor".
"""

from typing import Any

from message import Message, log
from process import process


def _is_fifo(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    system = record.get("attributes")
    arn = record.get("eventSourceARN")
    return (isinstance(arn, str) and arn.endswith(".fifo")) or (
        isinstance(system, dict) and "MessageGroupId" in system
    )


def _message_id(record: Any) -> str:
    return str(record.get("messageId", "")) if isinstance(record, dict) else ""


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Process an SQS batch; returns the ids of the records SQS should deliver again."""
    records = event.get("Records") if isinstance(event, dict) else None
    records = records if isinstance(records, list) else []
    request_id = getattr(context, "aws_request_id", None)
    fifo = any(_is_fifo(record) for record in records)
    failed: list[str] = []
    for index, record in enumerate(records):
        message_id = _message_id(record)
        try:
            process(Message.from_sqs_record(record))
        # process() is user code and may raise anything: whatever it is, only this record fails.
        except Exception as exc:  # noqa: BLE001
            failed.append(message_id)
            log(
                "ERROR",
                "record failed",
                message_id=message_id,
                error=f"{type(exc).__module__}.{type(exc).__qualname__}",
                request_id=request_id,
            )
            if fifo:
                skipped = [_message_id(later) for later in records[index + 1 :]]
                failed.extend(skipped)
                if skipped:
                    log(
                        "WARN",
                        "FIFO batch stopped at the first failure; later records returned",
                        message_id=message_id,
                        returned=skipped,
                        request_id=request_id,
                    )
                break
    log(
        "INFO",
        "batch done",
        records=len(records),
        failed=len(failed),
        fifo=fifo,
        request_id=request_id,
    )
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
