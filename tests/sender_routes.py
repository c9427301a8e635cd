"""Routes of every source, as the stack file states them, and the secrets and signed requests
the sender tests share (tests/functions/test_senders.py, tests/ops/test_signing.py).

The listener's verifier is loaded from its file, the way Lambda sees its folder, without putting
functions/listener on sys.path (its handler.py would shadow the processor's). Import as
`from sender_routes import ...` (tests/ is on sys.path).
"""

import base64
import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import strategies as st

from infra.routes import parse_routes
from ops.signing import sign

ROOT = Path(__file__).resolve().parents[1]
SENDERS_PATH = ROOT / "functions" / "listener" / "senders.py"


def _load_senders() -> ModuleType:
    spec = importlib.util.spec_from_file_location("listener_senders", SENDERS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


senders = _load_senders()

CONFIGURED: list[dict[str, Any]] = [
    {"name": "strava", "path": "/strava", "source": "strava", "subscriptionIds": [271828]},
    {"name": "gh", "path": "/github", "source": "github"},
    {"name": "stripe", "path": "/stripe", "source": "stripe", "toleranceSeconds": 300},
    {"name": "slack", "path": "/slack", "source": "slack"},
    {"name": "shop", "path": "/shopify", "source": "shopify"},
    {"name": "sw", "path": "/std", "source": "standard-webhooks"},
    {
        "name": "generic",
        "path": "/generic",
        "source": "hmac",
        "header": "X-Signature",
        "algorithm": "sha256",
        "encoding": "base64",
    },
    {"name": "tok", "path": "/tok", "source": "token"},
    {"name": "open", "path": "/open", "source": "none"},
]
"""One route per source, as a stack file states them (the configuration contract)."""

ROUTES: dict[str, dict[str, Any]] = {
    route.source: route.to_listener() for route in parse_routes(json.dumps(CONFIGURED))
}
"""The same routes as the listener receives them: completed with the program's own defaults
(infra/routes.py), so the verifier is tested on what a deployment hands it."""

SIGNED = ("github", "stripe", "slack", "shopify", "standard-webhooks", "hmac")
"""Sources whose signature covers the body."""
WITH_SECRET = (*SIGNED, "token")
TIMESTAMPED = ("stripe", "slack", "standard-webhooks")
NOW = 1_764_000_000.0
"""A receive time for tests that need none in particular (2025-11-24)."""

SIGNATURE_HEADER = {
    "github": "x-hub-signature-256",
    "stripe": "stripe-signature",
    "slack": "x-slack-signature",
    "shopify": "x-shopify-hmac-sha256",
    "standard-webhooks": "webhook-signature",
    "hmac": "x-signature",
    "token": "authorization",
}
TIMESTAMP_HEADER = {
    "stripe": "stripe-signature",  # the t= part of it
    "slack": "x-slack-request-timestamp",
    "standard-webhooks": "webhook-timestamp",
}


def secret_for(source: str, raw: bytes) -> str:
    """A secret shaped as the source issues them, made from raw random bytes."""
    encoded = base64.b64encode(raw).decode("ascii")
    if source in ("stripe", "standard-webhooks"):
        return "whsec_" + encoded
    return encoded


def secrets_of(source: str) -> st.SearchStrategy[str]:
    """Random secrets: random bytes, so no generated secret can spell a reason's words."""
    return st.binary(min_size=16, max_size=48).map(lambda raw: secret_for(source, raw))


def signed(
    route: Mapping[str, Any], secret: str, body: bytes, now: float = NOW, **kwargs: Any
) -> dict[str, str]:
    """The headers ops.signing.sign gives, names lower-cased as the listener passes them."""
    return {name.lower(): value for name, value in sign(route, secret, body, now, **kwargs).items()}
