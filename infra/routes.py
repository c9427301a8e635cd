"""The listener's routes: which path answers which sender, and how that sender is verified.

A route is `{name, path, source, ...}` in the stack file; `source` says how the listener
verifies the sender (docs/design.md, "Routes and sender verification"). Each source takes a
few options of its own, with defaults here; an option another source takes is an error, not
silently ignored. A route's secret (signing secret or token) is not part of the route: it is
`routeSecrets.<name>`, a secret config object the listener reads from SSM.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.settings import Invalid, Problem, json_value

SecretNeed = Literal["required", "optional", "forbidden"]


@dataclass(frozen=True)
class Source:
    """What a source needs: whether it verifies with a secret, and the options it takes."""

    secret: SecretNeed
    options: Mapping[str, Any] = field(default_factory=dict)
    """Option name -> default (None: required)."""
    signs: str = ""
    """What it checks, for docs and errors."""


TIMESTAMP_TOLERANCE_SECONDS = 300
"""Stripe's and Standard Webhooks' own default replay window: five minutes."""

SOURCES: Mapping[str, Source] = {
    "strava": Source(
        "optional",
        {"subscriptionIds": (), "ownerIds": ()},
        "nothing (Strava signs nothing): allow-lists of subscription_id and owner_id; the "
        "secret is the subscription handshake's verify token",
    ),
    "github": Source("required", {}, "X-Hub-Signature-256"),
    "stripe": Source(
        "required", {"toleranceSeconds": TIMESTAMP_TOLERANCE_SECONDS}, "Stripe-Signature"
    ),
    "slack": Source(
        "required",
        {"toleranceSeconds": TIMESTAMP_TOLERANCE_SECONDS},
        "X-Slack-Signature and X-Slack-Request-Timestamp",
    ),
    "shopify": Source("required", {}, "X-Shopify-Hmac-SHA256"),
    "standard-webhooks": Source(
        "required",
        {"toleranceSeconds": TIMESTAMP_TOLERANCE_SECONDS},
        "webhook-id, webhook-timestamp and webhook-signature",
    ),
    "hmac": Source(
        "required",
        {"header": None, "algorithm": "sha256", "encoding": "hex", "prefix": ""},
        "an HMAC of the body in a header of your choice",
    ),
    "token": Source(
        "required",
        {"header": "authorization", "prefix": "Bearer "},
        "a shared token in a header",
    ),
    "none": Source("forbidden", {}, "nothing: anyone who knows the URL may post"),
}

ALGORITHMS = ("sha256", "sha1", "sha512")
ENCODINGS = ("hex", "base64")
TOLERANCE_SECONDS_RANGE = (1, 3600)
MAX_SECRETS = 2
"""The current secret and, during a rotation window, the previous one."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")
_PREFIX = re.compile(r"[\x20-\x7e]{0,64}")
_SECRET = re.compile(r"[^\r\n]{1,1024}")


def canonical_path(path: str) -> str:
    """One trailing slash is ignored, as the listener ignores it."""
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


@dataclass(frozen=True, kw_only=True)
class Route:
    """One route, its options complete (defaults applied) and checked."""

    name: str
    """Unique; names the route's secret (`routeSecrets.<name>`) and its SSM parameter."""
    path: str
    """Unique; the listener answers POSTs (and handshakes) here."""
    source: str
    """How the sender is verified: a key of `SOURCES`."""
    options: tuple[tuple[str, Any], ...] = ()
    """The source's options (camelCase, as in the stack file), defaults applied."""

    @property
    def needs_secret(self) -> SecretNeed:
        return SOURCES[self.source].secret

    def option(self, name: str) -> Any:
        return dict(self.options)[name]

    def to_listener(self) -> dict[str, Any]:
        """The route as the listener reads it (docs/design.md, "The listener"), JSON-ready."""
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options}
        return {"name": self.name, "path": self.path, "source": self.source, **options}


DEFAULT_ROUTES = (Route(name="demo", path="/append_queue", source="none"),)
"""The original demo's one open path, so an unconfigured stack behaves as the demo did."""


def parse_routes(raw: str) -> tuple[Route, ...]:
    """The `routes` setting: every route checked, every problem reported (as one Invalid)."""
    value = json_value(raw, "a list of routes", "routes[0].name")
    if not isinstance(value, list) or not value:
        raise Invalid("must be a non-empty list of {name, path, source, ...} objects", value)
    problems: list[Problem] = []
    routes: list[Route] = []
    for index, entry in enumerate(value):
        route = _route(index, entry, problems)
        if route is not None:
            routes.append(route)
    for attribute in ("name", "path"):
        seen: dict[str, int] = {}
        for index, route in enumerate(routes):
            key = getattr(route, attribute)
            if key in seen:
                problems.append(
                    Problem(
                        f"routes[{index}].{attribute}",
                        key,
                        f"must be unique (routes[{seen[key]}] has it too)",
                    )
                )
            seen.setdefault(key, index)
    if problems:
        raise Invalid("has problems", problems=problems)
    return tuple(routes)


def _route(index: int, entry: object, problems: list[Problem]) -> Route | None:
    where = f"routes[{index}]"
    if not isinstance(entry, dict):
        problems.append(Problem(where, entry, "must be an object {name, path, source, ...}"))
        return None
    before = len(problems)
    name, path, source = entry.get("name"), entry.get("path"), entry.get("source")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(
            Problem(
                f"{where}.name",
                name,
                "is required: 1-32 letters, digits, '-' and '_', starting with a letter or digit",
            )
        )
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        problems.append(
            Problem(
                f"{where}.path",
                path,
                "is required: a path starting with '/', without spaces, query or fragment",
            )
        )
    if not isinstance(source, str) or source not in SOURCES:
        problems.append(
            Problem(
                f"{where}.source",
                source,
                f"is required: one of {', '.join(SOURCES)} "
                "(none means unauthenticated, and must be said)",
            )
        )
        return None
    spec = SOURCES[source]
    options: dict[str, Any] = {}
    for key in entry:
        if key not in ("name", "path", "source") and key not in spec.options:
            takes = ", ".join(spec.options) or "no options"
            problems.append(
                Problem(
                    f"{where}.{key}",
                    entry[key],
                    f"is not an option of a {source} route (it takes {takes})",
                )
            )
    for option, default in spec.options.items():
        given = entry.get(option, default)
        error = _option_error(option, given)
        if error:
            problems.append(Problem(f"{where}.{option}", given, error))
        options[option] = _normalised(option, given)
    if len(problems) > before:
        return None
    return Route(
        name=str(name),
        path=canonical_path(str(path)),
        source=source,
        options=tuple(options.items()),
    )


def _option_error(option: str, value: Any) -> str | None:
    if option in ("subscriptionIds", "ownerIds"):
        ok = isinstance(value, list | tuple) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
        )
        return None if ok else "must be a list of whole numbers (empty: any)"
    if option == "toleranceSeconds":
        low, high = TOLERANCE_SECONDS_RANGE
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return None if ok else f"must be a whole number of seconds between {low} and {high}"
    if option == "header":
        if value is None:
            return "is required: the name of the header that carries the signature"
        valid = isinstance(value, str) and _HEADER.fullmatch(value) is not None
        return None if valid else "must be an HTTP header name"
    if option == "algorithm":
        return None if value in ALGORITHMS else f"must be one of {', '.join(ALGORITHMS)}"
    if option == "encoding":
        return None if value in ENCODINGS else f"must be one of {', '.join(ENCODINGS)}"
    if option == "prefix":
        valid = isinstance(value, str) and _PREFIX.fullmatch(value) is not None
        return None if valid else "must be up to 64 printable ASCII characters"
    return None


def _normalised(option: str, value: Any) -> Any:
    if option == "header" and isinstance(value, str):
        return value.lower()  # Function URLs deliver header names lower-cased
    if isinstance(value, list):
        return tuple(value)
    return value


def parse_route_secrets(raw: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The `routeSecrets` object: route name -> its secret, or [current, previous].

    Errors never show a secret: only route names and the rule.
    """
    value = json_value(raw, "an object keyed by route name", "routeSecrets.NAME")
    if not isinstance(value, dict):
        raise Invalid("must be an object keyed by route name", "<secret>")
    problems: list[Problem] = []
    secrets: list[tuple[str, tuple[str, ...]]] = []
    for name, given in value.items():
        values = [given] if isinstance(given, str) else given
        if (
            not isinstance(values, list)
            or not 1 <= len(values) <= MAX_SECRETS
            or not all(isinstance(v, str) and _SECRET.fullmatch(v) for v in values)
        ):
            problems.append(
                Problem(
                    f"routeSecrets.{name}",
                    None,
                    f"must be a secret string, or a list of up to {MAX_SECRETS} (current first, "
                    "then the previous one during a rotation), each 1-1024 characters without "
                    "line breaks",
                    secret=True,
                )
            )
            continue
        secrets.append((str(name), tuple(values)))
    if problems:
        raise Invalid("has problems", problems=problems)
    return tuple(secrets)


def secret_problems(routes: Sequence[Route], secrets: Mapping[str, Sequence[str]]) -> list[Problem]:
    """Each route has the secret its source needs, and each secret belongs to a route."""
    found: list[Problem] = []
    by_name = {route.name: route for route in routes}
    for route in routes:
        key = f"routeSecrets.{route.name}"
        has = route.name in secrets
        if route.needs_secret == "required" and not has:
            found.append(
                Problem(
                    key,
                    None,
                    f"is required: route {route.name!r} (source {route.source}) verifies "
                    f"{SOURCES[route.source].signs} with it; set it with `pulumi config set "
                    f"--secret --path '{key}' VALUE`",
                    secret=True,
                )
            )
        if route.needs_secret == "forbidden" and has:
            found.append(
                Problem(
                    key,
                    None,
                    f"route {route.name!r} has source none, which checks no "
                    "secret: remove the secret or choose a verifying source",
                    secret=True,
                )
            )
        if route.source == "standard-webhooks" and has:
            for secret in secrets[route.name]:
                if not _standard_webhooks_secret(secret):
                    found.append(
                        Problem(
                            key,
                            None,
                            "must be a Standard Webhooks secret: whsec_ followed by base64",
                            secret=True,
                        )
                    )
                    break
    for name in secrets:
        if name not in by_name:
            found.append(
                Problem(
                    f"routeSecrets.{name}",
                    None,
                    f"names no route (routes: {', '.join(by_name) or 'none'})",
                    secret=True,
                )
            )
    return found


def _standard_webhooks_secret(secret: str) -> bool:
    import base64
    import binascii

    if not secret.startswith("whsec_"):
        return False
    try:
        return len(base64.b64decode(secret[len("whsec_") :], validate=True)) > 0
    except (binascii.Error, ValueError):
        return False
