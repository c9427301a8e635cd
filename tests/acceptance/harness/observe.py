"""What the deployed stack shows: its processor's log group and its queues."""

from __future__ import annotations

from typing import Any, Protocol

from ops.dlq import queue_counts


class LogReader(Protocol):
    def messages(self, group: str, pattern: str, start_ms: int) -> list[str]:
        """Every event message in `group` since `start_ms` matching the filter `pattern`."""
        ...


class CloudWatchLogs:
    """`FilterLogEvents`, every page: a page may be partial or empty while a `nextToken`
    still says more is coming (botocore's logs model, FilterLogEvents)."""

    MAX_PAGES = 50

    def __init__(self, client: Any, page_limit: int | None = None) -> None:
        self.client = client
        self.page_limit = page_limit

    def messages(self, group: str, pattern: str, start_ms: int) -> list[str]:
        params: dict[str, Any] = {
            "logGroupName": group,
            "filterPattern": pattern,
            "startTime": start_ms,
        }
        if self.page_limit:
            params["limit"] = self.page_limit
        found: list[str] = []
        for _ in range(self.MAX_PAGES):
            try:
                page = self.client.filter_log_events(**params)
            except self.client.exceptions.ResourceNotFoundException:
                return found  # not created yet: the deadline decides how long that may last
            found.extend(str(event.get("message", "")) for event in page.get("events", []))
            token = page.get("nextToken")
            if not token:
                break
            params["nextToken"] = token
        return found


class QueueReader(Protocol):
    def depth(self, url: str) -> int:
        """Messages in the queue: visible, in flight and delayed (SQS's approximate counts)."""
        ...


class SqsQueues:
    def __init__(self, client: Any) -> None:
        self.client = client

    def depth(self, url: str) -> int:
        return sum(queue_counts(self.client, url).values())


def term(text: str) -> str:
    """A filter pattern matching `text` as one exact term (quoted, as CloudWatch Logs wants
    terms that are not plain words)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
