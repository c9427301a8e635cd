"""The stack's configuration: typed, defaulted and validated in one place.

`load_settings()` runs when the program runs, so `pulumi preview` fails before AWS is called.
It never stops at the first mistake: every problem is collected and reported at once, each
naming the key, the value and the rule, because a deploy loop that reveals one typo per run
wastes the user's afternoon.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
from pulumi.runtime import config as runtime_config

from infra import defaults as d

PROJECT = "async-webhook"

T = TypeVar("T")

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9*][a-z0-9!#$&^_.+*-]*$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
_NAME_PREFIX = re.compile(r"^[A-Za-z0-9_-]+$")
_FIELD = re.compile(r"^[^\s]+$")


@dataclass(frozen=True)
class Problem:
    """One broken rule: which key, what value it had, and what the rule is."""

    key: str
    value: object
    rule: str

    def __str__(self) -> str:
        shown = "<secret>" if self.key.endswith("verifyToken") else json.dumps(self.value)
        return f"{PROJECT}:{self.key} = {shown}: {self.rule}"


class ConfigError(ValueError):
    """The stack configuration breaks one or more rules; `problems` lists them all."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"invalid stack configuration ({count} problem{'s' if count != 1 else ''}):\n{lines}"
        )


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting of a stack, with defaults applied and every rule already checked."""

    name_prefix: str
    """Prefix of every physical name (functions, queues, log groups, parameters)."""
    listener_paths: tuple[str, ...] = d.LISTENER_PATHS
    listener_auth_type: str = d.LISTENER_AUTH_TYPE
    accepted_content_types: tuple[str, ...] = d.ACCEPTED_CONTENT_TYPES
    listener_timeout_seconds: int = d.LISTENER_TIMEOUT_SECONDS
    listener_memory_mb: int = d.LISTENER_MEMORY_MB
    listener_reserved_concurrency: int | None = None
    processor_timeout_seconds: int = d.PROCESSOR_TIMEOUT_SECONDS
    processor_memory_mb: int = d.PROCESSOR_MEMORY_MB
    batch_size: int = d.BATCH_SIZE
    batching_window_seconds: int = d.BATCHING_WINDOW_SECONDS
    max_concurrency: int | None = None
    max_receive_count: int = d.MAX_RECEIVE_COUNT
    fifo: bool = d.FIFO
    message_group_field: str | None = None
    message_retention_seconds: int = d.MESSAGE_RETENTION_SECONDS
    dlq_retention_seconds: int = d.DLQ_RETENTION_SECONDS
    max_message_bytes: int = d.MAX_MESSAGE_BYTES
    log_retention_days: int = d.LOG_RETENTION_DAYS
    architecture: str = d.ARCHITECTURE
    runtime: str = d.RUNTIME
    verify_token: pulumi.Output[str] | None = field(default=None, repr=False)
    """The Strava subscription token; only ever an Output marked secret."""

    @property
    def visibility_timeout_seconds(self) -> int:
        """Derived, never configured: AWS's rule of six function timeouts plus the window."""
        return (
            d.VISIBILITY_TIMEOUT_FACTOR * self.processor_timeout_seconds
            + self.batching_window_seconds
        )


# Keys a stack file may set, each mapped to the Settings field it fills.
KEYS: Mapping[str, str] = {
    "namePrefix": "name_prefix",
    "listenerPaths": "listener_paths",
    "listenerAuthType": "listener_auth_type",
    "acceptedContentTypes": "accepted_content_types",
    "listenerTimeoutSeconds": "listener_timeout_seconds",
    "listenerMemoryMb": "listener_memory_mb",
    "listenerReservedConcurrency": "listener_reserved_concurrency",
    "processorTimeoutSeconds": "processor_timeout_seconds",
    "processorMemoryMb": "processor_memory_mb",
    "batchSize": "batch_size",
    "batchingWindowSeconds": "batching_window_seconds",
    "maxConcurrency": "max_concurrency",
    "maxReceiveCount": "max_receive_count",
    "fifo": "fifo",
    "messageGroupField": "message_group_field",
    "messageRetentionSeconds": "message_retention_seconds",
    "dlqRetentionSeconds": "dlq_retention_seconds",
    "maxMessageBytes": "max_message_bytes",
    "logRetentionDays": "log_retention_days",
    "architecture": "architecture",
    "runtime": "runtime",
    "verifyToken": "verify_token",
}


class _Reader:
    """Parses raw config strings (as the Pulumi CLI hands them over) and collects problems."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def fail(self, key: str, value: object, rule: str) -> None:
        self.problems.append(Problem(key, value, rule))

    def _parse(self, key: str, convert: Callable[[str], T], expected: str) -> T | None:
        text = self.raw.get(key)
        if text is None:
            return None
        try:
            return convert(text)
        except ValueError:
            self.fail(key, text, f"must be {expected}")
            return None

    def integer(self, key: str, default: int, bounds: tuple[int, int]) -> int:
        value = self.optional_integer(key, bounds)
        return default if value is None else value

    def optional_integer(self, key: str, bounds: tuple[int, int]) -> int | None:
        value = self._parse(key, _to_int, "a whole number")
        if value is not None and not bounds[0] <= value <= bounds[1]:
            self.fail(key, value, f"must be between {bounds[0]} and {bounds[1]}")
            return None
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._parse(key, _to_bool, "true or false")
        return default if value is None else value

    def choice(self, key: str, default: T, choices: Sequence[T]) -> T:
        text = self.raw.get(key)
        if text is None:
            return default
        for option in choices:
            if text == str(option):
                return option
        listed = ", ".join(str(c) for c in choices)
        self.fail(key, _maybe_number(text), f"must be one of {listed}")
        return default

    def string(self, key: str) -> str | None:
        text = self.raw.get(key)
        return None if text is None or text == "" else text

    def string_list(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        text = self.raw.get(key)
        if text is None:
            return default
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(
                key,
                text,
                "must be a list of strings (in the stack file a YAML list; on the command "
                f"line `pulumi config set --path '{key}[0]' VALUE`)",
            )
            return default
        if not value:
            self.fail(key, value, "must not be empty")
            return default
        return tuple(value)


def _to_int(text: str) -> int:
    if not re.fullmatch(r"-?\d+", text.strip()):
        raise ValueError(text)
    return int(text)


def _to_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError(text)
    return lowered == "true"


def _maybe_number(text: str) -> object:
    try:
        return _to_int(text)
    except ValueError:
        return text


def default_name_prefix(project: str, stack: str) -> str:
    """`<project>-<stack>` with characters Lambda and SQS names reject replaced by `-`."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", f"{project}-{stack}")
    return cleaned[: d.NAME_PREFIX_MAX].rstrip("-_") or "webhook"


def parse_settings(
    raw: Mapping[str, str],
    *,
    project: str,
    stack: str,
    verify_token: pulumi.Output[str] | None = None,
    verify_token_is_secret: bool = True,
) -> Settings:
    """Builds `Settings` from raw values keyed without the project namespace.

    Raises `ConfigError` listing every broken rule.
    """
    r = _Reader(raw)

    for key in raw:
        if key not in KEYS:
            close = difflib.get_close_matches(key, list(KEYS), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            r.fail(key, raw[key], f"is not a setting of this project{hint}")

    name_prefix = r.string("namePrefix") or default_name_prefix(project, stack)
    if not _NAME_PREFIX.match(name_prefix) or len(name_prefix) > d.NAME_PREFIX_MAX:
        r.fail(
            "namePrefix",
            name_prefix,
            f"must be 1-{d.NAME_PREFIX_MAX} characters of letters, digits, '-' and '_'",
        )

    paths = r.string_list("listenerPaths", d.LISTENER_PATHS)
    for path in paths:
        if not _PATH.match(path) or "?" in path or "#" in path:
            r.fail(
                "listenerPaths",
                path,
                "each path must start with '/' and hold no spaces, query or fragment",
            )
    if len(set(paths)) != len(paths):
        r.fail("listenerPaths", list(paths), "paths must be unique")

    content_types = tuple(
        c.lower() for c in r.string_list("acceptedContentTypes", d.ACCEPTED_CONTENT_TYPES)
    )
    for media_type in content_types:
        if not _MEDIA_TYPE.match(media_type):
            r.fail(
                "acceptedContentTypes",
                media_type,
                "each entry must be a media type such as application/json (no parameters)",
            )

    fifo = r.boolean("fifo", d.FIFO)
    batch_size = r.integer(
        "batchSize",
        d.BATCH_SIZE,
        d.FIFO_BATCH_SIZE_RANGE if fifo else d.STANDARD_BATCH_SIZE_RANGE,
    )
    window = r.integer("batchingWindowSeconds", d.BATCHING_WINDOW_SECONDS, d.BATCHING_WINDOW_RANGE)
    if fifo and window != 0:
        r.fail("batchingWindowSeconds", window, "must be 0 for a FIFO queue (fifo: true)")
    if not fifo and batch_size > d.BATCH_SIZE_WITHOUT_WINDOW and window < 1:
        r.fail(
            "batchingWindowSeconds",
            window,
            f"must be at least 1 when batchSize ({batch_size}) is over "
            f"{d.BATCH_SIZE_WITHOUT_WINDOW}",
        )

    group_field = r.string("messageGroupField")
    if group_field is not None:
        if not fifo:
            r.fail("messageGroupField", group_field, "only applies to a FIFO queue (fifo: true)")
        elif not _FIELD.match(group_field):
            r.fail("messageGroupField", group_field, "must be a JSON field name without spaces")

    retention = r.integer("messageRetentionSeconds", d.MESSAGE_RETENTION_SECONDS, d.RETENTION_RANGE)
    dlq_retention = r.integer("dlqRetentionSeconds", d.DLQ_RETENTION_SECONDS, d.RETENTION_RANGE)
    if dlq_retention <= retention:
        r.fail(
            "dlqRetentionSeconds",
            dlq_retention,
            f"must be longer than messageRetentionSeconds ({retention}), or a message "
            "could expire on its way to the dead-letter queue",
        )

    processor_timeout = r.integer(
        "processorTimeoutSeconds", d.PROCESSOR_TIMEOUT_SECONDS, d.LAMBDA_TIMEOUT_RANGE
    )
    visibility = d.VISIBILITY_TIMEOUT_FACTOR * processor_timeout + window
    if visibility > d.VISIBILITY_TIMEOUT_MAX:
        r.fail(
            "processorTimeoutSeconds",
            processor_timeout,
            f"gives a visibility timeout of {visibility} s "
            f"({d.VISIBILITY_TIMEOUT_FACTOR} x timeout + window), over SQS's "
            f"{d.VISIBILITY_TIMEOUT_MAX} s",
        )

    token_set = verify_token is not None
    if token_set and not verify_token_is_secret:
        r.fail(
            "verifyToken",
            "<plain text>",
            "must be a secret: `pulumi config set --secret verifyToken VALUE`",
        )

    settings = Settings(
        name_prefix=name_prefix,
        listener_paths=paths,
        listener_auth_type=r.choice("listenerAuthType", d.LISTENER_AUTH_TYPE, d.AUTH_TYPES),
        accepted_content_types=content_types,
        listener_timeout_seconds=r.integer(
            "listenerTimeoutSeconds", d.LISTENER_TIMEOUT_SECONDS, d.LAMBDA_TIMEOUT_RANGE
        ),
        listener_memory_mb=r.integer(
            "listenerMemoryMb", d.LISTENER_MEMORY_MB, d.LAMBDA_MEMORY_RANGE
        ),
        listener_reserved_concurrency=r.optional_integer(
            "listenerReservedConcurrency", d.RESERVED_CONCURRENCY_RANGE
        ),
        processor_timeout_seconds=processor_timeout,
        processor_memory_mb=r.integer(
            "processorMemoryMb", d.PROCESSOR_MEMORY_MB, d.LAMBDA_MEMORY_RANGE
        ),
        batch_size=batch_size,
        batching_window_seconds=window,
        max_concurrency=r.optional_integer("maxConcurrency", d.MAX_CONCURRENCY_RANGE),
        max_receive_count=r.integer(
            "maxReceiveCount", d.MAX_RECEIVE_COUNT, d.MAX_RECEIVE_COUNT_RANGE
        ),
        fifo=fifo,
        message_group_field=group_field,
        message_retention_seconds=retention,
        dlq_retention_seconds=dlq_retention,
        max_message_bytes=r.integer("maxMessageBytes", d.MAX_MESSAGE_BYTES, d.MESSAGE_BYTES_RANGE),
        log_retention_days=r.choice(
            "logRetentionDays", d.LOG_RETENTION_DAYS, d.LOG_RETENTION_CHOICES
        ),
        architecture=r.choice("architecture", d.ARCHITECTURE, d.ARCHITECTURES),
        runtime=r.choice("runtime", d.RUNTIME, d.RUNTIMES),
        verify_token=verify_token,
    )
    if settings.listener_timeout_seconds < 2:
        r.fail(
            "listenerTimeoutSeconds",
            settings.listener_timeout_seconds,
            "must be at least 2: the listener's SQS call alone may take up to 1.5 s",
        )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def load_settings() -> Settings:
    """Reads the running stack's configuration (project namespace) and validates it."""
    prefix = f"{PROJECT}:"
    every = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, str] = {}
    for full_key, value in every.items():
        if full_key.startswith(prefix) and full_key != f"{prefix}verifyToken":
            raw[full_key[len(prefix) :]] = value if isinstance(value, str) else json.dumps(value)
    cfg = pulumi.Config(PROJECT)
    token = cfg.get_secret("verifyToken")
    is_secret = runtime_config.is_config_secret(f"{prefix}verifyToken")
    return parse_settings(
        raw,
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        verify_token=token,
        verify_token_is_secret=is_secret,
    )
