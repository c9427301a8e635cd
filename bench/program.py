"""Part 5: evaluating the Pulumi program under mocks (what every `tests/infra` test pays).

`local.program.evaluate` runs `__main__.py` with the dev stack's config against a recording mock
shaped like tests/infra's FakeAws. In-process: the first run (imports included) apart, then the
median of N runs. Cold: a fresh interpreter importing and evaluating once. Floor: a program that
declares as many resources as the real one, all bare SQS queues, under the same mock: the mock
runtime's own cost per registration, which no program with that many resources avoids. The cold
floor also imports the pulumi_aws modules the real program uses. An empty program is reported
as the fixed cost of one evaluation.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pulumi

from bench.common import (
    ACCOUNT_ID,
    REGION,
    ROOT,
    PartResult,
    Row,
    interleaved,
    median,
    run_child,
    summarize,
)
from bench.context import Context

EMPTY_PROGRAM = 'import pulumi\npulumi.export("ok", True)\n'


def bare_program(resources: int) -> str:
    """A program of `resources` bare SQS queues: the mock runtime's cost per registration."""
    return (
        "import pulumi\nimport pulumi_aws as aws\n"
        f"queues = [aws.sqs.Queue(f'q{{i}}') for i in range({resources})]\n"
        'pulumi.export("ok", True)\n'
    )


RESOURCE_MODULES = ("sqs", "lambda_", "iam", "cloudwatch", "ssm")


class RecordingAws(pulumi.runtime.Mocks):
    """Records declarations and answers with the identifiers AWS would compute."""

    def __init__(self) -> None:
        self.declared: list[tuple[str, str]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        physical = inputs.get("name") or f"{args.name}-1a2b3c4"
        self.declared.append((args.typ, args.name))
        arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT_ID}:{{}}"
        state: dict[str, Any] = {**inputs, "name": physical}
        match args.typ:
            case "aws:sqs/queue:Queue":
                state["arn"] = arn.format("sqs", physical)
                state["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{physical}"
            case "aws:iam/role:Role":
                state["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}"
            case "aws:cloudwatch/logGroup:LogGroup":
                state["arn"] = arn.format("logs", f"log-group:{physical}")
            case "aws:lambda/function:Function":
                state["arn"] = arn.format("lambda", f"function:{physical}")
            case "aws:lambda/functionUrl:FunctionUrl":
                state["functionUrl"] = f"https://{args.name}.lambda-url.{REGION}.on.aws/"
            case "aws:ssm/parameter:Parameter":
                state["arn"] = arn.format("ssm", f"parameter{physical}")
            case "aws:lambda/eventSourceMapping:EventSourceMapping":
                state["uuid"] = "4f6a1c2e-0000-4000-8000-000000000001"
        return str(state.get("url") or state.get("arn") or f"{args.name}-id"), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any] | None]:
        raise RuntimeError(f"the program must not call data sources: {args.token}")


def evaluate_once(program_dir: Path, stack: str = "dev") -> tuple[float, int]:
    """(seconds, resources declared) for one evaluation of `program_dir` with ROOT's stack."""
    from local.program import evaluate
    from local.stackfile import load_stack_config

    config = load_stack_config(ROOT, stack)
    mocks = RecordingAws()
    started = time.perf_counter()
    evaluate(program_dir, mocks, project=config.project, stack=stack, config=config.values)
    return time.perf_counter() - started, len(mocks.declared)


def _cold_script(program_dir: Path, floor: bool) -> str:
    touch = (
        "import pulumi_aws as aws\n" + "".join(f"aws.{m}.__name__\n" for m in RESOURCE_MODULES)
        if floor
        else ""
    )
    return (
        "import time\nt0 = time.perf_counter()\nimport sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"{touch}"
        "from bench.program import evaluate_once\n"
        f"seconds, declared = evaluate_once(__import__('pathlib').Path({str(program_dir)!r}))\n"
        'print(\'{"ms": %.3f, "declared": %d}\' % ((time.perf_counter() - t0) * 1000, declared))\n'
    )


def _cold(script: str) -> tuple[float, float]:
    """(ms from the child's first line to evaluated, whole process ms)."""
    data, wall_ms = run_child(script)
    return float(data["ms"]), wall_ms


def run(ctx: Context) -> PartResult:
    result = PartResult("program", "Pulumi program evaluation under mocks")
    runs = ctx.count(15, 2)
    cold_runs = ctx.count(3, 1)
    with tempfile.TemporaryDirectory(prefix="bench-program-") as tmp:
        empty = Path(tmp, "empty")
        bare = Path(tmp, "bare")
        empty.mkdir()
        bare.mkdir()
        (empty / "__main__.py").write_text(EMPTY_PROGRAM)
        ctx.progress(f"program evaluation: first + {runs} in-process runs each")
        first_seconds, declared = evaluate_once(ROOT)
        (bare / "__main__.py").write_text(bare_program(declared))
        evaluate_once(bare)
        evaluate_once(empty)
        warm_real, warm_floor, warm_empty = interleaved(
            runs,
            [
                lambda: evaluate_once(ROOT)[0] * 1000,
                lambda: evaluate_once(bare)[0] * 1000,
                lambda: evaluate_once(empty)[0] * 1000,
            ],
        )
        ctx.progress(f"program evaluation: {cold_runs} cold (subprocess) runs each")
        cold_real, cold_floor = interleaved(
            cold_runs,
            [
                lambda: _cold(_cold_script(ROOT, floor=False))[0],
                lambda: _cold(_cold_script(bare, floor=True))[0],
            ],
        )

    result.rows = [
        Row(
            "evaluate, in-process (median after the first)",
            median(warm_real),
            "ms",
            floor=median(warm_floor),
            floor_label=f"{declared} bare resources, same mocks",
        ),
        Row("evaluate an empty program, in-process", median(warm_empty), "ms"),
        Row("evaluate, first in this process", first_seconds * 1000, "ms"),
        Row(
            "evaluate, cold (fresh interpreter)",
            median(cold_real),
            "ms",
            floor=median(cold_floor),
            floor_label="import pulumi_aws modules + bare resources",
        ),
    ]
    result.details = {
        "resources_declared": declared,
        "in_process_ms": {
            "program": summarize(warm_real),
            "bare_resources": summarize(warm_floor),
            "empty_program": summarize(warm_empty),
        },
        "cold_ms": {"program": summarize(cold_real), "floor": summarize(cold_floor)},
        "first_in_process_ms": round(first_seconds * 1000, 3),
    }
    return result
