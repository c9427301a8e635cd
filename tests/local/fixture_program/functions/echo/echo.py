"""Echoes its event; /boom raises, /slow outlives the 1 s timeout, /nap takes 20 ms, /env shows
the environment, /send tries to send to the queue (its role may not)."""

import os
import time

# At init, as a Lambda function should: the init phase has 10 s, the invocation only 1 s.
import boto3
from botocore.exceptions import ClientError


def handler(event, context):
    path = event.get("rawPath")
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/slow":
        time.sleep(3)
    if path == "/nap":
        time.sleep(0.02)
    if path == "/send":
        try:
            boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody="x")
        except ClientError as exc:
            return {"denied": "AccessDenied" in str(exc)}
        return {"denied": False}
    if path == "/env":
        return {
            "greeting": os.environ.get("GREETING"),
            "token": os.environ.get("TOKEN"),
            "has_role_keys": os.environ.get("AWS_SESSION_TOKEN") is not None,
        }
    return event
