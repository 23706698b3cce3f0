"""Migrations applied to a warehouse that already has data and dbt's views on it."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from synclinqs_pipelines.warehouse.connection import ROLE_OWNER, ROLE_TRANSFORMER, Cluster
from synclinqs_pipelines.warehouse.migrate import head_revision, upgrade
from synclinqs_pipelines.warehouse.provision import drop_database, provision


@pytest.fixture
def scratch(cluster: Cluster) -> Iterator[Cluster]:
    """A database of its own on the test server, provisioned but not migrated, dropped afterwards."""
    scratch = dataclasses.replace(cluster, database=f"synclinqs_mig_{uuid.uuid4().hex[:8]}")
    provision(scratch)
    yield scratch
    drop_database(scratch)


def test_loan_dates_go_with_the_dbt_views_that_selected_them(scratch: Cluster) -> None:
    assert upgrade(scratch, "0004") == "0004"
    transformer = sa.create_engine(scratch.url_for(ROLE_TRANSFORMER), poolclass=sa.pool.NullPool)
    with transformer.begin() as conn:
        # What dbt's staging model compiles to: a view over every column of core.loans.
        conn.exec_driver_sql("CREATE SCHEMA dbt_staging")
        conn.exec_driver_sql("CREATE VIEW dbt_staging.stg_core__loans AS SELECT * FROM core.loans")
    transformer.dispose()

    assert upgrade(scratch, "head") == head_revision()

    owner = sa.create_engine(scratch.url_for(ROLE_OWNER), poolclass=sa.pool.NullPool)
    with owner.connect() as conn:
        columns = set(
            conn.execute(
                sa.text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = 'core' AND table_name = 'loans'"
                )
            ).scalars()
        )
        views = conn.execute(sa.text("SELECT count(*) FROM pg_views WHERE schemaname = 'dbt_staging'")).scalar()
    owner.dispose()
    assert {"employee_id", "loan_number", "status"} <= columns
    assert not columns & {"first_payment_date", "last_payment_date"}
    assert views == 0  # dropped with the columns; the next dbt build creates it again


def test_pay_records_get_their_limit_amounts_from_the_contributions_already_loaded(scratch: Cluster) -> None:
    org, employee, upload = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert upgrade(scratch, "0005") == "0005"
    owner = sa.create_engine(scratch.url_for(ROLE_OWNER), poolclass=sa.pool.NullPool)
    with owner.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO core.organizations (id, slug, name, payroll_system, recordkeeper_system, template)"
                " VALUES (:o, 'mig', 'Mig', 'adp_workforce_now', 'fidelity', 'adp_to_fidelity')"
            ),
            {"o": org},
        )
        conn.execute(sa.text("SELECT set_config('app.current_organization_id', :o, true)"), {"o": str(org)})
        conn.execute(
            sa.text(
                "INSERT INTO core.employees (id, organization_id, ssn_blind_index, ssn_encrypted, pii_digest)"
                " VALUES (:e, :o, '\\x01', '\\x02', '\\x03')"
            ),
            {"e": employee, "o": org},
        )
        conn.execute(
            sa.text(
                "INSERT INTO core.file_uploads (id, organization_id, file_name, landing_uri, digest_sha256,"
                " size_bytes, pay_date, status) VALUES (:f, :o, 'f.csv', 'file:///f.csv', :d, 1, '2026-03-06',"
                " 'loaded')"
            ),
            {"f": upload, "o": org, "d": "b" * 64},
        )
        # Row 2 of the file paid four sources; row 3 paid nothing (a pay record without contributions).
        for row in (2, 3):
            conn.execute(
                sa.text(
                    "INSERT INTO core.pay_records (organization_id, employee_id, file_upload_id, pay_date,"
                    " plan_year, source_row) VALUES (:o, :e, :f, '2026-03-06', 2026, :r)"
                ),
                {"o": org, "e": employee, "f": upload, "r": row},
            )
        for code, cents in (("PRETAX", 1000), ("CATCHUP_PRETAX", 200), ("MATCH", 300), ("LOAN", 50)):
            conn.execute(
                sa.text(
                    "INSERT INTO core.contributions (organization_id, employee_id, file_upload_id, loan_id,"
                    " pay_date, plan_year, source_code, amount_cents, source_row)"
                    " VALUES (:o, :e, :f, CASE WHEN :c = 'LOAN' THEN gen_random_uuid() END, '2026-03-06', 2026,"
                    " :c, :a, 2)"
                ),
                {"o": org, "e": employee, "f": upload, "c": code, "a": cents},
            )

    assert upgrade(scratch, "head") == head_revision()

    with owner.begin() as conn:
        conn.execute(sa.text("SELECT set_config('app.current_organization_id', :o, true)"), {"o": str(org)})
        amounts = conn.execute(
            sa.text(
                "SELECT source_row, elective_cents, catch_up_cents, additions_cents FROM core.pay_records"
                " ORDER BY source_row"
            )
        ).all()
        forced = conn.execute(
            sa.text(
                "SELECT bool_and(relforcerowsecurity) FROM pg_class"
                " WHERE oid IN ('core.pay_records'::regclass, 'core.contributions'::regclass)"
            )
        ).scalar()
    owner.dispose()
    assert [tuple(r) for r in amounts] == [(2, 1000, 200, 1300), (3, 0, 0, 0)]
    assert forced is True  # the tenant policy binds the owner again
