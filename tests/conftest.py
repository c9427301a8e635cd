"""Shared by every test folder: the repository root importable, and pip kept off the network."""

import gc
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local import moto_forkserver  # noqa: E402 - needs the root on sys.path

# Tests use no network: a function's requirements come from the build cache `make install`
# fills, and a cache miss fails at once with a clear error instead of reaching for an index.
# Child processes (the local cloud, benchmarks) inherit it.
os.environ["PIP_NO_INDEX"] = "1"

# Hypothesis: `HYPOTHESIS_PROFILE=thorough` draws every property's full count of examples
# (tests/hypothesis_profile.py) and ten times Hypothesis's default where a test sets no count.
settings.register_profile("thorough", max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# Slow files first. pytest-xdist hands each worker whole files (--dist loadfile) in collection
# order, so a long file collected last runs alone at the end while the other workers idle: the
# benchmarks' smoke tests and the local cloud's (processes, queues, waits) go first, then the
# files with tests that build with pip (marked `pip`, seconds each), and the many quick files
# after them fill the workers up evenly. Within a rank the order stays pytest's.
SLOW_FIRST = ("bench", "local")


@pytest.hookimpl(trylast=True)  # after tests/infra/conftest.py has marked its pip tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    builds = {item.path for item in items if item.get_closest_marker("pip") is not None}

    def rank(item: pytest.Item) -> int:
        folder = item.path.parent.name
        if folder in SLOW_FIRST:
            return SLOW_FIRST.index(folder)
        return len(SLOW_FIRST) if item.path in builds else len(SLOW_FIRST) + 1

    items.sort(key=rank)  # stable: pytest's order within each rank


# The cyclic garbage collector, tuned for a test process. A worker holds some 300,000 objects
# (Pulumi, moto and botocore's models, Hypothesis) that live for the whole session, and at
# Python's defaults every full collection walked them all: 15 of four workers' 50 s of CPU
# (measured with gc.callbacks). Objects alive once a file's tests and fixtures are done are
# frozen out of later collections, and the youngest generation is collected every 50,000
# allocations instead of 700. Cycles are still collected, only less often; reference counting
# frees everything else as before. Child processes keep Python's defaults.
YOUNG_COLLECTION_EVERY = 50_000


def pytest_configure(config: pytest.Config) -> None:
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, oldest)
    _start_moto_fork_server(config)


# One moto fork server for the whole session (local/moto_forkserver.py): each of the suite's
# two dozen local clouds and embedded servers, in a worker or in a `local up` a test spawns,
# is forked from it with moto already imported and warmed up: 0.20 s of CPU each instead of
# 0.74 s (measured). Started by the process that starts the workers, which inherit its
# socket's name.
_FORK_SERVER = pytest.StashKey[tuple[moto_forkserver.ForkServer, Path]]()


def _start_moto_fork_server(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or moto_forkserver.ENV in os.environ:
        return  # a worker, or a session inside one that already has a fork server
    folder = Path(tempfile.mkdtemp(prefix="moto-fork-"))
    server = moto_forkserver.start(folder / "socket")
    os.environ[moto_forkserver.ENV] = str(server.socket_path)
    config.stash[_FORK_SERVER] = (server, folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    started = config.stash.get(_FORK_SERVER, None)
    if started is not None:
        server, folder = started
        os.environ.pop(moto_forkserver.ENV, None)
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield  # the file's module fixtures are finalized in here when its last test ends
    if nextitem is None or nextitem.path != item.path:
        gc.collect()
        gc.freeze()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on a free port of 127.0.0.1, for this test process's whole session."""
    from moto.server import ThreadedMotoServer

    from local.moto_patches import speed_up_moto

    # The local cloud's own speed-ups of moto (its clock, host matching, model loading): they
    # halve each request's CPU, and the handlers' tests make thousands of requests.
    speed_up_moto()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one INFO line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
