"""Request bodies and Function URL events (payload format 2.0) for the benchmarks.

The events, the context and the listener's message attributes come from local/shapes.py, the
shapes the local cloud and the tests use too, so the benchmark measures what AWS would deliver.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bench.common import ROOT
from local.shapes import (
    LambdaContext,
    deployed_function_url_event,
    listener_attributes_of,
    string_attributes,
)

__all__ = ["LambdaContext", "function_url_post", "listener_message_attributes", "sample_body"]

EVENTS_DIR = ROOT / "events"
SAMPLE_EVENT = "strava-activity-create.json"
RECEIVED_AT = "2026-01-01T00:00:00.000Z"
"""The receive time the benchmarks' hand-made messages claim (any valid ISO-8601 instant)."""


def sample_body() -> str:
    """A Strava "activity create" event as the compact JSON Strava would POST."""
    document = json.loads((EVENTS_DIR / SAMPLE_EVENT).read_text(encoding="utf-8"))
    return json.dumps(document, separators=(",", ":"))


def numbered_body(index: int, *, poison: bool = False, retry: str | None = None) -> str:
    """A small JSON body that is unique per request (so duplicates are visible in the logs)."""
    document: dict[str, Any] = {
        "object_type": "activity",
        "aspect_type": "create",
        "object_id": 10_000_000 + index,
        "owner_id": 134815,
        "subscription_id": 120475,
        "event_time": int(time.time()),
        "updates": {},
        "bench_seq": index,
    }
    if poison:
        document["poison"] = True
        if retry is not None:
            document["retry"] = retry
    return json.dumps(document, separators=(",", ":"))


def function_url_post(body: str, *, path: str = "/append_queue") -> dict[str, Any]:
    """A POST with a JSON body, as a deployed Lambda Function URL hands it to the function."""
    return deployed_function_url_event(body=body, path=path)


def listener_message_attributes(event: dict[str, Any] | None = None) -> dict[str, dict[str, str]]:
    """The MessageAttributes the listener sends for `event` (a sample POST when None)."""
    event = event if event is not None else function_url_post("{}")
    return string_attributes(listener_attributes_of(event, received_at=RECEIVED_AT))
