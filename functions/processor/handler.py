"""SQS batch entry point: one process() call per record, partial batch failures reported.

Powertools' batch processing does the bookkeeping. The event source mapping enables
ReportBatchItemFailures, so only the records listed in batchItemFailures return to the queue;
the rest are deleted. On a FIFO queue a failure stops the batch (later records of a group must
not overtake an earlier one), and every record from the failed one on is reported. With
`idempotency: true` each record runs process() at most once per delivery (idempotency.py).
Contract: docs/design.md, "The processor".
"""

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from message import Message, logger
from process import process

if TYPE_CHECKING:
    from idempotency import Once

IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
"""Set by the program when `idempotency` is on (idempotency.TABLE_VARIABLE)."""


def _guard() -> "Once | None":
    """The idempotency guard, or None when the stack has it off. Its module (and boto3, which
    its DynamoDB client needs) is imported only when it is on: a cold start pays for it then."""
    if not os.environ.get(IDEMPOTENCY_TABLE):
        return None
    from idempotency import from_environment

    return from_environment()


_once = _guard()
"""Made once per container."""


class RecordFailedError(Exception):
    """This record failed. Carries only the original error's type: the batch machinery formats
    what it catches, and a user's exception may hold the payload, or fail to format at all."""


def _is_fifo(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    system = record.get("attributes")
    arn = record.get("eventSourceARN")
    return (isinstance(arn, str) and arn.endswith(".fifo")) or (
        isinstance(system, dict) and "MessageGroupId" in system
    )


def _batch_processor(fifo: bool) -> BatchProcessor:
    """A new one per invocation: a processor keeps the batch's state while it runs."""
    processor = SqsFifoPartialProcessor() if fifo else BatchProcessor(event_type=EventType.SQS)
    # A batch whose every record failed is reported like any other, record by record (the
    # default raises, which returns the batch without saying which records failed).
    processor.raise_on_entire_batch_failure = False
    return processor


def _error_name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def _process_record(record: SQSRecord) -> None:
    """One record: decode it, run process() (once per delivery when guarded), log a failure."""
    message_id = str(record.raw_event.get("messageId", ""))
    with logger.append_context_keys(message_id=message_id):
        try:
            message = Message.from_sqs_record(record.raw_event)
            if _once is None:
                process(message)
            else:
                _once(lambda m: process(m), message)
        # process() is user code and may raise anything: whatever it is, only this record fails.
        except Exception as exc:
            error = _error_name(exc)
            # The cause's type too (e.g. the DynamoDB error behind an idempotency failure),
            # never a message: messages may hold the payload.
            cause = {"cause": _error_name(exc.__cause__)} if exc.__cause__ is not None else {}
            logger.error("record failed", message_id=message_id, error=error, **cause)
            raise RecordFailedError(error) from exc


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Process an SQS batch; returns the ids of the records SQS should deliver again."""
    records = event.get("Records") if isinstance(event, dict) else None
    records = records if isinstance(records, list) else []
    fifo = any(_is_fifo(record) for record in records)
    failed: list[str] = []
    if records:
        if _once is not None:
            _once.start(context)
        response = process_partial_response(
            event={"Records": records},
            record_handler=_process_record,
            processor=_batch_processor(fifo),
        )
        failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    if fifo and len(failed) > 1:
        logger.warning(
            "FIFO batch stopped at the first failure; later records returned",
            message_id=failed[0],
            returned=failed[1:],
        )
    logger.info("batch done", records=len(records), failed=len(failed), fifo=fifo)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
