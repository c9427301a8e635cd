"""The results file (bench/results.json) and the table printed at the end of a run."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from bench.common import PartResult, Row

SCHEMA = 1


def fmt_value(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "-" if value is None else str(value)
    if unit == "B":
        return f"{value:,.0f} B"
    if unit == "msg/s":
        return f"{value:,.1f} msg/s"
    if unit == "ms":
        if value >= 100:
            return f"{value:,.0f} ms"
        if value >= 10:
            return f"{value:.1f} ms"
        return f"{value:.2f} ms"
    return f"{value:g} {unit}"


def _met(row: Row) -> str:
    if row.met is None:
        return ""
    return "yes" if row.met else "NO"


def table(parts: list[PartResult]) -> str:
    """A plain-text table: each figure, its floor (and what the floor is), ratio, target."""
    header = ("metric", "value", "floor", "ratio", "target", "met", "floor is")
    lines: list[tuple[str, ...]] = []
    for part in parts:
        lines.append((f"[{part.name}] {part.title}", "", "", "", "", "", ""))
        for row in part.rows:
            row_ratio = row.ratio
            lines.append(
                (
                    "  " + row.metric,
                    fmt_value(row.value, row.unit),
                    fmt_value(row.floor, row.unit) if row.floor is not None else "",
                    f"{row_ratio:.3f}" if row_ratio is not None else "",
                    row.target,
                    _met(row),
                    row.floor_label,
                )
            )
    widths = [max(len(header[i]), *(len(line[i]) for line in lines)) for i in range(7)]
    widths[0] = max(len(header[0]), *(len(line[0]) for line in lines if line[1]))

    def render(cells: tuple[str, ...]) -> str:
        if not cells[1] and not cells[2]:  # a part's title line
            return cells[0]
        out = [cells[0].ljust(widths[0])]
        out += [cells[i].rjust(widths[i]) for i in (1, 2, 3)]
        out += [cells[4].ljust(widths[4]), cells[5].ljust(widths[5]), cells[6]]
        return "  ".join(out).rstrip()

    rendered = [render(header), "-" * (sum(widths[:6]) + 12 + 10)]
    rendered += [render(line) for line in lines]
    return "\n".join(rendered)


def missed_targets(parts: list[PartResult]) -> list[str]:
    return [f"{part.name}: {row.metric}" for part in parts for row in part.rows if row.met is False]


def build_document(
    parts: list[PartResult],
    *,
    machine: dict[str, Any],
    date: str,
    quick: bool,
    duration_s: float,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The results document; parts not run this time are kept from `previous` (with their
    own date), so `--only` refreshes some figures without dropping the others."""
    kept: dict[str, Any] = {}
    if previous and previous.get("schema") == SCHEMA and not previous.get("quick"):
        kept = dict(previous.get("parts", {}))
    for part in parts:
        kept[part.name] = {**part.as_dict(), "date": date}
    return {
        "schema": SCHEMA,
        "generated_by": "python -m bench",
        "date": date,
        "quick": quick,
        "duration_s": round(duration_s, 1),
        "machine": machine,
        "targets": {
            name: [
                {"metric": row["metric"], "target": row["target"], "met": row["met"]}
                for row in part["rows"]
                if row["target"]
            ]
            for name, part in kept.items()
        },
        "parts": kept,
    }


def read_previous(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_document(path: Path, document: dict[str, Any]) -> None:
    """Atomic: a reader (or an interrupted run) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)
