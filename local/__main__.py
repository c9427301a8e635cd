"""Entry point of `python -m local`."""

import time

STARTED = time.monotonic()  # before the heavy imports, so start-up time counts them

import sys  # noqa: E402

from local.cli import main  # noqa: E402

sys.exit(main(started=STARTED))
