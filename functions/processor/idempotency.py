"""Duplicates processed once: Powertools' idempotency utility over the stack's DynamoDB table.

Every sender retries and SQS delivers at least once, so the same delivery can reach process()
several times. With `idempotency: true` the program declares a table and names it in
IDEMPOTENCY_TABLE; each record then claims its key with a conditional write before process()
runs, and the key is marked done after it returns:

- done before: process() is not called again and the record succeeds;
- in progress in another invocation: the record fails, so SQS hands it out again later (by
  then the other invocation has finished it, or failed and released the key);
- process() raised: the claim is deleted, the record fails, and the retry runs it again.

The key is the sender's delivery id the listener attached (Message.delivery_id), else the
SHA-256 of the body. See docs/design.md, "The processor".
"""

import hashlib
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from message import Message, logger

TABLE_VARIABLE = "IDEMPOTENCY_TABLE"
"""Set by the program when `idempotency` is on: the table's name."""
TTL_VARIABLE = "IDEMPOTENCY_TTL_SECONDS"
"""How long a done key is remembered (the stack's idempotencyTtlSeconds)."""


class IdempotencySettingsError(RuntimeError):
    """The environment names a table but not a usable time to live (the program sets both)."""


def idempotency_key(message: Message) -> dict[str, str]:
    """What identifies a delivery: the sender's delivery id, else the body's SHA-256. The two
    kinds are named apart, so a delivery id can never equal a body's hash."""
    if message.delivery_id:
        return {"deliveryId": message.delivery_id}
    return {"bodySha256": hashlib.sha256(message.data).hexdigest()}


class Once:
    """Runs an action at most once per idempotency key, across invocations and containers."""

    def __init__(self, table_name: str, ttl_seconds: int, *, client: Any = None) -> None:
        self.config = IdempotencyConfig(
            expires_after_seconds=ttl_seconds,
            hash_function="sha256",
            response_hook=self._skipped,
        )
        store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        self._guarded = idempotent_function(
            self._run, data_keyword_argument="key", persistence_store=store, config=self.config
        )

    def start(self, context: Any) -> None:
        """Per invocation: a claim left by an invocation that timed out expires with it, not
        after the whole time to live (Powertools reads the remaining time from the context)."""
        self.config.register_lambda_context(context)

    def __call__(self, action: Callable[[Message], None], message: Message) -> None:
        self._guarded(key=idempotency_key(message), message=message, action=action)

    @staticmethod
    def _run(*, key: dict[str, str], message: Message, action: Callable[[Message], None]) -> None:
        action(message)

    @staticmethod
    def _skipped(response: Any, record: Any) -> Any:
        logger.info("duplicate skipped: processed before", idempotency_key=record.idempotency_key)
        return response


def from_environment() -> Once | None:
    """The guard the program configured, or None when idempotency is off (no table named)."""
    table = os.environ.get(TABLE_VARIABLE)
    if not table:
        return None
    raw = os.environ.get(TTL_VARIABLE, "")
    try:
        ttl = int(raw)
    except ValueError:
        raise IdempotencySettingsError(
            f"{TTL_VARIABLE}={raw!r} must be a whole number of seconds (set with {TABLE_VARIABLE})"
        ) from None
    if ttl < 1:
        raise IdempotencySettingsError(f"{TTL_VARIABLE}={ttl} must be at least 1 second")
    return Once(table, ttl)
