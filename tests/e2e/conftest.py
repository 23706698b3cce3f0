"""End-to-end fixtures: the demo tenants run through the real sensors, jobs, warehouse and files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.conftest import STATE


@dataclass
class DemoRun:
    instance: dg.DagsterInstance
    sensor_result: dg.SensorResult
    results: dict[tuple[str, str], dg.ExecuteInProcessResult] = field(default_factory=dict)


@pytest.fixture(scope="session")
def instance() -> dg.DagsterInstance:
    # A file-backed instance, so the end of the suite can scan what Dagster stored for personal data.
    path = STATE / "dagster_events"
    path.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.local_temp(tempdir=str(path))


@pytest.fixture(scope="session")
def definitions() -> dg.Definitions:
    from synclinqs_pipelines.definitions import defs

    return defs()


def run_partition(
    definitions: dg.Definitions,
    instance: dg.DagsterInstance,
    tenant: str,
    pay_date: str,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    from synclinqs_pipelines.defs.partitions import partition_key, tenant_partitions

    if not instance.has_dynamic_partition(tenant_partitions.name, tenant):
        instance.add_dynamic_partitions(tenant_partitions.name, [tenant])
    return definitions.resolve_job_def("payroll_partition_job").execute_in_process(
        partition_key=partition_key(tenant, pay_date),
        instance=instance,
        tags=tags or {},
        raise_on_error=False,
    )


def evaluate(
    sensor: dg.SensorDefinition, definitions: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None
) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, resources=definitions.resources, cursor=cursor) as context:
        result = sensor(context)
    if isinstance(result, dg.SensorResult):
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


@pytest.fixture(scope="session")
def demo(cluster, instance, definitions) -> DemoRun:
    """The demo files dropped in the inbox, the sensor evaluated, every requested run executed."""
    from synclinqs_pipelines.defs.landing.sensors import payroll_landing_sensor
    from synclinqs_pipelines.defs.tenants.sensors import tenant_registry_sensor
    from synclinqs_pipelines.demo.generate import generate
    from synclinqs_pipelines.settings import get_settings

    evaluate(tenant_registry_sensor, definitions, instance)
    generate(get_settings().inbox)
    result = evaluate(payroll_landing_sensor, definitions, instance)
    demo_run = DemoRun(instance, result)
    for request in result.run_requests:
        keys = request.partition_key.keys_by_dimension
        demo_run.results[(keys["tenant"], keys["pay_date"])] = run_partition(
            definitions, instance, keys["tenant"], keys["pay_date"], request.tags
        )
    return demo_run


def partition_rows(warehouse, slug: str, pay_date: str) -> list[tuple]:
    """Every contribution of a partition as (employee external id, source, amount, loan, file row)."""
    tenant = warehouse.tenant_by_slug(slug)
    with warehouse.tenant(tenant, actor="test") as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT e.external_id, c.source_code, c.amount_cents, l.loan_number, c.source_row, f.file_name"
                    " FROM core.contributions c JOIN core.employees e ON e.id = c.employee_id"
                    " LEFT JOIN core.loans l ON l.id = c.loan_id JOIN core.file_uploads f ON f.id = c.file_upload_id"
                    " WHERE c.pay_date = :pd ORDER BY 1, 2, 4, 6"
                ),
                {"pd": dt.date.fromisoformat(pay_date)},
            )
        ]


EXPECTED = Path(__file__).resolve().parent / "expected"
