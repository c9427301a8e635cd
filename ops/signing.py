"""Sign a request as each webhook sender does, so `ops send` and the tests speak like the sender.

Written from the senders' documentation, separately from the listener's verifier
(functions/listener/senders.py): a shared mistake would make both agree and both be wrong, so
neither imports the other and the tests hold each against published vectors and the senders'
own libraries (docs/design.md, 'Verifying senders').

sign(route, secret, body, now) returns the headers to add to the POST, with the canonical
capitalisation the senders use. Headers that carry a delivery id get a fresh one unless
`delivery_id` is given. Strava and `none` routes sign nothing and get no headers.
"""

from __future__ import annotations

import base64
import hmac
import uuid
from collections.abc import Mapping
from typing import Any

from ops.errors import UsageError

NO_SECRET = frozenset({"strava", "none"})
_HMAC_ALGORITHMS = ("sha256", "sha1", "sha512")


def _hmac(key: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(key, message, algorithm).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _standard_webhooks_key(secret: str) -> bytes:
    """Standard Webhooks secrets are "whsec_" + base64 of the key; the key is what signs."""
    encoded = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError as exc:  # binascii.Error is a ValueError
        raise UsageError("standard-webhooks secret: expected whsec_ followed by base64") from exc


def sign(
    route: Mapping[str, Any],
    secret: str,
    body: bytes,
    now: float,
    *,
    delivery_id: str | None = None,
) -> dict[str, str]:
    """The headers that make `body` a correctly signed request for `route` at time `now`."""
    source = route.get("source")
    if source not in NO_SECRET and not secret:
        raise UsageError(f"route {route.get('name')!r} ({source}) needs its secret to sign")
    key = secret.encode("utf-8")
    stamp = str(int(now))
    fresh_id = delivery_id or str(uuid.uuid4())
    if source == "github":
        return {
            "X-Hub-Signature-256": "sha256=" + _hmac(key, body).hex(),
            "X-GitHub-Delivery": fresh_id,
        }
    if source == "stripe":
        return {"Stripe-Signature": f"t={stamp},v1={_hmac(key, f'{stamp}.'.encode() + body).hex()}"}
    if source == "slack":
        signature = _hmac(key, f"v0:{stamp}:".encode() + body).hex()
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={signature}"}
    if source == "shopify":
        return {"X-Shopify-Hmac-SHA256": _b64(_hmac(key, body)), "X-Shopify-Webhook-Id": fresh_id}
    if source == "standard-webhooks":
        message_id = delivery_id or f"msg_{uuid.uuid4().hex}"
        signed = f"{message_id}.{stamp}.".encode() + body
        signature = _b64(_hmac(_standard_webhooks_key(secret), signed))
        return {
            "webhook-id": message_id,
            "webhook-timestamp": stamp,
            "webhook-signature": f"v1,{signature}",
        }
    if source == "hmac":
        algorithm = route.get("algorithm")
        if algorithm not in _HMAC_ALGORITHMS or not route.get("header"):
            raise UsageError(f"route {route.get('name')!r}: hmac needs a header and sha1/256/512")
        digest = _hmac(key, body, algorithm)
        encoded = digest.hex() if route.get("encoding") == "hex" else _b64(digest)
        return {route["header"]: route.get("prefix", "") + encoded}
    if source == "token":
        if not route.get("header"):
            raise UsageError(f"route {route.get('name')!r}: token needs its header")
        return {route["header"]: route.get("prefix", "") + secret}
    if source in NO_SECRET:
        return {}
    raise UsageError(f"route {route.get('name')!r}: cannot sign for source {source!r}")
