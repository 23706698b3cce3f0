"""From canonical rows to a recordkeeper file: the step shared by the dry run and the export asset."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from synclinqs_pipelines.mapping import engine
from synclinqs_pipelines.mapping.canonical import SOURCE_COLUMNS
from synclinqs_pipelines.mapping.catalog import ResolvedTemplate
from synclinqs_pipelines.mapping.engine import ROW, error_message_expr
from synclinqs_pipelines.mapping.errors import MESSAGES
from synclinqs_pipelines.mapping.spec import SystemSpec, TenantSpec
from synclinqs_pipelines.mapping.writers import RenderedFile, render

MESSAGES.setdefault(
    "SOURCE_NOT_SUPPORTED",
    "holds money of a source the recordkeeper layout has no column for; the row is held so no money is dropped",
)


@dataclass
class ExportResult:
    rendered: RenderedFile
    errors: pl.DataFrame
    rows_in: int

    @property
    def rows_out(self) -> int:
        return self.rendered.record_count


def supported_sources(system: SystemSpec) -> set[str]:
    return {code for f in system.fields for code in (f.sources or [])}


def unsupported_source_errors(canonical: pl.DataFrame, system: SystemSpec) -> pl.DataFrame:
    """Rows carrying money of a source code that no field of the layout carries."""
    carried = supported_sources(system)
    parts = []
    for code, columns in SOURCE_COLUMNS.items():
        if code in carried:
            continue
        for column in columns:
            label = f"{code} amount"
            parts.append(
                canonical.filter(pl.col(column).fill_null(0) != 0).select(
                    pl.col(ROW).alias("row"),
                    pl.lit(label).alias("field"),
                    pl.lit("SOURCE_NOT_SUPPORTED").alias("code"),
                    error_message_expr(pl.lit("SOURCE_NOT_SUPPORTED"), label).alias("message"),
                )
            )
    return pl.concat(parts) if parts else engine.empty_errors()


def export_context(
    resolved: ResolvedTemplate,
    tenant: TenantSpec | None,
    pay_date: dt.date,
    *,
    tenant_slug: str,
    sequence: int = 1,
    file_date: dt.date | None = None,
) -> dict[str, Any]:
    plan = tenant.plans[0] if tenant else None
    return {
        "tenant": tenant_slug,
        "pay_date": pay_date,
        "file_date": file_date or dt.date.today(),
        "plan_number": (plan.recordkeeper_plan_id or plan.plan_code) if plan else "UNKNOWN",
        "client_id": (tenant.recordkeeper.client_id if tenant else None) or tenant_slug.upper(),
        "site_code": (tenant.recordkeeper.site_code if tenant else None) or "",
        "sequence": sequence,
    }


def export_batch(resolved: ResolvedTemplate, canonical: pl.DataFrame, context: dict[str, Any]) -> ExportResult:
    """Map canonical rows out and render the destination file; held rows come back as errors."""
    blocked = unsupported_source_errors(canonical, resolved.destination)
    if blocked.height:
        canonical = canonical.filter(~pl.col(ROW).is_in(blocked["row"].implode()))
    outbound = engine.run(resolved.outbound, canonical)
    rendered = render(outbound.frame, resolved.destination, context)
    errors = pl.concat([blocked, outbound.errors, rendered.errors]).sort("row")
    return ExportResult(rendered=rendered, errors=errors, rows_in=canonical.height + blocked["row"].n_unique())
