"""The run: create, configure, deploy, verify; destroy and remove in any case."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from harness.errors import AcceptanceFailure, CleanupFailed
from harness.interrupts import Interrupts
from harness.observe import LogReader, QueueReader, term
from harness.probes import Delivery, Poster, Signer, deliver, plan_probes
from harness.stack import AcceptanceConfig, StackHandle
from harness.waiting import Clock, Deadlines, wait_until

OUTPUTS = (
    "listener_url",
    "queue_url",
    "queue_arn",
    "dlq_url",
    "dlq_arn",
    "listener_function_name",
    "processor_function_name",
)
"""The stack outputs the program promises (docs/design.md, "Stack outputs")."""
DEFAULT_DEADLINES = Deadlines()


@dataclass(frozen=True, kw_only=True)
class Services:
    poster: Poster
    logs: LogReader
    queues: QueueReader
    clock: Clock


@dataclass
class Report:
    stack: str
    outputs: dict[str, Any] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    not_probed: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"acceptance stack {self.stack}:"]
        for delivery in self.deliveries:
            probe = delivery.probe
            lines.append(
                f"  {probe.route} {probe.path}: 200 message_id={delivery.message_id} after "
                f"{delivery.attempts} attempt(s); processed (marker {probe.marker} logged)"
            )
        lines.extend(f"  {entry}" for entry in self.not_probed)
        timings = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in self.seconds.items())
        lines.append(f"  timings: {timings}")
        return "\n".join(lines)


def finish_by_hand(stack: str) -> str:
    return (
        f"stack {stack} still exists: from the repository root run `pulumi destroy --stack "
        f"{stack} --yes && pulumi stack rm {stack} --yes` (if Pulumi says an update is in "
        f"progress, `pulumi cancel --stack {stack} --yes` first)"
    )


def brief(exc: Exception, limit: int = 2000) -> str:
    """The error's type and its last `limit` characters: a failed Pulumi command's error holds
    its whole output, which was streamed already; the cause is at the end."""
    text = str(exc)
    return f"{type(exc).__name__}: {'…' + text[-limit:] if len(text) > limit else text}"


@contextmanager
def timed(report: Report, step: str, clock: Clock) -> Iterator[None]:
    started = clock.monotonic()
    try:
        yield
    finally:
        report.seconds[step] = clock.monotonic() - started


def verify(
    outputs: Mapping[str, Any],
    config: AcceptanceConfig,
    services: Services,
    report: Report,
    *,
    signer: Signer | None,
    deadlines: Deadlines,
    out: Callable[[str], None],
) -> None:
    """Probe every route it can, then check the pipeline end to end."""
    missing = [name for name in OUTPUTS if not outputs.get(name)]
    if missing:
        raise AcceptanceFailure(f"stack outputs missing: {missing}; have {sorted(outputs)}")
    listener_url = str(outputs["listener_url"])
    if not listener_url.endswith("/"):
        raise AcceptanceFailure(f"listener_url must end with '/': {listener_url!r}")
    probes, report.not_probed = plan_probes(config.parsed, secrets.token_hex(6), signer=signer)
    if not probes:
        raise AcceptanceFailure(f"no route of the config can be probed: {report.not_probed}")
    clock = services.clock
    for probe in probes:
        delivery = deliver(
            probe,
            listener_url,
            poster=services.poster,
            signer=signer,
            clock=clock,
            deadlines=deadlines,
        )
        out(f"POST {probe.path} ({probe.route}): 200, message_id {delivery.message_id}")
        report.deliveries.append(delivery)

    group = f"/aws/lambda/{outputs['processor_function_name']}"
    # Lambda stamps events with their own time; a minute of slack covers clock skew.
    start_ms = int(min(d.sent_at for d in report.deliveries) * 1000) - 60_000
    for delivery in report.deliveries:
        marker = delivery.probe.marker
        wait_until(
            partial(services.logs.messages, group, term(marker), start_ms),
            what=f"the marker {marker} ({delivery.probe.route}) in log group {group}",
            timeout=deadlines.processed_seconds,
            interval=deadlines.interval_seconds,
            clock=clock,
        )
        out(f"{group} shows {marker}")
    # Deleted from the queue means the processor returned it as done, not as a failure.
    wait_until(
        lambda: services.queues.depth(str(outputs["queue_url"])) == 0,
        what=f"queue {outputs['queue_url']} drained",
        timeout=deadlines.processed_seconds,
        interval=deadlines.interval_seconds,
        clock=clock,
    )
    in_dlq = services.queues.depth(str(outputs["dlq_url"]))
    if in_dlq:
        raise AcceptanceFailure(f"dead-letter queue {outputs['dlq_url']} holds {in_dlq} message(s)")
    out("queue drained, dead-letter queue empty")


def clean_up(
    stack: StackHandle,
    interrupts: Interrupts,
    report: Report,
    clock: Clock,
    out: Callable[[str], None],
) -> str | None:
    """Destroy, then remove the stack; a description of what failed, or None.

    The stack is removed only after a successful destroy, and never with --force: removing a
    stack that still has resources would make Pulumi forget resources that still exist (and
    bill), with nothing left to destroy them from.
    """
    interrupts.begin_cleanup()
    out(f"cleaning up: pulumi destroy --stack {stack.name}, then pulumi stack rm")
    try:
        with timed(report, "destroy", clock), interrupts.pulumi("destroy"):
            stack.destroy()
    except Exception as exc:  # noqa: BLE001 - reported with the run's own failure, never hidden
        return f"clean-up: `pulumi destroy` failed ({brief(exc)}); {finish_by_hand(stack.name)}"
    try:
        with timed(report, "stack rm", clock), interrupts.pulumi("stack rm"):
            stack.remove()
    except Exception as exc:  # noqa: BLE001 - as above
        return (
            f"clean-up: resources destroyed, but `pulumi stack rm {stack.name}` failed "
            f"({brief(exc)}); run it from the repository root"
        )
    return None


def run(
    stack: StackHandle,
    config: AcceptanceConfig,
    services: Services,
    interrupts: Interrupts,
    *,
    signer: Signer | None,
    deadlines: Deadlines = DEFAULT_DEADLINES,
    out: Callable[[str], None],
) -> Report:
    """Create, configure, deploy and verify the stack; destroy and remove it in any case.

    A failure of the run is raised as it is; a clean-up failure is added to it as a note (and
    printed), so neither hides the other. A clean-up failure after a passing run raises
    CleanupFailed: a run that leaves resources behind does not pass.
    """
    report = Report(stack=stack.name)
    interrupts.hint = finish_by_hand(stack.name)
    clock = services.clock
    created = False
    failure: BaseException | None = None
    try:
        with interrupts.pulumi("stack init"):
            stack.create()
            created = True
        with interrupts.pulumi("config set-all"):
            stack.configure(config.entries)
        with timed(report, "up", clock), interrupts.pulumi("up"):
            report.outputs = stack.up()
        with timed(report, "probes", clock), interrupts.armed():
            verify(
                report.outputs,
                config,
                services,
                report,
                signer=signer,
                deadlines=deadlines,
                out=out,
            )
    except BaseException as exc:
        failure = exc
        raise
    finally:
        problem = clean_up(stack, interrupts, report, clock, out) if created else None
        if problem is not None:
            out(problem)
            if failure is not None:
                failure.add_note(problem)
            else:
                raise CleanupFailed(problem)
    return report


def say(message: str) -> None:
    """Progress on stderr, flushed: the acceptance run takes minutes."""
    print(f"acceptance | {message}", file=sys.stderr, flush=True)
