"""HTTP to a modelreg server with http.client: one keep-alive connection per thread, timeouts,
and retries with backoff for requests that are safe to repeat (network failures and 502, 503,
504). Every failure becomes a RegistryError; an unreachable server is ``unavailable`` and names
the URL."""
from __future__ import annotations

import http.client
import json
import os
import random
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote, urlencode, urlsplit

from ._errors import RegistryError, code_for_status
from ._routes import ROUTES, Route

CHUNK = 1024 * 1024
RETRYABLE_STATUS = {502, 503, 504}
# The server closes a keep-alive connection idle for 5 s: reconnect before that, rather than
# send a request into a socket the server is closing.
IDLE_REUSE_SECONDS = 3.0
MAX_IDLE_CONNECTIONS = 8
USER_AGENT = "modelreg-python/0.1.0"

QueryValue = Union[None, str, int, float, Sequence[str]]


def describe_network_error(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "host not found"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer in time"
    if isinstance(error, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return "connection lost"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error}"
    return str(error) or type(error).__name__


def backoff(attempt: int) -> float:
    base: float = 0.2 * 2.0 ** (attempt - 1)
    return base + random.random() * base


def fill_path(template: str, params: Mapping[str, Any]) -> str:
    out = template
    for name, value in params.items():
        out = out.replace("{" + name + "}", quote(str(value), safe=""))
    if "{" in out:
        raise ValueError(f"missing path parameter in {out}")
    return out


def encode_query(query: Optional[Mapping[str, QueryValue]]) -> str:
    if not query:
        return ""
    pairs: List[Tuple[str, str]] = []
    for key, value in query.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((key, str(v)) for v in value)
        else:
            pairs.append((key, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


class _Connection:
    __slots__ = ("conn", "last_used")

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.conn = conn
        self.last_used = 0.0


class Response:
    """A streaming response body; ``close()`` gives the connection back when it was read whole."""

    def __init__(self, client: "HttpClient", holder: _Connection, response: http.client.HTTPResponse) -> None:
        self._client = client
        self._holder = holder
        self.raw = response
        self.status = response.status

    def header(self, name: str) -> Optional[str]:
        return self.raw.getheader(name)

    def read(self, n: int = CHUNK) -> bytes:
        try:
            return self.raw.read(n)
        except (OSError, http.client.HTTPException) as error:
            self._client._drop(self._holder)
            raise self._client.unreachable(error) from None

    def readinto(self, buffer: Any) -> int:
        try:
            return self.raw.readinto(buffer)
        except (OSError, http.client.HTTPException) as error:
            self._client._drop(self._holder)
            raise self._client.unreachable(error) from None

    def json(self) -> Any:
        try:
            data = self.raw.read()
        except (OSError, http.client.HTTPException) as error:
            self._client._drop(self._holder)
            raise self._client.unreachable(error) from None
        self.close()
        try:
            return json.loads(data)
        except ValueError:
            raise RegistryError("internal", f"the server at {self._client.url} sent a response that is not JSON") from None

    def close(self) -> None:
        if self.raw.isclosed() and not self.raw.will_close:
            self._client._release(self._holder)
        else:
            # Not read to the end (or the server closes it): it cannot carry another request.
            self._client._drop(self._holder)


class HttpClient:
    def __init__(self, url: str, token: Optional[str], actor: Optional[Callable[[], str]] = None, attempts: int = 4, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistryError("invalid_argument", f'invalid server URL "{url}": expected http(s)://host[:port]')
        if parts.username or parts.password:
            raise RegistryError("invalid_argument", "put the token in MODELREG_TOKEN or a profile, not in the server URL")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = (parts.scheme == "https" and self.port == 443) or (parts.scheme == "http" and self.port == 80)
        self.url = f"{parts.scheme}://{host}{'' if default_port else ':' + str(self.port)}{self.base_path}"
        self.attempts = attempts
        self.timeout = timeout
        self.headers: Dict[str, str] = {"User-Agent": USER_AGENT}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self._actor = actor
        self._actor_value: Optional[str] = None
        # Brings a private local server back if it stopped (True when it did): see _server.
        self.revive: Optional[Callable[[], bool]] = None
        # Idle keep-alive connections, shared by the threads that use this client (uploads run
        # four at a time, metrics are sent from a thread of their own).
        self._idle: List[_Connection] = []
        self._lock = threading.Lock()
        self._ssl: Optional[ssl.SSLContext] = None
        if self.scheme == "https":
            self._ssl = ssl.create_default_context()
            extra = os.environ.get("NODE_EXTRA_CA_CERTS")
            if extra:
                self._ssl.load_verify_locations(cafile=extra)

    # -- connections ---------------------------------------------------------------------------

    def _acquire(self) -> _Connection:
        now = time.monotonic()
        with self._lock:
            while self._idle:
                holder = self._idle.pop()
                if now - holder.last_used <= IDLE_REUSE_SECONDS:
                    return holder
                holder.conn.close()
        if self.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return _Connection(conn)

    def _release(self, holder: _Connection) -> None:
        holder.last_used = time.monotonic()
        with self._lock:
            if len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(holder)
                return
        holder.conn.close()

    def _drop(self, holder: _Connection) -> None:
        holder.conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for holder in idle:
            holder.conn.close()

    def unreachable(self, error: BaseException) -> RegistryError:
        return RegistryError("unavailable", f"cannot reach the modelreg server at {self.url}: {describe_network_error(error)}")

    def _actor_header(self) -> Dict[str, str]:
        if self._actor is None:
            return {}
        if self._actor_value is None:
            self._actor_value = self._actor()
        return {"X-Modelreg-Actor": quote(self._actor_value, safe="")}

    # -- requests ------------------------------------------------------------------------------

    def failure(self, status: int, data: bytes) -> RegistryError:
        text = data[:65536].decode("utf-8", errors="replace")
        try:
            envelope = json.loads(text)
            error = envelope.get("error") if isinstance(envelope, dict) else None
            if isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str):
                return RegistryError(error["code"], error["message"])
        except ValueError:
            pass
        detail = f": {text.strip()}" if text and len(text) < 200 else ""
        return RegistryError(code_for_status(status), f"the server at {self.url} answered HTTP {status}{detail}")

    def send(
        self,
        route_name: str,
        params: Optional[Mapping[str, Any]] = None,
        query: Optional[Mapping[str, QueryValue]] = None,
        body: Union[None, bytes, Callable[[], Tuple[int, Iterator[bytes]]]] = None,
        headers: Optional[Mapping[str, str]] = None,
        attempts: Optional[int] = None,
    ) -> Response:
        """Send a request and return the response of a 2xx (to be read and closed); retry
        network failures and 502/503/504 when the route allows. ``body`` is bytes, or a function
        giving (size, chunks) that is called again for each attempt."""
        route: Route = ROUTES[route_name]
        if query:
            undeclared = [k for k, v in query.items() if v is not None and k not in route.query]
            if undeclared:
                raise ValueError(f"{route_name}: query parameters {undeclared} are not declared in _routes.py")
        path = self.base_path + fill_path(route.path, params or {}) + encode_query(query)
        tries = (attempts or self.attempts) if route.idempotent else 1
        all_headers = dict(self.headers)
        if route.method not in ("GET", "HEAD"):
            all_headers.update(self._actor_header())
        if headers:
            all_headers.update(headers)
        attempt = 0
        revived = False
        while True:
            attempt += 1
            holder = self._acquire()
            conn = holder.conn
            half_sent = False
            try:
                if body is None or isinstance(body, (bytes, bytearray)):
                    payload = bytes(body) if body is not None else None
                    if payload is not None:
                        all_headers["Content-Length"] = str(len(payload))
                    elif route.method in ("POST", "PUT", "PATCH"):
                        all_headers["Content-Length"] = "0"
                    conn.request(route.method, path, body=payload, headers=all_headers)
                    response = conn.getresponse()
                else:
                    size, chunks = body()
                    all_headers["Content-Length"] = str(size)
                    conn.putrequest(route.method, path, skip_accept_encoding=True)
                    for name, value in all_headers.items():
                        conn.putheader(name, value)
                    conn.endheaders()
                    try:
                        for chunk in chunks:
                            conn.send(chunk)
                    except OSError as send_error:
                        # The server may have refused the upload before reading it all (a token
                        # that may not write, a blob too large) and closed: its answer says why.
                        try:
                            early = conn.getresponse()
                        except (OSError, http.client.HTTPException):
                            raise send_error from None
                        if early.status < 300:
                            raise send_error from None
                        response = early
                        half_sent = True
                    else:
                        response = conn.getresponse()
            except RegistryError:
                conn.close()
                raise
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                # Refused: nothing was sent, so even a request that is not idempotent may go again
                # once a private server that had stopped is back.
                if isinstance(error, ConnectionRefusedError) and not revived and self.revive is not None and self.revive():
                    revived = True
                    attempt -= 1
                    continue
                if attempt >= tries:
                    raise self.unreachable(error) from None
                time.sleep(backoff(attempt))
                continue
            if response.status < 300:
                return Response(self, holder, response)
            try:
                data = response.read()
            except (OSError, http.client.HTTPException):
                data = b""
            if response.isclosed() and not response.will_close and conn.sock is not None and not half_sent:
                self._release(holder)
            else:
                conn.close()
            if response.status in RETRYABLE_STATUS and attempt < tries:
                time.sleep(backoff(attempt))
                continue
            raise self.failure(response.status, data)

    def json(
        self,
        route_name: str,
        params: Optional[Mapping[str, Any]] = None,
        query: Optional[Mapping[str, QueryValue]] = None,
        body: Any = None,
    ) -> Any:
        if isinstance(body, dict):
            undeclared = [k for k in body if k not in ROUTES[route_name].body]
            if undeclared:
                raise ValueError(f"{route_name}: body fields {undeclared} are not declared in _routes.py")
        try:
            payload = None if body is None else json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as error:
            raise RegistryError("invalid_argument", f"the request holds a value that is not JSON: {error}") from None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        response = self.send(route_name, params, query, payload, headers)
        return response.json()

    def lines(self, route_name: str, params: Mapping[str, Any], query: Optional[Mapping[str, QueryValue]] = None) -> Iterator[Any]:
        """An NDJSON response, one parsed line at a time (blank lines skipped)."""
        response = self.send(route_name, params, query)
        try:
            while True:
                try:
                    line = response.raw.readline()
                except (OSError, http.client.HTTPException) as error:
                    self._drop(response._holder)
                    raise self.unreachable(error) from None
                if not line:
                    break
                if line.strip():
                    yield json.loads(line)
        finally:
            response.close()
