"""Helpers for tests that run whole programs in the local cloud."""

from __future__ import annotations

import functools
import http.client
import io
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from local.state import log_file_name

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_PROGRAM = Path(__file__).resolve().parent / "fixture_program"
UNSUPPORTED_PROGRAM = Path(__file__).resolve().parent / "unsupported_program"
ARCHIVE_PROGRAM = Path(__file__).resolve().parent / "archive_program"


def request(
    url: str,
    method: str = "GET",
    path: str = "",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to a local Function URL (127.0.0.1 only)."""
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1", url
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, "/" + path.lstrip("/"), body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def post_json(url: str, path: str, payload: Any) -> tuple[int, dict[str, Any]]:
    status, _, body = request(
        url, "POST", path, json.dumps(payload).encode(), {"content-type": "application/json"}
    )
    return status, json.loads(body)


def burst(
    url: str, path: str, *, total: int, clients: int, timeout: float = 30.0
) -> list[tuple[int, dict[str, str], bytes]]:
    """``total`` JSON POSTs from ``clients`` keep-alive clients that all start at once."""
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1", url
    answers: list[tuple[int, dict[str, str], bytes]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            start.wait(timeout)
            for n in range(index, total, clients):
                body = json.dumps({"client": index, "n": n}).encode()
                conn.request(
                    "POST", "/" + path, body=body, headers={"content-type": "application/json"}
                )
                response = conn.getresponse()
                answer = (response.status, dict(response.getheaders()), response.read())
                with lock:
                    answers.append(answer)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            with lock:
                errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    assert not errors, errors[:3]
    assert len(answers) == total, f"{len(answers)} of {total} requests were answered"
    return answers


def processed_ids(log_dir: Path, function_name: str) -> set[str]:
    """Message ids the processor logged as processed (each at least once): its JSON lines."""
    ids: set[str] = set()
    for line in log_text(log_dir, function_name).splitlines():
        text = line.partition(" ")[2]  # after the time stamp
        if '"message processed"' not in text:
            continue
        try:
            record = json.loads(text)
        except ValueError:
            continue  # a line cut short while being written
        if record.get("message") == "message processed":
            ids.add(str(record.get("message_id")))
    return ids


def worker_receive_counts(log: str, body: str) -> list[int]:
    """The receive counts the fixture worker logged for ``body`` ("worker got BODY receive=N"),
    in log order: delivery is at least once, so a body may come back, with a higher count."""
    return [int(n) for n in re.findall(rf"worker got {re.escape(body)} receive=(\d+)$", log, re.M)]


def redelivered_only(counts: list[int]) -> bool:
    """First received once, then again only on redeliveries (each with a higher count)."""
    return bool(counts) and counts[0] == 1 and counts == sorted(set(counts))


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def logged_json(cloud: Any, function: str, message_id: str, message: str, timeout: float) -> Any:
    """The first JSON log line of `function` about `message_id` whose message is `message`,
    waited for up to `timeout` seconds."""
    name = cloud.outputs[function]

    def find() -> Any:
        for line in log_text(cloud.log_dir, name).splitlines():
            if message_id in line and f'"message": "{message}"' in line:
                try:
                    return json.loads(line.split(" ", 1)[1])
                except ValueError:
                    continue  # a line cut short while being written: read again next time
        return None

    return wait_for(find, timeout, f"{name}'s {message!r} line for {message_id}")


def log_text(log_dir: Path, function_name: str) -> str:
    path = log_dir / log_file_name(function_name)
    return path.read_text() if path.exists() else ""


@functools.cache
def shared_session() -> boto3.session.Session:
    """One session for the tests' clients: a new one parses each service's model again."""
    return boto3.session.Session()


def aws_client(service: str, cloud: Any, region: str = "us-east-1") -> Any:
    """A client of a running LocalCloud's embedded AWS, signed as its deployer."""
    return shared_session().client(
        service, endpoint_url=cloud.endpoint_url, region_name=region, **cloud.credentials
    )


def quiet() -> io.StringIO:
    """A terminal nobody reads, so test output stays clean."""
    return io.StringIO()


def project_with_stack(tmp_path: Path, stack: str, config: str) -> Path:
    """The real program with one extra stack file, in a folder of its own."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("__main__.py", "Pulumi.yaml"):
        (project / name).write_text((ROOT / name).read_text())
    (project / "infra").symlink_to(ROOT / "infra")
    (project / "functions").symlink_to(ROOT / "functions")
    (project / f"Pulumi.{stack}.yaml").write_text(config)
    return project


def parent_pid(pid: int) -> int | None:
    """A process's parent, from /proc/<pid>/stat; None once it has exited."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    return int(stat.rsplit(")", 1)[1].split()[1])


def process_command(pid: int) -> str:
    """A process's command line, from /proc/<pid>/cmdline; "" once it has exited."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""
