"""The rejected-requests metric filter (infra/monitoring.py) over the listener's real log lines:
it counts each refused request once and nothing else, so the alarm's count is the truth."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from environments import listener_env
from factories import LambdaContext, handshake_event, load_event, post_event

from infra.monitoring import rejected_pattern
from tests.filter_pattern import matches

LoadFunction = Callable[..., Any]  # conftest.load_function
PARAMETER = "/async-webhook-dev/routes/gh"
ROUTES = [
    {"name": "demo", "path": "/append_queue", "source": "none"},
    {"name": "gh", "path": "/github", "source": "github"},
    {"name": "strava", "path": "/strava", "source": "strava", "ownerIds": [1]},
]


def test_the_filter_counts_exactly_the_401_and_403_lines_the_listener_writes(
    load_function: LoadFunction, queue_url: str, ssm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a listener with an open route, a signed route and a Strava allow-list
    ssm.put_parameter(Name=PARAMETER, Value="gh-secret", Type="SecureString")
    env = listener_env(queue_url, routes=ROUTES, secret_parameters={"gh": PARAMETER})
    listener = load_function("listener", env).handler
    stranger = {**load_event("strava-activity-create"), "owner_id": 2}
    requests = [
        post_event({"ok": 1}),  # 200
        post_event({"ok": 1}, path="/nowhere"),  # 404
        post_event({"ok": 1}, path="/github"),  # 401: no signature
        post_event({"ok": 1}, path="/github", headers={"x-hub-signature-256": "sha256=00"}),
        post_event(stranger, path="/strava"),  # 403: outside the allow-list
        handshake_event(path="/strava", verify_token="wrong"),  # 403: no verify token configured
        post_event("{", path="/append_queue"),  # 400
    ]
    # WHEN each is handled
    statuses = [
        listener.handler(event, LambdaContext(function_name="listener"))["statusCode"]
        for event in requests
    ]
    lines = capsys.readouterr().out.splitlines()
    # THEN the requests got the answers the filter must tell apart
    assert statuses == [200, 404, 401, 401, 403, 403, 400]
    # AND the filter counts exactly the lines of refused requests
    counted = [json.loads(line)["status"] for line in lines if matches(rejected_pattern(), line)]
    assert counted == [401, 401, 403, 403]
    assert len(lines) == len(requests), "one log line per request"
