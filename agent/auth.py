"""Optional bearer token on the agent's own APIs (ingest, context, OTLP)."""

from __future__ import annotations

import hmac

from aiohttp import web

from lightkeeper.agent.settings import AgentSettings


def check_token(request: web.Request, settings: AgentSettings) -> None:
    """Raise 401 unless ``ingest_token`` is unset or the request carries ``Bearer <token>``."""
    if settings.ingest_token is None:
        return
    expected = settings.ingest_token.get_secret_value().encode()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise web.HTTPUnauthorized(
            text='{"error": "missing or wrong bearer token"}',
            content_type="application/json",
            headers={"WWW-Authenticate": "Bearer"},
        )
