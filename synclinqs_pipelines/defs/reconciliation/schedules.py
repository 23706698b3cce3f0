"""The nightly reconciliation, one schedule per tenant at the hour and timezone of its tenant file."""

from __future__ import annotations

import dagster as dg

from synclinqs_pipelines.defs.jobs import in_one_process
from synclinqs_pipelines.defs.partitions import TENANT_TAG
from synclinqs_pipelines.mapping.catalog import get_catalog
from synclinqs_pipelines.mapping.errors import SpecError

reconciliation_job = in_one_process(
    "reconciliation_job",
    dg.AssetSelection.groups("reconciliation") - dg.AssetSelection.assets("recordkeeper_confirmations"),
    "dbt build of the reconciliation marts (incremental), then the summary and its notifications.",
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
