"""Payroll files landing in a tenant's inbox become runs of their tenant x pay date partition."""

from __future__ import annotations

import dagster as dg

from synclinqs_pipelines.defs.jobs import in_one_process
from synclinqs_pipelines.defs.landing.intake import intake_tick
from synclinqs_pipelines.defs.landing.resources import LandingResource
from synclinqs_pipelines.defs.resources import KeysResource, SpecsResource, WarehouseResource

payroll_partition_job = in_one_process(
    "payroll_partition_job",
    dg.AssetSelection.groups("contributions") | dg.AssetSelection.groups("exports"),
    "One tenant and pay date: read the accepted files, map, validate, load, export and deliver.",
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
    return intake_tick(context, "payroll", landing=landing, warehouse=warehouse, keys=keys, specs=specs)
