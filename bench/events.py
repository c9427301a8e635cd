"""Request bodies and Function URL events (payload format 2.0) for the benchmarks.

A small builder of its own, shaped like what AWS delivers (and like tests/factories.py), so the
benchmark does not depend on the test suite's layout.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.common import ACCOUNT_ID, REGION, ROOT

EVENTS_DIR = ROOT / "events"
SAMPLE_EVENT = "strava-activity-create.json"
API_ID = "p4k2x7qv3hzm5w8n6r1t9y0bcdefgh2j"


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
    """A POST with a JSON body, as a Lambda Function URL hands it to the function."""
    epoch_ms = int(time.time() * 1000)
    domain = f"{API_ID}.lambda-url.{REGION}.on.aws"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": domain,
            "accept": "*/*",
            "content-type": "application/json",
            "content-length": str(len(body.encode("utf-8"))),
            "user-agent": "Strava Webhooks/1.0",
            "x-amzn-trace-id": f"Root=1-{epoch_ms // 1000:08x}-{uuid.uuid4().hex[:24]}",
            "x-forwarded-for": "203.0.113.17",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": API_ID,
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.17",
                "userAgent": "Strava Webhooks/1.0",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime(
                "%d/%b/%Y:%H:%M:%S +0000"
            ),
            "timeEpoch": epoch_ms,
        },
        "body": body,
        "isBase64Encoded": False,
    }


class LambdaContext:
    """The parts of the Lambda context a handler may read."""

    def __init__(self, function_name: str = "bench-listener") -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = "256"
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 5000
