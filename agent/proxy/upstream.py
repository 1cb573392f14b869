"""A lean HTTP/1.1 client for the proxy's calls to its upstreams (keep-alive pool, httptools parser).

Why not aiohttp's ``ClientSession`` here: on the proxy's critical path it cost ~175 us of CPU per
call on this project's 2-core machine (URL objects, tracing hooks, cookie and redirect handling,
a stream reader per response), against ~40 us for writing one request and parsing the answer
with httptools' C parser. The agent does not need those features: it forwards one already-read
request body, never follows redirects, never decompresses, keeps no cookies.

Public surface: :class:`UpstreamClient` (``request``, ``close``) and :class:`UpstreamResponse`
(``status``, ``reason``, ``headers``, ``content_length``, ``read``, ``iter_any``, ``release``),
shaped like the subset of aiohttp's client the proxy handler uses. Failures raise
:class:`~lightkeeper.errors.UpstreamUnreachable` (no connection),
:class:`~lightkeeper.errors.UpstreamDisconnected` (the connection broke before the response was
complete) or :class:`TimeoutError` (connect timeout, or no bytes for ``read_timeout_s``).

Connections: one pool per (scheme, host, port), at most ``limit`` open in all (further calls wait
for one), idle ones closed after ``keepalive_s``. A pooled connection the upstream closed while
idle is dropped before use; one closed between our write and the first response byte (an
unavoidable keep-alive race) fails the call as ``UpstreamDisconnected``: a POST is never sent
twice by the agent.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator, Iterable
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict

from lightkeeper.errors import UpstreamDisconnected, UpstreamUnreachable

__all__ = ["UpstreamClient", "UpstreamResponse"]

#: Buffered response bytes above which reading from the upstream pauses until the consumer
#: (a slow client of a streamed response) catches up.
_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024


class UpstreamResponse:
    """One response being received: status line and headers, then the body as it arrives.

    Holds the parsed status, reason phrase and headers (repeated headers kept), the body chunks
    received and not yet consumed, and the connection, which goes back to the pool on
    :meth:`release` once the whole body was received (else it is closed).
    """

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_done",
        "_error",
        "_waiter",
        "headers",
        "reason",
        "status",
    )

    def __init__(self, conn: _Connection) -> None:
        self._conn: _Connection | None = conn
        self.status = 0
        self.reason = ""
        self.headers: CIMultiDict[str] = CIMultiDict()
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        if value is None or not value.isdigit():
            return None
        return int(value)

    # -- fed by the connection ---------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER and self._conn is not None:
            self._conn.pause()
        self._wake()

    def _finish(self, error: BaseException | None = None) -> None:
        if self._done:
            return
        self._done = True
        self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _take(self) -> bytes:
        data = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._conn is not None:
            self._conn.resume()
        return data

    # -- consumer side -----------------------------------------------------------------------
    async def read(self) -> bytes:
        """The whole body (waits for its end)."""
        parts: list[bytes] = []
        while True:
            if self._chunks:
                parts.append(self._take())  # taking resumes a read paused at the high-water mark
            if self._done:
                break
            await self._wait()
        if self._error is not None:
            raise self._error
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def iter_any(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive: everything received since the last step, in one chunk."""
        while True:
            if self._chunks:
                yield self._take()
                continue
            if self._done:
                if self._error is not None:
                    raise self._error
                return
            await self._wait()

    def release(self) -> None:
        """Hand the connection back (reused only if the whole body was received cleanly)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.exchange_over(self._done and self._error is None)


class _Connection(asyncio.Protocol):
    """One keep-alive connection to an upstream; at most one exchange at a time."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.loop = pool.client.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.response: UpstreamResponse | None = None
        self.headers_ready: asyncio.Future[UpstreamResponse] | None = None
        self._paused = False
        self._message_complete = False
        self._keep_alive = False
        self._last_rx = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._reason = b""
        self._head = False

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.response is None or self._message_complete:
            self._close()  # bytes nobody asked for: the connection cannot be trusted any more
            self._keep_alive = False
            return
        self._last_rx = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamDisconnected(f"malformed HTTP response from the upstream: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        response = self.response
        if response is not None and not self._message_complete:
            if response.status and self._until_close(response):
                response._finish()  # a body delimited by the end of the connection
            else:
                detail = f": {exc!r}" if exc else ""
                self._fail(UpstreamDisconnected(f"upstream closed the connection{detail}"))
        self.pool.forget(self)

    # -- httptools callbacks -----------------------------------------------------------------
    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is not None and not self._message_complete:
            self.response.headers.add(name.decode("latin-1"), value.decode("utf-8", "replace"))

    def on_headers_complete(self) -> None:
        response = self.response
        if response is None or self._message_complete:  # a second, unsolicited response
            self._keep_alive = False
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim (100 Continue, 103 Early Hints)
            response.headers = CIMultiDict()
            self._reason = b""
            return
        response.status = status
        response.reason = self._reason.decode("latin-1").strip()
        self._keep_alive = self.parser.should_keep_alive() and not self._head
        waiter = self.headers_ready
        if waiter is not None and not waiter.done():
            waiter.set_result(response)
        if self._head:  # no body follows, whatever Content-Length says; not reused
            self._message_complete = True
            self._cancel_timer()
            response._finish()

    def on_body(self, body: bytes) -> None:
        if self.response is not None and self.response.status and not (self._head or self._message_complete):
            self.response._feed(body)

    def on_message_complete(self) -> None:
        response = self.response
        if response is None or not response.status or self._message_complete:
            return  # the end of an interim response (the real one follows), or of an unsolicited one
        self._message_complete = True
        self._cancel_timer()
        response._finish()

    # -- exchange ----------------------------------------------------------------------------
    def send(
        self, data: bytes, read_timeout_s: float, *, head: bool = False
    ) -> asyncio.Future[UpstreamResponse]:
        assert self.transport is not None
        self._head = head
        self.response = UpstreamResponse(self)
        self.headers_ready = self.loop.create_future()
        self._message_complete = False
        self._keep_alive = False
        self._reason = b""
        self._last_rx = self.loop.time()
        self._timer = self.loop.call_at(self._last_rx + read_timeout_s, self._check_timeout, read_timeout_s)
        self.transport.write(data)
        return self.headers_ready

    def _check_timeout(self, timeout_s: float) -> None:
        self._timer = None
        if self.response is None or self._message_complete:
            return
        now = self.loop.time()
        if self._paused:  # we stopped reading (slow consumer): not the upstream's silence
            self._last_rx = now
        due = self._last_rx + timeout_s
        if now < due:
            self._timer = self.loop.call_at(due, self._check_timeout, timeout_s)
            return
        self._fail(TimeoutError(f"no bytes from the upstream for {timeout_s:g} s"))

    def _until_close(self, response: UpstreamResponse) -> bool:
        te = response.headers.get("Transfer-Encoding", "")
        return response.content_length is None and "chunked" not in te.lower()

    def _fail(self, error: BaseException) -> None:
        self._cancel_timer()
        waiter = self.headers_ready
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if self.response is not None:
            self.response._finish(error)
        self._close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def pause(self) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self._last_rx = self.loop.time()
            self.transport.resume_reading()

    def exchange_over(self, complete: bool) -> None:
        """The response was consumed (or abandoned): back to the pool, or closed."""
        self._cancel_timer()
        reusable = complete and self._message_complete and self._keep_alive and not self.closed
        self.response = None
        self.headers_ready = None
        self.pool.client.slot_freed()
        if reusable:
            self.pool.put_idle(self)
        else:
            self._close()
            self.pool.forget(self)

    def _close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()


class _Pool:
    """Idle connections to one (scheme, host, port), newest first."""

    def __init__(self, client: UpstreamClient, scheme: str, host: str, port: int) -> None:
        self.client = client
        self.scheme = scheme
        self.host = host
        self.port = port
        self.idle: list[_Connection] = []
        self.open: set[_Connection] = set()

    def take_idle(self) -> _Connection | None:
        keepalive = self.client.keepalive_s
        now = self.client.loop.time()
        while self.idle:
            conn = self.idle.pop()
            transport = conn.transport
            alive = not conn.closed and transport is not None and not transport.is_closing()
            if alive and now - conn.idle_since < keepalive:
                return conn
            conn._close()
            self.forget(conn)
        return None

    async def connect(self) -> _Connection:
        ssl_ctx = self.client.ssl_context() if self.scheme == "https" else None
        try:
            async with asyncio.timeout(self.client.connect_timeout_s):
                _, conn = await self.client.loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=ssl_ctx,
                    server_hostname=self.host if ssl_ctx is not None else None,
                )
        except TimeoutError:
            raise TimeoutError(
                f"connecting to {self.host}:{self.port} took over {self.client.connect_timeout_s:g} s"
            ) from None
        except OSError as exc:  # refused, unreachable, DNS failure, TLS handshake failure
            raise UpstreamUnreachable(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self.open.add(conn)
        return conn

    def put_idle(self, conn: _Connection) -> None:
        conn.idle_since = self.client.loop.time()
        self.idle.append(conn)

    def forget(self, conn: _Connection) -> None:
        self.open.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    def close(self) -> None:
        for conn in list(self.open):
            conn._close()
        self.idle.clear()


class UpstreamClient:
    """Keep-alive HTTP/1.1 client for the proxy (see the module docstring)."""

    def __init__(
        self,
        *,
        limit: int = 512,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 600.0,
        keepalive_s: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.limit = limit
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.keepalive_s = keepalive_s
        self._ssl = ssl_context
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._busy = 0  # exchanges in progress (their connection in use or being opened)
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _pool(self, scheme: str, host: str, port: int) -> _Pool:
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(self, scheme, host, port)
        return pool

    def slot_freed(self) -> None:
        self._busy -= 1
        self._wake_next()

    def _wake_next(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _acquire(self, pool: _Pool) -> _Connection:
        if self._closed:
            raise UpstreamUnreachable("the upstream client is closed")
        while self._busy >= self.limit:
            waiter = self.loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_next()  # woken, then cancelled: pass the free slot on
                raise
        self._busy += 1
        conn = pool.take_idle()
        if conn is not None:
            return conn
        try:
            return await pool.connect()
        except BaseException:
            self.slot_freed()
            raise

    async def request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
    ) -> UpstreamResponse:
        """Send one request; returns once the status line and headers arrived.

        ``headers`` are sent as given (repeats kept) after ``Host``; ``Content-Length`` is set
        from ``body`` for every method but GET/HEAD/DELETE/OPTIONS without a body. The caller
        must :meth:`UpstreamResponse.release` the response.
        """
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:  # e.g. a port out of range
            raise UpstreamUnreachable(f"invalid upstream URL {url!r}: {exc}") from None
        if scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamUnreachable(f"unsupported upstream URL {url!r}")
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        host_header = parts.netloc.rpartition("@")[2]
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
        pool = self._pool(scheme, parts.hostname, port)
        conn = await self._acquire(pool)
        try:  # the slot and the connection come back whatever happens from here on
            ready = conn.send(head + body if body else head, self.read_timeout_s, head=method == "HEAD")
            return await ready
        except BaseException:
            if conn.response is not None:
                conn.response._conn = None
            conn.exchange_over(False)
            raise

    async def close(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(UpstreamUnreachable("the upstream client is closed"))
