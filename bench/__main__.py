"""`python -m bench`: every figure next to its floor, written to bench/results.json.

Parts (select with --only, comma-separated): cold, warm, size, cloud, program, processor. A
full run stays under two minutes; --quick uses tiny counts (for the smoke test: checks the
harness, not speed) and writes to .local/bench/results-quick.json unless --output says
otherwise, so it never replaces the committed figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import client, cloud, cold, processor, program, size, warm
from bench.common import ROOT, PartResult, Progress
from bench.context import Context
from bench.machine import describe, utc_now
from bench.report import build_document, missed_targets, read_previous, table, write_document
from local.state import default_root

PARTS: dict[str, Callable[[Context], PartResult]] = {
    "cold": cold.run,
    "warm": warm.run,
    "size": size.run,
    "cloud": cloud.run,
    "program": program.run,
    "client": client.run,
    "processor": processor.run,
}
RESULTS = ROOT / "bench" / "results.json"
QUICK_RESULTS = default_root(ROOT) / "bench" / "results-quick.json"


def _parts(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in PARTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown part(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(PARTS)}"
        )
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny counts: a smoke test, not figures")
    p.add_argument(
        "--only",
        type=_parts,
        default=list(PARTS),
        metavar="PARTS",
        help=f"comma-separated parts to run (default: all of {','.join(PARTS)})",
    )
    p.add_argument("--output", type=Path, help="results file (default: bench/results.json)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    output: Path = args.output or (QUICK_RESULTS if args.quick else RESULTS)
    progress = Progress(enabled=not args.quiet)
    ctx = Context(quick=args.quick, progress=progress)
    machine = describe()
    date = utc_now()
    started = time.monotonic()
    results: list[PartResult] = []
    try:
        for name in args.only:
            began = time.monotonic()
            progress(f"part {name}: start")
            result = PARTS[name](ctx)
            result.seconds = time.monotonic() - began
            progress(f"part {name}: done in {result.seconds:.1f} s")
            results.append(result)
    finally:
        ctx.close()
    duration = time.monotonic() - started
    document = build_document(
        results,
        machine=machine,
        date=date,
        quick=args.quick,
        duration_s=duration,
        previous=read_previous(output) if output.exists() else None,
    )
    write_document(output, document)
    print(table(results))
    print()
    cpu = machine.get("cpu_model") or "unknown CPU"
    print(
        f"{date}, {machine['usable_cpus']} CPU(s) ({cpu}), Python {machine['python']}; "
        f"{duration:.1f} s in all. Written to {output}."
    )
    missed = missed_targets(results)
    if missed:
        print("Targets missed: " + "; ".join(missed))
    if args.quick:
        print("(--quick: tiny counts, the figures above mean nothing)")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
