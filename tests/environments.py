"""The functions' environments as the program writes them, for tests that load a handler.

Built by the program's own code (`infra/listener.py::listener_config`) from the components'
own defaults (`ListenerArgs`, `QueueArgs`), so a test's listener is configured exactly as a
deployed one; a test names only what it changes. Import as `from environments import ...` with
tests/ on sys.path.
"""

import json
from collections.abc import Mapping
from typing import Any

from infra.listener import CONFIG_VARIABLE, ListenerArgs, listener_environment
from infra.routes import parse_routes

__all__ = ["CONFIG_VARIABLE", "listener_env"]


def listener_env(
    queue_url: str,
    *,
    routes: list[dict[str, Any]] | None = None,
    secret_parameters: Mapping[str, str] | None = None,
    accepted_content_types: tuple[str, ...] | None = None,
    fifo: bool = False,
    max_message_bytes: int | None = None,
    message_group_field: str | None = None,
    **knobs: str,
) -> dict[str, str]:
    """The listener's environment; `knobs` are the handler's SQS_* tuning variables."""
    given: dict[str, Any] = {"message_group_field": message_group_field}
    if routes is not None:
        given["routes"] = parse_routes(json.dumps(routes))
    if accepted_content_types is not None:
        given["accepted_content_types"] = accepted_content_types
    environment = listener_environment(
        ListenerArgs(**given),
        queue_url=queue_url,
        fifo=fifo,
        max_message_bytes=max_message_bytes,
        secret_parameters=secret_parameters,
    )
    return {**environment, **knobs}
