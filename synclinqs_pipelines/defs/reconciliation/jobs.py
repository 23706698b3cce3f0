"""Recording a reconciliation resolution from the Dagster UI (the same as `synclinqs recon resolve`)."""

import dagster as dg

from synclinqs_pipelines.defs.resources import WarehouseResource
from synclinqs_pipelines.reconciliation.resolutions import record_resolution


class ResolutionConfig(dg.Config):  # type: ignore[misc]
    tenant: str
    item_id: str
    action: str
    note: str = ""
    resolved_by: str = "dagster-ui"


@dg.op(description="Write a resolution row for one reconciliation item; the actor lands in the audit log.")
def record_reconciliation_resolution(
    context: dg.OpExecutionContext, config: ResolutionConfig, warehouse: WarehouseResource
) -> None:
    wh = warehouse.warehouse
    resolution_id = record_resolution(
        wh,
        wh.tenant_by_slug(config.tenant),
        config.item_id,
        config.action,
        config.note,
        actor=f"user:{config.resolved_by}",
    )
    context.log.info(f"resolution {resolution_id} recorded for item {config.item_id}")


@dg.job(description="Record a decision on a reconciliation item (manual_review, auto_corrected, ignored).")
def resolve_reconciliation_item() -> None:
    record_reconciliation_resolution()
