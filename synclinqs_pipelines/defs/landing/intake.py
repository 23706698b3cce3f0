"""The intake loop both landing sensors share: take in each new file, turn accepted ones into runs."""

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


def intake_tick(
    context: dg.SensorEvaluationContext,
    kind: str,
    *,
    landing: LandingResource,
    warehouse: WarehouseResource,
    keys: KeysResource,
    specs: SpecsResource,
) -> dg.SensorResult | dg.SkipReason:
    """Take in up to MAX_FILES_PER_TICK files of `kind`; request a run of each accepted file's partition.

    A file that fails to be taken in (the warehouse is down, say) stays in the inbox for the next tick;
    duplicates and quarantined files are logged with their reason. Run keys are the file's SHA-256, so
    the same bytes never run twice. The cost of a tick depends on the files waiting, never on how many
    partitions exist.
    """
    try:
        tenants = specs.catalog.load_tenants()
    except SpecError as exc:
        return dg.SkipReason(f"tenant files have errors, nothing taken in: {exc}")
    files = [f for f in landing.zone.list(limit=MAX_FILES_PER_TICK * 8) if f.kind == kind][:MAX_FILES_PER_TICK]
    if not files:
        return dg.SkipReason(f"no {kind} files waiting")
    requests, new_tenants = [], set()
    stats = {"accepted": 0, "duplicate": 0, "quarantined": 0, "failed": 0}
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
                actor=f"sensor:{kind}_landing",
            )
        except Exception as exc:
            stats["failed"] += 1
            context.log.error(f"{f.key}: not taken in ({scrub(exc)}); it stays in the inbox and is retried")
            continue
        stats[intake.status] += 1
        if intake.status != "accepted" or not intake.tenant or not intake.pay_date:
            context.log.warning(f"{f.key}: {intake.status}: {intake.reason}")
            continue
        if not context.instance.has_dynamic_partition(tenant_partitions.name, intake.tenant):
            new_tenants.add(intake.tenant)
        requests.append(
            dg.RunRequest(
                run_key=f"{kind}:{intake.digest}",
                partition_key=partition_key(intake.tenant, intake.pay_date.isoformat()),
                tags={
                    TENANT_TAG: intake.tenant,
                    "synclinqs/file": intake.file_name,
                    "synclinqs/sha256": intake.digest[:16],
                },
            )
        )
        replaced = f", replacing {len(intake.superseded)} earlier file(s)" if intake.superseded else ""
        context.log.info(f"{f.key}: accepted for {intake.tenant} pay date {intake.pay_date}{replaced}")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[tenant_partitions.build_add_request(sorted(new_tenants))] if new_tenants else [],
        cursor=json.dumps({**stats, "last": files[-1].key}),
    )
