"""The fast decode path takes its shape and bounds from the event schema: a schema constraint
changes what the fast path accepts, without a second copy to keep in sync."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import annotated_types
import orjson
import pytest

from lightkeeper.schemas import _fastdecode
from lightkeeper.schemas.events import LLMCallEvent
from tests.worker.helpers import raw

BOUNDED = sorted(
    name
    for name, field in LLMCallEvent.model_fields.items()
    if any(isinstance(c, annotated_types.MaxLen) for c in field.metadata)
)


@contextmanager
def tightened(name: str) -> Iterator[ModuleType]:
    """The fast path reloaded with the string field ``name`` limited to 5 characters."""
    field = LLMCallEvent.model_fields[name]
    saved = list(field.metadata)
    try:
        field.metadata = [
            annotated_types.MaxLen(5) if isinstance(c, annotated_types.MaxLen) else c for c in saved
        ]
        yield importlib.reload(_fastdecode)
    finally:
        field.metadata = saved
        importlib.reload(_fastdecode)


def _with(name: str, value: str) -> bytes:
    data = orjson.loads(raw(1))
    data[name] = value
    return orjson.dumps(data)


def test_every_bounded_string_field_is_checked() -> None:
    assert len(BOUNDED) >= 14
    for name in BOUNDED:
        limit = next(
            c.max_length
            for c in LLMCallEvent.model_fields[name].metadata
            if isinstance(c, annotated_types.MaxLen)
        )
        assert _fastdecode.decode_row(_with(name, "x" * limit)) is not None, name
        assert _fastdecode.decode_row(_with(name, "x" * (limit + 1))) is None, name


@pytest.mark.parametrize("name", BOUNDED)
def test_limits_follow_the_schema(name: str) -> None:
    with tightened(name) as fastdecode:
        assert fastdecode.decode_row(_with(name, "abcde")) is not None
        assert fastdecode.decode_row(_with(name, "abcdef")) is None


def test_key_sets_are_the_schema_fields() -> None:
    assert frozenset(LLMCallEvent.model_fields) == _fastdecode._EVENT_KEYS
