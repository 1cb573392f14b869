"""The reverse proxy: forwards a call unchanged, streams the answer back, records a Capture.

The request path does no JSON parsing, no logging at INFO and no Kafka I/O: it copies bytes
and timestamps into a :class:`~agent.capture.Capture` and queues it for the recorder once
the response is complete. Bodies and status pass through unchanged (compressed bodies stay
compressed: the upstream client does not decompress).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from multidict import CIMultiDict

from lightkeeper.agent.capture import Capture, CaptureSink
from lightkeeper.agent.metadata import PREFIX
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.proxy.paths import ANTHROPIC_PATHS, OPENAI_PATHS, exact_kind, provider_kind
from lightkeeper.agent.proxy.upstream import UpstreamClient, UpstreamResponse
from lightkeeper.agent.redaction import header_secrets
from lightkeeper.agent.request_body import DECODED_ENCODINGS
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.errors import UpstreamDisconnected, UpstreamError

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
#: Non-SSE responses larger than this (or of unknown size and not JSON) pass through uncaptured.
MAX_BUFFERED_RESPONSE = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where a request goes: wire format, provider name, base URL and path to append."""

    kind: str
    provider_name: str
    url: str
    api_path: str


def _join(base: str, path: str) -> str:
    base_path = urlsplit(base).path.rstrip("/")
    if base_path.endswith("/v1") and path.startswith("/v1/"):
        path = path[3:]
    return base.rstrip("/") + path


def _default_upstream(settings: AgentSettings, kind: str, path: str) -> Upstream:
    base = settings.anthropic_base_url if kind == "anthropic" else settings.openai_base_url
    return Upstream(kind, kind, _join(base, path), path)


def resolve(settings: AgentSettings, path: str, anthropic_version: bool = False) -> Upstream | None:
    """Map a request path to its upstream (``None``: not a proxied path, answered 404).

    ``/<name>/...`` goes to the named upstream; otherwise only the provider paths of
    :mod:`lightkeeper.agent.proxy.paths` are proxied. ``anthropic_version``: the request carries
    an ``anthropic-version`` header (decides paths both providers serve, ``/v1/models``)."""
    first, _, rest = path.lstrip("/").partition("/")
    route = settings.upstreams.get(first)
    if route is not None:
        api_path = "/" + rest
        return Upstream(
            route.provider, route.provider_name or first, _join(route.base_url, api_path), api_path
        )
    kind = provider_kind(path, anthropic_version)
    return None if kind is None else _default_upstream(settings, kind, path)


def exact_routes(settings: AgentSettings) -> dict[str, Upstream]:
    """The upstream of every exactly listed, unambiguous provider path, computed once: the
    request path of a model call is one dict lookup (named upstreams cannot shadow these:
    ``v1`` is not a valid upstream name)."""
    routes: dict[str, Upstream] = {}
    for path in (*OPENAI_PATHS, *ANTHROPIC_PATHS):
        kind = exact_kind(path)
        if kind is not None:
            routes[path] = _default_upstream(settings, kind, path)
    return routes


_KNOWN_SUFFIXES = ("/chat/completions", "/completions", "/embeddings", "/responses", "/messages")


def is_llm_call(cap: Capture) -> bool:
    """Only model calls become events; other passed-through paths (``GET /v1/models``, file
    uploads, ``/v1/messages/count_tokens``...) are proxied and counted, not recorded."""
    return cap.method == "POST" and cap.api_path.rstrip("/").endswith(_KNOWN_SUFFIXES)


def metric_route(cap: Capture) -> str:
    """Metrics label: the path for known LLM endpoints, else a bounded ``<prefix>/other``
    (file ids and the like must not create a label value each)."""
    if cap.api_path.endswith(_KNOWN_SUFFIXES):
        return cap.route
    first = cap.route.lstrip("/").split("/", 1)[0]
    return f"/{first}/other"


def _decoded(content_encoding: str) -> bool:
    """aiohttp decodes a request body in these codings while reading it: the body is forwarded
    decoded, so its ``Content-Encoding`` header must not be."""
    return content_encoding.strip().lower() in DECODED_ENCODINGS


def _error_body(kind: str, message: str) -> bytes:
    return orjson.dumps({"error": {"type": kind, "message": message, "source": "lightkeeper-agent"}})


#: Metrics route label of requests to paths that are not proxied (one label for all of them).
UNMATCHED_ROUTE = "/unmatched"


class ProxyHandler:
    """aiohttp handler for every proxied path."""

    def __init__(
        self,
        settings: AgentSettings,
        upstream: UpstreamClient,
        recorder: CaptureSink,
        metrics: AgentMetrics,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self.recorder = recorder
        self.metrics = metrics
        self._counters: dict[tuple[str, int], Any] = {}
        self._upstream_hists: dict[str, Any] = {}
        self._exact = exact_routes(settings)

    def _count(self, route: str, status: int) -> None:
        child = self._counters.get((route, status))
        if child is None:
            child = self._counters[(route, status)] = self.metrics.requests.labels(route, str(status))
        child.inc()

    def _observe_upstream(self, cap: Capture, seconds: float) -> None:
        route = metric_route(cap)
        child = self._upstream_hists.get(route)
        if child is None:
            child = self._upstream_hists[route] = self.metrics.upstream_latency.labels(route)
        child.observe(seconds)

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        t_start = time.perf_counter_ns()
        raw_path = request.rel_url.raw_path  # forwarded exactly as received
        upstream = self._exact.get(raw_path)
        if upstream is None:
            upstream = resolve(self.settings, raw_path, "anthropic-version" in request.headers)
            if upstream is None:
                return self._not_found(raw_path)
        cap = Capture(
            provider_kind=upstream.kind,
            provider_name=upstream.provider_name,
            route=request.path,
            api_path=upstream.api_path,
            method=request.method,
            start_wall=time.time(),
            t_start=t_start,
        )
        fwd: CIMultiDict[str] = CIMultiDict()  # a repeated header stays repeated
        meta: dict[str, str] = {}
        for name, value in request.headers.items():
            lower = name.lower()
            if lower.startswith(PREFIX):
                meta[lower] = value
            elif lower not in HOP_BY_HOP and not (lower == "content-encoding" and _decoded(value)):
                fwd.add(name, value)
                if lower == "traceparent":
                    meta[lower] = value
        cap.meta_headers = meta
        cap.secrets = header_secrets(request.headers)
        try:
            if request.content.is_eof():  # the whole body came with the headers: no wait, no timer
                body = await request.read()
            else:
                async with asyncio.timeout(self.settings.client_timeout_s):
                    body = await request.read()
        except TimeoutError:
            raise web.HTTPRequestTimeout(
                text="lightkeeper agent: request body not received in time\n"
            ) from None
        except RequestPayloadError:  # not valid in its Content-Encoding
            request.content.feed_eof()  # the server must not read it again after the answer
            resp = web.Response(
                status=400,
                body=_error_body("invalid_request_body", "request body cannot be decoded (Content-Encoding)"),
                content_type="application/json",
            )
            resp.force_close()
            return resp
        cap.request_body = body
        raw_query = request.rel_url.raw_query_string
        url = upstream.url + ("?" + raw_query if raw_query else "")
        try:
            return await self._forward(request, cap, url, fwd, body)
        finally:
            if cap.t_end is None:
                cap.t_end = time.perf_counter_ns()
            self._count(metric_route(cap), cap.status or 0)
            if is_llm_call(cap):
                self.recorder.record(cap)

    def _not_found(self, path: str) -> web.Response:
        """A JSON 404 from the agent itself: the request goes nowhere (its credentials neither)."""
        self._count(UNMATCHED_ROUTE, 404)
        message = (
            f"lightkeeper agent: {path[:200]} is not a proxied provider path (see 'Proxied paths' in the "
            "agent documentation)"
        )
        return web.Response(
            body=_error_body("not_found", message), status=404, content_type="application/json"
        )

    async def _forward(
        self, request: web.Request, cap: Capture, url: str, fwd: CIMultiDict[str], body: bytes
    ) -> web.StreamResponse:
        cap.t_upstream_start = time.perf_counter_ns()
        try:
            up = await self.upstream.request(request.method, url, fwd.items(), body)
        except TimeoutError:
            return await self._fail(request, cap, 504, "upstream_timeout", "upstream did not answer in time")
        except UpstreamDisconnected as exc:  # connected, then the connection broke: no answer
            return await self._fail(request, cap, 502, "upstream_disconnected", f"upstream failed: {exc}")
        except UpstreamError as exc:
            return await self._fail(
                request, cap, 502, "upstream_unreachable", f"upstream connection failed: {exc}"
            )
        cap.t_headers = time.perf_counter_ns()
        cap.status = up.status
        ctype = up.headers.get("Content-Type", "")
        cap.response_content_type = ctype
        cap.content_encoding = up.headers.get("Content-Encoding", "")
        headers = CIMultiDict((k, v) for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP)
        try:
            if ctype.startswith("text/event-stream"):
                cap.streaming = True
                return await self._stream(request, cap, up, headers, capture=True)
            length = up.content_length
            if (length is not None and length > MAX_BUFFERED_RESPONSE) or (
                length is None and "json" not in ctype
            ):
                return await self._stream(request, cap, up, headers, capture=False)
            return await self._buffered(request, cap, up, headers)
        finally:
            up.release()

    async def _buffered(
        self, request: web.Request, cap: Capture, up: UpstreamResponse, headers: CIMultiDict[str]
    ) -> web.StreamResponse:
        try:
            data = await up.read()
        except (TimeoutError, UpstreamError) as exc:
            kind = "upstream_timeout" if isinstance(exc, TimeoutError) else "upstream_disconnected"
            return await self._fail(
                request,
                cap,
                504 if kind == "upstream_timeout" else 502,
                kind,
                f"upstream response incomplete: {exc!r}",
            )
        t_done = time.perf_counter_ns()
        cap.response_body = data
        # web.Response buffers its headers until write_eof: headers and body leave in one write
        # (a StreamResponse sends the headers on prepare, a second segment the client wakes up for)
        resp = web.Response(body=data, status=up.status, reason=up.reason, headers=headers)
        try:
            await resp.prepare(request)
            await resp.write_eof()
        except (ConnectionError, aiohttp.ClientConnectionResetError) as exc:
            cap.error_type, cap.error_message = "client_disconnect", f"client went away: {exc!r}"
            return resp
        cap.t_end = time.perf_counter_ns()
        up_s = (t_done - (cap.t_upstream_start or cap.t_start)) / 1e9
        self._observe_upstream(cap, up_s)
        self.metrics.added_latency.observe(max(0.0, (cap.t_end - cap.t_start) / 1e9 - up_s))
        return resp

    async def _stream(
        self,
        request: web.Request,
        cap: Capture,
        up: UpstreamResponse,
        headers: CIMultiDict[str],
        *,
        capture: bool,
    ) -> web.StreamResponse:
        resp = web.StreamResponse(status=up.status, reason=up.reason, headers=headers)
        try:
            await resp.prepare(request)
        except (ConnectionError, aiohttp.ClientConnectionResetError) as exc:
            cap.error_type, cap.error_message = "client_disconnect", f"client went away: {exc!r}"
            return resp
        try:
            async for chunk in up.iter_any():
                try:
                    await resp.write(chunk)
                except (ConnectionError, aiohttp.ClientConnectionResetError) as exc:
                    cap.error_type = "client_disconnect"
                    cap.error_message = f"client disconnected mid-stream: {exc!r}"
                    if capture:
                        cap.add_chunk(time.perf_counter_ns(), chunk)
                    return resp
                if capture:
                    cap.add_chunk(time.perf_counter_ns(), chunk)
        except (TimeoutError, UpstreamError) as exc:
            cap.error_type = "upstream_timeout" if isinstance(exc, TimeoutError) else "upstream_disconnected"
            cap.error_message = f"upstream stream ended abnormally: {exc!r}"
            if request.transport is not None:
                request.transport.close()
            return resp
        cap.t_end = time.perf_counter_ns()
        self._observe_upstream(cap, (cap.t_end - (cap.t_upstream_start or 0)) / 1e9)
        try:
            await resp.write_eof()
        except (ConnectionError, aiohttp.ClientConnectionResetError) as exc:
            cap.error_type, cap.error_message = "client_disconnect", f"client went away: {exc!r}"
        return resp

    async def _fail(
        self, request: web.Request, cap: Capture, status: int, kind: str, message: str
    ) -> web.StreamResponse:
        cap.status = status
        cap.error_type = kind
        cap.error_message = message
        cap.t_end = time.perf_counter_ns()
        resp = web.Response(body=_error_body(kind, message), status=status, content_type="application/json")
        try:
            await resp.prepare(request)
            await resp.write_eof()
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            pass
        return resp
