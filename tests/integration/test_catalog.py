"""The database catalog itself: RLS everywhere it must be, no privileged project role."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from synclinqs_pipelines.warehouse.connection import PROJECT_ROLES, ROLE_OWNER, ROLE_PIPELINE, engine_for

pytestmark = pytest.mark.integration

TENANT_TABLES = sa.text(
    """
    SELECT n.nspname || '.' || c.relname AS name, c.relrowsecurity, c.relforcerowsecurity,
           (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     ORDER BY 1
    """
)


def test_every_table_with_organization_id_has_forced_rls_and_a_policy(cluster):
    with engine_for(cluster, ROLE_OWNER).connect() as conn:
        rows = conn.execute(TENANT_TABLES).all()
    names = [r.name for r in rows]
    assert "core.contributions" in names and "core.employees" in names and "core.contributions_2026" in names
    offenders = [r.name for r in rows if not (r.relrowsecurity and r.relforcerowsecurity and r.policies >= 1)]
    assert offenders == []


def test_no_project_role_is_superuser_or_bypasses_rls(cluster):
    with engine_for(cluster, ROLE_OWNER).connect() as conn:
        rows = conn.execute(
            sa.text("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ANY(:r)"),
            {"r": list(PROJECT_ROLES)},
        ).all()
    assert sorted(r.rolname for r in rows) == sorted(PROJECT_ROLES)
    assert [r.rolname for r in rows if r.rolsuper or r.rolbypassrls] == []


def test_code_paths_connect_as_the_non_superuser_roles(cluster):
    for role in (ROLE_OWNER, ROLE_PIPELINE):
        with engine_for(cluster, role).connect() as conn:
            user, is_super = conn.execute(sa.text("SELECT current_user, current_setting('is_superuser')")).one()
        assert (user, is_super) == (role, "off")


def test_pipeline_role_cannot_change_the_audit_log(cluster):
    with engine_for(cluster, ROLE_OWNER).connect() as conn:
        privileges = conn.execute(
            sa.text(
                "SELECT p, has_table_privilege(:r, 'audit.audit_logs', p)"
                " FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p"
            ),
            {"r": ROLE_PIPELINE},
        ).all()
    assert dict(privileges) == {"SELECT": True, "INSERT": False, "UPDATE": False, "DELETE": False, "TRUNCATE": False}
