"""JSON Schemas of the spec files, generated from the models so editors and code agree."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from synclinqs_pipelines.mapping.spec import SystemSpec, TemplateSpec, TenantSpec

SCHEMAS: dict[str, type[BaseModel]] = {"system": SystemSpec, "template": TemplateSpec, "tenant": TenantSpec}


def schema_text(name: str) -> str:
    schema = SCHEMAS[name].model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"SyncLinqs {name} spec"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(directory: Path, check: bool = False) -> list[str]:
    """Write (or with check, compare) every schema; returns the names that were out of date."""
    directory.mkdir(parents=True, exist_ok=True)
    stale = []
    for name in SCHEMAS:
        path = directory / f"{name}.schema.json"
        text = schema_text(name)
        if not path.exists() or path.read_text() != text:
            stale.append(path.name)
            if not check:
                path.write_text(text)
    return stale
