"""How many examples a property test draws: its full count only when asked for.

`make test` (and CI) runs on every change, so each property draws a quarter of its count there;
`HYPOTHESIS_PROFILE=thorough` draws them all (README, "Development"). The properties are the
same either way: only how many generated inputs try to break them.
"""

from __future__ import annotations

import os

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
SHARE = 4
"""`make test` draws 1/SHARE of a property's full count."""
AT_LEAST = 25


def examples(full: int) -> int:
    """``full`` under the thorough profile; else a quarter of it, never fewer than 25."""
    return full if THOROUGH else min(full, max(AT_LEAST, full // SHARE))
