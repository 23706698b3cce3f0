"""How SyncLinqs' asset jobs run."""

from __future__ import annotations

import dagster as dg


def in_one_process(name: str, selection: dg.AssetSelection, description: str) -> dg.UnresolvedAssetJobDefinition:
    """An asset job whose run executes every step in one process.

    The steps of a SyncLinqs run are a chain; a subprocess per step would pay the imports and the
    definitions load again (about ten seconds a step on two cores) for no parallelism.
    """
    return dg.define_asset_job(name, selection=selection, description=description, executor_def=dg.in_process_executor)
