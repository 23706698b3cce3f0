"""Tenant isolation through the pipeline role, as the pipeline itself connects."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError

from synclinqs_pipelines.warehouse.connection import ROLE_OWNER, ROLE_PIPELINE, engine_for
from synclinqs_pipelines.warehouse.session import Warehouse

pytestmark = pytest.mark.integration


def _add_employee(wh: Warehouse, tenant, external_id: str) -> uuid.UUID:
    with wh.tenant(tenant, actor="test") as conn:
        return conn.execute(
            sa.text(
                "INSERT INTO core.employees (organization_id, external_id, ssn_blind_index, ssn_encrypted,"
                " pii_digest) VALUES (:o, :e, :b, :c, :d) RETURNING id"
            ),
            {"o": tenant.id, "e": external_id, "b": uuid.uuid4().bytes, "c": b"x", "d": b"d"},
        ).scalar_one()


def test_tenant_a_cannot_see_change_or_add_tenant_b_rows(warehouse, make_tenant):
    a, b = make_tenant("iso-a"), make_tenant("iso-b")
    b_employee = _add_employee(warehouse, b, "B-1")
    _add_employee(warehouse, a, "A-1")
    with warehouse.tenant(a, actor="test") as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM core.employees WHERE organization_id = :b"), {"b": b.id}
            ).scalar_one()
            == 0
        )
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM core.plans WHERE organization_id = :b"), {"b": b.id}
            ).scalar_one()
            == 0
        )
        assert (
            conn.execute(
                sa.text("UPDATE core.employees SET division = 'x' WHERE id = :id"), {"id": b_employee}
            ).rowcount
            == 0
        )
        assert conn.execute(sa.text("DELETE FROM core.employees WHERE id = :id"), {"id": b_employee}).rowcount == 0
        assert [r[0] for r in conn.execute(sa.text("SELECT external_id FROM core.employees"))] == ["A-1"]
    with pytest.raises(ProgrammingError, match="row-level security"), warehouse.tenant(a, actor="test") as conn:
        conn.execute(
            sa.text("INSERT INTO core.plans (organization_id, plan_code, name) VALUES (:b, 'X', 'sneaky')"),
            {"b": b.id},
        )
    with warehouse.tenant(b, actor="test") as conn:
        assert (
            conn.execute(sa.text("SELECT division FROM core.employees WHERE id = :id"), {"id": b_employee}).scalar_one()
            is None
        )


def test_without_tenant_context_every_tenant_table_reads_zero_rows(warehouse, make_tenant, cluster):
    tenant = make_tenant("noctx")
    _add_employee(warehouse, tenant, "N-1")
    with engine_for(cluster, ROLE_OWNER).connect() as conn:
        tables = (
            conn.execute(
                sa.text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id'"
                    " WHERE n.nspname = 'core' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
                )
            )
            .scalars()
            .all()
        )
    assert len(tables) >= 12
    with engine_for(cluster, ROLE_PIPELINE).connect() as conn:
        readable = [
            t
            for t in tables
            if conn.execute(
                sa.text("SELECT has_table_privilege(current_user, :t, 'SELECT')"), {"t": f"core.{t}"}
            ).scalar_one()
        ]
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM core.{t}")).scalar_one() for t in readable}
        conn.execute(sa.text("SELECT set_config('app.current_organization_id', '', true)"))
        assert conn.execute(sa.text("SELECT count(*) FROM core.employees")).scalar_one() == 0
    # The one tenant table the pipeline may not read at all: analyst grants are the owner's business.
    assert sorted(set(tables) - set(readable)) == ["analyst_grants"]
    assert counts == {t: 0 for t in readable}


def test_context_does_not_survive_the_transaction_on_a_pooled_connection(cluster, make_tenant):
    one_connection = sa.create_engine(cluster.url_for(ROLE_PIPELINE), pool_size=1, max_overflow=0)
    wh = Warehouse(cluster)
    tenant = make_tenant("pool")
    _add_employee(wh, tenant, "P-1")
    try:
        with one_connection.begin() as conn:
            pid1 = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            conn.execute(sa.text("SELECT set_config('app.current_organization_id', :o, true)"), {"o": str(tenant.id)})
            assert conn.execute(sa.text("SELECT count(*) FROM core.employees")).scalar_one() == 1
        with one_connection.begin() as conn:
            pid2 = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            setting = conn.execute(sa.text("SELECT current_setting('app.current_organization_id', true)")).scalar_one()
            assert conn.execute(sa.text("SELECT count(*) FROM core.employees")).scalar_one() == 0
    finally:
        one_connection.dispose()
    assert pid1 == pid2
    assert setting in ("", None)


def test_partitions_are_not_reachable_directly(warehouse, make_tenant):
    tenant = make_tenant("part")
    with pytest.raises(ProgrammingError, match="permission denied"), warehouse.tenant(tenant, actor="test") as conn:
        conn.execute(sa.text("SELECT count(*) FROM core.contributions_2026"))


def test_load_statistics_need_a_tenant_and_cover_only_its_partition(warehouse, make_tenant):
    """core.analyze_partition runs as the owner; without a tenant context it refuses."""
    tenant = make_tenant("stats")
    _add_employee(warehouse, tenant, "S-1")
    with pytest.raises(ProgrammingError, match="tenant context"), warehouse.registry(actor="test") as conn:
        conn.execute(sa.text("SELECT core.analyze_partition(DATE '2026-01-09')"))
    with warehouse.tenant(tenant, actor="test") as conn:
        # No contributions or pay records of that date yet: employees and loans only.
        assert conn.execute(sa.text("SELECT core.analyze_partition(DATE '2026-01-09')")).scalar_one() == 2
        analyzed = conn.execute(
            sa.text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relid = 'core.employees'::regclass")
        ).scalar_one()
    assert analyzed
