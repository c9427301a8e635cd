"""The wire to a worker, in-process: frames over a socketpair, the output pump over a pipe."""

from __future__ import annotations

import marshal
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from local import _worker
from local.worker_process import (
    MAX_PARTIAL_LINE,
    SYNC_MARKER,
    OutputPump,
    WorkerGoneError,
    encode_frame,
    read_frame,
)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    parent, child = socket.socketpair()
    yield parent, child
    parent.close()
    child.close()


def _soon(seconds: float = 2.0) -> float:
    return time.monotonic() + seconds


def test_a_frame_round_trips_between_the_parent_and_the_worker_ends(pair) -> None:
    # GIVEN the parent's encoder and the worker's own reader and writer on one socketpair
    parent, child = pair
    message = {"op": "invoke", "id": "r-1", "event": {"text": "héllo", "n": [1, 2.5, None]}}
    # WHEN the parent sends a frame THEN the worker's reader gets the same dict
    parent.sendall(encode_frame(message))
    assert _worker._recv(child.fileno()) == message
    # AND WHEN the worker answers THEN the parent's reader gets it
    reply = {"op": "result", "value": {"ok": True}, "max_rss_kb": 1234}
    _worker._send(child.fileno(), marshal.dumps(reply))
    assert read_frame(parent, _soon()) == reply


def test_a_frame_arriving_in_pieces_is_reassembled(pair) -> None:
    parent, child = pair
    data = encode_frame({"op": "result", "value": "x" * 100_000})

    def dribble() -> None:
        for start in range(0, len(data), 7_000):
            child.sendall(data[start : start + 7_000])

    writer = threading.Thread(target=dribble)
    writer.start()
    assert read_frame(parent, _soon())["value"] == "x" * 100_000
    writer.join()


def test_a_frame_that_stops_halfway_times_out_at_the_deadline(pair) -> None:
    parent, child = pair
    child.sendall(encode_frame({"op": "result", "value": 1})[:6])
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        read_frame(parent, started + 0.2)
    assert 0.2 <= time.monotonic() - started < 1.5


def test_a_frame_that_trickles_in_times_out_at_the_deadline_too(pair) -> None:
    # GIVEN a worker that sends a large frame a byte every 10 ms (never quite silent)
    parent, child = pair
    data = encode_frame({"op": "result", "value": "x" * 1000})
    stop = threading.Event()

    def trickle() -> None:
        for byte in data:
            if stop.wait(0.01):
                return
            child.sendall(bytes([byte]))

    sender = threading.Thread(target=trickle)
    sender.start()
    started = time.monotonic()
    try:
        # WHEN the parent reads it with a 0.2 s deadline THEN it gives up at the deadline
        with pytest.raises(TimeoutError):
            read_frame(parent, started + 0.2)
        assert time.monotonic() - started < 1.5
    finally:
        stop.set()
        sender.join()


def test_end_of_stream_and_garbage_mean_the_worker_is_gone(pair) -> None:
    parent, child = pair
    child.sendall((5).to_bytes(4, "big") + b"\xff\xff\xff\xff\xff")
    with pytest.raises(WorkerGoneError, match="unreadable"):
        read_frame(parent, _soon())
    child.sendall(encode_frame({"op": "result"})[:3])
    child.close()
    with pytest.raises(WorkerGoneError):
        read_frame(parent, _soon())


def test_a_frame_that_is_not_a_dict_is_refused(pair) -> None:
    parent, child = pair
    body = marshal.dumps([1, 2])
    child.sendall(len(body).to_bytes(4, "big") + body)
    with pytest.raises(WorkerGoneError, match="list"):
        read_frame(parent, _soon())


class Pump:
    """An OutputPump on a pipe, run in a thread, collecting what it emits."""

    def __init__(self) -> None:
        read_fd, self.write_fd = os.pipe()
        self.emitted: list[str] = []
        self.pump = OutputPump(read_fd, self.emitted.append)
        self.thread = threading.Thread(target=self.pump.run)
        self.thread.start()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.write_fd, view) :]

    def finish(self) -> str:
        os.close(self.write_fd)
        self.thread.join(5)
        assert not self.thread.is_alive()
        return "".join(self.emitted)


def test_the_pump_forwards_lines_and_counts_markers_split_across_writes() -> None:
    # GIVEN a pump expecting two replies
    pump = Pump()
    pump.pump.expect_sync()
    pump.pump.expect_sync()
    # WHEN output arrives with each marker cut in two
    half = len(SYNC_MARKER) // 2
    pump.write(b"first line\npartial")
    pump.write(b" end\n" + SYNC_MARKER[:half])
    pump.write(SYNC_MARKER[half:] + b"second\n" + SYNC_MARKER[:3])
    pump.write(SYNC_MARKER[3:])
    # THEN both markers are seen and none of their bytes reach the log
    assert pump.pump.wait_for_sync(timeout=5)
    assert pump.pump.syncs_seen == 2
    assert pump.finish() == "first line\npartial end\nsecond\n"


def test_wait_for_sync_gives_up_after_its_timeout_and_ends_with_the_stream() -> None:
    pump = Pump()
    pump.pump.expect_sync()
    assert not pump.pump.wait_for_sync(timeout=0.05)  # no marker written
    pump.write(b"tail without newline")
    assert pump.finish() == "tail without newline"
    assert pump.pump.wait_for_sync(timeout=0)  # the stream ended: nobody waits any more


def test_a_long_line_without_newline_is_forwarded_without_breaking_a_marker() -> None:
    # GIVEN output longer than the partial-line limit that ends with half a marker
    pump = Pump()
    pump.pump.expect_sync()
    long_text = b"y" * (MAX_PARTIAL_LINE + 10)
    pump.write(long_text + SYNC_MARKER[:5])
    deadline = time.monotonic() + 5
    while len("".join(pump.emitted)) < len(long_text):  # the long line went out first
        assert time.monotonic() < deadline, "the long line was not forwarded"
        time.sleep(0.005)
    pump.write(SYNC_MARKER[5:] + b"after\n")
    # THEN the text is forwarded, the marker still counts, and nothing of it is printed
    assert pump.pump.wait_for_sync(timeout=5)
    assert pump.finish() == long_text.decode() + "after\n"
