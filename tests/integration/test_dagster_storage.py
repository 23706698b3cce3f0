"""SYNCLINQS_DAGSTER_PG_URL moves Dagster's run and event storage to PostgreSQL (dagster-postgres)."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest
import sqlalchemy as sa

from synclinqs_pipelines.cli import prepare_dagster_home

pytestmark = pytest.mark.integration


def test_dagster_storage_in_postgres_when_configured(cluster, tmp_path, monkeypatch):
    name = f"dagster_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(cluster.admin(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        # Dagster gets a role and database of its own, not the cluster administrator.
        conn.exec_driver_sql(f"CREATE ROLE {name} LOGIN NOSUPERUSER")
        conn.exec_driver_sql(f"CREATE DATABASE {name} OWNER {name}")
    url = cluster.url_for(name, database=name).set(drivername="postgresql").render_as_string(hide_password=False)
    monkeypatch.setenv("SYNCLINQS_DAGSTER_PG_URL", url)
    try:
        config = prepare_dagster_home(tmp_path / "home")
        assert "postgres_url" in config.read_text()
        with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"

            @dg.asset
            def probe() -> int:
                return 1

            result = dg.materialize([probe], instance=instance)
            assert result.success
            assert instance.get_run_by_id(result.run_id) is not None
        with sa.create_engine(url).connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 1
    finally:
        from sqlalchemy.pool import NullPool  # noqa: F401 - engines above are disposed by GC

        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {name}")
        admin.dispose()
