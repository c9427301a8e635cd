"""Handler in a nested module: Lambda accepts ``pkg/nested.fn`` and ``pkg.nested.fn``."""

from typing import Any


def fn(event: Any, context: Any) -> Any:
    return {"nested": True, "event": event}
