"""The Dagster definitions load (catches wiring rot) and expose what the UI shows."""

from __future__ import annotations

import dagster as dg

from synclinqs_pipelines.definitions import defs


def test_definitions_load_with_sensors_and_resources():
    loaded = defs()
    repo = loaded.get_repository_def()
    sensors = {s.name for s in repo.sensor_defs}
    assert "tenant_registry_sensor" in sensors
    assert {"warehouse", "keys", "specs"} <= set(loaded.resources or {})
    assert isinstance(loaded, dg.Definitions)
