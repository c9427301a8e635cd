"""Who sent this request? Verify it the way its route's sender signs, before anything is enqueued.

The listener's URL is public, so without this check anyone who learns it can fill the queue. Each
route names a `source`; this module knows how each source proves itself (docs/design.md,
'Routes and sender verification'). Standard library only: it is part of the listener's cold start.

API:
  verify(route, headers, body, secrets, now) -> Verdict
    route    the route as configured: a mapping with `name`, `source` and the source's keys
    headers  request headers, names lower-cased
    body     the raw body exactly as sent (Function URL base64 already undone)
    secrets  the route's secrets: one, or two during a rotation (any one of them may match)
    now      the receive time, seconds since the epoch (a parameter so that tests need no clock)
  Verdict(status, reason, delivery_id, challenge)
    .ok          True: verified, enqueue it
    .challenge   not None: Slack's url_verification; answer 200 with it, enqueue nothing
    .status      otherwise the answer: 400 not a Strava event, 401 missing, bad or expired
                 signature, 403 outside an allow-list
    .reason      "<source>: <what failed>", safe to log: never a secret, a signature or body text
    .delivery_id the sender's id for this delivery, if it has one, 1-128 printable ASCII
                 characters (a FIFO MessageDeduplicationId and a message attribute as it is)
  route_problems(route, secrets=None) -> list of problems, each naming key, value and rule;
    verify() raises RouteConfigError on a route with problems, so check routes at start-up.

Every secret or signature comparison is hmac.compare_digest of the canonical encoding: hex is
lower case, base64 is standard and padded, exactly as each sender writes it.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

SOURCES = (
    "strava",
    "github",
    "stripe",
    "slack",
    "shopify",
    "standard-webhooks",
    "hmac",
    "token",
    "none",
)
TIMESTAMPED = frozenset({"stripe", "slack", "standard-webhooks"})
"""Sources that sign a timestamp, so a replay is refused once it is toleranceSeconds old."""
UNSIGNED = frozenset({"strava", "none"})
"""Sources that need no secret (Strava's verify token serves only the GET handshake)."""
MAX_TOLERANCE_SECONDS = 3600
HMAC_ALGORITHMS = ("sha256", "sha1", "sha512")
HMAC_ENCODINGS = ("hex", "base64")

_OWNED_KEYS = {
    "toleranceSeconds": TIMESTAMPED,
    "subscriptionIds": frozenset({"strava"}),
    "ownerIds": frozenset({"strava"}),
    "header": frozenset({"hmac", "token"}),
    "prefix": frozenset({"hmac", "token"}),
    "algorithm": frozenset({"hmac"}),
    "encoding": frozenset({"hmac"}),
}
"""Route keys that belong to some sources only: set on another source they are a mistake."""

# ASCII digits only: int() would also take " 1", "+1", "1_0" and digits of other scripts.
_SECONDS = re.compile("[0-9]{1,12}")
_DIGITS = re.compile("[0-9]{1,20}")
_HEADER_NAME = re.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
_DEDUP_ID = re.compile("[\x21-\x7e]{1,128}")  # SQS MessageDeduplicationId: 1-128, ASCII 33-126
_MAX_CHALLENGE_CHARS = 1024
_STRAVA_NUMBERS = ("owner_id", "object_id", "event_time", "subscription_id")
_STRAVA_WORDS = ("object_type", "aspect_type")
_STRAVA_KEY = ("owner_id", "object_type", "object_id", "aspect_type", "event_time")
"""What makes a Strava event unique: a retry of one event carries the same five values."""


class RouteConfigError(ValueError):
    """A route is configured wrongly: a deploy bug, reported with every problem at once."""


class Verdict(NamedTuple):
    """The outcome of verify(); see the module docstring."""

    status: int
    reason: str
    delivery_id: str | None = None
    challenge: str | None = None

    @property
    def ok(self) -> bool:
        """Verified and to be enqueued (a Slack url_verification is answered, not enqueued)."""
        return self.status == 200 and self.challenge is None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _tolerance(route: Mapping[str, Any]) -> Any:
    return route.get("toleranceSeconds")


def _option(route: Mapping[str, Any], key: str) -> Any:
    # No defaults here: the program writes every option of a route (infra/routes.py owns the
    # defaults), so a missing one is a deploy bug that route_problems reports.
    return route.get(key)


def standard_webhooks_key(secret: str) -> bytes | None:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional), None if malformed."""
    text = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def route_problems(route: Mapping[str, Any], secrets: Sequence[str] | None = None) -> list[str]:
    """Every problem of one route (and of its secrets when given), each with key, value and rule.

    Secret values are never part of a message; only their position is.
    """
    where = f"route {route.get('name')!r}"
    source = route.get("source")
    if source not in SOURCES:
        return [f"{where}: source={source!r}: expected one of {', '.join(SOURCES)}"]
    problems = [
        f"{where}: {key} applies to source {' or '.join(sorted(owners))}, not {source}"
        for key, owners in _OWNED_KEYS.items()
        if key in route and source not in owners
    ]
    if source in TIMESTAMPED:
        tolerance = _tolerance(route)
        if not _whole(tolerance) or not 1 <= tolerance <= MAX_TOLERANCE_SECONDS:
            problems.append(
                f"{where}: toleranceSeconds={tolerance!r}: expected whole seconds from 1 to "
                f"{MAX_TOLERANCE_SECONDS}"
            )
    if source == "strava":
        for key in ("subscriptionIds", "ownerIds"):
            ids = route.get(key)
            if not isinstance(ids, list) or not all(_whole(i) and i >= 0 for i in ids):
                problems.append(f"{where}: {key}={ids!r}: expected a list of Strava ids (integers)")
    if source in ("hmac", "token"):
        header, prefix = _option(route, "header"), _option(route, "prefix")
        if not isinstance(header, str) or not _HEADER_NAME.fullmatch(header):
            problems.append(f"{where}: header={header!r}: expected an HTTP header name")
        if not isinstance(prefix, str):
            problems.append(f"{where}: prefix={prefix!r}: expected a string (may be empty)")
    if source == "hmac":
        for key, allowed in (("algorithm", HMAC_ALGORITHMS), ("encoding", HMAC_ENCODINGS)):
            if _option(route, key) not in allowed:
                value = _option(route, key)
                problems.append(f"{where}: {key}={value!r}: expected one of {', '.join(allowed)}")
    if secrets is not None and source not in UNSIGNED:
        problems += _secret_problems(route.get("name"), source, secrets)
    return problems


def _secret_problems(name: Any, source: str, secrets: Sequence[str]) -> list[str]:
    if not secrets:
        return [f"routeSecrets.{name} is missing: source {source} needs a secret"]
    problems = []
    for index, secret in enumerate(secrets):
        where = f"routeSecrets.{name} (secret {index + 1} of {len(secrets)})"
        if not isinstance(secret, str) or not secret:
            problems.append(f"{where}: empty; expected the secret the sender signs with")
        elif source == "standard-webhooks" and standard_webhooks_key(secret) is None:
            problems.append(f"{where}: expected whsec_ followed by base64")
        elif source == "stripe" and not secret.startswith("whsec_"):
            problems.append(f"{where}: a Stripe endpoint signing secret starts with whsec_")
    return problems


def delivery_id(value: Any) -> str | None:
    """The sender's id made safe as an SQS deduplication id and attribute: as is, or hashed.

    An id of 1-128 printable ASCII characters is kept; anything else becomes "sha256-<hex>" of
    it, so equal ids stay equal and nothing a sender writes can make SendMessage fail.
    """
    if not isinstance(value, str) or not value:
        return None
    if _DEDUP_ID.fullmatch(value):
        return value
    return "sha256-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, {} when it is not one (read only after it was verified)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {}
    return document if isinstance(document, dict) else {}


class _Request(NamedTuple):
    """One request as the schemes see it."""

    route: Mapping[str, Any]
    headers: Mapping[str, str]
    body: bytes
    keys: list[bytes]
    """The route's secrets as HMAC keys."""
    now: float


def _hex(digest: bytes) -> str:
    return digest.hex()


def _base64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _signed(
    keys: Sequence[bytes],
    message: bytes,
    offered: Sequence[str],
    encode: Callable[[bytes], str],
    algorithm: str = "sha256",
) -> bool:
    """True when one offered signature is the HMAC of message under one of the keys."""
    for key in keys:
        expected = encode(hmac.new(key, message, algorithm).digest()).encode("ascii")
        for candidate in offered:
            if hmac.compare_digest(expected, candidate.encode("utf-8", "surrogatepass")):
                return True
    return False


def _stale(source: str, stamp: str, r: _Request) -> Verdict | None:
    """401 unless stamp is whole seconds within toleranceSeconds of now, in either direction."""
    if not _SECONDS.fullmatch(stamp):
        return Verdict(401, f"{source}: timestamp is not whole seconds since the epoch")
    tolerance = _tolerance(r.route)
    if abs(r.now - int(stamp)) > tolerance:
        return Verdict(401, f"{source}: timestamp outside the {tolerance} s tolerance (a replay?)")
    return None


def _missing(source: str, header: str) -> Verdict:
    return Verdict(401, f"{source}: {header} header missing")


def _mismatch(source: str) -> Verdict:
    return Verdict(401, f"{source}: signature does not match")


def _verified(source: str, delivery: Any = None) -> Verdict:
    return Verdict(200, f"{source}: signature verified", delivery_id(delivery))


def _github(r: _Request) -> Verdict:
    # HMAC-SHA256 of the body, "sha256=<hex>". No timestamp: a captured delivery replays forever.
    signature = r.headers.get("x-hub-signature-256")
    if not signature:
        return _missing("github", "X-Hub-Signature-256")
    if not _signed(r.keys, r.body, [signature], lambda d: "sha256=" + d.hex()):
        return _mismatch("github")
    return _verified("github", r.headers.get("x-github-delivery"))


def _stripe(r: _Request) -> Verdict:
    # "t=<seconds>,v1=<hex>[,v1=<hex>…][,v0=…]": HMAC-SHA256 of "<t>.<body>"; only v1 counts.
    header = r.headers.get("stripe-signature")
    if not header:
        return _missing("stripe", "Stripe-Signature")
    stamp: str | None = None
    offered: list[str] = []
    for item in header.split(","):
        key, equals, value = item.partition("=")
        if equals and key == "t" and stamp is None:
            stamp = value
        elif equals and key == "v1":
            offered.append(value)
    if stamp is None:
        return Verdict(401, "stripe: Stripe-Signature has no timestamp (t=)")
    if stale := _stale("stripe", stamp, r):
        return stale
    if not offered:
        return Verdict(401, "stripe: Stripe-Signature has no v1 signature")
    if not _signed(r.keys, stamp.encode("ascii") + b"." + r.body, offered, _hex):
        return _mismatch("stripe")
    return _verified("stripe", _json_object(r.body).get("id"))


def _slack(r: _Request) -> Verdict:
    # "v0=<hex>" of HMAC-SHA256 over "v0:<X-Slack-Request-Timestamp>:<body>".
    signature = r.headers.get("x-slack-signature")
    stamp = r.headers.get("x-slack-request-timestamp")
    if not signature:
        return _missing("slack", "X-Slack-Signature")
    if not stamp:
        return _missing("slack", "X-Slack-Request-Timestamp")
    if stale := _stale("slack", stamp, r):
        return stale
    message = b"v0:" + stamp.encode("ascii") + b":" + r.body
    if not _signed(r.keys, message, [signature], lambda d: "v0=" + d.hex()):
        return _mismatch("slack")
    document = _json_object(r.body) if r.body.lstrip()[:1] == b"{" else {}  # else a form post
    if document.get("type") == "url_verification":
        challenge = document.get("challenge")
        if not isinstance(challenge, str) or not 0 < len(challenge) <= _MAX_CHALLENGE_CHARS:
            return Verdict(400, "slack: url_verification without a usable challenge")
        return Verdict(200, "slack: url_verification answered", challenge=challenge)
    return _verified("slack", document.get("event_id"))


def _shopify(r: _Request) -> Verdict:
    # base64 of HMAC-SHA256 of the body. No timestamp is signed.
    signature = r.headers.get("x-shopify-hmac-sha256")
    if not signature:
        return _missing("shopify", "X-Shopify-Hmac-SHA256")
    if not _signed(r.keys, r.body, [signature], _base64):
        return _mismatch("shopify")
    return _verified("shopify", r.headers.get("x-shopify-webhook-id"))


def _standard_webhooks(r: _Request) -> Verdict:
    # "v1,<base64>" entries, space separated, of HMAC-SHA256 over "<id>.<timestamp>.<body>".
    source = "standard-webhooks"
    message_id = r.headers.get("webhook-id")
    stamp = r.headers.get("webhook-timestamp")
    signatures = r.headers.get("webhook-signature")
    if not message_id:
        return _missing(source, "webhook-id")
    if not stamp:
        return _missing(source, "webhook-timestamp")
    if not signatures:
        return _missing(source, "webhook-signature")
    if "." in message_id:  # the spec keeps "." out of ids, so "<id>.<ts>." cannot be re-split
        return Verdict(401, f"{source}: webhook-id contains '.'")
    if stale := _stale(source, stamp, r):
        return stale
    offered = [
        value
        for version, comma, value in (entry.partition(",") for entry in signatures.split())
        if comma and version == "v1"  # v1a (asymmetric) and later versions are not ours
    ]
    if not offered:
        return Verdict(401, f"{source}: webhook-signature has no v1 signature")
    message = message_id.encode("utf-8", "surrogatepass") + b"." + stamp.encode("ascii") + b"."
    if not _signed(r.keys, message + r.body, offered, _base64):
        return _mismatch(source)
    return _verified(source, message_id)


def _generic_hmac(r: _Request) -> Verdict:
    # prefix + hex or base64 of HMAC-<algorithm> of the body, in the configured header.
    header = _option(r.route, "header")
    signature = r.headers.get(header.lower())
    if not signature:
        return _missing("hmac", header)
    prefix = _option(r.route, "prefix")
    encode = _hex if _option(r.route, "encoding") == "hex" else _base64
    algorithm = _option(r.route, "algorithm")
    if not _signed(r.keys, r.body, [signature], lambda d: prefix + encode(d), algorithm):
        return _mismatch("hmac")
    return _verified("hmac")


def _token(r: _Request) -> Verdict:
    # A static shared token: the header is prefix + secret. Proves knowledge of it, nothing more.
    header = _option(r.route, "header")
    offered = r.headers.get(header.lower())
    if not offered:
        return _missing("token", header)
    prefix = _option(r.route, "prefix").encode("utf-8")
    offered_bytes = offered.encode("utf-8", "surrogatepass")
    if not any(hmac.compare_digest(prefix + key, offered_bytes) for key in r.keys):
        return Verdict(401, "token: token does not match")
    return Verdict(200, "token: token matches")


def _strava_event(document: Mapping[str, Any]) -> dict[str, int | str] | None:
    """The event's fields, numbers as int (digit strings allowed), or None if not a Strava event."""
    event: dict[str, int | str] = {}
    for name in _STRAVA_NUMBERS:
        number: Any = document.get(name)
        if isinstance(number, str) and _DIGITS.fullmatch(number):
            number = int(number)
        if not _whole(number) or number < 0:
            return None
        event[name] = number
    for name in _STRAVA_WORDS:
        word = document.get(name)
        if not isinstance(word, str) or not word:
            return None
        event[name] = word
    return event


def _strava(r: _Request) -> Verdict:
    # Strava signs nothing: the controls are the allow-lists (and an unguessable path).
    event = _strava_event(_json_object(r.body))
    if event is None:
        return Verdict(400, "strava: body is not a Strava event object")
    for field, key in (("subscription_id", "subscriptionIds"), ("owner_id", "ownerIds")):
        allowed = r.route.get(key) or []
        if allowed and event[field] not in allowed:
            return Verdict(403, f"strava: {field} not in {key}")
    stable = ":".join(str(event[name]) for name in _STRAVA_KEY)
    return Verdict(200, "strava: allow-lists passed", delivery_id(stable))


def _none(r: _Request) -> Verdict:
    return Verdict(200, "none: unauthenticated route")


_SCHEMES: dict[str, Callable[[_Request], Verdict]] = {
    "strava": _strava,
    "github": _github,
    "stripe": _stripe,
    "slack": _slack,
    "shopify": _shopify,
    "standard-webhooks": _standard_webhooks,
    "hmac": _generic_hmac,
    "token": _token,
    "none": _none,
}


def verify(
    route: Mapping[str, Any],
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: float,
) -> Verdict:
    """Verify one request against its route's sender; see the module docstring.

    Raises RouteConfigError for a misconfigured route; anything the request carries gives a
    Verdict. A signed source with no usable secret refuses everything (401), never lets it in.
    """
    problems = route_problems(route)
    if problems:
        raise RouteConfigError("; ".join(problems))
    source: str = route["source"]
    usable = [s for s in secrets if isinstance(s, str) and s]
    if source == "standard-webhooks":
        keys = [k for k in map(standard_webhooks_key, usable) if k is not None]
    else:
        keys = [s.encode("utf-8") for s in usable]
    if not keys and source not in UNSIGNED:
        return Verdict(401, f"{source}: no usable secret configured for this route")
    return _SCHEMES[source](_Request(route, headers, body, keys, now))
