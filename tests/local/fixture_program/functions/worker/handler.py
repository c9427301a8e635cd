"""Logs each body; "fail..." bodies are reported failed, "sleep..." take 3 s, "hold..." 1 s."""

import time


def handler(event, context):
    failures = []
    for record in event["Records"]:
        body = record["body"]
        count = record["attributes"]["ApproximateReceiveCount"]
        print(f"worker got {body} receive={count}", flush=True)
        if body.startswith("sleep"):
            time.sleep(3)
        if body.startswith("hold"):
            time.sleep(1)
        if body.startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
        else:
            print(f"worker done {body}", flush=True)
    return {"batchItemFailures": failures}
