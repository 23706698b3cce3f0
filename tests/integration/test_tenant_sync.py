"""Tenants from config reach the warehouse and the tenant partitions, through the Dagster sensor."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from synclinqs_pipelines.defs.resources import shared_resources
from synclinqs_pipelines.defs.tenants.sensors import tenant_registry_sensor

pytestmark = pytest.mark.integration


def test_sensor_upserts_demo_tenants_and_registers_partitions(warehouse):
    instance = dg.DagsterInstance.ephemeral()
    resources = shared_resources()
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = tenant_registry_sensor(context)
    assert isinstance(result, dg.SensorResult)
    [request] = result.dynamic_partitions_requests
    assert sorted(request.partition_keys) == ["acme-manufacturing", "bluebird-health", "cedar-logistics"]

    with warehouse.registry(actor="test") as conn:
        orgs = conn.execute(
            sa.text(
                "SELECT slug, payroll_system, recordkeeper_system, template FROM core.organizations"
                " WHERE slug IN ('acme-manufacturing', 'bluebird-health', 'cedar-logistics') ORDER BY slug"
            )
        ).all()
    assert [tuple(o) for o in orgs] == [
        ("acme-manufacturing", "adp_workforce_now", "fidelity", "adp_to_fidelity"),
        ("bluebird-health", "paychex_flex", "vanguard", "paychex_to_vanguard"),
        ("cedar-logistics", "gusto", "empower", "gusto_to_empower"),
    ]
    tenant = warehouse.tenant_by_slug("bluebird-health")
    with warehouse.tenant(tenant, actor="test") as conn:
        plans = conn.execute(
            sa.text("SELECT plan_code, recordkeeper_plan_id, participants_at_year_start FROM core.plans")
        ).all()
        key_count = conn.execute(sa.text("SELECT count(*) FROM core.tenant_keys")).scalar_one()
    assert [tuple(p) for p in plans] == [("BH401K", "091234", 85)]
    assert key_count == 2

    instance.add_dynamic_partitions("tenant", request.partition_keys)
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=result.cursor) as context:
        again = tenant_registry_sensor(context)
    assert isinstance(again, dg.SkipReason) and "unchanged" in again.skip_message
