"""Reconciliation end to end: the demo recordkeeper confirms the exports (with injected discrepancies),
the confirmation sensor loads them, dbt builds the marts, analysts read only their tenants."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from synclinqs_pipelines.cli import main
from synclinqs_pipelines.settings import get_settings
from synclinqs_pipelines.warehouse.connection import ROLE_OWNER, ROLE_TRANSFORMER, engine_for
from tests.e2e.conftest import evaluate

pytestmark = pytest.mark.e2e
ACME_DATE = dt.date(2026, 1, 9)
MARTS = ("fct_reconciliation_items", "rpt_reconciliation_daily", "rpt_deposit_timeliness", "fct_contribution_ytd")


@pytest.fixture(scope="module")
def reconciled(demo, definitions, instance, warehouse, cluster):
    from synclinqs_pipelines.defs.landing.resources import landing_resource
    from synclinqs_pipelines.defs.reconciliation.sensors import confirmation_landing_sensor
    from synclinqs_pipelines.demo.recordkeeper import confirm_export, write_confirmation
    from synclinqs_pipelines.mapping.catalog import get_catalog

    catalog, outbox, injected = get_catalog(), landing_resource().outbox, {}
    plan = {
        ("acme-manufacturing", ACME_DATE): ("missing", "amount", "extra"),
        ("cedar-logistics", dt.date(2026, 1, 23)): ("late",),
    }
    for slug in ("acme-manufacturing", "cedar-logistics"):
        system = catalog.system(catalog.load_tenants()[slug].recordkeeper.system)
        with warehouse.tenant(warehouse.tenant_by_slug(slug), actor="test") as conn:
            exports = conn.execute(
                sa.text(
                    "SELECT DISTINCT ON (pay_date) pay_date, uri FROM core.file_exports"
                    " WHERE status = 'written' ORDER BY pay_date, created_at DESC"
                )
            ).all()
        for pay_date, uri in exports:
            confirmation = confirm_export(
                outbox.get(uri), system, pay_date, seed=3, inject=plan.get((slug, pay_date), ())
            )
            injected[(slug, pay_date)] = confirmation.injected
            write_confirmation(get_settings().inbox, slug, pay_date, confirmation)
    result = evaluate(confirmation_landing_sensor, definitions, instance)
    job = definitions.resolve_job_def("confirmation_partition_job")
    loads = [
        job.execute_in_process(partition_key=r.partition_key, instance=instance).success for r in result.run_requests
    ]
    build = definitions.resolve_job_def("reconciliation_job").execute_in_process(instance=instance)
    return {"injected": injected, "requests": result.run_requests, "loads": loads, "build": build}


def _mart(cluster, sql, **params):
    with engine_for(cluster, ROLE_TRANSFORMER).connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_confirmations_load_through_the_sensor_and_the_marts_build(reconciled):
    assert len(reconciled["requests"]) == 6 and all(reconciled["loads"])
    assert reconciled["build"].success


def test_every_injected_discrepancy_is_classified(reconciled, cluster, warehouse, keyring):
    acme = warehouse.tenant_by_slug("acme-manufacturing")
    with warehouse.tenant(acme, actor="test") as conn:
        cipher = keyring.cipher(conn, acme.id)
    by_kind = {i.kind: i for i in reconciled["injected"][("acme-manufacturing", ACME_DATE)]}
    items = _mart(
        cluster,
        "SELECT match_status, source_code, variance_cents, f.employee_external_id,"
        " encode(i.ssn_blind_index, 'hex') AS bi FROM marts.fct_reconciliation_items f"
        " LEFT JOIN dbt_staging.stg_core__employees i USING (employee_id)"
        " WHERE f.organization_id = :o AND pay_date = :d",
        o=acme.id,
        d=ACME_DATE,
    )
    unmatched = [i for i in items if i.match_status != "matched"]
    missing_bi = cipher.blind_index(by_kind["missing"].ssn).hex()
    mismatch_bi = cipher.blind_index(by_kind["amount"].ssn).hex()
    assert {i.match_status for i in unmatched if i.bi == missing_bi} == {"source_only"}
    assert [(i.match_status, abs(i.variance_cents)) for i in unmatched if i.bi == mismatch_bi][0][
        0
    ] == "amount_mismatch"
    assert 2 <= abs([i.variance_cents for i in unmatched if i.match_status == "amount_mismatch"][0]) <= 3
    [extra] = [i for i in unmatched if i.match_status == "destination_only"]
    assert (extra.variance_cents, extra.employee_external_id) == (1234, "UNKNOWN")
    assert len(unmatched) == sum(1 for i in items if i.bi == missing_bi) + 2
    assert sum(1 for i in items if i.match_status == "matched") == len(items) - len(unmatched)


def test_daily_report_totals_equal_the_sums_of_its_items(reconciled, cluster):
    rows = _mart(
        cluster,
        """
        SELECT d.tenant_slug, d.reconciliation_date, d.status, d.expected_cents = i.expected AS same_expected,
               d.confirmed_cents = i.confirmed AS same_confirmed, d.items_total = i.n AS same_count
          FROM marts.rpt_reconciliation_daily d
          JOIN (SELECT organization_id, pay_date, sum(expected_cents) expected, sum(confirmed_cents) confirmed,
                       count(*) n FROM marts.fct_reconciliation_items GROUP BY 1, 2) i
            ON i.organization_id = d.organization_id AND i.pay_date = d.reconciliation_date
         WHERE d.tenant_slug IN ('acme-manufacturing', 'bluebird-health', 'cedar-logistics')
         ORDER BY 1, 2""",
    )
    assert all(r.same_expected and r.same_confirmed and r.same_count for r in rows)
    status = {(r.tenant_slug, str(r.reconciliation_date)): r.status for r in rows}
    assert status[("acme-manufacturing", "2026-01-09")] == "discrepancies"
    assert status[("acme-manufacturing", "2026-01-23")] == "reconciled"
    assert status[("cedar-logistics", "2026-01-23")] == "reconciled"
    assert status[("bluebird-health", "2026-01-09")] == "pending"


def test_late_deposit_is_flagged_with_business_days_and_notified(reconciled, cluster, warehouse):
    cedar = warehouse.tenant_by_slug("cedar-logistics")
    rows = _mart(
        cluster,
        "SELECT pay_date, business_days_to_deposit, is_late, includes_loan_repayments"
        " FROM marts.rpt_deposit_timeliness WHERE organization_id = :o ORDER BY pay_date",
        o=cedar.id,
    )
    assert [(str(r.pay_date), r.is_late) for r in rows] == [
        ("2026-01-09", False),
        ("2026-01-23", True),
        ("2026-02-06", False),
    ]
    assert (
        rows[0].business_days_to_deposit == 2 and rows[1].business_days_to_deposit == 39
    )  # 40 weekdays, one of them Presidents Day
    assert all(r.includes_loan_repayments for r in rows)
    with warehouse.tenant(cedar, actor="test") as conn:
        notes = conn.execute(
            sa.text("SELECT severity, title FROM core.notifications WHERE kind = 'late_deposit'")
        ).all()
    assert [tuple(n) for n in notes] == [("critical", "Late deposit for pay date 2026-01-23")]
    with warehouse.tenant(warehouse.tenant_by_slug("acme-manufacturing"), actor="test") as conn:
        variance = (
            conn.execute(sa.text("SELECT title FROM core.notifications WHERE kind = 'reconciliation_variance'"))
            .scalars()
            .all()
        )
    assert variance == ["Reconciliation variance for 2026-01-09"]


def test_analysts_read_only_granted_tenants_even_after_a_rebuild(reconciled, cluster, definitions, instance):
    from synclinqs_pipelines.warehouse.analysts import create_analyst, drop_analyst, grant_tenants

    granted, nothing = f"analyst_{uuid.uuid4().hex[:8]}", f"analyst_{uuid.uuid4().hex[:8]}"
    create_analyst(cluster, granted)
    create_analyst(cluster, nothing)
    try:
        grant_tenants(cluster, granted, ["acme-manufacturing"])

        def seen(role):
            with engine_for(cluster, role).connect() as conn:
                return {
                    m: set(conn.execute(sa.text(f"SELECT DISTINCT organization_id FROM marts.{m}")).scalars())
                    for m in MARTS
                }

        with engine_for(cluster, ROLE_OWNER).connect() as conn:
            acme = conn.execute(sa.text("SELECT id FROM core.organizations WHERE slug = 'acme-manufacturing'")).scalar()
        for _ in range(2):
            assert seen(granted) == {m: {acme} for m in MARTS}
            assert seen(nothing) == {m: set() for m in MARTS}
            # A full rebuild drops and recreates the tables; the post-hook puts the policies back.
            import os
            import subprocess

            from synclinqs_pipelines.defs.reconciliation.resources import DBT_EXECUTABLE, DBT_PROJECT
            from synclinqs_pipelines.reconciliation.summary import set_dbt_environment

            set_dbt_environment(cluster)
            subprocess.run(
                [
                    DBT_EXECUTABLE,
                    "build",
                    "--full-refresh",
                    "--quiet",
                    "--project-dir",
                    str(DBT_PROJECT.project_dir),
                    "--profiles-dir",
                    str(DBT_PROJECT.profiles_dir),
                ],
                check=True,
                env=os.environ.copy(),
            )
        with engine_for(cluster, granted).connect() as conn, pytest.raises(sa.exc.ProgrammingError):
            conn.execute(sa.text("SELECT count(*) FROM core.contributions"))
    finally:
        drop_analyst(cluster, granted)
        drop_analyst(cluster, nothing)


def test_the_analyst_question_in_the_readme_is_one_query(reconciled, cluster, warehouse):
    """Which participants in tenant X were not credited for pay date D, and how much?"""
    rows = _mart(
        cluster,
        """
        SELECT employee_external_id, source_code, expected_cents - confirmed_cents AS not_credited_cents
          FROM marts.fct_reconciliation_items
         WHERE organization_id = (SELECT organization_id FROM marts.rpt_reconciliation_daily
                                   WHERE tenant_slug = 'acme-manufacturing' LIMIT 1)
           AND pay_date = '2026-01-09' AND match_status IN ('source_only', 'amount_mismatch')
         ORDER BY employee_external_id, source_code""",
    )
    assert len(rows) >= 2 and all(r.not_credited_cents != 0 for r in rows)


def test_a_recorded_resolution_survives_the_rebuild_and_names_the_actor(
    reconciled, cluster, definitions, instance, warehouse
):
    [item] = _mart(
        cluster,
        "SELECT item_id FROM marts.fct_reconciliation_items WHERE match_status = 'destination_only' AND pay_date = :d",
        d=ACME_DATE,
    )
    result = CliRunner().invoke(
        main,
        [
            "recon",
            "resolve",
            item.item_id,
            "--tenant",
            "acme-manufacturing",
            "--action",
            "ignored",
            "--note",
            "test participant",
            "--by",
            "ops-jane",
        ],
    )
    assert result.exit_code == 0, result.output
    assert definitions.resolve_job_def("reconciliation_job").execute_in_process(instance=instance).success
    [row] = _mart(
        cluster,
        "SELECT resolution_action, resolved_by FROM marts.fct_reconciliation_items WHERE item_id = :i",
        i=item.item_id,
    )
    assert tuple(row) == ("ignored", "user:ops-jane")
    with warehouse.tenant(warehouse.tenant_by_slug("acme-manufacturing"), actor="test") as conn:
        actors = conn.execute(
            sa.text("SELECT actor FROM audit.audit_logs WHERE table_name = 'core.reconciliation_resolutions'")
        )
        assert "user:ops-jane" in actors.scalars().all()
    assert (
        CliRunner()
        .invoke(main, ["recon", "resolve", "nope", "--tenant", "acme-manufacturing", "--action", "ignored"])
        .exit_code
        == 2
    )


def test_new_confirmations_request_one_marts_build(reconciled, definitions, instance):
    import dagster as dg

    from synclinqs_pipelines.defs.reconciliation.sensors import reconcile_after_confirmations_sensor

    with dg.build_sensor_context(instance=instance) as context:
        request = reconcile_after_confirmations_sensor(context)
        cursor = context.cursor
    assert isinstance(request, dg.RunRequest) and request.run_key.startswith("reconcile-after-")
    with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
        again = reconcile_after_confirmations_sensor(context)
    assert isinstance(again, dg.SkipReason)


def test_the_resolve_job_records_a_resolution_from_the_ui(reconciled, definitions, instance, warehouse, cluster):
    [item] = _mart(
        cluster,
        "SELECT item_id FROM marts.fct_reconciliation_items WHERE match_status = 'amount_mismatch' AND pay_date = :d",
        d=ACME_DATE,
    )
    job = definitions.resolve_job_def("resolve_reconciliation_item")
    config = {
        "ops": {
            "record_reconciliation_resolution": {
                "config": {
                    "tenant": "acme-manufacturing",
                    "item_id": item.item_id,
                    "action": "manual_review",
                    "note": "ask the recordkeeper",
                    "resolved_by": "ops-sam",
                }
            }
        }
    }
    assert job.execute_in_process(run_config=config, instance=instance).success
    with warehouse.tenant(warehouse.tenant_by_slug("acme-manufacturing"), actor="test") as conn:
        row = conn.execute(
            sa.text("SELECT action, resolved_by FROM core.reconciliation_resolutions WHERE item_id = :i"),
            {"i": item.item_id},
        ).one()
    assert tuple(row) == ("manual_review", "user:ops-sam")
