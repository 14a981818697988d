"""The HTTP transport every engine client shares: httpx, bounded retries, and one typed
error tree whose messages are single user-facing lines that never hold a credential.

An engine client subclasses :class:`RestClient` and adds its endpoints; what differs per
engine is data (its name, the options that set host and credentials) and how it reads an
error body (``error_messages``).
"""
from __future__ import annotations

import re
import ssl
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import unquote, urlsplit, urlunsplit

if TYPE_CHECKING:  # imported where a client is made: `compile` never connects and skips it (~30 ms)
    import httpx

_MAX_DETAIL = 500
# How long a wait tolerates a 404 for a just-started run: engines store runs asynchronously.
_NOT_FOUND_GRACE = 10.0
_QUICK_POLL = 0.1  # seconds between polls right after a run changed (see _follow)
_QUICK_WINDOW = 1.0  # ... for this long after the change, before the interval grows
_CLOSING_POLL = 0.02  # seconds between polls while the run's last step runs (see _follow)
_CLOSING_WINDOW = 2.0  # ... for at most this long after it started


class EngineError(Exception):
    """A failed engine call, as one user-facing line (never contains credentials).

    ``status`` is the HTTP status code when the engine answered (None when it did not)."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


class EngineConnectionError(EngineError):
    """The engine could not be reached at all (refused, DNS, timeout...)."""


class EngineAuthError(EngineError):
    """401/403: missing or wrong credentials."""


class EngineNotFound(EngineError):
    """404: unknown flow, run, webhook..."""


class EngineInvalid(EngineError):
    """400/422: the engine rejected what we sent; ``messages`` keeps its individual messages."""

    def __init__(self, message: str, messages: Sequence[str] = (), status: Optional[int] = None):
        super().__init__(message, status)
        self.messages = [m for m in messages if m]


class EngineConflict(EngineError):
    """409: the request conflicts with the current state."""


class EngineTimeout(EngineError):
    """A wait gave up before the run ended (it keeps running on the engine)."""


def _tls_for(host: str) -> Union[bool, ssl.SSLContext]:
    """httpx's default for ``verify`` loads certifi's CA bundle when the client is made (~80 ms
    of every command). A plain ``http://`` host is never spoken TLS to (redirects are not
    followed), so it gets a context that trusts no certificate: TLS there would fail, never
    pass unchecked. An ``https://`` host keeps httpx's verification."""
    return True if host.startswith("https://") else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class RestClient:
    """httpx client with the engine's base URL; ``_send`` returns 2xx answers or raises.

    Subclasses set ``ENGINE`` (for messages), ``HOST_HINT`` and ``CREDENTIALS_HINT`` (the
    options and variables a user sets), and call ``super().__init__``."""

    ENGINE = "the engine"
    HOST_HINT = "is it running? Set its host option"
    CREDENTIALS_HINT = "check the credentials"

    def __init__(self, host: str, headers: Optional[Dict[str, str]] = None, auth: Optional[httpx.Auth] = None,
                 secrets: Sequence[Optional[str]] = (), auth_desc: str = "no credentials",
                 timeout: float = 30.0, retries: int = 3, transport: Optional[httpx.BaseTransport] = None):
        if not re.match(r"^https?://", host):
            shown = host.rpartition("@")[2]  # never echo a user:password@ prefix
            raise EngineError("invalid %s host %r: expected http(s)://host[:port]; %s"
                              % (self.ENGINE, shown, self.HOST_HINT))
        self.host = host
        self.retries = max(int(retries), 0)
        self._secrets = [s for s in secrets if s]
        self._auth_desc = auth_desc
        self._has_credentials = auth_desc != "no credentials"
        import httpx

        self._http = httpx.Client(base_url=host, headers=dict({"Accept": "application/json"}, **(headers or {})),
                                  auth=auth, timeout=timeout, transport=transport, follow_redirects=False,
                                  verify=_tls_for(host))

    # ---- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never show a password or token: repr() ends up in logs and tracebacks.
        return "%s(host=%r, auth=%s)" % (type(self).__name__, self.host, self._auth_desc)

    # ---- following a run --------------------------------------------------------------------
    def _follow(self, fetch: Callable[[], Dict[str, Any]], ended: Callable[[Dict[str, Any]], bool],
                fingerprint: Callable[[Dict[str, Any]], Any], max_wait: Optional[float], poll: float,
                on_update: Optional[Callable[[Dict[str, Any]], None]],
                timeout_message: Callable[[Optional[Dict[str, Any]]], str],
                closing: Optional[Callable[[], bool]] = None) -> Dict[str, Any]:
        """Poll ``fetch`` until ``ended``; ``on_update`` whenever ``fingerprint`` changed
        (live progress). A 404 in the first seconds is "not stored yet" (engines queue a
        run before it is readable), not an error. After ``max_wait`` seconds, raise
        :class:`EngineTimeout`: the run itself keeps going on the engine.

        The interval adapts: for ``_QUICK_WINDOW`` after a change (a task started or ended, so
        the run may be about to end) it is ``_QUICK_POLL``, then it grows back to ``poll`` while
        nothing changes. A run of short steps is seen ending within ~0.1 s instead of up to
        ``poll`` later, and a long quiet step costs a few requests more than at ``poll``.
        While ``closing()`` says the run's last step is running, and for at most
        ``_CLOSING_WINDOW`` seconds, it is ``_CLOSING_POLL``: a run of short steps is then
        seen ending within a few hundredths of a second (a long last step costs at most
        ~100 requests more)."""
        start = time.monotonic()
        deadline = None if max_wait is None else start + max_wait
        last: Any = None
        current: Optional[Dict[str, Any]] = None
        interval = min(poll, _QUICK_POLL)
        changed_at = start
        closing_at: Optional[float] = None
        while True:
            try:
                current = fetch()
            except EngineNotFound:
                if time.monotonic() - start >= _NOT_FOUND_GRACE:
                    raise
            else:
                mark = fingerprint(current)
                if mark != last:
                    if on_update is not None:
                        on_update(current)
                    interval, changed_at = min(poll, _QUICK_POLL), time.monotonic()
                elif time.monotonic() - changed_at > _QUICK_WINDOW:
                    interval = min(poll, interval * 1.5)
                last = mark
                if ended(current):
                    return current
            now = time.monotonic()
            if closing_at is None and closing is not None and closing():
                closing_at = now
            if closing_at is not None and now - closing_at < _CLOSING_WINDOW:
                interval = min(interval, _CLOSING_POLL)
            if deadline is not None and now >= deadline:
                raise EngineTimeout(timeout_message(current))
            time.sleep(max(0.0, min(interval, deadline - now) if deadline is not None else interval))

    # ---- transport, retries, errors --------------------------------------------------------
    def _send(self, method: str, path: str, subject: str, **kwargs: Any) -> httpx.Response:
        """Send one request and return the 2xx response, or raise an EngineError.

        Only GET is retried, up to ``retries`` times with a 0.2 s, 0.4 s, 0.8 s... backoff,
        on transport errors and 5xx answers: a POST is sent once, because a retried trigger
        could start the flow twice after the server already acted on it."""
        import httpx

        attempts = 1 + (self.retries if method == "GET" else 0)
        for attempt in range(attempts):
            last_try = attempt == attempts - 1
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if last_try:
                    raise EngineConnectionError(self._scrub(self._connection_message(exc))) from None
            else:
                if response.status_code < 500 or last_try:
                    return self._check(response, subject)
            time.sleep(0.2 * (2 ** attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self, response: httpx.Response, subject: str) -> httpx.Response:
        """Map a non-2xx answer to the matching EngineError subclass, status code kept."""
        code = response.status_code
        if code < 300:
            return response
        messages = self.error_messages(response)
        detail = self._scrub(one_line("; ".join(messages)))
        suffix = (": " + detail) if detail else ""
        engine = self.ENGINE
        if code == 401:
            problem = ("refused the credentials (401, %s)" % self._auth_desc if self._has_credentials
                       else "requires authentication (401)")
            raise EngineAuthError("%s at %s %s; %s" % (engine, self.host, problem, self.CREDENTIALS_HINT), code)
        if code == 403:
            raise EngineAuthError("%s at %s denied access to %s (403, %s); %s"
                                  % (engine, self.host, subject, self._auth_desc, self.CREDENTIALS_HINT), code)
        if code == 404:
            raise EngineNotFound("%s was not found on %s (404)%s" % (capitalize(subject), engine, suffix), code)
        if code in (400, 422):
            raise EngineInvalid("%s rejected %s (%s)%s" % (engine, subject, code, suffix),
                                [self._scrub(one_line(m)) for m in messages], code)
        if code == 409:
            raise EngineConflict("%s refused the request on %s (409 conflict)%s" % (engine, subject, suffix), code)
        if code >= 500:
            raise EngineError("%s failed on %s (%s %s)%s"
                              % (engine, subject, code, response.reason_phrase or "server error", suffix), code)
        if code < 400:
            location = response.headers.get("location", "")
            raise EngineError("unexpected redirect from %s on %s (%s to %s); is %s the %s base URL? %s"
                              % (engine, subject, code, one_line(location, 120) or "?", self.host, engine,
                                 self.HOST_HINT), code)
        raise EngineError("unexpected answer from %s on %s (%s)%s" % (engine, subject, code, suffix), code)

    def error_messages(self, response: httpx.Response) -> List[str]:
        """The engine's own messages in an error answer; the first line of the text here."""
        text = response.text.strip()
        return [text.splitlines()[0]] if text else []

    def _connection_message(self, exc: httpx.TransportError) -> str:
        return "cannot reach %s at %s (%s); %s" % (self.ENGINE, self.host, transport_reason(exc), self.HOST_HINT)

    def _scrub(self, text: str) -> str:
        """Belt and braces: a message must never echo a password or token back."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _json(self, response: httpx.Response) -> Any:
        """Parse a JSON body whatever its Content-Type (some answers say ``text/json``)."""
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise EngineError("%s at %s answered %s %s with a non-JSON body: %s"
                              % (self.ENGINE, self.host, response.request.method, response.request.url.path,
                                 self._scrub(one_line(response.text, 120))), response.status_code) from None


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def one_line(text: str, limit: int = _MAX_DETAIL) -> str:
    """Collapse whitespace so messages stay on one line; truncate very long server answers."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def transport_reason(exc: httpx.TransportError) -> str:
    """A short reason for a transport failure: refused, host not found, timed out..."""
    import httpx

    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if "refused" in lowered:
        return "connection refused"
    if any(s in lowered for s in ("name or service not known", "nodename nor servname", "getaddrinfo",
                                  "name resolution", "no address associated")):
        return "host not found"
    if "ssl" in lowered or "certificate" in lowered:
        return "TLS error: " + one_line(text, 160)
    return one_line(text, 160) or type(exc).__name__


def split_userinfo(host: str) -> Tuple[str, Optional[str], Optional[str]]:
    """Take ``user:pass@`` out of the host URL, so it is neither displayed nor sent twice."""
    parts = urlsplit(host)
    if "@" not in parts.netloc:
        return host, None, None
    userinfo, _, netloc = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return (urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)),
            unquote(user) or None, unquote(password) if password else None)
