"""The client side of the read-only SQL endpoint: ``<data_dir>/runtime.json`` (where a running
``lightkeeper up`` serves queries, and its token) and :func:`query_runtime`, which
``lightkeeper sql`` uses when the embedded store is held by ``up``."""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from lightkeeper.errors import StoreError, StoreUnavailable
from lightkeeper.store.client import chdb_path

log = logging.getLogger(__name__)

RUNTIME_FILE = "runtime.json"
_Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class RuntimeInfo:
    """What ``<data_dir>/runtime.json`` holds: where the running runtime serves queries."""

    pid: int
    host: str
    port: int
    token: str
    store_path: str
    database: str
    started_at: float

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1/sql"


# the runtime file ---------------------------------------------------------------------------
def write_runtime_file(path: Path, info: RuntimeInfo) -> None:
    """Write ``info`` atomically, readable by the owner only (it holds the token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, orjson.dumps(asdict(info)))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_runtime_file(path: Path) -> RuntimeInfo | None:
    """The runtime file at ``path``; None when absent or unreadable (logged)."""
    try:
        data = orjson.loads(path.read_bytes())
        return RuntimeInfo(
            pid=int(data["pid"]),
            host=str(data["host"]),
            port=int(data["port"]),
            token=str(data["token"]),
            store_path=str(data["store_path"]),
            database=str(data["database"]),
            started_at=float(data["started_at"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable runtime file %s: %s", path, exc)
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_runtime(store_url: str, data_dir: Path | str | None = None) -> RuntimeInfo | None:
    """The running runtime serving the embedded store of ``store_url``, if any.

    Looks at ``<data_dir>/runtime.json`` and next to the store directory (the default layout
    puts the store at ``<data_dir>/store``); the file must name the same store and a live pid."""
    store_path = chdb_path(store_url)
    if store_path is None or store_path == ":memory:":
        return None
    candidates = [Path(store_path).parent / RUNTIME_FILE]
    if data_dir is not None:
        candidates.insert(0, Path(data_dir) / RUNTIME_FILE)
    for candidate in candidates:
        info = read_runtime_file(candidate)
        if info is not None and info.store_path == store_path and _alive(info.pid):
            return info
    return None


def query_runtime(
    info: RuntimeInfo,
    query: str,
    parameters: dict[str, _Scalar] | None = None,
    *,
    fmt: str = "json",
    max_width: int = 60,
    database: str | None = None,
    timeout_s: float = 120.0,
) -> tuple[bytes, int, bool]:
    """Run ``query`` through a running runtime; returns (formatted body, rows, truncated).

    Raises :class:`StoreError` when the runtime refused or failed the query (its message),
    :class:`StoreUnavailable` when it cannot be reached."""
    payload: dict[str, Any] = {"query": query, "parameters": parameters or {}, "format": fmt}
    payload["max_width"] = max_width
    if database is not None:
        payload["database"] = database
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 from our own runtime file
        info.url,
        data=orjson.dumps(payload),
        headers={"Authorization": f"Bearer {info.token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            body = response.read()
            rows = int(response.headers.get("X-Lightkeeper-Rows", "0"))
            return body, rows, response.headers.get("X-Lightkeeper-Truncated") == "1"
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            message = str(orjson.loads(raw)["error"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            message = raw.decode("utf-8", "replace")[:500]
        if exc.code == 503:
            raise StoreUnavailable(f"the running lightkeeper up (pid {info.pid}): {message}") from exc
        raise StoreError(f"query failed (via lightkeeper up, pid {info.pid}): {message}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StoreUnavailable(
            f"the store is held by lightkeeper up (pid {info.pid}) but its SQL endpoint {info.url} "
            f"does not answer: {exc}"
        ) from exc
