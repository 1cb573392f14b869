"""Apache Kafka jars resolved from Maven Central with ``mvn``, cached on disk.

Layout of the cache (``$LIGHTKEEPER_KAFKA_HOME``, default ``~/.cache/lightkeeper/kafka``)::

    <home>/<version>/libs/*.jar        the broker, its runtime dependencies and a log4j2 backend
    <home>/<version>/manifest.json     written last: the list of jars; its presence means complete
    <home>/<version>.lock              serialises concurrent resolvers (several test sessions)

Once ``manifest.json`` exists and every jar it names is present, :func:`resolve` returns without
running ``mvn`` at all, so a second start downloads nothing. ``mvn`` uses its usual local
repository (``~/.m2/repository``) unless ``$LIGHTKEEPER_MAVEN_REPO`` names another one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lightkeeper.errors import KafkaError

log = logging.getLogger(__name__)

DEFAULT_KAFKA_VERSION = "4.4.0"
"""Newest Kafka 4.x on Maven Central; its broker classes target Java 17."""
SCALA_VERSION = "2.13"
LOG4J_VERSION = "2.25.5"
"""log4j2 backend added next to Kafka (Kafka 4.x logs through slf4j 1.7 and log4j2)."""
MIN_JAVA = 17
_ONLINE_FLAGS = (
    "-Dmaven.wagon.http.retryHandler.count=3",
    "-Dmaven.wagon.httpconnectionManager.ttlSeconds=60",
)

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.lightkeeper</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{scala}</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-api</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""


@dataclass(frozen=True)
class KafkaDistribution:
    """A resolved Kafka runtime: ``libs`` holds every jar the broker needs."""

    version: str
    home: Path
    """``<cache>/<version>``."""
    jars: tuple[str, ...]

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")


def cache_root() -> Path:
    """``$LIGHTKEEPER_KAFKA_HOME`` or ``$XDG_CACHE_HOME/lightkeeper/kafka`` (``~/.cache/...``)."""
    env = os.environ.get("LIGHTKEEPER_KAFKA_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lightkeeper" / "kafka"


def cached(version: str = DEFAULT_KAFKA_VERSION, root: Path | None = None) -> KafkaDistribution | None:
    """The cached distribution when complete, else ``None``. Never downloads."""
    home = (root or cache_root()) / version
    manifest = home / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
        jars = tuple(str(j) for j in data["jars"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not jars or not all((home / "libs" / j).is_file() for j in jars):
        return None
    return KafkaDistribution(version=version, home=home, jars=jars)


def resolve(
    version: str = DEFAULT_KAFKA_VERSION, root: Path | None = None, *, timeout_s: float = 600.0
) -> KafkaDistribution:
    """Return the Kafka runtime for ``version``, resolving it with ``mvn`` on first use.

    Tries ``mvn -o`` (offline: the local Maven repository may already hold everything) before an
    online resolve. Concurrent callers wait on a file lock; only one runs ``mvn``.
    Raises :class:`KafkaError` when ``mvn`` is missing or the resolve fails.
    """
    if not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", version):
        raise KafkaError(f"invalid Kafka version {version!r} (expected e.g. {DEFAULT_KAFKA_VERSION})")
    found = cached(version, root)
    if found is not None:
        return found
    root = root or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f"{version}.lock"):
        found = cached(version, root)
        if found is not None:
            return found
        return _download(version, root / version, timeout_s)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _download(version: str, home: Path, timeout_s: float) -> KafkaDistribution:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaError(
            "Apache Maven (`mvn`) is needed once to fetch Kafka from Maven Central; install it "
            "(e.g. `apt-get install maven`) or point LIGHTKEEPER_KAFKA_BOOTSTRAP at a running broker"
        )
    home.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=home))
    started = time.monotonic()
    try:
        pom = staging / "pom.xml"
        pom.write_text(_POM.format(scala=SCALA_VERSION, kafka=version, log4j=LOG4J_VERSION))
        out = staging / "libs"
        base = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={out}",
            "-DincludeScope=runtime",
        ]
        if os.environ.get("LIGHTKEEPER_MAVEN_REPO"):
            base.append(f"-Dmaven.repo.local={Path(os.environ['LIGHTKEEPER_MAVEN_REPO']).expanduser()}")
        errors: list[str] = []
        for offline in (True, False):
            # offline first (the local Maven repository may hold everything); online retries
            # transient HTTP failures
            cmd = [*base[:2], "-o", *base[2:]] if offline else [*base, *_ONLINE_FLAGS]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
            except subprocess.TimeoutExpired:
                raise KafkaError(f"mvn did not resolve Kafka {version} within {timeout_s:.0f}s") from None
            if proc.returncode == 0 and any(out.glob("kafka_*.jar")):
                break
            errors.append((proc.stdout + proc.stderr).strip()[-2000:])
            shutil.rmtree(out, ignore_errors=True)
        else:
            raise KafkaError(
                f"mvn could not resolve org.apache.kafka:kafka_{SCALA_VERSION}:{version}:\n{errors[-1]}"
            )
        libs = home / "libs"
        shutil.rmtree(libs, ignore_errors=True)
        out.rename(libs)
        jars = tuple(sorted(p.name for p in libs.glob("*.jar")))
        manifest = {
            "version": version,
            "log4j": LOG4J_VERSION,
            "jars": list(jars),
            "resolved_at": time.time(),
            "seconds": round(time.monotonic() - started, 2),
        }
        tmp = home / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1))
        tmp.replace(home / "manifest.json")
        log.info("resolved Kafka %s (%d jars) in %.1fs", version, len(jars), time.monotonic() - started)
        return KafkaDistribution(version=version, home=home, jars=jars)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def find_java() -> Path:
    """The ``java`` to run the broker: ``$LIGHTKEEPER_JAVA``, ``$JAVA_HOME/bin/java`` or ``PATH``.

    Raises :class:`KafkaError` when none is found or it is older than Java 17.
    """
    candidates: list[str] = []
    if os.environ.get("LIGHTKEEPER_JAVA"):
        candidates.append(os.environ["LIGHTKEEPER_JAVA"])
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    for cand in candidates:
        path = Path(cand)
        if path.is_file() and os.access(path, os.X_OK):
            major = java_major_version(path)
            if major >= MIN_JAVA:
                return path
            log.warning("%s is Java %d; Kafka 4 needs Java %d+", path, major, MIN_JAVA)
    raise KafkaError(f"no Java {MIN_JAVA}+ found (set LIGHTKEEPER_JAVA or JAVA_HOME, or install a JDK)")


def java_major_version(java: Path) -> int:
    """Major version of a ``java`` binary (0 when it cannot be told)."""
    try:
        proc = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return 0
    m = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not m:
        return 0
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major
