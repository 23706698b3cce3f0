"""Payroll files landing in a tenant's inbox become runs of their tenant x pay date partition."""

from __future__ import annotations

import json

import dagster as dg

from synclinqs_pipelines.defs.landing.resources import LandingResource
from synclinqs_pipelines.defs.partitions import TENANT_TAG, partition_key, tenant_partitions
from synclinqs_pipelines.defs.resources import KeysResource, SpecsResource, WarehouseResource
from synclinqs_pipelines.landing.intake import take_in
from synclinqs_pipelines.mapping.errors import SpecError
from synclinqs_pipelines.safety import scrub

MAX_FILES_PER_TICK = 25

payroll_partition_job = dg.define_asset_job(
    "payroll_partition_job",
    # One process per run, not per step: the steps are a chain, and each subprocess would pay the
    # imports and the definitions load again (about ten seconds a step on two cores).
    executor_def=dg.in_process_executor,
    selection=dg.AssetSelection.groups("contributions") | dg.AssetSelection.groups("exports"),
    description="One tenant and pay date: read the accepted files, map, validate, load, export and deliver.",
)


@dg.sensor(
    name="payroll_landing_sensor",
    job=payroll_partition_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Takes in complete files from <inbox>/<tenant>/: archives them encrypted, records them, "
    "and requests a run of their partition keyed by the file's SHA-256.",
)
def payroll_landing_sensor(
    context: dg.SensorEvaluationContext,
    landing: LandingResource,
    warehouse: WarehouseResource,
    keys: KeysResource,
    specs: SpecsResource,
) -> dg.SensorResult | dg.SkipReason:
    try:
        tenants = specs.catalog.load_tenants()
    except SpecError as exc:
        return dg.SkipReason(f"tenant files have errors, nothing taken in: {exc}")
    files = [f for f in landing.zone.list(limit=MAX_FILES_PER_TICK * 4) if f.kind == "payroll"][:MAX_FILES_PER_TICK]
    if not files:
        return dg.SkipReason("inbox empty")
    requests, new_tenants, stats = [], set(), {"accepted": 0, "duplicate": 0, "quarantined": 0, "failed": 0}
    for f in files:
        try:
            intake = take_in(
                f,
                zone=landing.zone,
                archive=landing.archive,
                warehouse=warehouse.warehouse,
                catalog=specs.catalog,
                tenants=tenants,
                keyring=keys.keyring,
                actor="sensor:payroll_landing_sensor",
            )
        except Exception as exc:  # the file stays in the inbox for the next tick
            stats["failed"] += 1
            context.log.error(f"{f.key}: not taken in ({scrub(exc)}); it stays in the inbox and is retried")
            continue
        stats[intake.status] += 1
        if intake.status == "accepted" and intake.tenant and intake.pay_date:
            if not context.instance.has_dynamic_partition(tenant_partitions.name, intake.tenant):
                new_tenants.add(intake.tenant)
            requests.append(
                dg.RunRequest(
                    run_key=f"payroll:{intake.digest}",
                    partition_key=partition_key(intake.tenant, intake.pay_date.isoformat()),
                    tags={
                        TENANT_TAG: intake.tenant,
                        "synclinqs/file": intake.file_name,
                        "synclinqs/sha256": intake.digest[:16],
                    },
                )
            )
            context.log.info(
                f"{f.key}: accepted for {intake.tenant} pay date {intake.pay_date}"
                + (f", replacing {len(intake.superseded)} earlier file(s)" if intake.superseded else "")
            )
        elif intake.status == "duplicate":
            context.log.warning(f"{f.key}: duplicate ({intake.reason}); recorded, nothing to run")
        else:
            context.log.warning(f"{f.key}: quarantined: {intake.reason}")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[tenant_partitions.build_add_request(sorted(new_tenants))] if new_tenants else [],
        cursor=json.dumps({**stats, "last": files[-1].key}),
    )
