"""`synclinqs mapping diff OLD NEW`: what a new version of a spec changes, field by field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synclinqs_pipelines.mapping.catalog import load_model, read_yaml, spec_kind
from synclinqs_pipelines.mapping.spec import SystemSpec, TemplateSpec, TenantSpec

_MODELS = {"systems": SystemSpec, "templates": TemplateSpec, "tenants": TenantSpec}


def _model_for(path: Path) -> Any:
    kind = spec_kind(path)
    if kind in _MODELS:
        return _MODELS[kind]
    data = read_yaml(path)
    if isinstance(data, dict) and "system" in data and "fields" in data:
        return SystemSpec
    if isinstance(data, dict) and "slug" in data:
        return TenantSpec
    return TemplateSpec


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _keyed(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {str(item[key]): item for item in items}


def _compare(prefix: str, old: Any, new: Any, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old:
                out.append(f"+ {path}: {_show(new[key])}")
            elif key not in new:
                out.append(f"- {path}: {_show(old[key])}")
            else:
                _compare(path, old[key], new[key], out)
    elif old != new:
        out.append(f"~ {prefix}: {_show(old)} -> {_show(new)}")


def diff_specs(old_path: Path, new_path: Path) -> list[str]:
    model = _model_for(new_path)
    old = load_model(old_path, model).model_dump(mode="json", exclude_defaults=True)
    new = load_model(new_path, model).model_dump(mode="json", exclude_defaults=True)
    if model is SystemSpec:
        old["fields"] = _keyed(old.get("fields", []), "name")
        new["fields"] = _keyed(new.get("fields", []), "name")
    if model is TenantSpec:
        old["plans"] = _keyed(old.get("plans", []), "plan_code")
        new["plans"] = _keyed(new.get("plans", []), "plan_code")
    out: list[str] = []
    _compare("", old, new, out)
    return out
