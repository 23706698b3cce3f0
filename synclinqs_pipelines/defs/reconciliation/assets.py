"""Reconciliation: recordkeeper confirmations in, dbt marts built, summaries and notifications out."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from synclinqs_pipelines.defs.contributions.assets import IO_RETRY, partition_context
from synclinqs_pipelines.defs.landing.resources import LandingResource
from synclinqs_pipelines.defs.partitions import contributions_tenant_pay_date_partitions
from synclinqs_pipelines.defs.reconciliation.resources import DBT_PROJECT
from synclinqs_pipelines.defs.resources import KeysResource, SpecsResource, WarehouseResource
from synclinqs_pipelines.landing.intake import read_archived
from synclinqs_pipelines.partition import PartitionError
from synclinqs_pipelines.reconciliation.confirmations import load_confirmations, read_confirmations
from synclinqs_pipelines.reconciliation.summary import notify, read_summary, set_dbt_environment
from synclinqs_pipelines.safety import scrubbed
from synclinqs_pipelines.warehouse import loader

GROUP = "reconciliation"


@dg.asset(
    partitions_def=contributions_tenant_pay_date_partitions,
    group_name=GROUP,
    kinds={"csv", "postgres"},
    retry_policy=IO_RETRY,
    code_version="1",
)
@scrubbed
def recordkeeper_confirmations(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    keys: KeysResource,
    specs: SpecsResource,
    landing: LandingResource,
) -> dg.MaterializeResult:
    """What the recordkeeper confirmed it posted for the tenant and pay date, loaded under the tenant's policy."""
    ctx = partition_context(context, warehouse, keys, specs)
    recordkeeper = ctx.catalog.system(ctx.spec.recordkeeper.system)
    frames, errors = [], []
    with ctx.session() as conn:
        files = loader.partition_files(conn, ctx.tenant.id, ctx.pay_date, kind="confirmation")
        if not files:
            raise PartitionError(f"no confirmation file for {ctx.tenant.slug} and {ctx.pay_date}")
        for f in files:
            data = read_archived(landing.archive, f.archive_uri, conn, ctx.keyring, ctx.tenant.id)
            result = read_confirmations(data, f.file_name, recordkeeper)
            frames.append(result.frame.with_columns(pl.lit(str(f.id)).alias("__file")))
            errors.append(
                result.errors.with_columns(pl.lit(str(f.id)).alias("file"), pl.lit("error").alias("severity"))
            )
        all_errors = pl.concat(errors)
        loader.replace_errors(
            conn,
            ctx.tenant.id,
            ctx.pay_date,
            "landing",
            all_errors,
            file_ids=[str(f.id) for f in files],
            run_id=context.run_id,
        )
        loaded = load_confirmations(
            conn, ctx.tenant.id, ctx.pay_date, pl.concat(frames), ctx.keyring.cipher(conn, ctx.tenant.id)
        )
    return dg.MaterializeResult(
        metadata={
            "files": len(files),
            "rows_confirmed": loaded.rows,
            "confirmed_cents": loaded.amount_cents,
            "rows_rejected": all_errors["row"].n_unique() if all_errors.height else 0,
            "latest_deposit": str(loaded.latest_deposit) if loaded.latest_deposit else "none",
        }
    )


class _Translator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest: Any, unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        return spec.replace_attributes(group_name=GROUP) if unique_id.startswith(("model.", "seed.")) else spec


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    name="reconciliation_dbt",
    dagster_dbt_translator=_Translator(),
)
def reconciliation_dbt(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """dbt build of the staging, intermediate and mart models (as the transformer role)."""
    set_dbt_environment(warehouse.cluster)
    yield from dbt.cli(["build"], context=context).stream()


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    deps=[dg.AssetKey(["marts", "rpt_reconciliation_daily"]), dg.AssetKey(["marts", "rpt_deposit_timeliness"])],
    code_version="1",
)
def reconciliation_summary(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, specs: SpecsResource
) -> dg.MaterializeResult:
    """Per tenant and day: reconciled, discrepancies or pending; notifications for variances and late deposits."""
    days, late = read_summary(warehouse.cluster)
    raised = 0
    for slug in sorted({d.tenant for d in days} | {item.tenant for item in late}):
        raised += notify(
            warehouse.warehouse, warehouse.warehouse.tenant_by_slug(slug), days, late, actor=f"run:{context.run_id}"
        )
    statuses = {s: sum(1 for d in days if d.status == s) for s in ("reconciled", "discrepancies", "pending")}
    table = "\n".join(
        f"| {d.tenant} | {d.reconciliation_date} | {d.status} | {d.absolute_variance_cents} | {d.items_open} |"
        for d in days[-30:]
    )
    return dg.MaterializeResult(
        metadata={
            **{f"days_{k}": v for k, v in statuses.items()},
            "late_deposits": len(late),
            "notifications_raised": raised,
            "days": dg.MetadataValue.md(
                "| tenant | date | status | abs variance (cents) | open items |\n|---|---|---|---|---|\n" + table
            ),
        }
    )
