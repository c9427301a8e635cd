"""`strava subscribe / view / unsubscribe`: the application's push subscription, checked first.

Strava's Webhook Events API keeps one push subscription per application, managed with the
application's client id and secret:

  POST   {api}/push_subscriptions       form: client_id, client_secret, callback_url, verify_token
  GET    {api}/push_subscriptions       ?client_id&client_secret: a list of subscriptions
  DELETE {api}/push_subscriptions/ID    ?client_id&client_secret: 204

Before it answers a POST, Strava GETs the callback with hub.mode=subscribe, hub.challenge and
hub.verify_token and needs a 200 echoing {"hub.challenge": ...} within 2 seconds. `subscribe`
plays that handshake itself first, so that a wrong token or an unreachable listener is
explained here, with the listener's own answer, rather than as Strava's terse "not verifiable".

The client secret and the verify token travel as `Secret`s, which print as ***: no error,
--verbose line or traceback can show them.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit

from ops import webhook
from ops.errors import OpsError, UsageError
from ops.routes import RouteError, pick_route, stack_routes

DEFAULT_API_URL = "https://www.strava.com/api/v3"
CLIENT_ID_VARIABLE = "STRAVA_CLIENT_ID"
CLIENT_SECRET_VARIABLE = "STRAVA_CLIENT_SECRET"
TOKEN_VARIABLE = "STRAVA_VERIFY_TOKEN"
SETTINGS_PAGE = "https://www.strava.com/settings/api"
HANDSHAKE_DEADLINE_SECONDS = 2.0
"""Strava's: the callback must answer the handshake with the challenge within two seconds."""
API_TIMEOUT_SECONDS = 30.0
"""A create waits for Strava's own handshake with the callback before it is answered."""
_FORM = {"content-type": "application/x-www-form-urlencoded"}


class Secret:
    """A string that prints as ***: only `reveal()` gives the value, at the point of use."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


@dataclass(frozen=True)
class Credentials:
    """The Strava application's: push subscriptions belong to an application, not an athlete."""

    client_id: str
    client_secret: Secret


def credentials(environ: Mapping[str, str]) -> Credentials:
    """From STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET; every problem named at once."""
    client_id = environ.get(CLIENT_ID_VARIABLE, "").strip()
    client_secret = environ.get(CLIENT_SECRET_VARIABLE, "").strip()
    problems = [
        f"{name} is not set"
        for name, value in (
            (CLIENT_ID_VARIABLE, client_id),
            (CLIENT_SECRET_VARIABLE, client_secret),
        )
        if not value
    ]
    if client_id and not client_id.isdigit():
        # Its value is not shown: a secret pasted into the wrong variable is a common slip.
        problems.append(f"{CLIENT_ID_VARIABLE} must be the application's numeric client id")
    if problems:
        raise UsageError(
            "; ".join(problems) + f" (your Strava application's values are on {SETTINGS_PAGE})"
        )
    return Credentials(client_id=client_id, client_secret=Secret(client_secret))


def scrub(text: str, *secrets: Secret) -> str:
    """Text from elsewhere (Strava, the listener) with any secret replaced, should it echo one."""
    for secret in secrets:
        if secret.reveal():
            text = text.replace(secret.reveal(), "***")
    return text


@dataclass(frozen=True)
class Fault:
    """Strava's error body: {"message": ..., "errors": [{"resource", "field", "code"}]}."""

    message: str
    errors: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, answer: webhook.Answer) -> Fault:
        payload = answer.json()
        errors = payload.get("errors")
        found = tuple(
            (str(e.get("resource", "")), str(e.get("field", "")), str(e.get("code", "")))
            for e in (errors if isinstance(errors, list) else [])
            if isinstance(e, dict)
        )
        return cls(message=str(payload.get("message", "")), errors=found)

    def has(self, *, resource: str = "", field: str = "", code: str = "") -> bool:
        """Whether an error matches every given part (case-insensitive, code as a substring)."""
        return any(
            (not resource or r.lower() == resource.lower())
            and (not field or f.lower() == field.lower())
            and code.lower() in c.lower()
            for r, f, c in self.errors
        )

    def __str__(self) -> str:
        parts = [self.message] if self.message else []
        parts += [" ".join(p for p in error if p) for error in self.errors]
        return "; ".join(parts)


class StravaApi:
    """The push subscription endpoints, called as the application; one connection per call."""

    def __init__(
        self,
        base_url: str,
        creds: Credentials,
        *,
        log: TextIO | None = None,
        timeout: float = API_TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.creds = creds
        self.log = log
        """--verbose: each call, secrets as ***."""
        self.timeout = timeout

    def _call(
        self, method: str, path: str, form: Mapping[str, str | Secret] | None = None
    ) -> webhook.Answer:
        fields: dict[str, str | Secret] = {
            "client_id": self.creds.client_id,
            "client_secret": self.creds.client_secret,
            **(form or {}),
        }
        plain = urlencode(
            {k: v.reveal() if isinstance(v, Secret) else v for k, v in fields.items()}
        )
        url = self.base_url + path
        if form is None:  # GET and DELETE take the credentials in the query, as Strava documents
            answer = webhook.request(f"{url}?{plain}", method, timeout=self.timeout)
        else:
            answer = webhook.request(url, method, plain.encode(), dict(_FORM), self.timeout)
        if self.log is not None:
            shown = ", ".join(f"{k}={v}" for k, v in fields.items())  # Secret prints as ***
            usage = answer.headers.get("x-ratelimit-usage")
            limit = f"; rate limit usage {usage} of {answer.headers.get('x-ratelimit-limit')}"
            print(
                f"{method} {url} ({shown}) -> {answer.status} in {answer.seconds * 1000:.0f} ms"
                + (limit if usage else ""),
                file=self.log,
            )
        return answer

    def create(self, callback_url: str, token: Secret) -> webhook.Answer:
        return self._call(
            "POST", "/push_subscriptions", {"callback_url": callback_url, "verify_token": token}
        )

    def subscriptions(self) -> list[dict[str, Any]]:
        answer = self._call("GET", "/push_subscriptions")
        if answer.status != 200:
            raise OpsError(self.explain(answer, "list the subscriptions"))
        try:
            found = json.loads(answer.body)
        except ValueError:
            found = None
        if not isinstance(found, list) or not all(isinstance(s, dict) for s in found):
            raise OpsError(f"Strava answered 200 without a list of subscriptions from {self.url}")
        return found

    def delete(self, subscription_id: int) -> webhook.Answer:
        return self._call("DELETE", f"/push_subscriptions/{subscription_id}")

    @property
    def url(self) -> str:
        return f"{self.base_url}/push_subscriptions"

    def explain(self, answer: webhook.Answer, doing: str, *, callback_url: str = "") -> str:
        """Strava's error in plain words, with what to do about it."""
        fault = Fault.of(answer)
        said = scrub(
            str(fault) or answer.body[:200].decode(errors="replace"), self.creds.client_secret
        )
        detail = f"Strava answered {answer.status}" + (f" ({said})" if said else "")
        if answer.status == 429:
            usage = answer.headers.get("x-ratelimit-usage")
            limit = answer.headers.get("x-ratelimit-limit")
            counts = f"; used {usage} of {limit} (15 minutes, day)" if usage and limit else ""
            return (
                f"cannot {doing}: Strava's rate limit for this application is used up "
                f"({detail}{counts}). The 15-minute window restarts at :00, :15, :30 and :45, "
                "the daily one at midnight UTC: try again then"
            )
        if answer.status in (401, 403) or fault.has(resource="Application", code="invalid"):
            return (
                f"cannot {doing}: Strava refused the application's credentials ({detail}). "
                f"Check {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE} against {SETTINGS_PAGE}"
            )
        if fault.has(code="already exists"):
            return (
                f"cannot {doing}: this application already has a subscription, and Strava "
                f"allows one per application ({detail}). See it with `python -m ops strava "
                "view`; to point Strava elsewhere, `python -m ops strava unsubscribe`, then "
                "subscribe again"
            )
        if fault.has(field="callback url") or fault.has(code="verif"):
            return (
                f"cannot {doing}: Strava could not verify the callback {callback_url} ({detail}). "
                "Before it creates a subscription, Strava GETs the callback with hub.challenge "
                f"and needs a 200 echoing it within {HANDSHAKE_DEADLINE_SECONDS:g} s: the URL "
                "must be reachable from the internet, the verify token must be the listener's, "
                "and the listener must answer in time (try `python -m ops strava handshake`)"
            )
        if answer.status == 404:
            return f"cannot {doing}: Strava has no such subscription ({detail})"
        if answer.status >= 500:
            return f"cannot {doing}: Strava is having trouble ({detail}); try again later"
        return f"cannot {doing}: {detail}"


def describe(subscription: Mapping[str, Any]) -> str:
    return (
        f"id {subscription.get('id', '?')}  callback {subscription.get('callback_url', '?')}  "
        f"created {subscription.get('created_at', '?')}  "
        f"updated {subscription.get('updated_at', '?')}"
    )


# --- where the callback URL and the verify token come from ------------------------------------


@dataclass(frozen=True)
class RouteDefaults:
    """What the stack file says about its Strava route."""

    name: str
    path: str
    token: Secret | None
    token_problem: str = ""
    """Why `token` is None."""


class NoDefaultsError(Exception):
    """The stack file cannot say; the message says why, the caller names the flags to pass."""


def strava_route_defaults(
    project_dir: Path,
    stack: str | None,
    *,
    route: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> RouteDefaults:
    """The Strava route's path and verify token, from `Pulumi.<stack>.yaml`, read by the
    program's own config code (ops/routes.py): the route with `source: strava`, its verify token
    `routeSecrets.<name>` (the current one of [current, previous] during a rotation)."""
    if not stack:
        raise NoDefaultsError("no stack named (-s STACK) whose stack file holds the Strava route")
    try:
        routes = stack_routes(project_dir, stack, environ)
    except RouteError as exc:
        raise NoDefaultsError(str(exc)) from None
    stravas = [r for r in routes.values() if r.source == "strava"]
    if route is None and not stravas:
        raise NoDefaultsError(f"Pulumi.{stack}.yaml has no route with source: strava")
    chosen = pick_route(routes, route, stack=stack, source="strava")
    token = Secret(chosen.secret) if chosen.secret else None
    problem = "" if token else f"Pulumi.{stack}.yaml has no routeSecrets.{chosen.name}"
    return RouteDefaults(name=chosen.name, path=chosen.path, token=token, token_problem=problem)


def callback_and_token(
    *,
    callback_url: str | None,
    verify_token: str | None,
    defaults: Callable[[], RouteDefaults],
    listener_url: Callable[[], str],
) -> tuple[str, Secret]:
    """Flags win; the stack is asked only for what they leave out."""
    if callback_url and verify_token:
        return callback_url, Secret(verify_token)
    try:
        found = defaults()
    except NoDefaultsError as exc:
        missing = [
            flag
            for flag, given in (
                ("--callback-url URL", callback_url),
                ("--verify-token T", verify_token),
            )
            if not given
        ]
        raise UsageError(f"{exc}: pass {' and '.join(missing)}") from None
    token = Secret(verify_token) if verify_token else found.token
    if token is None:
        raise UsageError(
            f"{found.token_problem}: pass --verify-token T or set {TOKEN_VARIABLE} (the value "
            f"of `pulumi config get --path routeSecrets.{found.name}`)"
        )
    return callback_url or webhook.endpoint(listener_url(), found.path), token


# --- the commands ----------------------------------------------------------------------------


def _is_private(host: str) -> bool:
    """This machine, a private or otherwise non-global network: not where Strava can call."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: resolved by whoever calls it, not judged here
    return not address.is_global


def check_reachable(api_url: str, callback_url: str) -> None:
    """Strava calls the callback from the internet: a local or private one can never pass.

    Allowed when the API itself is on this machine (a fake of Strava, as in the tests).
    """
    callback_host = urlsplit(callback_url).hostname or ""
    if _is_private(callback_host) and not _is_private(urlsplit(api_url).hostname or ""):
        raise UsageError(
            f"Strava cannot reach {webhook.without_query(callback_url)}: {callback_host} is "
            "this machine or a private network, and Strava calls the callback from the "
            "internet. Subscribe with the deployed stack's listener (pulumi stack output "
            "listener_url), or expose the local one through a public HTTPS tunnel and pass "
            "that URL as --callback-url"
        )


def verify_callback(callback_url: str, token: Secret, *, out: TextIO) -> None:
    """What Strava will do first, done here first: OpsError, explained, when it would fail."""
    refused = "not subscribed (Strava was not called)"
    deadline = HANDSHAKE_DEADLINE_SECONDS
    try:
        result = webhook.check_handshake(callback_url, token.reveal(), timeout=deadline)
    except OpsError as exc:
        if isinstance(exc.__cause__, TimeoutError):
            raise OpsError(
                f"{refused}: {webhook.without_query(callback_url)} did not answer the handshake "
                f"within {deadline:g} s, Strava's deadline (a cold start? run it again; if it "
                "stays slow, read the listener's logs)"
            ) from None
        raise OpsError(f"{refused}: {exc}; Strava could not reach it either") from None
    answer = result.answer
    if not result.ok:
        reason = scrub(result.reason, token)
        if answer.status == 403:
            hint = (
                "the listener refused the verify token: pass the one it was deployed with "
                "(--verify-token, or the route's routeSecrets.<name>)"
            )
        elif answer.status == 404:
            hint = "nothing answers at that path: check the route's path or --callback-url"
        else:
            hint = "Strava would refuse the subscription"
        raise OpsError(f"{refused}: the handshake with {callback_url} {reason}; {hint}")
    if answer.seconds > deadline:
        raise OpsError(
            f"{refused}: {callback_url} echoed the challenge but took {answer.seconds:.2f} s; "
            f"Strava needs it within {deadline:g} s"
        )
    ms = answer.seconds * 1000
    print(f"handshake ok: {callback_url} echoed the challenge in {ms:.1f} ms", file=out)


def subscribe(
    api: StravaApi,
    *,
    callback_url: str,
    token: Secret,
    handshake_first: bool = True,
    out: TextIO,
) -> int:
    """Check the handshake, then create the subscription and print its id."""
    check_reachable(api.base_url, callback_url)
    if handshake_first:
        verify_callback(callback_url, token, out=out)
    else:
        print("handshake check skipped: Strava still makes its own before it answers", file=out)
    answer = api.create(callback_url, token)
    created = answer.json()
    if answer.status in (200, 201) and "id" in created:
        shown = created.get("callback_url", callback_url)
        print(f"subscribed: subscription id {created['id']}, callback {shown}", file=out)
        return 0
    if answer.status in (200, 201):
        raise OpsError(f"Strava answered {answer.status} without a subscription id")
    message = api.explain(answer, "subscribe", callback_url=callback_url)
    if Fault.of(answer).has(code="already exists"):
        try:
            existing = api.subscriptions()
        except OpsError:
            existing = []  # the explanation above stands on its own
        message += "".join(f"\n  existing: {describe(s)}" for s in existing)
    raise OpsError(message)


def view(api: StravaApi, *, out: TextIO) -> int:
    """The application's subscription (Strava keeps at most one), or "none"."""
    found = api.subscriptions()
    if not found:
        print(f"none: Strava application {api.creds.client_id} has no subscription", file=out)
    for subscription in found:
        print(describe(subscription), file=out)
    return 0


def unsubscribe(
    api: StravaApi,
    *,
    subscription_id: int | None,
    confirm: Callable[[str], bool] | None,
    out: TextIO,
) -> int:
    """Delete the subscription (by default the one `view` finds); asks first unless confirm=None."""
    label = f"subscription {subscription_id}"
    if subscription_id is None:
        found = api.subscriptions()
        if not found:
            print(
                f"nothing to delete: application {api.creds.client_id} has no subscription",
                file=out,
            )
            return 0
        if len(found) > 1:
            ids = ", ".join(str(s.get("id")) for s in found)
            raise UsageError(f"application {api.creds.client_id} has subscriptions {ids}: --id N")
        try:
            subscription_id = int(found[0]["id"])
        except (KeyError, TypeError, ValueError):
            raise OpsError(f"Strava listed a subscription without an id: {found[0]}") from None
        label = f"subscription {subscription_id} (callback {found[0].get('callback_url', '?')})"
    question = f"delete Strava {label}? Strava stops sending events at once"
    if confirm is not None and not confirm(question):
        print("nothing deleted", file=out)
        return 1
    answer = api.delete(subscription_id)
    if answer.status not in (200, 204):
        raise OpsError(api.explain(answer, f"delete subscription {subscription_id}"))
    print(f"unsubscribed: subscription {subscription_id} deleted", file=out)
    return 0
