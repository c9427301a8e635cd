"""Answers a Function URL request with its own body and content type (binary round trips)."""

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"Content-Type": event["headers"].get("content-type", "text/plain")},
        "body": event.get("body", ""),
        "isBase64Encoded": event["isBase64Encoded"],
    }
