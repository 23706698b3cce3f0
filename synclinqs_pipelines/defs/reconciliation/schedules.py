"""The nightly reconciliation, one schedule per tenant at the hour and timezone of its tenant file."""

from __future__ import annotations

import dagster as dg

from synclinqs_pipelines.defs.partitions import TENANT_TAG
from synclinqs_pipelines.mapping.catalog import get_catalog
from synclinqs_pipelines.mapping.errors import SpecError

reconciliation_job = dg.define_asset_job(
    "reconciliation_job",
    # One process per run, not per step: the steps are a chain, and each subprocess would pay the
    # imports and the definitions load again (about ten seconds a step on two cores).
    executor_def=dg.in_process_executor,
    selection=dg.AssetSelection.groups("reconciliation") - dg.AssetSelection.assets("recordkeeper_confirmations"),
    description="dbt build of the reconciliation marts (incremental), then the summary and its notifications.",
)


@dg.definitions
def defs() -> dg.Definitions:
    try:
        tenants = get_catalog().load_tenants()
    except SpecError:
        tenants = {}  # the tenant sensor reports the broken file; the other definitions still load
    schedules = [
        dg.ScheduleDefinition(
            name=f"nightly_reconciliation_{slug.replace('-', '_')}",
            job=reconciliation_job,
            cron_schedule=spec.reconciliation.cron,
            execution_timezone=spec.reconciliation.timezone,
            tags={TENANT_TAG: slug},
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"Nightly reconciliation for {spec.name}.",
        )
        for slug, spec in sorted(tenants.items())
    ]
    return dg.Definitions(jobs=[reconciliation_job], schedules=schedules)
