"""Named tokens for the SQL endpoint, optionally scoped to one tenant.

``<data_dir>/sql_tokens.json`` (mode 0600) lists them; only the SHA-256 of each token is kept::

    [{"name": "acme-analyst", "token_sha256": "<hex>", "tenant": "acme"},
     {"name": "ops", "token_sha256": "<hex>", "tenant": null}]

:func:`add_token` makes a token, stores its hash and returns it (shown once). A token with a
tenant reads through sessions whose engine setting ``additional_table_filters`` (fixed before
``readonly=1``) keeps only that tenant's rows of ``events`` and of ``scores`` (by their
``event_id``), in every view, join, subquery, ``WITH`` and ``view()`` that reads them; other
tables and table functions are refused for it (:func:`check_tenant_tree`)."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import orjson

from lightkeeper.errors import ConfigError

TOKENS_FILE = "sql_tokens.json"
_NAME = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
_TENANT = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


@dataclass(frozen=True)
class SqlToken:
    """A named token: its name (the audit's principal), its SHA-256 and its tenant (None: all)."""

    name: str
    token_sha256: str
    tenant: str | None = None

    def matches(self, presented: str) -> bool:
        digest = hashlib.sha256(presented.encode()).hexdigest()
        return hmac.compare_digest(digest, self.token_sha256)


def check_tenant(tenant: str) -> str:
    """``tenant`` if it is a plain label (letters, digits, ``_ . : @ -``); it is put into a filter."""
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise ConfigError(f"invalid tenant {tenant!r}: use letters, digits and _ . : @ - (at most 128)")
    return tenant


def load_tokens(path: Path) -> list[SqlToken]:
    """The tokens in ``path`` ([] when it does not exist); :class:`ConfigError` when malformed."""
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read SQL tokens from {path}: {exc}") from exc
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: expected a list of tokens")
    tokens: list[SqlToken] = []
    for item in raw:
        if not isinstance(item, dict) or not _NAME.match(str(item.get("name", ""))):
            raise ConfigError(f"{path}: each token needs a plain 'name'")
        digest = str(item.get("token_sha256", ""))
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ConfigError(f"{path}: token {item['name']!r} needs a 64-hex 'token_sha256'")
        tenant = item.get("tenant")
        tokens.append(SqlToken(item["name"], digest, None if tenant is None else check_tenant(tenant)))
    if len({t.name for t in tokens}) != len(tokens):
        raise ConfigError(f"{path}: token names must be unique")
    return tokens


def add_token(path: Path, name: str, tenant: str | None = None) -> str:
    """Make a token named ``name`` (replacing one of that name), store its hash in ``path``
    (0600) and return the token itself."""
    if not _NAME.match(name):
        raise ConfigError(f"invalid token name {name!r}")
    token = secrets.token_urlsafe(32)
    entry = SqlToken(
        name, hashlib.sha256(token.encode()).hexdigest(), None if tenant is None else check_tenant(tenant)
    )
    tokens = [t for t in load_tokens(path) if t.name != name] + [entry]
    data = [{"name": t.name, "token_sha256": t.token_sha256, "tenant": t.tenant} for t in tokens]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, orjson.dumps(data, option=orjson.OPT_INDENT_2))
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return token


def tenant_filters(database: str, tenant: str) -> str:
    """The ``additional_table_filters`` value that keeps ``tenant``'s rows only."""
    check_tenant(tenant)
    own = f"tenant = \\'{tenant}\\'"
    scores = f"event_id IN (SELECT event_id FROM {database}.events WHERE {own})"
    entries = {
        f"{database}.events": own,
        "events": own,
        f"{database}.scores": scores,
        "scores": scores,
    }
    return "{" + ", ".join(f"'{table}': '{expr}'" for table, expr in entries.items()) + "}"
