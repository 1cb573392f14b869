"""The ClickHouse store: connections (embedded chdb or a server), migrations, the batch writer,
row builders and parameterized queries. Everything goes through clickhouse-connect."""

from lightkeeper.store.client import close_all, connect, release

__all__ = ["close_all", "connect", "release"]
