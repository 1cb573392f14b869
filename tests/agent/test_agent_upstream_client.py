"""The proxy's lean upstream client against scripted raw HTTP servers: framing, keep-alive, pool
limit, timeouts, flow control, TLS and every failure mode it maps to an error."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from lightkeeper.agent.proxy.upstream import UpstreamClient
from lightkeeper.errors import UpstreamDisconnected, UpstreamUnreachable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return lines[0], headers, body


class RawServer:
    """A loopback server running ``handler(reader, writer, connection_number)`` per connection."""

    def __init__(self, handler: Handler, ssl_ctx: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_ctx = ssl_ctx
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> RawServer:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer, self.connections)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=self.ssl_ctx)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    def url(self, path: str = "/v1/chat/completions", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


def ok(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    while True:
        line, headers, body = await read_request(reader)
        writer.write(ok(line.encode() + b"|" + headers["host"].encode() + b"|" + body))
        await writer.drain()


async def test_request_line_headers_body_and_keep_alive_reuse():
    async with RawServer(echo_forever) as srv:
        client = UpstreamClient()
        try:
            for i in range(3):
                r = await client.request(
                    "POST", srv.url("/v1/chat/completions?x=1"), [("X-A", "1"), ("X-A", "2")], b"b%d" % i
                )
                assert r.status == 200 and r.reason == "OK" and r.content_length is not None
                body = await r.read()
                r.release()
                assert body == f"POST /v1/chat/completions?x=1 HTTP/1.1|127.0.0.1:{srv.port}|b{i}".encode()
            assert srv.connections == 1  # one kept-alive connection for all three
        finally:
            await client.close()


async def test_repeated_headers_chunked_body_and_reason_phrase():
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 429 Too Many Requests\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        await writer.drain()
        await reader.read()

    async with RawServer(handler) as srv:
        client = UpstreamClient()
        r = await client.request("POST", srv.url(), [], b"{}")
        assert (r.status, r.reason) == (429, "Too Many Requests")
        assert r.headers.getall("Set-Cookie") == ["a=1", "b=2"] and r.content_length is None
        assert await r.read() == b"hello world"
        r.release()
        await client.close()


async def test_body_delimited_by_connection_close_and_no_reuse():
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"a":')
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"1}")
        await writer.drain()
        writer.close()

    async with RawServer(handler) as srv:
        client = UpstreamClient()
        for _ in range(2):
            r = await client.request("POST", srv.url(), [], b"{}")
            assert await r.read() == b'{"a":1}'
            r.release()
        assert srv.connections == 2
        await client.close()


async def test_idle_connection_closed_by_upstream_is_not_used():
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(ok(b"conn%d" % n))
        await writer.drain()
        # keep-alive response, then the server drops the idle connection

    async with RawServer(handler) as srv:
        client = UpstreamClient()
        r = await client.request("POST", srv.url(), [], b"{}")
        assert await r.read() == b"conn1"
        r.release()
        await asyncio.sleep(0.1)  # the close reaches the client while the connection is idle
        r = await client.request("POST", srv.url(), [], b"{}")
        assert await r.read() == b"conn2"
        r.release()
        await client.close()


async def test_idle_connections_expire_after_keepalive():
    async with RawServer(echo_forever) as srv:
        client = UpstreamClient(keepalive_s=0.05)
        for _ in range(2):
            r = await client.request("POST", srv.url(), [], b"{}")
            await r.read()
            r.release()
            await asyncio.sleep(0.1)
        assert srv.connections == 2
        await client.close()


async def test_upstream_closing_without_answer_is_disconnected_error():
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.close()

    async with RawServer(handler) as srv:
        client = UpstreamClient()
        with pytest.raises(UpstreamDisconnected):
            await client.request("POST", srv.url(), [], b"{}")
        await client.close()


async def test_body_cut_short_is_disconnected_error():
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await writer.drain()
        writer.close()

    async with RawServer(handler) as srv:
        client = UpstreamClient()
        r = await client.request("POST", srv.url(), [], b"{}")
        with pytest.raises(UpstreamDisconnected):
            await r.read()
        r.release()
        await client.close()


async def test_malformed_response_is_disconnected_error():
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(b"this is not HTTP\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with RawServer(handler) as srv:
        client = UpstreamClient()
        with pytest.raises(UpstreamDisconnected, match="malformed"):
            await client.request("POST", srv.url(), [], b"{}")
        await client.close()


async def test_connection_refused_is_unreachable():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    client = UpstreamClient()
    with pytest.raises(UpstreamUnreachable, match="cannot connect"):
        await client.request("POST", f"http://127.0.0.1:{port}/v1/x", [], b"{}")
    assert client._busy == 0  # the slot came back
    await client.close()


async def test_read_timeout_before_headers_and_during_body():
    async def handler(reader, writer, n):
        await read_request(reader)
        if n == 2:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            await writer.drain()
        await asyncio.sleep(5)

    async with RawServer(handler) as srv:
        client = UpstreamClient(read_timeout_s=0.2)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(TimeoutError):
            await client.request("POST", srv.url(), [], b"{}")
        assert 0.15 < loop.time() - t0 < 2
        r = await client.request("POST", srv.url(), [], b"{}")
        with pytest.raises(TimeoutError):
            await r.read()
        r.release()
        assert client._busy == 0
        await client.close()


async def test_slow_steady_stream_is_not_a_timeout():
    """The read timeout is the longest silence, not the whole response's duration."""

    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for i in range(8):
            await asyncio.sleep(0.05)
            data = b"data: %d\n\n" % i
            writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with RawServer(handler) as srv:
        client = UpstreamClient(read_timeout_s=0.15)
        r = await client.request("POST", srv.url(), [], b"{}")
        chunks = [c async for c in r.iter_any()]
        r.release()
        assert b"".join(chunks) == b"".join(b"data: %d\n\n" % i for i in range(8))
        assert len(chunks) >= 4  # delivered as they came, not at the end
        await client.close()


async def test_pool_limit_makes_callers_wait_for_a_connection():
    active = 0
    peak = 0

    async def handler(reader, writer, n):
        nonlocal active, peak
        while True:
            await read_request(reader)
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.02)
            active -= 1
            writer.write(ok(b"x"))
            await writer.drain()

    async with RawServer(handler) as srv:
        client = UpstreamClient(limit=2)

        async def one() -> bytes:
            r = await client.request("POST", srv.url(), [], b"{}")
            try:
                return await r.read()
            finally:
                r.release()

        assert await asyncio.gather(*(one() for _ in range(10))) == [b"x"] * 10
        assert peak == 2 and srv.connections == 2 and client._busy == 0
        await client.close()


async def test_slow_consumer_pauses_reading_and_gets_every_byte():
    payload = bytes(range(256)) * 8192  # 2 MiB

    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(ok(payload))
        await writer.drain()
        await reader.read()

    async with RawServer(handler) as srv:
        client = UpstreamClient(read_timeout_s=0.3)
        r = await client.request("POST", srv.url(), [], b"{}")
        got = bytearray()
        paused_seen = False
        async for chunk in r.iter_any():
            got += chunk
            await asyncio.sleep(0.02)  # slower than the upstream
            conn = r._conn
            paused_seen = paused_seen or (conn is not None and conn._paused)
        r.release()
        assert bytes(got) == payload and paused_seen
        await client.close()


async def test_read_of_a_body_larger_than_the_high_water_mark():
    payload = b"x" * (5 * 1024 * 1024)

    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(ok(payload))
        await writer.drain()
        await reader.read()

    async with RawServer(handler) as srv:
        client = UpstreamClient(read_timeout_s=2)
        r = await client.request("POST", srv.url(), [], b"{}")
        assert await r.read() == payload
        r.release()
        await client.close()


async def test_head_and_interim_responses():
    async def handler(reader, writer, n):
        while True:
            line, _, _ = await read_request(reader)
            if line.startswith("HEAD"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"after"))
            await writer.drain()

    async with RawServer(handler) as srv:
        client = UpstreamClient(read_timeout_s=1)
        r = await client.request("HEAD", srv.url("/v1/models"), [], b"")
        assert r.status == 200 and r.content_length == 1234 and await r.read() == b""
        r.release()
        r = await client.request("POST", srv.url(), [], b"{}")
        assert r.status == 200 and await r.read() == b"after"
        r.release()
        await client.close()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(san, False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_tls_upstream_verified_and_untrusted_refused(tmp_path):
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    async with RawServer(echo_forever, ssl_ctx=server_ctx) as srv:
        trusting = ssl.create_default_context(cafile=str(cert))
        client = UpstreamClient(ssl_context=trusting)
        r = await client.request("POST", srv.url(scheme="https"), [], b"secret")
        assert (await r.read()).endswith(b"|secret")
        r.release()
        await client.close()
        default = UpstreamClient()  # system trust store: the self-signed certificate is refused
        with pytest.raises(UpstreamUnreachable):
            await default.request("POST", srv.url(scheme="https"), [], b"{}")
        await default.close()


async def test_bad_url_is_unreachable():
    client = UpstreamClient()
    with pytest.raises(UpstreamUnreachable, match="unsupported"):
        await client.request("POST", "ftp://example.com/x", [], b"")
    with pytest.raises(UpstreamUnreachable, match="invalid"):
        await client.request("POST", "http://example.com:99999/x", [], b"")
    await client.close()


async def test_bytes_after_the_response_make_the_connection_unusable():
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(ok(b"first") + ok(b"unsolicited"))
        await writer.drain()
        await read_request(reader)
        writer.write(ok(b"never read"))
        await writer.drain()

    async with RawServer(handler) as srv:
        client = UpstreamClient(read_timeout_s=1)
        for _ in range(2):
            r = await client.request("POST", srv.url(), [], b"{}")
            assert await r.read() == b"first" and "unsolicited" not in str(r.headers)
            r.release()
        assert srv.connections == 2
        await client.close()


async def test_header_value_with_invalid_utf8_is_kept_readable():
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9 \xc3\xa9\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read()

    async with RawServer(handler) as srv:
        client = UpstreamClient()
        r = await client.request("POST", srv.url(), [], b"{}")
        assert r.headers["X-Name"] == "caf\ufffd \u00e9"
        r.headers["X-Name"].encode("utf-8")  # re-encodable when the proxy writes it to the client
        r.release()
        await client.close()


async def test_waiter_cancelled_after_being_woken_passes_the_slot_on():
    async with RawServer(echo_forever) as srv:
        client = UpstreamClient(limit=1)
        first = await client.request("POST", srv.url(), [], b"{}")  # holds the only slot
        second = asyncio.create_task(client.request("POST", srv.url(), [], b"{}"))
        third = asyncio.create_task(client.request("POST", srv.url(), [], b"{}"))
        await asyncio.sleep(0.05)
        assert len(client._waiters) == 2
        await first.read()
        first.release()  # wakes the second waiter...
        second.cancel()  # ...which is cancelled before it runs: the third must get the slot
        r = await asyncio.wait_for(third, 2)
        assert (await r.read()).endswith(b"|{}")
        r.release()
        assert second.cancelled() and client._busy == 0
        await client.close()
