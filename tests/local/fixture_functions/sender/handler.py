"""Sends its event to SQS with a module-level boto3 client, as the listener does."""

import json
import os
from typing import Any

import boto3

QUEUE_URL = os.environ["QUEUE_URL"]
SQS = boto3.client("sqs")  # region, endpoint and credentials all come from the environment


def handler(event: Any, context: Any) -> dict[str, str]:
    response = SQS.send_message(QueueUrl=QUEUE_URL, MessageBody=json.dumps(event))
    return {"message_id": response["MessageId"]}
