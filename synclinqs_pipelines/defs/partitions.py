"""Partitions shared by every domain: tenant (dynamic, one per tenant slug) x pay date (daily)."""

import dagster as dg

TENANT_DIMENSION = "tenant"
PAY_DATE_DIMENSION = "pay_date"

tenant_partitions = dg.DynamicPartitionsDefinition(name=TENANT_DIMENSION)
pay_date_partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1)
contributions_tenant_pay_date_partitions = dg.MultiPartitionsDefinition(
    {TENANT_DIMENSION: tenant_partitions, PAY_DATE_DIMENSION: pay_date_partitions}
)

# Runs of one tenant queue behind each other: dagster.yaml limits this tag to one run per value.
TENANT_TAG = "synclinqs/tenant"


def partition_key(tenant: str, pay_date: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({TENANT_DIMENSION: tenant, PAY_DATE_DIMENSION: pay_date})
