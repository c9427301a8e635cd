"""Shared by every test folder: the repository root importable, and pip kept off the network."""

import os
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests use no network: a function's requirements come from the build cache `make install`
# fills, and a cache miss fails at once with a clear error instead of reaching for an index.
# Child processes (the local cloud, benchmarks) inherit it.
os.environ["PIP_NO_INDEX"] = "1"

# Hypothesis: `HYPOTHESIS_PROFILE=thorough` draws every property's full count of examples
# (tests/hypothesis_profile.py) and ten times Hypothesis's default where a test sets no count.
settings.register_profile("thorough", max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
