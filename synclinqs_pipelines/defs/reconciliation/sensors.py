"""Confirmation files from the recordkeeper land like payroll files and load their partition."""

from __future__ import annotations

import json
import os

import dagster as dg

from synclinqs_pipelines.defs.jobs import in_one_process
from synclinqs_pipelines.defs.landing.intake import intake_tick
from synclinqs_pipelines.defs.landing.resources import LandingResource
from synclinqs_pipelines.defs.reconciliation.schedules import reconciliation_job
from synclinqs_pipelines.defs.resources import KeysResource, SpecsResource, WarehouseResource
from synclinqs_pipelines.safety import scrub

confirmation_partition_job = in_one_process(
    "confirmation_partition_job",
    dg.AssetSelection.assets("recordkeeper_confirmations"),
    "Load one tenant and pay date's recordkeeper confirmations.",
)


@dg.sensor(
    name="confirmation_landing_sensor",
    job=confirmation_partition_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Takes in <inbox>/<tenant>/confirmations/ files (digest dedupe, quarantine) and loads them.",
)
def confirmation_landing_sensor(
    context: dg.SensorEvaluationContext,
    landing: LandingResource,
    warehouse: WarehouseResource,
    keys: KeysResource,
    specs: SpecsResource,
) -> dg.SensorResult | dg.SkipReason:
    return intake_tick(context, "confirmation", landing=landing, warehouse=warehouse, keys=keys, specs=specs)


# In the demo the recordkeeper answers each export with a confirmation file, as a real one would within a
# few days; a couple of seeded discrepancies give the marts something to find.
DEMO_DISCREPANCIES = {("acme-manufacturing", 0): ("missing", "amount", "extra"), ("cedar-logistics", 1): ("late",)}


@dg.sensor(
    name="demo_recordkeeper_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING
    if os.environ.get("SYNCLINQS_DEMO") == "1"
    else dg.DefaultSensorStatus.STOPPED,
    description="Demo only (SYNCLINQS_DEMO=1, set by `make run`): plays the recordkeeper and confirms new exports.",
)
def demo_recordkeeper_sensor(
    context: dg.SensorEvaluationContext, landing: LandingResource, warehouse: WarehouseResource, specs: SpecsResource
) -> dg.SkipReason:
    import sqlalchemy as sa

    from synclinqs_pipelines.demo.recordkeeper import confirm_export, write_confirmation
    from synclinqs_pipelines.settings import get_settings

    written = 0
    for slug, spec in sorted(specs.catalog.load_tenants().items()):
        system = specs.catalog.system(spec.recordkeeper.system)
        if system.confirmation is None:
            continue
        wh = warehouse.warehouse
        with wh.tenant(wh.tenant_by_slug(slug), actor="demo-recordkeeper") as conn:
            pending = conn.execute(
                sa.text(
                    "SELECT DISTINCT ON (e.pay_date) e.pay_date, e.uri FROM core.file_exports e"
                    " WHERE e.status IN ('written', 'pending', 'delivered') AND NOT EXISTS ("
                    "   SELECT 1 FROM core.file_uploads f WHERE f.kind = 'confirmation' AND f.pay_date = e.pay_date)"
                    " ORDER BY e.pay_date, e.created_at DESC"
                )
            ).all()
            confirmed = conn.execute(
                sa.text("SELECT count(DISTINCT pay_date) FROM core.file_uploads WHERE kind = 'confirmation'")
            ).scalar_one()
        inbox = get_settings().inbox
        for i, (pay_date, uri) in enumerate(pending):
            target = inbox / slug / "confirmations" / f"confirmation_{pay_date:%Y%m%d}.csv"
            if target.exists():
                continue
            inject = DEMO_DISCREPANCIES.get((slug, confirmed + i), ())
            write_confirmation(
                inbox,
                slug,
                pay_date,
                confirm_export(landing.outbox.get(uri), system, pay_date, seed=7 + i, inject=inject),
            )
            written += 1
    return dg.SkipReason(f"wrote {written} confirmation file(s)" if written else "no new exports to confirm")


@dg.sensor(
    name="recordkeeper_sftp_poll_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Polls each recordkeeper's SFTP confirmations folder (sftp_outbound.confirmations_dir) and drops "
    "new files into <inbox>/<tenant>/confirmations/ for the confirmation sensor.",
)
def recordkeeper_sftp_poll_sensor(
    context: dg.SensorEvaluationContext, specs: SpecsResource
) -> dg.SensorResult | dg.SkipReason:
    from synclinqs_pipelines.settings import get_settings
    from synclinqs_pipelines.sftp.delivery import Destination, fetch_confirmations

    seen: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
    fetched = 0
    for slug, spec in sorted(specs.catalog.load_tenants().items()):
        if spec.sftp_outbound is None or not spec.sftp_outbound.confirmations_dir:
            continue
        try:
            names = fetch_confirmations(
                Destination.from_spec(spec.sftp_outbound),
                get_settings().inbox / slug / "confirmations",
                set(seen.get(slug, [])),
            )
        except Exception as exc:
            context.log.warning(f"{slug}: confirmations not fetched ({scrub(exc)}); next poll retries")
            continue
        seen[slug] = (seen.get(slug, []) + names)[-1000:]
        fetched += len(names)
    if not fetched:
        return dg.SkipReason("no new confirmation files on the recordkeepers' servers")
    return dg.SensorResult(cursor=json.dumps(seen))


@dg.sensor(
    name="reconcile_after_confirmations_sensor",
    job=reconciliation_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rebuilds the marts once after new confirmations load (the nightly schedules still run).",
)
def reconcile_after_confirmations_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    record = context.instance.fetch_materializations(dg.AssetKey("recordkeeper_confirmations"), limit=1).records
    if not record:
        return dg.SkipReason("no confirmations loaded yet")
    latest = str(record[0].storage_id)
    if context.cursor == latest:
        return dg.SkipReason("marts already built after the latest confirmations")
    context.update_cursor(latest)
    return dg.RunRequest(run_key=f"reconcile-after-{latest}")
