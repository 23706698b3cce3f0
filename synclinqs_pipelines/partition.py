"""The work on one partition (tenant x pay date), step by step, without Dagster.

The assets in `defs/` call these functions in order; the benchmark calls them the same way. Each step
returns its frame and the numbers people look at; errors go to the error queue with their row numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field

import polars as pl
import sqlalchemy as sa

from synclinqs_pipelines.landing.intake import read_archived
from synclinqs_pipelines.landing.zones import ObjectStore
from synclinqs_pipelines.mapping import engine
from synclinqs_pipelines.mapping.canonical import LIMIT_SOURCES, totals_by_source
from synclinqs_pipelines.mapping.catalog import ResolvedTemplate, SpecCatalog
from synclinqs_pipelines.mapping.engine import ROW
from synclinqs_pipelines.mapping.export import export_batch, export_context
from synclinqs_pipelines.mapping.readers import read_source
from synclinqs_pipelines.mapping.spec import TenantSpec
from synclinqs_pipelines.security.keyring import KeyRing
from synclinqs_pipelines.validation.limits import catch_up_limit, limits_for
from synclinqs_pipelines.validation.rules import FILE, FILE_SEQ, PlanFacts, ValidationContext, validate
from synclinqs_pipelines.validation.schemas import build_schema
from synclinqs_pipelines.warehouse import loader
from synclinqs_pipelines.warehouse.session import Tenant, Warehouse


class PartitionError(RuntimeError):
    """The partition cannot be processed; the message says what to do next and carries no personal data."""


@dataclass(frozen=True)
class PartitionContext:
    warehouse: Warehouse
    keyring: KeyRing
    catalog: SpecCatalog
    tenant: Tenant
    spec: TenantSpec
    pay_date: dt.date
    run_id: str | None = None

    @property
    def actor(self) -> str:
        return f"run:{self.run_id}" if self.run_id else "pipeline"

    def session(self):  # type: ignore[no-untyped-def]
        return self.warehouse.tenant(self.tenant, actor=self.actor, run_id=self.run_id)

    def resolved(self) -> ResolvedTemplate:
        return self.catalog.resolve(self.spec.template, self.spec)


def tenant_spec(catalog: SpecCatalog, slug: str) -> TenantSpec:
    path = catalog.root / "tenants" / f"{slug}.yaml"
    if not path.exists():
        raise PartitionError(f"no tenant file {path}; add it or remove the '{slug}' partition")
    return catalog.load_tenant(path)


# ---- 1. files ---------------------------------------------------------------------------------------


@dataclass
class FilesStep:
    frame: pl.DataFrame
    files: list[dict[str, object]]


def read_files(ctx: PartitionContext, archive: ObjectStore) -> FilesStep:
    """Every accepted file of the partition, decrypted in memory and parsed by the tenant's payroll layout."""
    system = ctx.catalog.system(ctx.spec.payroll.system)
    frames, files = [], []
    with ctx.session() as conn:
        rows = loader.partition_files(conn, ctx.tenant.id, ctx.pay_date)
        if not rows:
            raise PartitionError(
                f"tenant {ctx.tenant.slug} has no accepted payroll file for {ctx.pay_date}; drop one in the inbox first"
            )
        for seq, row in enumerate(rows):
            data = read_archived(archive, row.archive_uri, conn, ctx.keyring, ctx.tenant.id)
            frame = read_source(data, system, row.file_name)
            frames.append(frame.with_columns(pl.lit(str(row.id)).alias(FILE), pl.lit(seq).alias(FILE_SEQ)))
            files.append(
                {
                    "id": str(row.id),
                    "name": row.file_name,
                    "digest": row.digest_sha256,
                    "rows": frame.height,
                    "bytes": row.size_bytes,
                }
            )
            conn.execute(
                sa.text(
                    "UPDATE core.file_uploads SET status = 'processing', rows_total = :n"
                    " WHERE organization_id = :org AND id = :id"
                ),
                {"n": frame.height, "org": ctx.tenant.id, "id": row.id},
            )
    return FilesStep(pl.concat(frames, how="vertical"), files)


# ---- 2. mapping -------------------------------------------------------------------------------------


@dataclass
class MappingStep:
    frame: pl.DataFrame
    rows_in: int
    rows_out: int
    errors_by_code: dict[str, int]
    spec_digest: str
    duration_ms: int


def map_files(ctx: PartitionContext, raw: pl.DataFrame) -> MappingStep:
    """Each file through the tenant's inbound mapping; mapping errors replace the partition's previous ones."""
    resolved = ctx.resolved()
    started = time.perf_counter()
    mapped, errors, logs = [], [], []
    for (file_id, seq), part in raw.partition_by(FILE, FILE_SEQ, as_dict=True, maintain_order=True).items():
        t0 = time.perf_counter()
        result = engine.run(resolved.inbound, part.drop(FILE, FILE_SEQ))
        mapped.append(result.frame.with_columns(pl.lit(file_id).alias(FILE), pl.lit(seq).alias(FILE_SEQ)))
        errors.append(result.errors.with_columns(pl.lit(file_id).alias("file"), pl.lit("error").alias("severity")))
        logs.append(
            {
                "file": file_id,
                "rows_in": result.rows_in,
                "rows_out": result.rows_out,
                "errors": result.errors_by_code(),
                "ms": int((time.perf_counter() - t0) * 1000),
            }
        )
    frame = pl.concat(mapped, how="vertical")
    all_errors = pl.concat(errors, how="vertical")
    with ctx.session() as conn:
        loader.replace_errors(
            conn,
            ctx.tenant.id,
            ctx.pay_date,
            "mapping",
            all_errors,
            file_ids=[log["file"] for log in logs],
            run_id=ctx.run_id,
        )
        for log in logs:
            conn.execute(
                sa.text(
                    "INSERT INTO core.mapping_execution_logs (organization_id, file_upload_id, pay_date, template,"
                    " spec_digest, rows_in, rows_out, errors_by_code, duration_ms, run_id) VALUES (:org, :f, :pd,"
                    " :t, :d, :i, :o, CAST(:e AS jsonb), :ms, :run)"
                ),
                {
                    "org": ctx.tenant.id,
                    "f": log["file"],
                    "pd": ctx.pay_date,
                    "t": ctx.spec.template,
                    "d": resolved.digest,
                    "i": log["rows_in"],
                    "o": log["rows_out"],
                    "e": json.dumps(log["errors"]),
                    "ms": log["ms"],
                    "run": ctx.run_id,
                },
            )
    counts = all_errors.group_by("code").len().sort("code").iter_rows() if all_errors.height else []
    return MappingStep(
        frame, raw.height, frame.height, dict(counts), resolved.digest, int((time.perf_counter() - started) * 1000)
    )


# ---- 3. validation ----------------------------------------------------------------------------------


@dataclass
class ValidationStep:
    frame: pl.DataFrame
    rows_in: int
    rows_accepted: int
    rows_rejected: int
    warnings: int
    errors_by_code: dict[str, int]
    file_rows_total: int
    mapping_rejected: int

    @property
    def error_rate(self) -> float:
        rejected = self.mapping_rejected + self.rows_rejected
        return rejected / self.file_rows_total if self.file_rows_total else 0.0


def validate_rows(ctx: PartitionContext, canonical: pl.DataFrame) -> ValidationStep:
    """Schema and business rules, IRS limits on year-to-date totals; rejected rows go to the error queue."""
    resolved = ctx.resolved()
    labels = {fp.target: fp.label for fp in resolved.inbound.fields}
    plans = {p.plan_code: PlanFacts(has_roth=p.has_roth) for p in ctx.spec.plans}
    with ctx.session() as conn:
        cipher = ctx.keyring.cipher(conn, ctx.tenant.id)
        ytd = loader.ytd_totals(conn, ctx.tenant.id, ctx.pay_date)
        files = loader.partition_files(conn, ctx.tenant.id, ctx.pay_date)
        totals = conn.execute(
            sa.text(
                "SELECT coalesce(sum(rows_total), 0) FROM core.file_uploads WHERE organization_id = :org"
                " AND id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"org": ctx.tenant.id, "ids": [str(f.id) for f in files]},
        ).scalar_one()
        mapping_rejected = conn.execute(
            sa.text(
                "SELECT count(DISTINCT (file_upload_id, source_row)) FROM core.error_queue WHERE"
                " organization_id = :org AND pay_date = :pd AND stage = 'mapping' AND severity = 'error'"
                " AND source_row IS NOT NULL"
            ),
            {"org": ctx.tenant.id, "pd": ctx.pay_date},
        ).scalar_one()
    frame = loader.with_ssn_index(canonical, cipher)
    result = validate(frame, ValidationContext(ctx.pay_date, plans, ytd, labels), build_schema(ctx.catalog.canonical))
    with ctx.session() as conn:
        loader.replace_errors(
            conn,
            ctx.tenant.id,
            ctx.pay_date,
            "validation",
            result.errors,
            file_ids=[str(f.id) for f in files],
            run_id=ctx.run_id,
        )
    warnings = result.errors.filter(pl.col("severity") == "warning").height
    return ValidationStep(
        result.accepted,
        frame.height,
        result.accepted.height,
        result.rejected_rows,
        warnings,
        result.counts_by_code(),
        int(totals),
        int(mapping_rejected),
    )


# ---- 4. load ----------------------------------------------------------------------------------------


@dataclass
class LoadStep:
    report: loader.LoadReport
    canonical_totals: dict[str, int]
    accepted_totals: dict[str, int]
    loaded_totals: dict[str, int]
    irs_breaches: int
    duplicate_groups: int
    orphans: int


# The year's totals of the partition's employees, from their pay records (one row per employee, pay date
# and file, carrying the row's money as the limits count it): one pass over the year.
IRS_BREACHES = sa.text(
    """
    WITH ytd AS (
        SELECT p.employee_id, sum(p.elective_cents) AS elective, sum(p.catch_up_cents) AS catch_up,
               sum(p.additions_cents) AS additions
          FROM core.pay_records p
         WHERE p.organization_id = :org AND p.pay_date BETWEEN :start AND :end
         GROUP BY p.employee_id
        HAVING bool_or(p.pay_date = :pd))  -- the partition's employees
    SELECT count(*) FROM ytd JOIN core.employees e ON e.id = ytd.employee_id
     WHERE ytd.elective > :g OR ytd.additions > :c
        OR ytd.catch_up > CASE WHEN :y - (e.catch_up_eligible_year - 50) BETWEEN 60 AND 63 THEN :cu60
                               WHEN :y >= e.catch_up_eligible_year THEN :cu50 ELSE 0 END
    """
)

DUPLICATES = sa.text(
    """
    SELECT count(*) FROM (
        SELECT employee_id, source_code, loan_id, amount_cents, count(DISTINCT file_upload_id) AS files,
               count(*) AS n
          FROM core.contributions WHERE organization_id = :org AND pay_date = :pd
         GROUP BY employee_id, source_code, loan_id, amount_cents, file_upload_id IS NULL
        HAVING count(DISTINCT file_upload_id) > 1 OR count(*) > count(DISTINCT file_upload_id)) d
    """
)


# One pass over the partition's rows, each reference checked by a hash join.
ORPHANS = sa.text(
    """
    SELECT (SELECT count(*) FILTER (WHERE e.id IS NULL)
                 + count(*) FILTER (WHERE c.loan_id IS NOT NULL AND l.id IS NULL)
                 + count(*) FILTER (WHERE c.plan_id IS NOT NULL AND p.id IS NULL)
                 + count(*) FILTER (WHERE f.id IS NULL)
              FROM core.contributions c
              LEFT JOIN core.employees e ON e.id = c.employee_id
              LEFT JOIN core.loans l ON l.id = c.loan_id
              LEFT JOIN core.plans p ON p.id = c.plan_id
              LEFT JOIN core.file_uploads f ON f.id = c.file_upload_id
             WHERE c.organization_id = :org AND c.pay_date = :pd)
         + (SELECT count(*) FROM core.pay_records r LEFT JOIN core.employees e ON e.id = r.employee_id
             WHERE r.organization_id = :org AND r.pay_date = :pd AND e.id IS NULL)
    """
)


def limit_amounts(totals: dict[str, int]) -> dict[str, int]:
    """Totals by source code summed as the limits count them (see `rules.period_amounts`)."""
    return {name: sum(totals.get(code, 0) for code in codes) for name, codes in LIMIT_SOURCES.items()}


def irs_breaches(conn: sa.Connection, tenant_id: uuid.UUID, pay_date: dt.date) -> int:
    """How many of the partition's employees are over a limit of the plan year, as stored."""
    limits, _ = limits_for(pay_date.year)
    year = pay_date.year
    return int(
        conn.execute(
            IRS_BREACHES,
            {
                "org": tenant_id,
                "pd": pay_date,
                "start": dt.date(year, 1, 1),
                "end": dt.date(year, 12, 31),
                "g": limits.elective_402g,
                "c": limits.annual_additions_415c,
                "y": year,
                "cu60": catch_up_limit(limits, 61),
                "cu50": catch_up_limit(limits, 50),
            },
        ).scalar_one()
    )


def load_rows(ctx: PartitionContext, canonical: pl.DataFrame, accepted: pl.DataFrame) -> LoadStep:
    """One transaction: the partition's rows replaced exactly, file statuses set."""
    with ctx.session() as conn:
        cipher = ctx.keyring.cipher(conn, ctx.tenant.id)
        frame = accepted if "__ssn_bi" in accepted.columns else loader.with_ssn_index(accepted, cipher)
        report = loader.load_partition(conn, ctx.tenant.id, ctx.pay_date, frame, cipher)
        per_file = (
            canonical.group_by(FILE)
            .len("mapped")
            .join(accepted.group_by(FILE).len("rows_loaded"), on=FILE, how="left")
            .rename({FILE: "file"})
        )
        files = loader.partition_files(conn, ctx.tenant.id, ctx.pay_date)
        totals = {str(f.id): 0 for f in files}
        rows_total = dict(
            conn.execute(
                sa.text(
                    "SELECT id::text, rows_total FROM core.file_uploads WHERE organization_id = :org"
                    " AND id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"org": ctx.tenant.id, "ids": list(totals)},
            ).all()
        )
        status = (
            pl.DataFrame({"file": list(totals), "rows_total": [int(rows_total.get(f) or 0) for f in totals]})
            .join(per_file.select("file", "rows_loaded"), on="file", how="left")
            .with_columns(pl.col("rows_loaded").fill_null(0))
        )
        loader.mark_files_loaded(conn, ctx.tenant.id, status)
        loaded = loader.partition_totals(conn, ctx.tenant.id, ctx.pay_date)
        # The limit check below reads the pay records' amounts: they must say what the contributions say.
        recorded = loader.pay_record_amounts(conn, ctx.tenant.id, ctx.pay_date)
        expected = limit_amounts(loaded)
        if recorded != expected:
            raise RuntimeError(
                f"the pay records' limit amounts {recorded} disagree with the contributions loaded {expected};"
                " nothing was loaded"
            )
        breaches = irs_breaches(conn, ctx.tenant.id, ctx.pay_date)
        duplicates = conn.execute(DUPLICATES, {"org": ctx.tenant.id, "pd": ctx.pay_date}).scalar_one()
        orphans = conn.execute(ORPHANS, {"org": ctx.tenant.id, "pd": ctx.pay_date}).scalar_one()
    return LoadStep(
        report,
        totals_by_source(canonical),
        totals_by_source(accepted),
        loaded,
        int(breaches),
        int(duplicates),
        int(orphans),
    )


# ---- 5. export --------------------------------------------------------------------------------------


@dataclass
class ExportStep:
    file_name: str
    uri: str
    digest: str
    record_count: int
    control_total_cents: int
    totals_by_source: dict[str, int]
    held_rows: int
    reused: bool
    errors_by_code: dict[str, int] = field(default_factory=dict)


def export_rows(ctx: PartitionContext, accepted: pl.DataFrame, outbox: ObjectStore, file_date: dt.date) -> ExportStep:
    """The recordkeeper file for the partition; the same rows give the same bytes and no new export row."""
    resolved = ctx.resolved()
    with ctx.session() as conn:
        latest = conn.execute(
            sa.text(
                "SELECT id, digest_sha256, file_name, uri, count(*) OVER () AS n FROM core.file_exports"
                " WHERE organization_id = :org AND pay_date = :pd AND destination_system = :dest"
                " ORDER BY created_at DESC LIMIT 1"
            ),
            {"org": ctx.tenant.id, "pd": ctx.pay_date, "dest": resolved.destination.system},
        ).first()
    # Rows of several files share row numbers: a running key stands in for ROW during the export.
    ordered = accepted.sort(FILE_SEQ, ROW).with_row_index("__key").with_columns(pl.col("__key").cast(pl.Int64))
    rows_in = ordered.drop(ROW, FILE, FILE_SEQ, "__ssn_bi", strict=False).rename({"__key": ROW})
    sequence = int(latest.n) if latest else 1
    context = export_context(
        resolved, ctx.spec, ctx.pay_date, tenant_slug=ctx.tenant.slug, sequence=sequence, file_date=file_date
    )
    result = export_batch(resolved, rows_in, context)
    digest = hashlib.sha256(result.rendered.data).hexdigest()
    if latest is not None and latest.digest_sha256 != digest:
        sequence += 1
        context["sequence"] = sequence
        result = export_batch(resolved, rows_in, context)
        digest = hashlib.sha256(result.rendered.data).hexdigest()
    totals = totals_by_source(ordered)
    codes = result.errors.group_by("code").len().sort("code").iter_rows() if result.errors.height else []
    if latest is not None and latest.digest_sha256 == digest:
        return ExportStep(
            latest.file_name,
            latest.uri,
            digest,
            result.rendered.record_count,
            result.rendered.control_total_cents,
            totals,
            result.errors.height,
            True,
            dict(codes),
        )
    uri = outbox.put(f"{ctx.tenant.slug}/{result.rendered.file_name}", result.rendered.data)
    with ctx.session() as conn:
        conn.execute(
            sa.text(
                "UPDATE core.file_exports SET status = 'superseded' WHERE organization_id = :org"
                " AND pay_date = :pd AND destination_system = :dest AND status IN ('written', 'failed')"
            ),
            {"org": ctx.tenant.id, "pd": ctx.pay_date, "dest": resolved.destination.system},
        )
        conn.execute(
            sa.text(
                "INSERT INTO core.file_exports (organization_id, pay_date, destination_system, file_name, uri,"
                " digest_sha256, size_bytes, record_count, control_total_cents, totals_by_source, status, run_id)"
                " VALUES (:org, :pd, :dest, :n, :u, :d, :s, :c, :t, CAST(:by AS jsonb), 'written', :run)"
            ),
            {
                "org": ctx.tenant.id,
                "pd": ctx.pay_date,
                "dest": resolved.destination.system,
                "n": result.rendered.file_name,
                "u": uri,
                "d": digest,
                "s": len(result.rendered.data),
                "c": result.rendered.record_count,
                "t": result.rendered.control_total_cents,
                "by": json.dumps(totals, sort_keys=True),
                "run": ctx.run_id,
            },
        )
        if result.errors.height:
            held = result.errors.join(
                ordered.select(
                    pl.col("__key").alias("row"), pl.col(ROW).alias("source_row"), pl.col(FILE).alias("file")
                ),
                on="row",
                how="left",
            ).select(
                "file", pl.col("source_row").alias("row"), "field", "code", pl.lit("error").alias("severity"), "message"
            )
            loader.replace_errors(
                conn,
                ctx.tenant.id,
                ctx.pay_date,
                "export",
                held,
                file_ids=ordered[FILE].unique().to_list(),
                run_id=ctx.run_id,
            )
    return ExportStep(
        result.rendered.file_name,
        uri,
        digest,
        result.rendered.record_count,
        result.rendered.control_total_cents,
        totals,
        result.errors.height,
        False,
        dict(codes),
    )


def new_run_id() -> str:
    return uuid.uuid4().hex


# ---- 6. delivery ------------------------------------------------------------------------------------


@dataclass
class DeliveryStep:
    status: str  # delivered | skipped | not_configured
    file_name: str
    attempts: int
    target: str


def deliver_export(ctx: PartitionContext, outbox: ObjectStore) -> DeliveryStep:
    """The partition's latest export, sent to the recordkeeper's SFTP server (PGP-encrypted where asked)."""
    from pathlib import Path

    from synclinqs_pipelines.sftp.delivery import DeliveryFailed, Destination, deliver, pgp_encrypt

    with ctx.session() as conn:
        export = conn.execute(
            sa.text(
                "SELECT id, file_name, uri, status FROM core.file_exports WHERE organization_id = :o AND pay_date = :pd"
                " AND status <> 'superseded' ORDER BY created_at DESC LIMIT 1"
            ),
            {"o": ctx.tenant.id, "pd": ctx.pay_date},
        ).first()
    if export is None:
        raise PartitionError(
            f"no export for {ctx.tenant.slug} and {ctx.pay_date}; materialize recordkeeper_export first"
        )
    spec = ctx.spec.sftp_outbound
    if spec is None:
        return DeliveryStep("not_configured", export.file_name, 0, "")
    data, name = outbox.get(export.uri), export.file_name
    if ctx.catalog.system(ctx.spec.recordkeeper.system).pgp_encrypt:
        if not spec.pgp_public_key_file:
            raise PartitionError(
                f"{ctx.spec.recordkeeper.system} files must be PGP-encrypted: set "
                f"sftp_outbound.pgp_public_key_file in the tenant file of {ctx.tenant.slug}"
            )
        data, name = pgp_encrypt(data, ctx.catalog.root.parent / Path(spec.pgp_public_key_file)), f"{name}.pgp"
    dest = Destination.from_spec(spec)

    def set_status(status: str, reason: str | None = None) -> None:
        with ctx.session() as conn:
            conn.execute(
                sa.text(
                    "UPDATE core.file_exports SET status = :s, status_reason = :r, attempts = attempts + :a,"
                    " delivered_at = CASE WHEN :s = 'delivered' THEN now() ELSE delivered_at END"
                    " WHERE organization_id = :o AND id = :id"
                ),
                {"s": status, "r": reason, "a": 1 if status != "running" else 0, "o": ctx.tenant.id, "id": export.id},
            )

    set_status("running")
    try:
        result = deliver(ctx.session, ctx.tenant.id, export.id, dest, name, data)
    except DeliveryFailed as exc:
        set_status("failed", str(exc))
        with ctx.session() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO core.notifications (organization_id, severity, kind, title, message, link, dedupe_key)"
                    " VALUES (:o, 'error', 'delivery_failed', :t, :m, :l, :k) ON CONFLICT DO NOTHING"
                ),
                {
                    "o": ctx.tenant.id,
                    "t": f"Delivery failed: {name}",
                    "m": f"{exc} Re-run export_delivery to retry.",
                    "l": f"partition/{ctx.tenant.slug}|{ctx.pay_date}",
                    "k": f"delivery:{export.id}:{time.time():.0f}",
                },
            )
        raise
    set_status("delivered")
    return DeliveryStep("delivered" if result.outcome == "uploaded" else "skipped", name, result.attempts, dest.target)
