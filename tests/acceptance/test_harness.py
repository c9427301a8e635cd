"""The acceptance harness, proven without AWS or the Pulumi CLI: fakes for the stack, the
listener, the log group and the queues, a fake clock for every deadline (no real sleeps)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.credentials
import pytest
from harness import probes as harness_probes
from harness.errors import (
    AcceptanceFailure,
    CleanupFailed,
    DeadlineExceeded,
    Interrupted,
    SetupError,
)
from harness.interrupts import Interrupts
from harness.observe import CloudWatchLogs, SqsQueues, term
from harness.prerequisites import credentials_problem, missing_prerequisites, skip_reason
from harness.probes import Delivery, HttpPoster, Signer, deliver, load_signer, plan_probes
from harness.run import Report, Services
from harness.run import run as run_acceptance
from harness.stack import (
    PULUMI_STACK_NAME,
    ROOT,
    AcceptanceConfig,
    AutomationStack,
    ConfigEntry,
    ExtraRoute,
    acceptance_config,
    new_stack_name,
    stack_name,
)
from harness.waiting import Deadlines, wait_until
from moto import mock_aws

from infra.config import parse_config
from local.program import evaluate
from ops.errors import OpsError
from ops.webhook import Answer
from tests.infra.conftest import FakeAws

NOW = datetime(2026, 12, 1, 7, 30, 12, tzinfo=UTC)
STACK = "accept-20261201-073012-a1b2c3"
DEADLINES = Deadlines(accepted_seconds=60.0, processed_seconds=90.0, interval_seconds=5.0)
OUTPUTS = {
    "listener_url": "https://abc123.lambda-url.us-east-1.on.aws/",
    "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/accept",
    "queue_arn": "arn:aws:sqs:us-east-1:123456789012:accept",
    "dlq_url": "https://sqs.us-east-1.amazonaws.com/123456789012/accept-dlq",
    "dlq_arn": "arn:aws:sqs:us-east-1:123456789012:accept-dlq",
    "listener_function_name": f"{STACK}-listener",
    "processor_function_name": f"{STACK}-processor",
}
SIGNED = ExtraRoute({"name": "gh", "path": "/accept-github", "source": "github"}, "s3cret-key")


# --- fakes ---------------------------------------------------------------------------------


class FakeClock:
    """Time moves only when the harness sleeps."""

    def __init__(self) -> None:
        self.mono = 0.0
        self.wall = NOW.timestamp()
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.wall

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.mono += seconds
        self.wall += seconds


@dataclass
class FakeCloud:
    """The deployed pipeline: a listener answering a script of statuses, then 200; a processor
    whose log line for each accepted body shows `lag` seconds later; the queues' depths."""

    clock: FakeClock
    answers: list[int | Exception] = field(default_factory=list)
    lag: float = 12.0
    processes: bool = True
    dlq: int = 0
    on_messages: Callable[[], None] | None = None
    posts: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    accepted: list[tuple[float, bytes]] = field(default_factory=list)
    queries: list[tuple[str, str, int]] = field(default_factory=list)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        self.posts.append((url, body, dict(headers)))
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if answer != 200:
                return Answer(answer, b'{"error": "scripted"}', 0.01)
        self.accepted.append((self.clock.time(), body))
        message_id = f"m-{len(self.accepted)}"
        accepted = {"timestamp": "2026-12-01T07:30:12.000Z", "message_id": message_id}
        return Answer(200, json.dumps(accepted).encode(), 0.01)

    def _done(self) -> list[bytes]:
        if not self.processes:
            return []
        return [body for at, body in self.accepted if self.clock.time() >= at + self.lag]

    def messages(self, group: str, pattern: str, start_ms: int) -> list[str]:
        self.queries.append((group, pattern, start_ms))
        if self.on_messages is not None:
            self.on_messages()
        return [
            json.dumps({"level": "DEBUG", "message": "message content", "preview": body.decode()})
            for body in self._done()
            if pattern.strip('"') in body.decode()
        ]

    def depth(self, url: str) -> int:
        if url == OUTPUTS["dlq_url"]:
            return self.dlq
        return len(self.accepted) - len(self._done())


class FakeStack:
    """Records the life of the stack; `fail` makes a step raise, `during` runs a hook in it."""

    def __init__(
        self,
        *,
        fail: Mapping[str, Exception] | None = None,
        during: Mapping[str, Callable[[], None]] | None = None,
    ) -> None:
        self.name = STACK
        self.calls: list[str] = []
        self.fail = dict(fail or {})
        self.during = dict(during or {})
        self.config: Mapping[str, ConfigEntry] = {}

    def _step(self, name: str) -> None:
        self.calls.append(name)
        if name in self.during:
            self.during[name]()
        if name in self.fail:
            raise self.fail[name]

    def create(self) -> None:
        self._step("create")

    def configure(self, entries: Mapping[str, ConfigEntry]) -> None:
        self.config = entries
        self._step("configure")

    def up(self) -> dict[str, Any]:
        self._step("up")
        return dict(OUTPUTS)

    def destroy(self) -> None:
        self._step("destroy")

    def remove(self) -> None:
        self._step("remove")


def fake_signer(route: Mapping[str, Any], secret: str, body: bytes, now: float) -> dict[str, str]:
    return {"X-Signed": f"{route['source']}:{secret}:{len(body)}:{int(now)}"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cloud(clock: FakeClock) -> FakeCloud:
    return FakeCloud(clock)


@pytest.fixture(scope="module")
def config() -> AcceptanceConfig:
    return acceptance_config(STACK)


@dataclass
class Harness:
    """One run's wiring with fakes, and what it printed."""

    config: AcceptanceConfig
    cloud: FakeCloud
    clock: FakeClock
    printed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.interrupts = Interrupts(out=self.printed.append)

    def run(self, stack: FakeStack, *, signer: Signer | None = None) -> Report:
        services = Services(poster=self.cloud, logs=self.cloud, queues=self.cloud, clock=self.clock)
        return run_acceptance(
            stack,
            self.config,
            services,
            self.interrupts,
            signer=signer,
            deadlines=DEADLINES,
            out=self.printed.append,
        )


@pytest.fixture
def wired(config: AcceptanceConfig, cloud: FakeCloud, clock: FakeClock) -> Harness:
    return Harness(config, cloud, clock)


# --- stack naming --------------------------------------------------------------------------


def test_stack_name_is_valid_for_pulumi_and_as_the_name_prefix():
    # GIVEN a name made at a known time
    name = stack_name(NOW, "a1b2c3")
    # THEN it says when, is a valid Pulumi stack name and passes the program's namePrefix rules
    assert name == STACK
    assert PULUMI_STACK_NAME.fullmatch(name)
    parsed = parse_config({"namePrefix": name}, project="async-webhook", stack=name)
    assert parsed.stack.prefix == name
    # AND the longest physical name built from it stays within Lambda's 64 characters
    assert len(f"{name}-processor") <= 64


def test_stack_names_made_in_the_same_second_differ():
    names = {new_stack_name() for _ in range(200)}
    assert len(names) == 200
    assert all(re.fullmatch(r"accept-\d{8}-\d{6}-[0-9a-f]{6}", name) for name in names)


@pytest.mark.parametrize("token", ["", "abc", "A1B2C3", "a1 b2", "a1/b2", "0123456789abc"])
def test_stack_name_refuses_a_token_outside_the_rules(token: str):
    with pytest.raises(ValueError, match="token"):
        stack_name(NOW, token)


# --- the test config -----------------------------------------------------------------------


def test_config_is_the_dev_stack_and_passes_the_programs_rules(config: AcceptanceConfig):
    # GIVEN the dev stack's file as the CLI would hand it over
    from local.stackfile import load_stack_config

    dev = load_stack_config(ROOT, "dev").values
    entries = {key: entry.value for key, entry in config.entries.items()}
    # THEN every dev setting is kept, and the overrides hold
    overrides = {
        "async-webhook:namePrefix": STACK,
        "async-webhook:protectData": "false",
        "async-webhook:logLevel": "DEBUG",
    }
    assert entries == {**dev, **overrides}
    # AND the program's own reader accepted it, with the values the run relies on
    assert config.parsed.stack.prefix == STACK
    assert config.parsed.stack.protect_data is False
    assert config.parsed.runtime.log_level == "DEBUG"
    assert config.region == dev["aws:region"]


def test_config_overrides_what_would_keep_the_run_from_working(tmp_path: Path):
    # GIVEN a dev stack that protects its queues and logs at INFO (no body preview)
    dev = (ROOT / "Pulumi.dev.yaml").read_text()
    dev = dev.replace("protectData: false", "protectData: true")
    dev = dev.replace("logLevel: DEBUG", "logLevel: INFO")
    assert "protectData: true" in dev
    assert "logLevel: INFO" in dev
    (tmp_path / "Pulumi.dev.yaml").write_text(dev)
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    # THEN the acceptance stack can still be destroyed, and its processor shows the marker
    parsed = acceptance_config(STACK, project_dir=tmp_path).parsed
    assert parsed.stack.protect_data is False
    assert parsed.runtime.log_level == "DEBUG"


def test_config_can_deploy_elsewhere(config: AcceptanceConfig):
    moved = acceptance_config(STACK, region="eu-west-1")
    assert moved.region == "eu-west-1"
    assert moved.entries["aws:region"] == ConfigEntry("eu-west-1")


def test_a_signed_route_is_added_by_config_with_its_secret_secret():
    # GIVEN a signed route added to the dev stack's routes
    config = acceptance_config(STACK, extra_routes=[SIGNED])
    # THEN the program sees both dev routes and the new one, and its secret
    routes = config.parsed.listener.routes
    assert [route.name for route in routes] == ["demo", "strava", "gh"]
    assert config.parsed.listener.secrets == {"gh": ("s3cret-key",)}
    # AND the secret is set as a secret, and never shown
    entry = config.entries["async-webhook:routeSecrets"]
    assert entry.secret
    assert "s3cret-key" not in repr(entry)
    assert "s3cret-key" not in repr(SIGNED)
    assert "s3cret-key" not in repr(config.entries)


def test_a_broken_extra_route_is_refused_naming_key_and_rule():
    broken = ExtraRoute({"name": "gh", "source": "github"}, "s3cret-key")
    with pytest.raises(SetupError) as caught:
        acceptance_config(STACK, extra_routes=[broken])
    assert "routes[2].path" in str(caught.value)
    assert "s3cret-key" not in str(caught.value)


class Recorder(FakeAws):
    """Each declared resource's type and inputs (with what AWS would compute, ARNs included,
    which the program's components read from each other); nothing is created."""

    @property
    def inputs_by_type(self) -> list[tuple[str, dict[str, Any]]]:
        return [(resource.type, resource.inputs) for resource in self.declared]


@pytest.mark.parametrize("extra", [(), (SIGNED,)], ids=["dev-routes", "with-a-signed-route"])
def test_the_program_builds_the_stack_from_this_config_with_names_of_its_own(
    extra: tuple[ExtraRoute, ...],
):
    # GIVEN the program run under Pulumi's mocks with exactly what `set_all_config` will set
    config = acceptance_config(STACK, extra_routes=extra)
    recorder = Recorder()
    evaluate(
        ROOT,
        recorder,
        project=config.project,
        stack=STACK,
        config={key: entry.value for key, entry in config.entries.items()},
        secret_keys=[key for key, entry in config.entries.items() if entry.secret],
    )
    aws = [(typ, inputs) for typ, inputs in recorder.inputs_by_type if typ.startswith("aws:")]
    # THEN every physical name the program gives is this stack's, so nothing can collide
    names = [str(inputs["name"]) for _, inputs in aws if inputs.get("name")]
    assert names
    assert all(STACK in name.split("/")[-1] or f"/{STACK}/" in name for name in names), names
    # AND both functions' log groups are resources of the stack (destroy deletes them)
    groups = sorted(str(i["name"]) for t, i in aws if t == "aws:cloudwatch/logGroup:LogGroup")
    assert groups == [f"/aws/lambda/{STACK}-listener", f"/aws/lambda/{STACK}-processor"]
    assert not any(inputs.get("skipDestroy") for _, inputs in aws)
    # AND a signed route's secret is a parameter of the stack too
    parameters = [i["name"] for t, i in aws if t == "aws:ssm/parameter:Parameter"]
    assert parameters == [f"/{STACK}/routes/gh" for _ in extra]


# --- probes --------------------------------------------------------------------------------


def test_probes_cover_open_and_signed_routes_and_say_why_others_are_left_out():
    config = acceptance_config(STACK, extra_routes=[SIGNED])
    probes, left_out = plan_probes(config.parsed, "t0k3n", signer=fake_signer)
    assert [(p.route, p.path) for p in probes] == [
        ("demo", "/append_queue"),
        ("gh", "/accept-github"),
    ]
    assert [entry.split(" ")[0] for entry in left_out] == ["strava"]
    # Each marker is one alphanumeric term, unique per route, and in the body
    markers = [p.marker for p in probes]
    assert len(set(markers)) == 2
    assert all(
        re.fullmatch(r"[A-Za-z0-9]+", m) and m.encode() in p.body
        for m, p in zip(markers, probes, strict=True)
    )
    # An open route is a plain JSON POST; a signed one is signed by the signer, per attempt time
    assert probes[0].headers(fake_signer, 100.0) == {"content-type": "application/json"}
    signed = probes[1].headers(fake_signer, 100.0)
    assert signed["X-Signed"] == f"github:s3cret-key:{len(probes[1].body)}:100"
    assert probes[1].headers(fake_signer, 200.0)["X-Signed"].endswith(":200")
    assert "s3cret-key" not in repr(probes[1])


def test_a_signed_route_without_a_signer_is_left_out_with_the_reason():
    config = acceptance_config(STACK, extra_routes=[SIGNED])
    probes, left_out = plan_probes(config.parsed, "t0k3n", signer=None)
    assert [p.route for p in probes] == ["demo"]
    assert any(entry.startswith("gh (github") and "ops/signing.py" in entry for entry in left_out)


def test_a_signed_probe_passes_the_listeners_own_verification(config: AcceptanceConfig):
    # GIVEN the project's signer and the listener's verifier (both arrive with sender support)
    signer = load_signer()
    verifier_file = ROOT / "functions" / "listener" / "senders.py"
    if signer is None or not verifier_file.is_file():
        pytest.skip("ops/signing.py and functions/listener/senders.py are not in this tree yet")
    spec = importlib.util.spec_from_file_location("acceptance_senders", verifier_file)
    assert spec is not None and spec.loader is not None
    senders = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(senders)
    # WHEN the signed route's probe is signed as the acceptance test signs it
    signed = acceptance_config(STACK, extra_routes=[SIGNED])
    probe = next(
        p for p in plan_probes(signed.parsed, "t0k3n", signer=signer)[0] if p.route == "gh"
    )
    now = NOW.timestamp()
    headers = {name.lower(): value for name, value in probe.headers(signer, now).items()}
    # THEN the listener would accept it
    verdict = senders.verify(probe.spec, headers, probe.body, ["s3cret-key"], now)
    assert verdict.ok, verdict.reason


# --- waiting with a deadline ---------------------------------------------------------------


def test_wait_returns_the_first_result_as_soon_as_it_holds(clock: FakeClock):
    answers = iter([None, [], ["found"]])
    result = wait_until(lambda: next(answers), what="thing", timeout=60, interval=5, clock=clock)
    assert result == ["found"]
    assert clock.slept == [5, 5]


def test_wait_fails_at_the_deadline_naming_what_it_waited_for(clock: FakeClock):
    checks: list[float] = []

    def never() -> None:
        checks.append(clock.monotonic())

    with pytest.raises(DeadlineExceeded, match=r"the marker: not within 12 s"):
        wait_until(never, what="the marker", timeout=12, interval=5, clock=clock)
    # Checked at 0, 5, 10 and once more at the deadline itself; the last sleep is cut short.
    assert checks == [0, 5, 10, 12]
    assert clock.slept == [5, 5, 2]


# --- posting -------------------------------------------------------------------------------


def deliver_demo(
    config: AcceptanceConfig,
    poster: harness_probes.Poster,
    clock: FakeClock,
    listener_url: str = OUTPUTS["listener_url"],
) -> Delivery:
    """The open demo route's probe, delivered as the run delivers it."""
    probe = plan_probes(config.parsed, "t0k3n", signer=None)[0][0]
    return deliver(
        probe, listener_url, poster=poster, signer=None, clock=clock, deadlines=DEADLINES
    )


def test_post_retries_what_a_new_stack_answers_while_it_settles(
    config: AcceptanceConfig, cloud: FakeCloud, clock: FakeClock
):
    # GIVEN a Function URL that is not public yet, then unreachable, then SQS not allowed yet
    cloud.answers = [403, OpsError("cannot reach"), 503]
    # WHEN the probe is delivered
    delivery = deliver_demo(config, cloud, clock)
    # THEN it was retried until 200, at the route's URL
    assert (delivery.message_id, delivery.attempts) == ("m-1", 4)
    assert {url for url, _, _ in cloud.posts} == {OUTPUTS["listener_url"] + "append_queue"}
    assert clock.slept == [5, 5, 5]


@pytest.mark.parametrize("status", [400, 401, 404, 413, 415])
def test_post_fails_at_once_on_an_answer_that_retrying_cannot_fix(
    config: AcceptanceConfig, cloud: FakeCloud, clock: FakeClock, status: int
):
    cloud.answers = [status]
    with pytest.raises(AcceptanceFailure, match=rf"POST /append_queue \(demo\) answered {status}"):
        deliver_demo(config, cloud, clock)
    assert len(cloud.posts) == 1


def test_post_that_never_gets_a_200_fails_at_the_deadline_with_the_last_answer(
    config: AcceptanceConfig, cloud: FakeCloud, clock: FakeClock
):
    cloud.answers = [503] * 100
    with pytest.raises(DeadlineExceeded, match=r"not within 60 s \(after 13 attempts; last: 503"):
        deliver_demo(config, cloud, clock)


@pytest.mark.parametrize(
    "body",
    [b'{"timestamp": "2026-12-01T07:30:12Z"}', b'{"message_id": "m-1"}', b"OK"],
    ids=["no-message-id", "no-timestamp", "not-json"],
)
def test_a_200_without_what_the_listener_promises_fails(
    config: AcceptanceConfig, clock: FakeClock, body: bytes
):
    class Answers:
        def post(self, url: str, body_sent: bytes, headers: Mapping[str, str]) -> Answer:
            return Answer(200, body, 0.01)

    with pytest.raises(AcceptanceFailure, match="without a message_id and a timestamp"):
        deliver_demo(config, Answers(), clock)


def test_a_listener_url_that_is_not_http_fails_at_once(config: AcceptanceConfig, clock: FakeClock):
    with pytest.raises(AcceptanceFailure, match="not an http"):
        deliver_demo(config, HttpPoster(), clock, "ftp://example/")
    assert clock.slept == []


# --- the whole run -------------------------------------------------------------------------


def test_a_passing_run_probes_waits_and_then_destroys_and_removes(wired: Harness):
    # GIVEN a stack whose processor logs each body 12 s after it was accepted
    stack = FakeStack()
    # WHEN the run goes through
    report = wired.run(stack)
    # THEN the stack was configured with the test config, and cleaned up in order
    assert stack.calls == ["create", "configure", "up", "destroy", "remove"]
    assert stack.config == wired.config.entries
    # AND the open route was probed once, and its marker searched in the processor's group
    assert [d.probe.route for d in report.deliveries] == ["demo"]
    marker = report.deliveries[0].probe.marker
    group = f"/aws/lambda/{OUTPUTS['processor_function_name']}"
    assert (group, f'"{marker}"') in {(g, p) for g, p, _ in wired.cloud.queries}
    # AND the search starts a minute before the POST (clock skew), and took the 12 s lag
    assert {start for _, _, start in wired.cloud.queries} == {int(NOW.timestamp() * 1000) - 60_000}
    assert sum(wired.clock.slept) == 15
    assert set(report.seconds) == {"up", "probes", "destroy", "stack rm"}
    assert "strava" in " ".join(report.not_probed)
    assert marker in report.summary()


def test_a_signed_route_is_probed_signed(cloud: FakeCloud, clock: FakeClock):
    wired = Harness(acceptance_config(STACK, extra_routes=[SIGNED]), cloud, clock)
    report = wired.run(FakeStack(), signer=fake_signer)
    assert [d.probe.route for d in report.deliveries] == ["demo", "gh"]
    (url, _, headers) = cloud.posts[1]
    assert url.endswith("/accept-github")
    assert headers["X-Signed"].startswith("github:s3cret-key:")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda cloud: setattr(cloud, "processes", False),
            r"the marker accept\w+ \(demo\) in log group",
        ),
        (lambda cloud: setattr(cloud, "dlq", 2), r"dead-letter queue .* holds 2 message"),
        (lambda cloud: cloud.answers.append(415), r"answered 415"),
    ],
    ids=["never-processed", "dlq-not-empty", "listener-refuses"],
)
def test_a_failing_check_fails_the_run_and_still_cleans_up(
    wired: Harness, setup: Callable[[FakeCloud], None], message: str
):
    setup(wired.cloud)
    stack = FakeStack()
    with pytest.raises(AcceptanceFailure, match=message):
        wired.run(stack)
    assert stack.calls[-2:] == ["destroy", "remove"]


def test_missing_outputs_fail_the_run_naming_them(wired: Harness):
    class Partial(FakeStack):
        def up(self) -> dict[str, Any]:
            super().up()
            return {"listener_url": OUTPUTS["listener_url"]}

    stack = Partial()
    with pytest.raises(AcceptanceFailure, match=r"outputs missing: \['queue_url'"):
        wired.run(stack)
    assert stack.calls[-2:] == ["destroy", "remove"]


def test_a_failed_up_still_destroys_what_it_created_and_removes_the_stack(wired: Harness):
    stack = FakeStack(fail={"up": RuntimeError("error: 1 resource failed")})
    with pytest.raises(RuntimeError, match="1 resource failed"):
        wired.run(stack)
    assert stack.calls == ["create", "configure", "up", "destroy", "remove"]
    assert wired.cloud.posts == []


def test_a_failed_configure_still_removes_the_stack(wired: Harness):
    stack = FakeStack(fail={"configure": RuntimeError("config set-all failed")})
    with pytest.raises(RuntimeError):
        wired.run(stack)
    assert stack.calls == ["create", "configure", "destroy", "remove"]


def test_a_stack_that_could_not_be_created_is_not_touched(wired: Harness):
    # A failed `stack init` may mean the name exists: destroying it could hit someone else's.
    stack = FakeStack(fail={"create": SetupError("stack 'accept-…' already exists")})
    with pytest.raises(SetupError):
        wired.run(stack)
    assert stack.calls == ["create"]


# --- clean-up ------------------------------------------------------------------------------


def test_a_failed_destroy_keeps_the_stack_and_fails_a_passing_run_with_the_way_out(
    wired: Harness,
):
    stack = FakeStack(fail={"destroy": RuntimeError("DeleteFunction: AccessDenied")})
    with pytest.raises(CleanupFailed) as caught:
        wired.run(stack)
    # Never removed: a removed stack forgets resources that still exist.
    assert stack.calls[-1] == "destroy"
    message = str(caught.value)
    assert "AccessDenied" in message
    assert f"pulumi destroy --stack {STACK} --yes && pulumi stack rm {STACK} --yes" in message
    assert message in wired.printed


def test_a_clean_up_failure_is_added_to_the_runs_own_failure_not_put_in_its_place(
    wired: Harness,
):
    # GIVEN a run that fails (DLQ not empty), then a destroy that fails too
    wired.cloud.dlq = 1
    stack = FakeStack(fail={"destroy": RuntimeError("throttled")})
    # THEN the run's failure is what is raised, and carries the clean-up failure as a note
    with pytest.raises(AcceptanceFailure, match="dead-letter queue") as caught:
        wired.run(stack)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "`pulumi destroy` failed (RuntimeError: throttled)" in notes
    assert f"pulumi destroy --stack {STACK}" in notes


def test_a_failed_remove_after_destroy_is_reported(wired: Harness):
    stack = FakeStack(fail={"remove": RuntimeError("backend unreachable")})
    with pytest.raises(CleanupFailed, match=rf"resources destroyed, but `pulumi stack rm {STACK}`"):
        wired.run(stack)
    assert stack.calls[-2:] == ["destroy", "remove"]


# --- interruption --------------------------------------------------------------------------


def test_ctrl_c_during_the_wait_still_destroys_and_removes(wired: Harness):
    # GIVEN a KeyboardInterrupt while the harness polls the log group
    def interrupt() -> None:
        raise KeyboardInterrupt

    wired.cloud.on_messages = interrupt
    stack = FakeStack()
    # THEN it propagates, after clean-up ran in order
    with pytest.raises(KeyboardInterrupt):
        wired.run(stack)
    assert stack.calls == ["create", "configure", "up", "destroy", "remove"]


def test_sigterm_during_the_wait_interrupts_and_cleans_up_and_handlers_are_restored(
    wired: Harness,
):
    # GIVEN the harness's handlers installed, and a SIGTERM arriving during the wait
    wired.cloud.on_messages = lambda: signal.raise_signal(signal.SIGTERM)
    stack = FakeStack()
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted, match="SIGTERM"), wired.interrupts.installed():
        wired.run(stack)
    assert stack.calls[-2:] == ["destroy", "remove"]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_ctrl_c_during_up_lets_pulumi_finish_then_cleans_up_without_probing(wired: Harness):
    # GIVEN Ctrl-C while `pulumi up` runs (the CLI gets it too and stops by itself)
    stack = FakeStack(during={"up": lambda: signal.raise_signal(signal.SIGINT)})
    with pytest.raises(Interrupted, match="SIGINT"), wired.interrupts.installed():
        wired.run(stack)
    # THEN the harness did not raise into `up`, probed nothing, and cleaned up
    assert stack.calls == ["create", "configure", "up", "destroy", "remove"]
    assert wired.cloud.posts == []
    assert any("stopping after `pulumi up`" in line for line in wired.printed)


def test_a_cancelled_up_is_reported_as_the_interrupt_it_was(wired: Harness):
    # GIVEN Ctrl-C during `up`, which makes the CLI stop and `up` fail
    def cancelled() -> None:
        signal.raise_signal(signal.SIGINT)
        raise RuntimeError("update canceled")

    stack = FakeStack(during={"up": cancelled})
    with pytest.raises(Interrupted) as caught, wired.interrupts.installed():
        wired.run(stack)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert stack.calls[-2:] == ["destroy", "remove"]


def test_a_second_ctrl_c_during_clean_up_does_not_stop_it(wired: Harness):
    # GIVEN Ctrl-C during the wait, and another one while `pulumi destroy` runs
    wired.cloud.on_messages = lambda: signal.raise_signal(signal.SIGINT)
    stack = FakeStack(during={"destroy": lambda: signal.raise_signal(signal.SIGINT)})
    with pytest.raises(Interrupted), wired.interrupts.installed():
        wired.run(stack)
    # THEN clean-up went on to the end, and said how to finish by hand should Pulumi stop
    assert stack.calls[-2:] == ["destroy", "remove"]
    assert wired.interrupts.received == ["SIGINT", "SIGINT"]
    notice = next(line for line in wired.printed if "during clean-up" in line)
    assert "`pulumi destroy` goes on" in notice
    assert f"pulumi destroy --stack {STACK} --yes" in notice


def test_ctrl_c_that_stops_pulumi_destroy_leaves_the_stack_and_says_so(wired: Harness):
    # GIVEN the second Ctrl-C makes the CLI stop destroying
    def stopped() -> None:
        signal.raise_signal(signal.SIGINT)
        raise RuntimeError("destroy canceled")

    wired.cloud.on_messages = lambda: signal.raise_signal(signal.SIGINT)
    stack = FakeStack(during={"destroy": stopped})
    with pytest.raises(Interrupted) as caught, wired.interrupts.installed():
        wired.run(stack)
    # THEN the stack is not removed, and the interrupt carries the way out
    assert stack.calls[-1] == "destroy"
    assert f"pulumi stack rm {STACK} --yes" in "\n".join(caught.value.__notes__)


# --- skip reasons --------------------------------------------------------------------------

READY = {"ASYNC_WEBHOOK_ACCEPTANCE": "1"}


def on_path(name: str) -> str | None:
    return f"/usr/local/bin/{name}"


def nowhere(name: str) -> str | None:
    return None


def found(*, full_chain: bool) -> str | None:
    return None


def not_found(*, full_chain: bool) -> str | None:
    return "boto3's credential chain finds no AWS credentials"


def test_nothing_is_missing_when_all_three_are_there():
    assert missing_prerequisites(READY, which=on_path, credentials=found) == []


@pytest.mark.parametrize(
    ("environ", "which", "credentials", "named"),
    [
        ({}, on_path, found, "ASYNC_WEBHOOK_ACCEPTANCE=1 is not set (unset;"),
        ({"ASYNC_WEBHOOK_ACCEPTANCE": "yes"}, on_path, found, "is not set (it is 'yes';"),
        (READY, nowhere, found, "the Pulumi CLI is not on PATH"),
        (READY, on_path, not_found, "boto3's credential chain finds no AWS credentials"),
    ],
    ids=["switch-unset", "switch-not-1", "no-pulumi", "no-credentials"],
)
def test_each_missing_prerequisite_is_named(
    environ: dict[str, str],
    which: Callable[[str], str | None],
    credentials: Callable[..., str | None],
    named: str,
):
    missing = missing_prerequisites(environ, which=which, credentials=credentials)
    assert len(missing) == 1
    assert named in missing[0]
    assert skip_reason(missing).startswith("acceptance test on AWS not run: ")


def test_all_missing_prerequisites_are_named_at_once():
    missing = missing_prerequisites({}, which=nowhere, credentials=not_found)
    assert len(missing) == 3


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials anywhere boto3 looks on disk or in the environment."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name in ("config", "credentials"):
        (tmp_path / name).write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


@pytest.fixture
def metadata_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The metadata providers' loads, recorded instead of made (they are network calls)."""
    calls: list[str] = []
    for cls in (
        botocore.credentials.InstanceMetadataProvider,
        botocore.credentials.ContainerProvider,
    ):
        monkeypatch.setattr(cls, "load", lambda self: calls.append(self.METHOD))
    return calls


@pytest.mark.usefixtures("no_aws_config")
def test_credentials_are_looked_for_along_boto3s_chain(
    monkeypatch: pytest.MonkeyPatch, metadata_calls: list[str]
):
    # GIVEN no credentials anywhere, then keys in the environment
    assert credentials_problem(full_chain=False) == (
        "boto3's credential chain without instance metadata finds no AWS credentials"
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    assert credentials_problem(full_chain=False) is None
    assert metadata_calls == []


@pytest.mark.usefixtures("no_aws_config")
def test_metadata_endpoints_are_asked_only_when_the_switch_is_on(metadata_calls: list[str]):
    # GIVEN no credentials: the chain goes all the way down
    assert "without instance metadata" in missing_prerequisites({}, which=nowhere)[-1]
    assert metadata_calls == []
    assert missing_prerequisites(READY, which=nowhere)[-1] == (
        "boto3's credential chain finds no AWS credentials"
    )
    assert sorted(metadata_calls) == ["container-role", "iam-role"]


@pytest.mark.usefixtures("no_aws_config")
def test_a_profile_that_does_not_exist_is_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_PROFILE", "nope")
    missing = missing_prerequisites(READY, which=on_path)
    assert missing == [
        "boto3's credential chain fails: The config profile (nope) could not be found"
    ]


# --- the adapters to the real services -----------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def test_cloudwatch_reader_finds_only_the_marker_across_pages(aws: boto3.Session):
    # GIVEN a log group with the marker in two events among others, across two streams
    logs = aws.client("logs")
    group = f"/aws/lambda/{STACK}-processor"
    logs.create_log_group(logGroupName=group)
    start = int(NOW.timestamp() * 1000)
    for stream, lines in {
        "a": ["START", '{"preview": {"text": "{\\"acceptance\\": \\"acceptxr0\\"}"}}', "END"],
        "b": ["acceptyr0 someone else's", "acceptxr0 again"],
    }.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": start + i, "message": line} for i, line in enumerate(lines)],
        )
    # WHEN it is read one event per page
    reader = CloudWatchLogs(logs, page_limit=1)
    found_lines = reader.messages(group, term("acceptxr0"), start - 60_000)
    # THEN both matching events are found, and nothing else
    assert len(found_lines) == 2
    assert all("acceptxr0" in line for line in found_lines)
    # AND a group that does not exist (yet) reads as nothing found
    assert reader.messages("/aws/lambda/missing", term("x"), start) == []


def test_sqs_depth_counts_waiting_and_in_flight_messages(aws: boto3.Session):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"{STACK}-dlq")["QueueUrl"]
    queues = SqsQueues(sqs)
    assert queues.depth(url) == 0
    sqs.send_message(QueueUrl=url, MessageBody="a")
    sqs.send_message(QueueUrl=url, MessageBody="b")
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    assert queues.depth(url) == 2


@pytest.fixture
def fake_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """`pulumi` on PATH is tests/acceptance/fake_pulumi.py; returns its call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = Path(__file__).with_name("fake_pulumi.py")
    (bin_dir / "pulumi").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    (bin_dir / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    return log


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_the_automation_adapter_drives_the_cli_in_order(fake_cli: Path):
    # GIVEN the adapter over Pulumi's Automation API, with a stand-in CLI
    printed: list[str] = []
    stack = AutomationStack(STACK, out=printed.append)
    entries = {
        "aws:region": ConfigEntry("us-east-1"),
        "async-webhook:routeSecrets": ConfigEntry('{"gh": "s3cret-key"}', secret=True),
    }
    # WHEN a stack's whole life goes through it
    stack.create()
    stack.configure(entries)
    outputs = stack.up()
    stack.destroy()
    stack.remove()
    # THEN the CLI saw init, config, up, destroy, then rm, each for this stack, rm without --force
    seen = calls(fake_cli)
    lifecycle = [
        c
        for c in seen
        if c["command"] in {"stack init", "config set-all", "up", "destroy", "stack rm"}
    ]
    assert [c["command"] for c in lifecycle] == [
        "stack init",
        "config set-all",
        "up",
        "destroy",
        "stack rm",
    ]
    assert all(STACK in c["args"] for c in lifecycle)
    assert "--force" not in lifecycle[-1]["args"]
    # AND plain values were set as plaintext, the route secret as a secret
    config_args = lifecycle[1]["args"]
    assert config_args[config_args.index("aws:region=us-east-1") - 1] == "--plaintext"
    assert (
        config_args[config_args.index('async-webhook:routeSecrets={"gh": "s3cret-key"}') - 1]
        == "--secret"
    )
    # AND up's outputs come back as plain values, and the CLI's output was streamed
    assert outputs["listener_url"] == "https://abc.lambda-url.us-east-1.on.aws/"
    assert "pulumi |     + 25 created" in printed


def test_a_backend_that_needs_a_passphrase_is_named(
    fake_cli: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "stack init")
    monkeypatch.setenv(
        "FAKE_PULUMI_ERROR",
        "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or "
        "PULUMI_CONFIG_PASSPHRASE_FILE environment variables",
    )
    with pytest.raises(SetupError, match="export PULUMI_CONFIG_PASSPHRASE"):
        AutomationStack(STACK, out=print).create()
