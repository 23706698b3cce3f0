"""Migrations applied to a warehouse that already has data and dbt's views on it."""

from __future__ import annotations

import dataclasses
import uuid

import sqlalchemy as sa

from synclinqs_pipelines.warehouse.connection import ROLE_OWNER, ROLE_TRANSFORMER, Cluster
from synclinqs_pipelines.warehouse.migrate import head_revision, upgrade
from synclinqs_pipelines.warehouse.provision import drop_database, provision


def test_loan_dates_go_with_the_dbt_views_that_selected_them(cluster: Cluster) -> None:
    scratch = dataclasses.replace(cluster, database=f"synclinqs_mig_{uuid.uuid4().hex[:8]}")
    provision(scratch)
    try:
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
    finally:
        drop_database(scratch)
