"""Limits and choices AWS imposes, which the components' rules check against.

Facts about AWS, not this project's defaults: each default lives with the component that uses
it (docs/design.md, "Configuration").
"""

from __future__ import annotations

from typing import Final

RUNTIMES: Final = ("python3.13", "python3.14")
"""Supported Python runtimes; older ones are deprecated or close to it."""
ARCHITECTURES: Final = ("arm64", "x86_64")
FUNCTION_URL_AUTH_TYPES: Final = ("NONE", "AWS_IAM")
LOG_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
"""The values CloudWatch Logs accepts for retentionInDays."""
APPLICATION_LOG_LEVELS: Final = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
"""Lambda's application log levels (JSON log format), most detailed first."""
LAMBDA_TIMEOUT_SECONDS: Final = (1, 900)
LAMBDA_MEMORY_MB: Final = (128, 10240)
RESERVED_CONCURRENCY: Final = (1, 1000)
"""Above 1,000 needs a raised account quota; 0 would stop the function entirely."""

STANDARD_BATCH_SIZE: Final = (1, 10000)
FIFO_BATCH_SIZE: Final = (1, 10)
BATCH_SIZE_WITHOUT_WINDOW: Final = 10
"""A standard-queue batch larger than this needs a batching window of at least one second."""
BATCHING_WINDOW_SECONDS: Final = (0, 300)
MAX_CONCURRENCY: Final = (2, 1000)
"""The event source mapping's ScalingConfig.MaximumConcurrency range."""

RETENTION_SECONDS: Final = (60, 14 * 24 * 3600)
MESSAGE_BYTES: Final = (1024, 1024 * 1024)
"""SQS raised the maximum message size from 256 KiB to 1 MiB in August 2025."""
MAX_RECEIVE_COUNT: Final = (5, 1000)
"""SQS accepts 1; below 5 a throttled processor would dead-letter healthy messages."""

LAMBDA_NAME_MAX: Final = 64
SQS_NAME_MAX: Final = 80
SSM_PARAMETER_VALUE_MAX_BYTES: Final = 4096
"""A standard-tier SecureString holds at most 4 KB."""
