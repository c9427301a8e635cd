"""The real program in the local cloud with what users add: a package, and `idempotency: true`.

The processor is the repository's own, with one more requirement (a package made in the test)
that process.py imports, as a user would add the Strava or Notion SDK. No package index: the
wheels are remade from the build cache `make install` filled, plus the test's own.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloud_helpers import ROOT, aws_client, log_text, post_json, quiet, wait_for

from infra.packaging import Target, install_dependencies
from local.cloud import LocalCloud
from tests.wheels import make_wheel, wheel_from_installed

PROCESS = """
import tinydep
from default_process import process as default_process
from message import Message, logger


def process(message: Message) -> None:
    logger.info("dependency used", dependency=tinydep.NAME, version=tinydep.VERSION)
    default_process(message)
"""


def _processor(folder: Path, wheels: Path) -> None:
    """functions/processor, plus a requirement on tinydep that process.py imports."""
    source = ROOT / "functions" / "processor"
    folder.mkdir(parents=True)
    for path in source.glob("*.py"):
        shutil.copy(path, folder / path.name)
    (folder / "default_process.py").write_text((source / "process.py").read_text())
    (folder / "process.py").write_text(PROCESS)
    requirements = (source / "requirements.txt").read_text() + "tinydep==1.0\n"
    (folder / "requirements.txt").write_text(requirements)
    # The processor's own requirements, remade as wheels from their cached Lambda build.
    built = install_dependencies(source, Target("python3.13", "arm64"))  # cached: no pip run
    assert built is not None
    for info in built.glob("*.dist-info"):
        wheel_from_installed(built, info.name, wheels)
    make_wheel(wheels, "tinydep", "1.0")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    base = tmp_path_factory.mktemp("bundled")
    project = base / "project"
    (project / "functions").mkdir(parents=True)
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(ROOT / name, project / name)
    (project / "infra").symlink_to(ROOT / "infra")
    (project / "functions" / "listener").symlink_to(ROOT / "functions" / "listener")
    _processor(project / "functions" / "processor", base / "wheels")
    stack = (ROOT / "Pulumi.dev.yaml").read_text()
    stack = stack.replace("async-webhook:idempotency: false", "async-webhook:idempotency: true")
    # 1 s: a record failed while its key was in progress elsewhere comes back within 6 s.
    stack = stack.replace("processorTimeoutSeconds: 30", "processorTimeoutSeconds: 1")
    (project / "Pulumi.bundled.yaml").write_text(stack)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIP_FIND_LINKS", str(base / "wheels"))
        running = LocalCloud(
            project, stack="bundled", port=0, stream=quiet(), state_root=base / "state"
        )
        running.start()
    yield running
    running.stop()


def _lines(cloud: LocalCloud) -> list[dict]:
    """The processor's JSON log lines (the log file also holds START/END/REPORT text lines)."""
    text = log_text(cloud.log_dir, cloud.outputs["processor_function_name"])
    return [
        json.loads(x.split(" ", 1)[1])
        for x in text.splitlines()
        if x.split(" ", 1)[1:] and x.split(" ", 1)[1].startswith("{")
    ]


def test_a_package_added_to_requirements_is_imported_by_process(cloud: LocalCloud):
    # GIVEN the processor with tinydep in requirements.txt, served locally
    # WHEN a request is posted
    status, body = post_json(cloud.outputs["listener_url"], "append_queue", {"hello": "tinydep"})
    assert status == 200
    # THEN process() ran with the package, from the archive's own files
    line = wait_for(
        lambda: next(
            (
                x
                for x in _lines(cloud)
                if x.get("message") == "dependency used" and x["message_id"] == body["message_id"]
            ),
            None,
        ),
        timeout=10,
        what="process() using the bundled package",
    )
    assert (line["dependency"], line["version"]) == ("tinydep", "1.0")


def test_the_same_body_three_times_is_processed_once_a_different_one_too(cloud: LocalCloud):
    # GIVEN idempotency on: the table exists in the embedded AWS
    table = aws_client("dynamodb", cloud).list_tables()["TableNames"]
    assert table == ["async-webhook-bundled-processor-idempotency"]
    url = cloud.outputs["listener_url"]
    # WHEN one body is posted three times (a sender retrying), and another body once
    same = [post_json(url, "append_queue", {"object_id": 77})[1]["message_id"] for _ in range(3)]
    other = post_json(url, "append_queue", {"object_id": 78})[1]["message_id"]

    def handled() -> list[tuple[str, str]] | None:
        seen = [
            (line["message_id"], line["message"])
            for line in _lines(cloud)
            if line.get("message_id") in (*same, other)
            and line["message"] in ("message processed", "duplicate skipped: processed before")
        ]
        return seen if {m for m, _ in seen} == {*same, other} else None

    # THEN every message was handled, the same body's work ran once (a redelivery of it is
    # skipped too), and the other body's ran
    seen = wait_for(handled, timeout=20, what="all four messages handled")
    processed = [m for m, what in seen if what == "message processed"]
    assert len([m for m in processed if m in same]) == 1
    assert other in processed
