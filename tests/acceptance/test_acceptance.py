"""The acceptance test: this program deployed to a real AWS account, probed, and destroyed.

Opt-in (`make acceptance`): it runs only when ASYNC_WEBHOOK_ACCEPTANCE=1 is set, the Pulumi
CLI is on PATH and boto3 finds AWS credentials; otherwise it is skipped, the reason naming what
is missing. It uses the current `pulumi login` backend (README, "Acceptance test on AWS").
"""

from __future__ import annotations

import os
import secrets

import boto3
import pytest
from harness.interrupts import Interrupts
from harness.observe import CloudWatchLogs, SqsQueues
from harness.prerequisites import missing_prerequisites, skip_reason
from harness.probes import HttpPoster, load_signer
from harness.run import Services, run, say
from harness.stack import (
    REGION_VARIABLE,
    AutomationStack,
    ExtraRoute,
    acceptance_config,
    new_stack_name,
)
from harness.waiting import SystemClock

SIGNED_ROUTE = {"name": "accept-github", "path": "/accept-github", "source": "github"}
"""Probed beside the dev stack's open route once the project can sign (ops/signing.py)."""


@pytest.fixture(scope="module")
def prerequisites() -> None:
    missing = missing_prerequisites(os.environ)
    if missing:
        pytest.skip(skip_reason(missing))


@pytest.mark.timeout(0)  # the run keeps its own deadlines; a timeout would kill `pulumi up`
@pytest.mark.usefixtures("prerequisites")
def test_a_fresh_stack_on_aws_accepts_processes_and_leaves_nothing_behind() -> None:
    # GIVEN a stack of this program of its own, with the dev stack's settings
    signer = load_signer()
    extra = [ExtraRoute(SIGNED_ROUTE, secrets.token_hex(32))] if signer else []
    name = new_stack_name()
    config = acceptance_config(name, extra_routes=extra, region=os.environ.get(REGION_VARIABLE))
    session = boto3.Session(region_name=config.region)
    services = Services(
        poster=HttpPoster(),
        logs=CloudWatchLogs(session.client("logs")),
        queues=SqsQueues(session.client("sqs")),
        clock=SystemClock(),
    )
    say(f"stack {name} in {config.region}; `pulumi up` of about 25 resources takes minutes")
    interrupts = Interrupts(out=say)
    # WHEN it is deployed, probed and destroyed (run() raises on any broken promise)
    with interrupts.installed():
        report = run(
            AutomationStack(name, out=say), config, services, interrupts, signer=signer, out=say
        )
    # THEN every probed route accepted its event and the processor logged it
    say(report.summary())
    expected = {"demo", SIGNED_ROUTE["name"]} if signer else {"demo"}
    assert {d.probe.route for d in report.deliveries} == expected
