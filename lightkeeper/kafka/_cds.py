"""Class-data sharing (AppCDS) for faster broker starts.

The first broker started with a given Kafka distribution and ``java`` records the classes it
loaded (``-XX:ArchiveClassesAtExit``) into a temporary file when it stops; the file is checked
by a throw-away JVM and then atomically renamed to ``<kafka home>/cds/<java id>.jsa``. Later
starts map that archive (``-XX:SharedArchiveFile``), which cuts JVM start-up CPU time. Set
``LIGHTKEEPER_KAFKA_CDS=0`` to turn this off.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from lightkeeper.kafka.distribution import KafkaDistribution

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CdsPlan:
    """JVM flags for one broker run and, when recording, the file to check and publish later."""

    flags: tuple[str, ...]
    recording: Path | None = None
    archive: Path | None = None


def enabled() -> bool:
    return os.environ.get("LIGHTKEEPER_KAFKA_CDS", "1").lower() not in ("0", "false", "no", "off")


def archive_path(dist: KafkaDistribution, java: Path) -> Path:
    real = java.resolve()
    try:
        stamp = f"{real}:{real.stat().st_mtime_ns}:{real.stat().st_size}"
    except OSError:
        stamp = str(real)
    return dist.home / "cds" / f"{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.jsa"


def plan(dist: KafkaDistribution, java: Path, *, record: bool) -> CdsPlan:
    """Use the archive if there is one; otherwise record one when ``record`` is set."""
    if not enabled():
        return CdsPlan(())
    archive = archive_path(dist, java)
    if archive.is_file():
        return CdsPlan((f"-XX:SharedArchiveFile={archive}",), archive=archive)
    if not record:
        return CdsPlan(())
    archive.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(archive.parent)
    recording = archive.with_name(f"{archive.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.recording")
    return CdsPlan((f"-XX:ArchiveClassesAtExit={recording}",), recording=recording, archive=archive)


def _remove_stale(folder: Path, max_age_s: float = 3600.0) -> None:
    """Recordings left by brokers that were killed (no exit, so no archive was published)."""
    now = time.time()
    for old in folder.glob("*.recording"):
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > max_age_s:
                old.unlink()


def publish(cds: CdsPlan, java: Path, classpath: str) -> bool:
    """After the recording JVM exited: keep the archive if a JVM can map it, else delete it."""
    if cds.recording is None or cds.archive is None:
        return False
    try:
        if not cds.recording.is_file() or cds.recording.stat().st_size == 0:
            return False
        with tempfile.TemporaryDirectory() as scratch:  # a crashing JVM writes hs_err files in cwd
            check = subprocess.run(
                [
                    str(java),
                    f"-XX:SharedArchiveFile={cds.recording}",
                    "-Xshare:on",
                    "-cp",
                    classpath,
                    "-version",
                ],
                capture_output=True,
                timeout=60,
                cwd=scratch,
                check=False,
            )
        if check.returncode != 0:
            log.info("discarding an unusable class-data archive (%s)", cds.recording)
            return False
        cds.recording.replace(cds.archive)
        log.info("class-data archive for faster Kafka starts: %s", cds.archive)
        return True
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        cds.recording.unlink(missing_ok=True)


def discard(cds: CdsPlan) -> None:
    """Forget an archive that a broker failed to start with."""
    if cds.archive is not None and cds.recording is None:
        cds.archive.unlink(missing_ok=True)
