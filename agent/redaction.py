"""Scrubbing of everything an event carries before it leaves the process.

Two layers, applied to every captured text (messages, output, tool arguments, context
documents, error messages, tag values):

1. **Secrets, always on**: the exact credential values seen in the request's auth headers,
   plus key/token patterns (OpenAI/Anthropic ``sk-...``, ``Bearer ...``, AWS, GitHub, Google,
   Slack, JWTs, ``api_key=...``/``password: ...`` assignments) become ``<API_KEY>``/``<SECRET>``.
   ``Authorization``, ``x-api-key``, ``api-key`` and cookies are never captured at all.
2. **PII, configurable** (``pii_redaction``, ``pii_types``): :mod:`lightkeeper.text.pii` (pure Python)
   replaces emails, phones, Luhn-valid cards, IBANs, API keys, IPs and national ids with typed
   placeholders (``<EMAIL>``...). Imported lazily; when absent only layer 1 runs (logged once).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Collection
from typing import Any

log = logging.getLogger(__name__)

#: Request headers holding credentials: forwarded upstream, never captured.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "cookie",
        "openai-organization",
        "x-goog-api-key",
        "ocp-apim-subscription-key",
    }
)

_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bsk-(?:proj-|ant-(?:api\d\d-)?|svcacct-)?[A-Za-z0-9_\-]{16,}"), "<API_KEY>"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "<API_KEY>"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), "<API_KEY>"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{30,}\b"), "<API_KEY>"),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), "<API_KEY>"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), "<API_KEY>"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), "<SECRET>"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{8,}=*"), "Bearer <SECRET>"),
    (
        re.compile(
            r"(?i)\b((?:x-)?api[_-]?key|secret(?:[_-]key)?|access[_-]?token|auth[_-]?token|password|passwd)"
            r"(\"?\s*[:=]\s*[\"']?)([^\s\"',;}{]{6,})"
        ),
        r"\1\2<SECRET>",
    ),
]

#: Literal cues, one of which (lower-cased) every secret pattern needs: a cheap pre-check.
_SECRET_CUES = ("sk-", "akia", "asia", "_", "aiza", "xox", "eyj", "bearer", "key", "secret", "token", "passw")
#: PII types that cannot match a text without a digit or an "@" (API_KEY: the secret patterns
#: above already cover digitless keys with known prefixes).
_CUED_TYPES = frozenset({"EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "API_KEY", "IP_ADDRESS", "NATIONAL_ID"})
_PII_CUE = re.compile(r"[\d@]")

_PII: tuple[Callable[..., tuple[str, list[Any]]]] | None = None
_PII_MISSING_LOGGED = False


def _pii_redact() -> Callable[..., tuple[str, list[Any]]] | None:
    global _PII, _PII_MISSING_LOGGED
    if _PII is None:
        try:
            from lightkeeper.text.pii import redact
        except ImportError:
            if not _PII_MISSING_LOGGED:
                log.warning(
                    "the PII detector is not available: PII redaction is off (secrets are still scrubbed)"
                )
                _PII_MISSING_LOGGED = True
            return None
        _PII = (redact,)
    return _PII[0]


class Redactor:
    """Scrubs texts of one event and remembers which redaction types fired."""

    def __init__(
        self, *, pii: bool, pii_types: Collection[str] | None, secrets: Collection[str] = ()
    ) -> None:
        self._pii = _pii_redact() if pii else None
        self._pii_types = pii_types
        # Every default type needs a digit or an "@" to match; other types need a full scan.
        self._full_scan = pii_types is None or not set(pii_types) <= _CUED_TYPES
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)
        self.types: set[str] = set()

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "<API_KEY>")
                self.types.add("API_KEY")
        low = text.lower()
        if any(cue in low for cue in _SECRET_CUES):
            for pattern, repl in _SECRET_PATTERNS:
                text, n = pattern.subn(repl, text)
                if n:
                    self.types.add("API_KEY" if "API_KEY" in repl else "SECRET")
        if self._pii is not None and (self._full_scan or _PII_CUE.search(text)):
            text, spans = self._pii(text, self._pii_types)
            for span in spans:
                self.types.add(str(getattr(span, "type", "PII")))
        return text


#: What :func:`pseudonymize` writes: left as it is when scrubbed again (a re-published event).
_PSEUDONYM = re.compile(r"<[A-Z_]+(?:\+[A-Z_]+)*:[0-9a-f]{16}>")


def pseudonymize(value: str, red: Redactor, probe: Redactor, key: bytes = b"") -> str:
    """An identifier (``user_id``) holding PII or a secret (an email used as user id) becomes
    ``<TYPE:hash>``: 16 hex digits of a BLAKE2b hash of the whole value, keyed with ``key``
    (``pii_hash_key``), so that per-user figures still group calls while the value itself is not
    stored. ``probe`` is a fresh :class:`Redactor` with ``red``'s settings; the types it finds are
    added to ``red.types``. Identifiers without PII (per the redaction settings) stay as they are."""
    if _PSEUDONYM.fullmatch(value) or probe(value) == value:
        return value
    red.types |= probe.types
    digest = hashlib.blake2b(value.encode(), digest_size=8, key=key[:64]).hexdigest()
    return f"<{'+'.join(sorted(probe.types))}:{digest}>"


def header_secrets(headers: Any) -> list[str]:
    """Credential values in request headers (the token part of ``Bearer x`` and the raw value)."""
    values: list[str] = []
    for name in SECRET_HEADERS:
        value = headers.get(name)
        if not value:
            continue
        values.append(value)
        scheme, _, token = value.partition(" ")
        if token and scheme.lower() in ("bearer", "basic", "token"):
            values.append(token.strip())
    return values
