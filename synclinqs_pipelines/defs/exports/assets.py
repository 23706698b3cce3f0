"""Recordkeeper files, one per partition, in the tenant's recordkeeper layout."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl

from synclinqs_pipelines.defs.contributions.assets import IO_RETRY, partition_context
from synclinqs_pipelines.defs.landing.resources import LandingResource
from synclinqs_pipelines.defs.partitions import contributions_tenant_pay_date_partitions
from synclinqs_pipelines.defs.resources import KeysResource, SpecsResource, WarehouseResource
from synclinqs_pipelines.partition import deliver_export, export_rows
from synclinqs_pipelines.safety import scrubbed
from synclinqs_pipelines.settings import get_settings
from synclinqs_pipelines.sftp.delivery import DeliveryFailed


@dg.asset(
    partitions_def=contributions_tenant_pay_date_partitions,
    group_name="exports",
    kinds={"csv"},
    deps=["contributions"],
    retry_policy=IO_RETRY,
    code_version="1",
)
@scrubbed
def recordkeeper_export(
    context: dg.AssetExecutionContext,
    validated_contributions: pl.DataFrame,
    warehouse: WarehouseResource,
    keys: KeysResource,
    specs: SpecsResource,
    landing: LandingResource,
) -> dg.MaterializeResult:
    """The loaded rows written in the recordkeeper's layout to the tenant's outbox and recorded in file_exports."""
    ctx = partition_context(context, warehouse, keys, specs)
    fixed = get_settings().export_file_date
    file_date = dt.date.fromisoformat(fixed) if fixed else dt.date.today()
    step = export_rows(ctx, validated_contributions, landing.outbox, file_date)
    metadata = {
        "file_name": step.file_name,
        "uri": dg.MetadataValue.path(step.uri),
        "sha256": step.digest,
        "records": step.record_count,
        "control_total_cents": step.control_total_cents,
        "rows_held": step.held_rows,
        "unchanged_since_last_export": step.reused,
        "held_by_code": dg.MetadataValue.json(step.errors_by_code),
    }
    metadata.update({f"cents_{code.lower()}": v for code, v in sorted(step.totals_by_source.items()) if v})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=contributions_tenant_pay_date_partitions,
    group_name="exports",
    kinds={"sftp"},
    deps=["recordkeeper_export"],
    code_version="1",
)
@scrubbed
def export_delivery(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    keys: KeysResource,
    specs: SpecsResource,
    landing: LandingResource,
) -> dg.MaterializeResult:
    """The export delivered to the recordkeeper's SFTP server; a failed delivery fails here and notifies."""
    ctx = partition_context(context, warehouse, keys, specs)
    try:
        step = deliver_export(ctx, landing.outbox)
    except DeliveryFailed as exc:
        raise dg.Failure(description=str(exc), metadata={"status": "failed"}) from None
    return dg.MaterializeResult(
        metadata={
            "status": step.status,
            "file_name": step.file_name,
            "attempts": step.attempts,
            "destination": step.target or "none configured: the file stays in the outbox",
        }
    )
