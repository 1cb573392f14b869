"""Fast (de)serialization of records with errors that name the field and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from lightkeeper.errors import SchemaError
from lightkeeper.schemas.events import LLMCallEvent
from lightkeeper.schemas.records import AlertRecord, AnomalyRecord, DriftRecord, ScoreRecord

M = TypeVar("M", bound=BaseModel)

#: Every record type with its JSON Schema file name (exported to ``schemas/jsonschema``).
RECORD_TYPES: dict[str, type[BaseModel]] = {
    "llm_call_event": LLMCallEvent,
    "score": ScoreRecord,
    "drift": DriftRecord,
    "anomaly": AnomalyRecord,
    "alert": AlertRecord,
}

JSONSCHEMA_DIR = Path(__file__).parent / "jsonschema"


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"]) or "<root>"
        out.append((path, err["msg"]))
    return out


def schema_error(exc: ValidationError, what: str) -> SchemaError:
    problems = _problems(exc)
    listed = "; ".join(f"{path}: {msg}" for path, msg in problems)
    return SchemaError(f"invalid {what}: {listed}", problems)


def decode(model: type[M], data: bytes | str) -> M:
    """Parse JSON bytes into ``model``; raises :class:`SchemaError` naming each bad field."""
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise schema_error(exc, model.__name__) from None


def validate(model: type[M], obj: Any) -> M:
    """Validate an already-parsed object (dict) into ``model``."""
    if not isinstance(obj, dict):
        raise SchemaError(
            f"invalid {model.__name__}: <root>: expected a JSON object, got {type(obj).__name__}",
            [("<root>", "expected a JSON object")],
        )
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise schema_error(exc, model.__name__) from None


def encode(record: BaseModel) -> bytes:
    """Serialize to compact JSON bytes (unset optional fields kept as null for clarity)."""
    return record.model_dump_json().encode()


def decode_event(data: bytes | str) -> LLMCallEvent:
    return decode(LLMCallEvent, data)


def encode_event(event: LLMCallEvent) -> bytes:
    return encode(event)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render_json_schemas() -> dict[str, bytes]:
    """File name -> bytes of every record's JSON Schema, as committed under ``schemas/jsonschema``."""
    return {
        f"{name}.schema.json": orjson.dumps(
            json_schema(model), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        )
        + b"\n"
        for name, model in RECORD_TYPES.items()
    }


def export_json_schemas(directory: Path = JSONSCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_json_schemas().items():
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written
