"""Tenants follow their spec files: upserted into the warehouse and registered as partitions."""

from __future__ import annotations

import hashlib

import dagster as dg

from synclinqs_pipelines.defs.partitions import tenant_partitions
from synclinqs_pipelines.defs.resources import KeysResource, SpecsResource, WarehouseResource
from synclinqs_pipelines.mapping.errors import SpecError
from synclinqs_pipelines.warehouse.tenants import sync_tenants


def _specs_digest(specs: SpecsResource) -> str:
    """The tenant files and the system layouts (a tenant's settings carry its recordkeeper's grouping)."""
    h = hashlib.sha256()
    for folder in ("tenants", "systems"):
        for path in sorted((specs.catalog.root / folder).glob("*.yaml")):
            h.update(f"{folder}/{path.name}".encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@dg.sensor(
    name="tenant_registry_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Upserts organizations, plans and keys from mapping_specs/tenants and registers each slug "
    "as a tenant partition.",
)
def tenant_registry_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, keys: KeysResource, specs: SpecsResource
) -> dg.SensorResult | dg.SkipReason:
    digest = _specs_digest(specs)
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    if digest == context.cursor:
        return dg.SkipReason("tenant files unchanged")
    try:
        tenants = specs.catalog.load_tenants()
    except SpecError as exc:
        # A broken tenant file must not take the others down, nor crash the tick without a word.
        context.log.error(f"tenant files not synced: {exc}")
        return dg.SkipReason(f"tenant files have errors: {exc}")
    report = sync_tenants(
        warehouse.warehouse, tenants, keys.keyring, specs.catalog, actor="sensor:tenant_registry_sensor"
    )
    new = sorted(set(tenants) - known)
    context.log.info(
        f"tenants synced: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.deactivated)} deactivated; {len(new)} new partitions"
    )
    return dg.SensorResult(
        cursor=digest,
        dynamic_partitions_requests=[tenant_partitions.build_add_request(new)] if new else [],
    )
