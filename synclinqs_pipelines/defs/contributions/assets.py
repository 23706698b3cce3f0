"""A partition's journey, tenant x pay date: landed files -> canonical rows -> validated rows -> warehouse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from synclinqs_pipelines.defs.contributions import checks
from synclinqs_pipelines.defs.landing.resources import LandingResource
from synclinqs_pipelines.defs.partitions import contributions_tenant_pay_date_partitions
from synclinqs_pipelines.defs.resources import KeysResource, SpecsResource, WarehouseResource
from synclinqs_pipelines.mapping.preview import masked_preview
from synclinqs_pipelines.partition import (
    PartitionContext,
    load_rows,
    map_files,
    read_files,
    tenant_spec,
    validate_rows,
)
from synclinqs_pipelines.safety import scrubbed

GROUP = "contributions"
IO_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def partition_context(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, keys: KeysResource, specs: SpecsResource
) -> PartitionContext:
    dims = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    slug, pay_date = dims["tenant"], dt.date.fromisoformat(dims["pay_date"])
    return PartitionContext(
        warehouse=warehouse.warehouse,
        keyring=keys.keyring,
        catalog=specs.catalog,
        tenant=warehouse.warehouse.tenant_by_slug(slug),
        spec=tenant_spec(specs.catalog, slug),
        pay_date=pay_date,
        run_id=context.run_id,
    )


def _codes(counts: dict[str, int]) -> dg.MetadataValue:
    return dg.MetadataValue.json(dict(sorted(counts.items())))


@dg.asset(
    partitions_def=contributions_tenant_pay_date_partitions,
    group_name=GROUP,
    kinds={"polars", "postgres"},
    io_manager_key="frame_io_manager",
    retry_policy=IO_RETRY,
    code_version="1",
)
@scrubbed
def payroll_files(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    keys: KeysResource,
    specs: SpecsResource,
    landing: LandingResource,
) -> dg.Output[pl.DataFrame]:
    """Every payroll file accepted for the tenant and pay date, read from the encrypted archive."""
    ctx = partition_context(context, warehouse, keys, specs)
    step = read_files(ctx, landing.archive)
    table = "\n".join(f"| {f['name']} | {str(f['digest'])[:12]} | {f['rows']} |" for f in step.files)
    return dg.Output(
        step.frame,
        metadata={
            "files": len(step.files),
            "rows_in": step.frame.height,
            "bytes": sum(int(f["bytes"]) for f in step.files),  # type: ignore[call-overload]
            "file_list": dg.MetadataValue.md("| file | sha256 | rows |\n|---|---|---|\n" + table),
        },
    )


@dg.asset(
    partitions_def=contributions_tenant_pay_date_partitions,
    group_name=GROUP,
    kinds={"polars"},
    io_manager_key="frame_io_manager",
    code_version="1",
)
@scrubbed
def canonical_contributions(
    context: dg.AssetExecutionContext,
    payroll_files: pl.DataFrame,
    warehouse: WarehouseResource,
    keys: KeysResource,
    specs: SpecsResource,
) -> dg.Output[pl.DataFrame]:
    """Payroll rows mapped to the canonical contribution model by the tenant's template."""
    ctx = partition_context(context, warehouse, keys, specs)
    step = map_files(ctx, payroll_files)
    return dg.Output(
        step.frame,
        metadata={
            "rows_in": step.rows_in,
            "rows_mapped": step.rows_out,
            "rows_rejected": step.rows_in - step.rows_out,
            "errors_by_code": _codes(step.errors_by_code),
            "mapping_ms": step.duration_ms,
            "template": ctx.spec.template,
            "spec_digest": step.spec_digest[:16],
            "preview": dg.MetadataValue.md(masked_preview(step.frame, ctx.catalog.canonical)),
        },
    )


@dg.asset(
    partitions_def=contributions_tenant_pay_date_partitions,
    group_name=GROUP,
    kinds={"pandera", "polars"},
    io_manager_key="frame_io_manager",
    check_specs=[
        dg.AssetCheckSpec(
            checks.ERROR_RATE,
            asset="validated_contributions",
            blocking=True,
            description="Rejected rows stay under the tenant's threshold; above it the "
            "batch is neither loaded nor exported and waits for a person.",
        )
    ],
    code_version="1",
)
@scrubbed
def validated_contributions(
    context: dg.AssetExecutionContext,
    canonical_contributions: pl.DataFrame,
    warehouse: WarehouseResource,
    keys: KeysResource,
    specs: SpecsResource,
) -> Iterator[Any]:
    """Canonical rows that pass the schema, the business rules and the IRS limits on year-to-date totals."""
    ctx = partition_context(context, warehouse, keys, specs)
    step = validate_rows(ctx, canonical_contributions)
    threshold = ctx.spec.thresholds.max_error_rate
    yield dg.Output(
        step.frame,
        metadata={
            "rows_in": step.rows_in,
            "rows_accepted": step.rows_accepted,
            "rows_rejected": step.rows_rejected,
            "warnings": step.warnings,
            "error_rate": round(step.error_rate, 4),
            "errors_by_code": _codes(step.errors_by_code),
        },
    )
    passed = step.error_rate <= threshold
    yield dg.AssetCheckResult(
        check_name=checks.ERROR_RATE,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "error_rate": round(step.error_rate, 4),
            "threshold": threshold,
            "rejected_rows": step.rows_rejected + step.mapping_rejected,
            "rows": step.file_rows_total,
        },
        description=None
        if passed
        else (
            f"{step.rows_rejected + step.mapping_rejected} of {step.file_rows_total} rows rejected; the batch waits. "
            "Query core.error_queue for this tenant and pay date, fix the file, and drop it again under the same "
            "name to replace it."
        ),
    )


@dg.asset(
    partitions_def=contributions_tenant_pay_date_partitions,
    group_name=GROUP,
    kinds={"postgres"},
    retry_policy=IO_RETRY,
    check_specs=[
        dg.AssetCheckSpec(
            checks.CONTROL_TOTALS,
            asset="contributions",
            blocking=True,
            description="Per source code: money in = money loaded + money rejected.",
        ),
        dg.AssetCheckSpec(
            checks.NO_IRS_BREACH,
            asset="contributions",
            blocking=True,
            description="No employee of the partition is over an IRS limit for the plan year.",
        ),
        dg.AssetCheckSpec(
            checks.NO_DUPLICATES,
            asset="contributions",
            blocking=True,
            description="No contribution of the partition is loaded twice.",
        ),
        dg.AssetCheckSpec(
            checks.NO_ORPHANS,
            asset="contributions",
            blocking=True,
            description="Every loaded row points at an existing employee, plan, loan and file "
            "(the fact tables have no foreign-key constraints; see the migration).",
        ),
    ],
    code_version="1",
)
@scrubbed
def contributions(
    context: dg.AssetExecutionContext,
    canonical_contributions: pl.DataFrame,
    validated_contributions: pl.DataFrame,
    warehouse: WarehouseResource,
    keys: KeysResource,
    specs: SpecsResource,
) -> Iterator[Any]:
    """Validated rows in the warehouse: the partition's rows replaced exactly, in one transaction."""
    ctx = partition_context(context, warehouse, keys, specs)
    step = load_rows(ctx, canonical_contributions, validated_contributions)
    r = step.report
    metadata: dict[str, Any] = {
        "contribution_rows": r.contributions,
        "pay_records": r.pay_records,
        "employees_inserted": r.employees_inserted,
        "employees_updated": r.employees_updated,
        "pii_values_encrypted_rows": r.employees_encrypted,
        "loans_new": r.loans,
        "deferral_elections": r.deferral_elections,
        "loaded_cents": sum(step.loaded_totals.values()),
    }
    metadata.update({f"loaded_cents_{code.lower()}": v for code, v in sorted(step.loaded_totals.items())})
    yield dg.MaterializeResult(metadata=metadata)
    yield from checks.load_check_results(step)
