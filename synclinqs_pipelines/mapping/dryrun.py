"""`synclinqs mapping test`: a payroll file mapped to the destination layout, no warehouse involved."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from synclinqs_pipelines.mapping import engine
from synclinqs_pipelines.mapping.catalog import SpecCatalog
from synclinqs_pipelines.mapping.errors import MappingFileError
from synclinqs_pipelines.mapping.export import export_batch, export_context
from synclinqs_pipelines.mapping.preview import masked_preview
from synclinqs_pipelines.mapping.readers import read_file
from synclinqs_pipelines.mapping.spec import TenantSpec


@dataclass
class DryRunSummary:
    template: str
    rows_in: int
    rows_out: int
    errors_by_code: dict[str, int]
    output: Path
    errors_file: Path
    control_total_cents: int
    preview: str

    def render(self) -> str:
        lines = [
            f"template: {self.template}",
            f"rows in: {self.rows_in}",
            f"rows out: {self.rows_out}",
            f"rows rejected: {self.rows_in - self.rows_out}",
            f"control total: {self.control_total_cents / 100:,.2f}",
            "errors by code: " + (", ".join(f"{k}={v}" for k, v in sorted(self.errors_by_code.items())) or "none"),
            f"output: {self.output}",
            f"errors: {self.errors_file}",
            "preview (personal data masked):",
            self.preview,
        ]
        return "\n".join(lines)


def dry_run(
    catalog: SpecCatalog,
    template: str,
    input_path: Path,
    output_path: Path,
    errors_path: Path,
    tenant: TenantSpec | None,
    pay_date: dt.date | None,
) -> DryRunSummary:
    resolved = catalog.resolve(template, tenant)
    frame = read_file(input_path, resolved.source)
    inbound = engine.run(resolved.inbound, frame)
    if pay_date is None:
        dates = inbound.frame["pay_date"].drop_nulls()
        if dates.is_empty():
            raise MappingFileError(input_path, "no row has a valid pay date; pass --pay-date")
        pay_date = dates.mode().sort()[0]
    context = export_context(resolved, tenant, pay_date, tenant_slug=tenant.slug if tenant else "dryrun")
    exported = export_batch(resolved, inbound.frame, context)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    output_path.write_bytes(exported.rendered.data)
    errors = pl.concat([inbound.errors, exported.errors]).sort("row", nulls_last=False)
    errors_path.parent.mkdir(parents=True, exist_ok=True)
    errors.write_csv(errors_path)
    counts = Counter(errors["code"].to_list())
    return DryRunSummary(
        template=template,
        rows_in=inbound.rows_in,
        rows_out=exported.rows_out,
        errors_by_code=dict(counts),
        output=output_path,
        errors_file=errors_path,
        control_total_cents=exported.rendered.control_total_cents,
        preview=masked_preview(inbound.frame, catalog.canonical),
    )
