"""`send` and `strava handshake` against a fake listener on 127.0.0.1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from ops_helpers import TOKEN, FakeListener

from local.state import StackState
from ops.cli import main

EVENTS = Path(__file__).resolve().parents[2] / "events"
CREATE = EVENTS / "strava-activity-create.json"
DELETE = EVENTS / "strava-activity-delete.json"


def test_send_posts_each_file_count_times_as_json(listener: FakeListener, capsys):
    # GIVEN two event files  WHEN sent twice each
    code = main(
        [
            "send",
            str(CREATE),
            str(DELETE),
            "--count",
            "2",
            "--url",
            listener.url,
            "--path",
            "/append_queue",
        ]
    )

    # THEN four POSTs, with the exact bytes of the files, as JSON, to /append_queue
    assert code == 0
    assert [r["body"] for r in listener.requests] == [
        CREATE.read_bytes(),
        DELETE.read_bytes(),
        CREATE.read_bytes(),
        DELETE.read_bytes(),
    ]
    assert {r["path"] for r in listener.requests} == {"/append_queue"}
    assert {r["headers"]["content-type"] for r in listener.requests} == {"application/json"}
    out = capsys.readouterr().out
    for number in range(4):
        assert f"message_id=m{number}" in out
    assert " ms " in out
    assert "4/4 answered 200" in out


def test_send_exits_1_when_any_answer_is_not_200(listener: FakeListener, capsys):
    code = main(["send", str(CREATE), "--url", listener.url, "--path", "/elsewhere"])

    assert code == 1
    out = capsys.readouterr().out
    assert out.startswith("404 ")
    assert "error=not found" in out
    assert "0/1 answered 200" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b'{"aspect_type": ', "is not valid JSON")],
)
def test_bad_event_files_send_nothing(
    listener: FakeListener, tmp_path: Path, capsys, content: bytes | None, message: str
):
    bad = tmp_path / "event.json"
    if content is not None:
        bad.write_bytes(content)

    # The good file comes first: nothing at all may be sent when a later one is bad.
    code = main(["send", str(CREATE), str(bad), "--url", listener.url, "--path", "/append_queue"])

    assert code == 2
    assert listener.requests == []
    assert message in capsys.readouterr().err


def test_unreachable_url_is_a_clear_error(capsys):
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        code = main(["send", str(CREATE), "--url", f"http://127.0.0.1:{port}/"])

    assert code == 1
    assert f"cannot reach http://127.0.0.1:{port}/append_queue" in capsys.readouterr().err


def test_send_reads_listener_url_from_the_local_cloud(
    listener: FakeListener, tmp_path: Path, capsys
):
    state = StackState.of(tmp_path, "dev")  # where `python -m local up` writes by default
    state.dir.mkdir(parents=True)
    state.write_served({"listener_url": listener.url}, {})

    code = main(["send", str(CREATE), "--local", "-C", str(tmp_path)])

    assert code == 0
    assert len(listener.requests) == 1


def test_handshake_passes_when_the_challenge_is_echoed(listener: FakeListener, capsys):
    code = main(
        ["strava", "handshake", "--token", TOKEN, "--url", listener.url, "--path", "/append_queue"]
    )

    assert code == 0
    assert "handshake ok" in capsys.readouterr().out
    (sent,) = listener.requests
    assert sent["query"]["hub.mode"] == "subscribe"
    assert sent["query"]["hub.verify_token"] == TOKEN
    assert len(sent["query"]["hub.challenge"]) >= 16


def test_handshake_challenge_is_random(listener: FakeListener):
    for _ in range(2):
        main(
            [
                "strava",
                "handshake",
                "--token",
                TOKEN,
                "--url",
                listener.url,
                "--path",
                "/append_queue",
            ]
        )
    first, second = (r["query"]["hub.challenge"] for r in listener.requests)
    assert first != second


def test_handshake_fails_on_a_wrong_token(listener: FakeListener, capsys):
    code = main(
        [
            "strava",
            "handshake",
            "--token",
            "wrong",
            "--url",
            listener.url,
            "--path",
            "/append_queue",
        ]
    )

    assert code == 1
    out = capsys.readouterr().out
    assert "handshake FAILED" in out
    assert "403" in out
    assert "verify token mismatch" in out


def test_handshake_fails_when_the_challenge_is_not_echoed(listener: FakeListener, capsys):
    listener.echo = "something else"

    code = main(
        ["strava", "handshake", "--token", TOKEN, "--url", listener.url, "--path", "/append_queue"]
    )

    assert code == 1
    assert "echoed 'something else'" in capsys.readouterr().out


def test_handshake_takes_the_token_from_the_environment(
    listener: FakeListener, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("STRAVA_VERIFY_TOKEN", TOKEN)

    assert main(["strava", "handshake", "--url", listener.url, "--path", "/append_queue"]) == 0


def test_handshake_without_a_token_says_how_to_give_one(
    listener: FakeListener, monkeypatch: pytest.MonkeyPatch, capsys
):
    monkeypatch.delenv("STRAVA_VERIFY_TOKEN", raising=False)
    monkeypatch.delenv("LOCAL_SECRET_VERIFY_TOKEN", raising=False)

    assert main(["strava", "handshake", "--url", listener.url, "--path", "/append_queue"]) == 2
    assert "--token" in capsys.readouterr().err
    assert listener.requests == []
