"""Part 3: each function's deployment package, zipped (deflate) as Pulumi would upload it.

The members are exactly what `infra.packaging.package_files(functions/<name>)` yields, which is
what the program puts in the function's AssetArchive. The floor is the handler module alone: no
package can be smaller than the file Lambda has to import.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from bench.common import FUNCTIONS, PartResult, Row
from bench.context import Context

LISTENER_LIMIT_BYTES = 32 * 1024
"""The listener ships its own code only (its three modules, no vendored library): tens of KB,
which Lambda fetches and unpacks in well under a millisecond of the cold start."""
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # fixed member times: the size must not depend on mtimes


def zipped_size(files: dict[str, Path]) -> int:
    """Bytes of a deflated zip holding `files` (archive name -> file on disk)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return len(buffer.getvalue())


def run(ctx: Context) -> PartResult:
    from infra.packaging import package_files  # imports pulumi: only when this part runs

    result = PartResult("size", "Deployment package size (deflated zip)")
    ctx.progress("package size: zipping each function folder")
    details: dict[str, object] = {}
    for folder in sorted(p for p in FUNCTIONS.iterdir() if p.is_dir()):
        files = package_files(folder)
        size = zipped_size(files)
        handler = {name: path for name, path in files.items() if name == "handler.py"}
        floor = zipped_size(handler) if handler else None
        row = Row(
            f"{folder.name} package",
            float(size),
            "B",
            floor=None if floor is None else float(floor),
            floor_label="handler.py alone",
        )
        if folder.name == "listener":
            row.target = f"< {LISTENER_LIMIT_BYTES} B"
            row.met = size < LISTENER_LIMIT_BYTES
        result.rows.append(row)
        details[folder.name] = {
            "zip_bytes": size,
            "files": sorted(files),
            "source_bytes": sum(path.stat().st_size for path in files.values()),
        }
    result.details = details
    return result
