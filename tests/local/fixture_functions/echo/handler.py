"""Returns its event unchanged: lets tests see exactly what the runtime delivered."""

from typing import Any


def handler(event: Any, context: Any) -> Any:
    return event
