"""Every default and AWS limit the program relies on, in one place.

Components and the config loader import these names instead of repeating literals, so a
default changes in exactly one spot and the README's configuration table can be checked
against this module.
"""

from __future__ import annotations

from typing import Final

# ---- the listener -------------------------------------------------------------------------
LISTENER_PATHS: Final = ("/append_queue",)
"""The path of the original demo; Strava posts every event to one callback URL."""
LISTENER_AUTH_TYPE: Final = "NONE"
"""Third-party senders such as Strava cannot sign requests with SigV4."""
ACCEPTED_CONTENT_TYPES: Final = ("application/json",)
LISTENER_TIMEOUT_SECONDS: Final = 5
"""Well over the listener's SQS budget (about 1.5 s), well under anything a sender waits."""
LISTENER_MEMORY_MB: Final = 256
"""More memory buys more CPU, which shortens the cold start that eats the sender's deadline."""

# ---- the processor ------------------------------------------------------------------------
PROCESSOR_TIMEOUT_SECONDS: Final = 30
PROCESSOR_MEMORY_MB: Final = 256
BATCH_SIZE: Final = 10
BATCHING_WINDOW_SECONDS: Final = 0

# ---- the queues ---------------------------------------------------------------------------
MAX_RECEIVE_COUNT: Final = 5
"""AWS advises at least 5 so that a throttled processor does not send good messages to the DLQ."""
FIFO: Final = False
MESSAGE_RETENTION_SECONDS: Final = 4 * 24 * 3600
"""SQS's own default: four days."""
DLQ_RETENTION_SECONDS: Final = 14 * 24 * 3600
"""The SQS maximum, so a message outlives its trip to the DLQ (age counts from the first send)."""
MAX_MESSAGE_BYTES: Final = 1024 * 1024
"""SQS's maximum message size (raised from 256 KiB to 1 MiB in August 2025)."""
VISIBILITY_TIMEOUT_FACTOR: Final = 6
"""AWS: set the queue's visibility timeout to at least six times the function's timeout."""

# ---- functions in general -----------------------------------------------------------------
LOG_RETENTION_DAYS: Final = 14
ARCHITECTURE: Final = "arm64"
"""Graviton: cheaper per GB-second and as fast or faster for this work."""
RUNTIME: Final = "python3.13"

# ---- AWS limits used by validation ----------------------------------------------------------
RUNTIMES: Final = ("python3.13", "python3.14")
"""Supported Python runtimes; older ones are deprecated or close to it."""
ARCHITECTURES: Final = ("arm64", "x86_64")
AUTH_TYPES: Final = ("NONE", "AWS_IAM")
LOG_RETENTION_CHOICES: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
LAMBDA_TIMEOUT_RANGE: Final = (1, 900)
LAMBDA_MEMORY_RANGE: Final = (128, 10240)
STANDARD_BATCH_SIZE_RANGE: Final = (1, 10000)
FIFO_BATCH_SIZE_RANGE: Final = (1, 10)
BATCH_SIZE_WITHOUT_WINDOW: Final = 10
"""A batch larger than this needs a batching window of at least one second."""
BATCHING_WINDOW_RANGE: Final = (0, 300)
MAX_CONCURRENCY_RANGE: Final = (2, 1000)
MAX_RECEIVE_COUNT_RANGE: Final = (5, 1000)
"""SQS accepts 1; below 5 a throttled processor would dead-letter healthy messages."""
RETENTION_RANGE: Final = (60, 14 * 24 * 3600)
MESSAGE_BYTES_RANGE: Final = (1024, 1024 * 1024)
VISIBILITY_TIMEOUT_MAX: Final = 12 * 3600
RESERVED_CONCURRENCY_RANGE: Final = (1, 1000)
NAME_PREFIX_MAX: Final = 40
"""Leaves room for "-processor" and ".fifo" within Lambda's 64 and SQS's 80 characters."""
