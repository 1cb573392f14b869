"""The JSON Schemas committed under schemas/jsonschema match the models."""

from __future__ import annotations

import orjson

from lightkeeper.cli.main import main
from lightkeeper.schemas.codec import JSONSCHEMA_DIR, RECORD_TYPES, export_json_schemas, render_json_schemas


def test_committed_schemas_are_in_sync():
    rendered = render_json_schemas()
    assert set(rendered) == {f"{name}.schema.json" for name in RECORD_TYPES}
    stale = [name for name, content in rendered.items() if (JSONSCHEMA_DIR / name).read_bytes() != content]
    assert not stale, f"run `lightkeeper export-schemas`: {stale} are out of date"


def test_export_writes_what_render_produces(tmp_path):
    written = export_json_schemas(tmp_path)
    assert sorted(p.name for p in written) == sorted(render_json_schemas())
    event = orjson.loads((tmp_path / "llm_call_event.schema.json").read_bytes())
    assert event["$schema"].endswith("2020-12/schema")
    assert event["additionalProperties"] is True  # unknown fields allowed (forward compatible)
    assert {"event_id", "app", "usage", "input_messages"} <= set(event["properties"])


def test_check_command_detects_drift(tmp_path, monkeypatch, capsys):
    assert main(["export-schemas", "--check"]) == 0
    import lightkeeper.cli.cmd_store  # noqa: F401  (the command reads JSONSCHEMA_DIR from schemas.codec)
    import lightkeeper.schemas.codec as codec

    for path in export_json_schemas(tmp_path):
        if path.name == "score.schema.json":
            path.write_bytes(path.read_bytes().replace(b"detector", b"detektor"))
    monkeypatch.setattr(codec, "JSONSCHEMA_DIR", tmp_path)
    assert main(["export-schemas", "--check"]) == 1
    assert "score.schema.json" in capsys.readouterr().err
