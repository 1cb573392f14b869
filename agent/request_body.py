"""Reading the body of an ingest request (``/v1/events``, ``/v1/traces``, ``/v1/logs``).

aiohttp's parser already decodes ``Content-Encoding: gzip`` / ``deflate`` / ``br`` / ``zstd``
while it reads the body, so the handlers get the plain bytes and must not decode them again.
A body that is not valid in its declared encoding is a ``400`` naming the encoding (not a
``500``); an encoding the parser does not decode is a ``415``. The decoded size is bounded by
``max_request_bytes`` like any other body (``413``), so a small compressed bomb cannot inflate
without limit.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

#: Content codings aiohttp decodes while reading the body (``identity`` is no coding).
DECODED_ENCODINGS = frozenset({"", "identity", "gzip", "deflate", "br", "zstd"})


class BodyError(Exception):
    """The body cannot be read: ``status`` (400 or 415) and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self, body: bytes, content_type: str) -> web.Response:
        """The answer; it closes the connection (the rest of the body was not read)."""
        resp = web.Response(status=self.status, body=body, content_type=content_type)
        resp.force_close()
        return resp


async def read_body(request: web.Request) -> bytes:
    """The decoded body; raises :class:`BodyError` when it cannot be decoded."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in DECODED_ENCODINGS:
        raise BodyError(
            415, f"Content-Encoding {encoding!r} is not supported (use gzip, deflate, br, zstd or none)"
        )
    try:
        return await request.read()
    except RequestPayloadError:
        # the parser gave up on this body: mark it finished so that the server does not read
        # it again after the answer (it would log the same error); the connection closes
        request.content.feed_eof()
        raise BodyError(
            400, f"request body is not valid {encoding or 'data'}: it cannot be decoded"
        ) from None
