"""SQS batch processor for the poller tests: records every batch it sees, fails on request.

Each message body is JSON: ``{"id": ..., "fail": bool, "raise_first": bool, "sleep": s}``.
"""

import json
import os
import time
from typing import Any

RECORD_LOG = os.environ["RECORD_LOG"]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.time()
    records = event["Records"]
    bodies = [json.loads(record["body"]) for record in records]
    time.sleep(max(body.get("sleep", 0) for body in bodies))
    entry = {
        "ids": [body["id"] for body in bodies],
        "message_ids": [record["messageId"] for record in records],
        "groups": [record["attributes"].get("MessageGroupId") for record in records],
        "receive_counts": [record["attributes"]["ApproximateReceiveCount"] for record in records],
        "first_record": records[0],
        "start": started,
        "end": time.time(),
    }
    with open(RECORD_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
    if any(
        body.get("raise_first") and record["attributes"]["ApproximateReceiveCount"] == "1"
        for body, record in zip(bodies, records, strict=True)
    ):
        raise RuntimeError("first attempt fails")
    failed = [
        record["messageId"]
        for body, record in zip(bodies, records, strict=True)
        if body.get("fail")
    ]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
