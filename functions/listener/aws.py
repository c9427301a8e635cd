"""SQS SendMessage and SSM GetParameter over the standard library: SigV4, JSON protocol, keep-alive.

Why not boto3: almost every webhook meets a cold start, and the sender's deadline includes it.
`import boto3` plus `boto3.client("sqs")` costs ~150-200 ms and ~25 MB of memory before the first
message goes out; this module imports nothing that `http.client` has not already imported, so the
first message leaves a fresh interpreter in a fraction of that time (docs/design.md, 'The
listener'; `python -m bench --only client` measures it).

What it keeps of botocore's behaviour, because the listener's retry rules and AWS depend on it:
the wire format of the JSON protocol (SQS sends `x-amzn-query-mode: true`, so its errors carry
the legacy code in `x-amzn-query-error`, which wins over `__type`, as in botocore's parser), the
SigV4 canonical request byte for byte (tests/functions/test_aws_client.py compares with
botocore's SigV4Auth), credentials from the environment re-read on every call, then the
container-credentials endpoint (botocore's ContainerProvider), and `X-Amzn-Trace-Id` from
`_X_AMZN_TRACE_ID`.

What it adds: ONE attempt per call, bounded by the caller's connect and read timeouts (the
listener owns the retry budget), errors as exception types that say whether to retry and
whether the call may have taken effect, and MD5 checks of what SQS says it stored.

A client is not thread-safe: Lambda runs one request at a time per container.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import select
import ssl
import sys
import time
from base64 import b64encode
from datetime import UTC, datetime
from ipaddress import ip_address
from struct import pack
from urllib.parse import quote, unquote_to_bytes, urlsplit

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import the listener's cold start does not need
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, ClassVar

# ---- errors ----------------------------------------------------------------------------------


class AwsError(Exception):
    """Base of every error this module raises.

    `retryable`: another attempt may succeed. `outcome_unknown`: the request may have taken effect
    although the call failed (a SendMessage whose answer never came may have enqueued).
    """

    retryable: ClassVar[bool] = False
    outcome_unknown: ClassVar[bool] = False


class ConfigError(AwsError, ValueError):
    """The environment or the arguments are unusable (region, endpoint, timeouts): a deploy bug."""


class ParameterValidationError(AwsError, ValueError):
    """A request refused before sending (e.g. text that cannot be encoded): nothing was sent."""


class CredentialsError(AwsError):
    """No usable credentials are configured."""


class CredentialsUnavailableError(CredentialsError):
    """The container-credentials endpoint failed: configured, but not answering right now."""

    retryable = True


class TransportError(AwsError):
    """No HTTP answer from the service."""

    retryable = True


class ConnectError(TransportError):
    """Could not connect (DNS, refused, connect timeout, TLS handshake): nothing was sent."""


class NoResponseError(TransportError):
    """The request was sent (perhaps partly) and no complete answer came back."""

    outcome_unknown = True


class ReadTimeoutError(NoResponseError):
    """The request was sent and the answer did not arrive within the read timeout."""


class ResponseError(AwsError):
    """A 200 answer that cannot be trusted: not the JSON expected, or an MD5 that does not match."""

    retryable = True
    outcome_unknown = True


class ChecksumMismatchError(ResponseError):
    """SQS's MD5 of the body or attributes differs from ours: what it stored is not what we sent."""


class ServiceError(AwsError):
    """The service answered with an error and, but for a ServerError, did not act on the request."""

    def __init__(
        self,
        operation: str,
        status: int,
        code: str,
        message: str = "",
        *,
        error_type: str = "",
        request_id: str = "",
    ) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        """The error code botocore would report: the query-compatible code when there is one."""
        self.error_type = error_type or code
        """The JSON protocol's `__type` without its namespace (e.g. QueueDoesNotExist)."""
        self.message = message
        self.request_id = request_id
        shape = f" ({self.error_type})" if self.error_type != code else ""
        super().__init__(
            f"{operation}: HTTP {status} {code}{shape}" + (f": {message}" if message else "")
        )


class ThrottlingError(ServiceError):
    """Throttled (SQS, SSM or the KMS key behind the queue)."""

    retryable = True


class ServerError(ServiceError):
    """A 5xx or a transient service error: the service (or a proxy's backend) may have acted
    before failing."""

    retryable = True
    outcome_unknown = True


class AccessDeniedError(ServiceError):
    """Not authorized, or the signature or credentials were refused."""


class NotFoundError(ServiceError):
    """The queue or parameter does not exist."""


class QueueDoesNotExistError(NotFoundError):
    """The queue named by the queue URL does not exist (or is in another account or region)."""


class ParameterNotFoundError(NotFoundError):
    """The SSM parameter (or the version asked for) does not exist."""


class InvalidParameterError(ServiceError):
    """The service refused a parameter value (message too long, bad characters, ...)."""


# botocore's throttling codes (botocore/retries/standard.py) and the ones SQS and KMS add.
_THROTTLING_CODES = frozenset(
    """
    Throttling ThrottlingException ThrottledException RequestThrottledException
    TooManyRequestsException ProvisionedThroughputExceededException
    TransactionInProgressException RequestLimitExceeded BandwidthLimitExceeded
    LimitExceededException RequestThrottled SlowDown PriorRequestNotComplete
    EC2ThrottledException KmsThrottled KMS.ThrottlingException
    """.split()  # noqa: SIM905 - a word list reads better than a column of quotes
)
_TRANSIENT_CODES = frozenset(
    """
    RequestTimeout RequestTimeoutException ServiceUnavailable
    ServiceUnavailableException InternalError InternalFailure InternalServerError
    """.split()  # noqa: SIM905 - a word list reads better than a column of quotes
)
_ACCESS_DENIED_CODES = frozenset(
    """
    AccessDenied AccessDeniedException KmsAccessDenied KMS.AccessDeniedException
    InvalidClientTokenId UnrecognizedClientException SignatureDoesNotMatch
    IncompleteSignature MissingAuthenticationToken InvalidSecurity ExpiredToken
    ExpiredTokenException
    """.split()  # noqa: SIM905 - a word list reads better than a column of quotes
)
_QUEUE_MISSING_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
_PARAMETER_MISSING_CODES = frozenset({"ParameterNotFound", "ParameterVersionNotFound"})
_INVALID_PARAMETER_CODES = frozenset(
    """
    InvalidParameterValue InvalidParameterValueException InvalidParameterCombination
    MissingParameter InvalidMessageContents InvalidAttributeName InvalidAttributeValue
    InvalidAddress UnsupportedOperation AWS.SimpleQueueService.UnsupportedOperation
    ValidationException ValidationError SerializationException InvalidKeyId
    """.split()  # noqa: SIM905 - a word list reads better than a column of quotes
)


def _error_class(status: int, code: str, error_type: str) -> type[ServiceError]:
    names = {code, error_type}
    if names & _THROTTLING_CODES or status == 429:
        return ThrottlingError
    if names & _QUEUE_MISSING_CODES:
        return QueueDoesNotExistError
    if names & _PARAMETER_MISSING_CODES:
        return ParameterNotFoundError
    if names & _ACCESS_DENIED_CODES or status == 403:
        return AccessDeniedError
    if status >= 500 or names & _TRANSIENT_CODES:
        return ServerError
    if names & _INVALID_PARAMETER_CODES:
        return InvalidParameterError
    return ServiceError


def service_error(
    operation: str, status: int, headers: Mapping[str, str] | http.client.HTTPMessage, body: bytes
) -> ServiceError:
    """The error an answer other than 200 stands for, parsed as botocore's JSON parser does.

    `__type` may carry a namespace ("com.amazonaws.sqs#QueueDoesNotExist") or a suffix after ":";
    a query-compatible service's `x-amzn-query-error: <code>;<Sender|Receiver>` gives the code.
    A body that is not a JSON object (an HTML page from a proxy, nothing at all) yields the HTTP
    status as the code, as botocore does, unless it is an XML error document with a <Code> (what
    moto, and AWS's front end for some authentication failures, send): then that code, so a log
    says SignatureDoesNotMatch rather than 403.
    """
    document: Any = None
    if body.strip():
        try:
            document = json.loads(body)
        except ValueError:  # includes UnicodeDecodeError
            document = None
    if not isinstance(document, dict):
        document = {}
    message = document.get("message", document.get("Message", ""))
    message = message[:500] if isinstance(message, str) else ""
    if not message and not document:
        message = http.client.responses.get(status, "")
        if body.strip():
            message += f" (body is not a JSON object, {len(body)} bytes)"
    raw_type = document.get("__type")
    if not isinstance(raw_type, str) or not raw_type:
        raw_type = _xml_code(body) if not document else None
    error_type = raw_type or str(status)
    error_type = error_type.split(":", 1)[0].rsplit("#", 1)[-1]
    code = error_type
    query_error = (headers.get("x-amzn-query-error") or "").split(";")
    if len(query_error) == 2 and query_error[0]:
        code = query_error[0]
    return _error_class(status, code, error_type)(
        operation,
        status,
        code,
        message,
        error_type=error_type,
        request_id=headers.get("x-amzn-requestid") or "",
    )


def _xml_code(body: bytes) -> str | None:
    start = body.find(b"<Code>")
    end = body.find(b"</Code>", start)
    if start < 0 or end < 0 or not body.lstrip().startswith(b"<"):
        return None
    code = body[start + 6 : end].decode("ascii", "replace").strip()
    return code if code and len(code) <= 100 and code.replace(".", "").isalnum() else None


# ---- SigV4 -----------------------------------------------------------------------------------

# Headers botocore leaves out of the signature (botocore/auth.py SIGNED_HEADERS_BLACKLIST): hops
# and proxies may change them without invalidating the request.
_UNSIGNED_HEADERS = frozenset(
    """
    baggage connection expect keep-alive proxy-authenticate proxy-authorization te
    traceparent tracestate trailer transfer-encoding upgrade user-agent x-amzn-trace-id
    """.split()  # noqa: SIM905 - a word list reads better than a column of quotes
)
_ALGORITHM = "AWS4-HMAC-SHA256"
_KEY_CACHE_LIMIT = 8


class Credentials:
    """An access key, its secret and an optional session token; the repr never shows secrets."""

    __slots__ = ("access_key", "expires_at", "secret_key", "token")

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        token: str | None = None,
        expires_at: float | None = None,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token
        self.expires_at = expires_at
        """Epoch seconds after which AWS refuses them; None when they do not expire."""

    def __repr__(self) -> str:
        return f"Credentials(access_key={self.access_key!r}, secret_key=***, token=***)"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 plus collapsed slashes, as botocore normalizes every non-S3 path."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and kept else ""
    return first + "/".join(kept) + last


def canonical_path(path: str) -> str:
    """The wire path (already percent-encoded) normalized and encoded once more, as SigV4 wants
    for every service but S3."""
    return quote(_remove_dot_segments(path), safe="/~")


def canonical_query(query: str) -> str:
    """Each name and value percent-encoded per SigV4 (unreserved kept, hex upper-case), sorted."""
    if not query:
        return ""
    pairs = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        pairs.append(
            (
                quote(unquote_to_bytes(name), safe="-_.~"),
                quote(unquote_to_bytes(value), safe="-_.~"),
            )
        )
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_request(
    method: str, path: str, query: str, headers: Iterable[tuple[str, str]], payload_hash: str
) -> tuple[str, str]:
    """(canonical request, signed header names). Repeated headers are joined with commas in
    the order given; values are trimmed and inner runs of whitespace collapsed."""
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        lower = name.lower()
        if lower not in _UNSIGNED_HEADERS:
            merged.setdefault(lower, []).append(" ".join(value.split()))
    names = sorted(merged)
    signed = ";".join(names)
    lines = "".join(f"{name}:{','.join(merged[name])}\n" for name in names)
    return (
        "\n".join(
            (
                method.upper(),
                canonical_path(path),
                canonical_query(query),
                lines,
                signed,
                payload_hash,
            )
        ),
        signed,
    )


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC chain over date, region, service and "aws4_request"."""
    key = hmac.digest(f"AWS4{secret_key}".encode(), date.encode(), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def sign(
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    credentials: Credentials,
    region: str,
    service: str,
    amz_date: str,
    key_cache: dict[tuple[str, str, str, str], bytes] | None = None,
) -> list[tuple[str, str]]:
    """The request's headers with X-Amz-Date, X-Amz-Security-Token (when there is a token) and
    Authorization added. `headers` must include Host as it goes on the wire; `amz_date` is
    YYYYMMDD'T'HHMMSS'Z' in UTC. The derived key is cached per secret, date, region and service:
    it changes once a day, the request signature on every call."""
    headers = [*headers, ("X-Amz-Date", amz_date)]
    if credentials.token:
        headers.append(("X-Amz-Security-Token", credentials.token))
    payload_hash = hashlib.sha256(body).hexdigest()
    request, signed = canonical_request(method, path, query, headers, payload_hash)
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        (_ALGORITHM, amz_date, scope, hashlib.sha256(request.encode()).hexdigest())
    )
    cache_key = (credentials.secret_key, date, region, service)
    key = key_cache.get(cache_key) if key_cache is not None else None
    if key is None:
        key = signing_key(credentials.secret_key, date, region, service)
        if key_cache is not None:
            if len(key_cache) >= _KEY_CACHE_LIMIT:
                key_cache.clear()
            key_cache[cache_key] = key
    signature = hmac.digest(key, string_to_sign.encode(), "sha256").hex()
    headers.append(
        (
            "Authorization",
            f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}",
        )
    )
    return headers


def amz_date(epoch_seconds: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch_seconds))


# ---- HTTP ------------------------------------------------------------------------------------

_ssl_context: ssl.SSLContext | None = None
# A connection the server closed while it sat idle fails the next request in one of these ways
# before any byte of an answer arrives; that request is sent once more on a new connection.
_STALE_CONNECTION_ERRORS = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)


def _default_ssl_context() -> ssl.SSLContext:
    """Created on first HTTPS use (loading the CA bundle costs milliseconds), then shared."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    return _ssl_context


def host_header(url: str) -> str:
    """Host as botocore signs it: lower-case, port only when not the scheme's default, IPv6 in
    brackets."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default:
        host = f"{host}:{parts.port}"
    return host


def _readable(sock: Any) -> bool:
    """An idle keep-alive socket with something to read has been closed (or spoken out of
    turn) by the server: either way it cannot carry the next request."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class Connection:
    """One kept-alive HTTP/1.1 connection to one endpoint, with separate connect/read timeouts.

    The connect timeout covers TCP and the TLS handshake; the read timeout each socket read after
    that (an SQS answer is well under 1 KB: one read). DNS resolution is not bounded by either.
    """

    def __init__(self, url: str, *, connect_timeout: float, read_timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"endpoint {url!r}: expected http:// or https:// and a host")
        try:
            self._port = parts.port
        except ValueError as exc:
            raise ConfigError(f"endpoint {url!r}: {exc}") from exc
        self.url = url
        self.https = parts.scheme == "https"
        self._hostname = parts.hostname
        self.host = host_header(url)
        self.path = parts.path or "/"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._conn: http.client.HTTPConnection | None = None
        self.connects = 0
        """How many connections were opened (tests and benchmarks read it)."""

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _open(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self.https:
            conn = http.client.HTTPSConnection(
                self._hostname,
                self._port,
                timeout=self.connect_timeout,
                context=_default_ssl_context(),
            )
        else:
            conn = http.client.HTTPConnection(
                self._hostname, self._port, timeout=self.connect_timeout
            )
        try:
            conn.connect()
        except OSError as exc:  # refused, DNS, timeout, TLS: nothing was sent
            conn.close()
            raise ConnectError(f"could not connect to {self.host}: {_describe(exc)}") from exc
        assert conn.sock is not None
        conn.sock.settimeout(self.read_timeout)
        self.connects += 1
        self._conn = conn
        return conn

    def request(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """(status, headers, body) of one exchange. A connection the server had dropped is
        replaced, once, without counting as a failure."""
        conn = self._conn
        if conn is not None and (conn.sock is None or _readable(conn.sock)):
            self.close()
            conn = None
        reused = conn is not None
        while True:
            if conn is None:
                conn = self._open()
            answered = False
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                if body or method == "POST":
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                response = conn.getresponse()
                answered = True
                data = response.read()
            except TimeoutError as exc:
                self.close()
                raise ReadTimeoutError(
                    f"no answer from {self.host} within {self.read_timeout} s"
                ) from exc
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                if reused and not answered and isinstance(exc, _STALE_CONNECTION_ERRORS):
                    reused = False
                    conn = None
                    continue
                raise NoResponseError(
                    f"connection to {self.host} failed after sending: {_describe(exc)}"
                ) from exc
            if response.will_close:
                self.close()
            return response.status, response.msg, data


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---- credentials -----------------------------------------------------------------------------

_CONTAINER_HOST = "169.254.170.2"
_CONTAINER_ALLOWED_HOSTS = frozenset(
    {_CONTAINER_HOST, "169.254.170.23", "fd00:ec2::23", "localhost"}
)
# botocore's RefreshableCredentials: refresh 15 min before expiry; below 10 min, a failed
# refresh is an error instead of a reason to keep the old ones.
ADVISORY_REFRESH_SECONDS = 15 * 60
MANDATORY_REFRESH_SECONDS = 10 * 60


class CredentialProvider:
    """Environment credentials (re-read on every call: they can change under a warm container),
    else the container-credentials endpoint, cached until near their expiry."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        connect_timeout: float = 1.0,
        read_timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._clock = clock
        self._from_env: Credentials | None = None
        self._from_container: tuple[str, Credentials] | None = None
        self.fetches = 0
        """How many times the container endpoint was asked (tests read it)."""

    def get(self) -> Credentials:
        env = self._environ
        access_key = env.get("AWS_ACCESS_KEY_ID")
        secret_key = env.get("AWS_SECRET_ACCESS_KEY")
        if access_key and secret_key:
            token = env.get("AWS_SESSION_TOKEN") or None
            cached = self._from_env
            if (
                cached is None
                or cached.access_key != access_key
                or cached.secret_key != secret_key
                or cached.token != token
            ):
                cached = self._from_env = Credentials(access_key, secret_key, token)
            return cached
        if access_key or secret_key:
            present, missing = (
                ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
                if access_key
                else ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
            )
            raise CredentialsError(f"{present} is set but {missing} is not: set both or neither")
        return self._container()

    def _container(self) -> Credentials:
        env = self._environ
        relative = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        url = (
            f"http://{_CONTAINER_HOST}{relative}"
            if relative
            else env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        )
        if not url:
            raise CredentialsError(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                "AWS_CONTAINER_CREDENTIALS_FULL_URI / AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
            )
        now = self._clock()
        cached = self._from_container
        if cached is not None and cached[0] == url:
            expires_at = cached[1].expires_at
            if expires_at is None or expires_at - now > ADVISORY_REFRESH_SECONDS:
                return cached[1]
        try:
            fresh = self._fetch(url)
        except CredentialsUnavailableError:
            if cached is not None and cached[0] == url:
                expires_at = cached[1].expires_at
                if expires_at is not None and expires_at - now > MANDATORY_REFRESH_SECONDS:
                    return cached[1]  # advisory window: keep the old ones a little longer
            raise
        self._from_container = (url, fresh)
        return fresh

    def _authorization(self) -> str | None:
        env = self._environ
        path = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        if path:
            name = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
            try:
                with open(path, encoding="utf-8") as file:
                    token: str | None = file.read()
            except OSError as exc:
                raise CredentialsError(f"{name}={path!r}: cannot read: {_describe(exc)}") from exc
        else:
            name = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
            token = env.get(name)
        if token is not None and ("\r" in token or "\n" in token):
            raise CredentialsError(f"{name}: the token contains a line break (not a header value)")
        return token

    def _fetch(self, url: str) -> Credentials:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise CredentialsError(f"container credentials URL {url!r}: expected http(s)://<host>")
        if parts.scheme == "http" and not (_is_loopback(host) or host in _CONTAINER_ALLOWED_HOSTS):
            raise CredentialsError(  # botocore's rule: credentials never cross a network in clear
                f"container credentials URL {url!r}: plain http is allowed only to a loopback "
                f"address or {', '.join(sorted(_CONTAINER_ALLOWED_HOSTS))}"
            )
        headers = [("Host", host_header(url)), ("Accept", "application/json")]
        token = self._authorization()
        if token is not None:
            headers.append(("Authorization", token))
        connection = Connection(
            url, connect_timeout=self._connect_timeout, read_timeout=self._read_timeout
        )
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.fetches += 1
        try:
            status, _, body = connection.request("GET", path, headers, b"")
        except TransportError as exc:
            raise CredentialsUnavailableError(f"container credentials endpoint: {exc}") from exc
        finally:
            connection.close()
        if status != 200:
            raise CredentialsUnavailableError(
                f"container credentials endpoint answered HTTP {status}"
            )
        try:
            document = json.loads(body)
            return Credentials(
                _text_field(document, "AccessKeyId"),
                _text_field(document, "SecretAccessKey"),
                _text_field(document, "Token"),
                _epoch(_text_field(document, "Expiration")),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise CredentialsUnavailableError(
                f"container credentials endpoint: unusable answer ({_describe(exc)})"
            ) from None  # the body holds secrets: never chain or print it


def _text_field(document: Any, name: str) -> str:
    value = document[name]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} is not a non-empty string")
    return value


def _epoch(iso_time: str) -> float:
    when = datetime.fromisoformat(iso_time.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


# ---- services --------------------------------------------------------------------------------

# Partitions by region prefix, longest first (botocore/data/partitions.json); every other
# region is in "aws" (amazonaws.com), us-gov included.
_PARTITION_SUFFIXES = (
    ("us-isob-", "sc2s.sgov.gov"),
    ("us-isof-", "csp.hci.ic.gov"),
    ("us-iso-", "c2s.ic.gov"),
    ("eu-isoe-", "cloud.adc-e.uk"),
    ("eusc-", "amazonaws.eu"),
    ("cn-", "amazonaws.com.cn"),
)
_TRACE_SAFE = "-=;:+&[]{}\"',"  # what botocore leaves unquoted in X-Amzn-Trace-Id
_USER_AGENT = f"async-webhook-aws/1 python/{sys.version_info[0]}.{sys.version_info[1]}"


def dns_suffix(region: str) -> str:
    for prefix, suffix in _PARTITION_SUFFIXES:
        if region.startswith(prefix):
            return suffix
    return "amazonaws.com"


def _region(environ: Mapping[str, str], region: str | None) -> str:
    name = region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or ""
    if not name:
        raise ConfigError("AWS_REGION (or AWS_DEFAULT_REGION) is required: the region to sign for")
    label = name.replace("-", "")
    if not (label.isascii() and label.isalnum()) or name[0] == "-" or name[-1] == "-":
        raise ConfigError(f"region {name!r}: expected letters, digits and inner hyphens")
    return name


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and value > 0 and value != float("inf")):
        raise ConfigError(f"{name}={value!r}: expected a finite number of seconds > 0")
    return float(value)


class _Service:
    """What SQS and SSM share: region, endpoint overrides, credentials, signing, connections."""

    service: ClassVar[str]
    env_name: ClassVar[str]
    target_prefix: ClassVar[str]
    content_type: ClassVar[str]
    query_compatible: ClassVar[bool] = False

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        region: str | None = None,
        environ: Mapping[str, str] | None = None,
        credentials: CredentialProvider | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self.region = _region(self._environ, region)
        self.connect_timeout = _positive("connect_timeout", connect_timeout)
        self.read_timeout = _positive("read_timeout", read_timeout)
        self.credentials = credentials or CredentialProvider(
            self._environ, connect_timeout=self.connect_timeout, read_timeout=self.read_timeout
        )
        self._clock = clock
        self.endpoint_override = self._configured_endpoint()
        self.connections: dict[str, Connection] = {}
        self._keys: dict[tuple[str, str, str, str], bytes] = {}

    def _configured_endpoint(self) -> str | None:
        """AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, as botocore reads them."""
        env = self._environ
        if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").strip().lower() == "true":
            return None
        for name in (f"AWS_ENDPOINT_URL_{self.env_name}", "AWS_ENDPOINT_URL"):
            url = env.get(name, "").strip()
            if url:
                if not url.startswith(("http://", "https://")) or not urlsplit(url).hostname:
                    raise ConfigError(f"{name}={url!r}: expected http:// or https:// and a host")
                return url
        if env.get("AWS_USE_FIPS_ENDPOINT", "").strip().lower() == "true":
            raise ConfigError(
                "AWS_USE_FIPS_ENDPOINT=true: this client does not derive FIPS endpoints; "
                f"set AWS_ENDPOINT_URL_{self.env_name} to the FIPS endpoint"
            )
        return None

    def connection(self, endpoint: str) -> Connection:
        conn = self.connections.get(endpoint)
        if conn is None:
            conn = self.connections[endpoint] = Connection(
                endpoint, connect_timeout=self.connect_timeout, read_timeout=self.read_timeout
            )
        return conn

    def close(self) -> None:
        for conn in self.connections.values():
            conn.close()

    def call(self, operation: str, endpoint: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """One signed JSON-protocol request; the answer's JSON object, or an AwsError."""
        try:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        except UnicodeEncodeError as exc:  # a lone surrogate: AWS would refuse it anyway
            raise ParameterValidationError(
                f"{operation}: text at position {exc.start} is not encodable as UTF-8"
            ) from None
        conn = self.connection(endpoint)
        headers = [
            ("Host", conn.host),
            ("Content-Type", self.content_type),
            ("X-Amz-Target", f"{self.target_prefix}.{operation}"),
        ]
        if self.query_compatible:
            headers.append(("x-amzn-query-mode", "true"))
        headers = sign(
            "POST",
            conn.path,
            "",
            headers,
            body,
            credentials=self.credentials.get(),
            region=self.region,
            service=self.service,
            amz_date=amz_date(self._clock()),
            key_cache=self._keys,
        )
        trace_id = self._environ.get("_X_AMZN_TRACE_ID")
        if trace_id:
            headers.append(("X-Amzn-Trace-Id", quote(trace_id, safe=_TRACE_SAFE)))
        headers.append(("User-Agent", _USER_AGENT))
        status, response_headers, data = conn.request("POST", conn.path, headers, body)
        if status != 200:
            raise service_error(operation, status, response_headers, data)
        try:
            document = json.loads(data)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ResponseError(f"{operation}: HTTP 200 without a JSON object ({len(data)} bytes)")
        return document


class SentMessage:
    """What SendMessage returns that the caller needs."""

    __slots__ = ("message_id", "sequence_number")

    def __init__(self, message_id: str, sequence_number: str | None) -> None:
        self.message_id = message_id
        self.sequence_number = sequence_number

    def __repr__(self) -> str:
        return f"SentMessage(message_id={self.message_id!r})"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def attributes_md5(attributes: Mapping[str, str | bytes]) -> str:
    """MD5OfMessageAttributes as SQS computes it: per attribute in name order, length-prefixed
    (4 bytes, big-endian) name, data type and value, with a transport byte (1 text, 2 binary)."""
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        binary = isinstance(value, bytes)
        raw = value if isinstance(value, bytes) else value.encode()
        data_type = b"Binary" if binary else b"String"
        encoded_name = name.encode()
        digest.update(pack("!I", len(encoded_name)) + encoded_name)
        digest.update(pack("!I", len(data_type)) + data_type)
        digest.update(b"\x02" if binary else b"\x01")
        digest.update(pack("!I", len(raw)) + raw)
    return digest.hexdigest()


class SQS(_Service):
    """SQS over its JSON protocol. The endpoint is AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL when
    set, else the queue URL's own scheme and host (SendMessage posts to the host's root)."""

    service = "sqs"
    env_name = "SQS"
    target_prefix = "AmazonSQS"
    content_type = "application/x-amz-json-1.0"
    query_compatible = True  # botocore/data/sqs/2012-11-05/service-2.json: awsQueryCompatible

    def endpoint(self, queue_url: str) -> str:
        if self.endpoint_override:
            return self.endpoint_override
        parts = urlsplit(queue_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"queue URL {queue_url!r}: expected http(s)://<host>/<account>/<name>"
            )
        return f"{parts.scheme}://{parts.netloc}/"

    def send_message(
        self,
        queue_url: str,
        body: str,
        attributes: Mapping[str, str | bytes] | None = None,
        *,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> SentMessage:
        """One SendMessage attempt. Attribute values that are str are sent as String, bytes as
        Binary. Raises an AwsError subclass; see `retryable` and `outcome_unknown`."""
        payload: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": body}
        if attributes:
            payload["MessageAttributes"] = {
                name: {"DataType": "Binary", "BinaryValue": b64encode(value).decode()}
                if isinstance(value, bytes)
                else {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            }
        if group_id is not None:
            payload["MessageGroupId"] = group_id
        if deduplication_id is not None:
            payload["MessageDeduplicationId"] = deduplication_id
        result = self.call("SendMessage", self.endpoint(queue_url), payload)
        message_id = result.get("MessageId")
        if not isinstance(message_id, str) or not message_id:
            raise ResponseError("SendMessage: the answer has no MessageId")
        if result.get("MD5OfMessageBody") != _md5(body.encode()):
            raise ChecksumMismatchError(
                f"SendMessage {message_id}: MD5OfMessageBody {result.get('MD5OfMessageBody')!r} "
                "does not match the body sent"
            )
        if attributes and result.get("MD5OfMessageAttributes") != attributes_md5(attributes):
            raise ChecksumMismatchError(
                f"SendMessage {message_id}: MD5OfMessageAttributes "
                f"{result.get('MD5OfMessageAttributes')!r} does not match the attributes sent"
            )
        sequence = result.get("SequenceNumber")
        return SentMessage(message_id, sequence if isinstance(sequence, str) else None)


class Parameter:
    """An SSM parameter; the repr never shows its value (it is usually a secret)."""

    __slots__ = ("name", "type", "value", "version")

    def __init__(self, name: str, type: str, value: str, version: int | None) -> None:
        self.name = name
        self.type = type
        self.value = value
        self.version = version

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, type={self.type!r}, value=***)"


class SSM(_Service):
    """SSM Parameter Store's GetParameter; endpoint AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL when
    set, else ssm.<region>.<partition's DNS suffix>."""

    service = "ssm"
    env_name = "SSM"
    target_prefix = "AmazonSSM"
    content_type = "application/x-amz-json-1.1"

    def endpoint(self) -> str:
        return self.endpoint_override or f"https://ssm.{self.region}.{dns_suffix(self.region)}/"

    def get_parameter(self, name: str, *, with_decryption: bool = True) -> Parameter:
        result = self.call(
            "GetParameter", self.endpoint(), {"Name": name, "WithDecryption": with_decryption}
        )
        parameter = result.get("Parameter")
        value = parameter.get("Value") if isinstance(parameter, dict) else None
        if not isinstance(parameter, dict) or not isinstance(value, str):
            raise ResponseError("GetParameter: the answer has no Parameter.Value")
        version = parameter.get("Version")
        return Parameter(
            str(parameter.get("Name", name)),
            str(parameter.get("Type", "")),
            value,
            version if isinstance(version, int) else None,
        )
