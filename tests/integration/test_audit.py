"""The append-only, hash-chained audit log."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.exc import ProgrammingError

from synclinqs_pipelines.cli import main
from synclinqs_pipelines.security.audit import verify_chain
from synclinqs_pipelines.warehouse.connection import ROLE_OWNER, ROLE_PIPELINE, engine_for

pytestmark = pytest.mark.integration


def test_a_change_to_a_core_table_is_chained_with_actor_row_and_columns(warehouse, make_tenant):
    make_tenant("other")  # another tenant's entries sit in the same chain
    tenant = make_tenant("audit")
    with warehouse.tenant(tenant, actor="run:abc123", run_id="abc123") as conn:
        plan_id = conn.execute(
            sa.text(
                "INSERT INTO core.plans (organization_id, plan_code, name) VALUES (:o, 'AUD', 'Audit plan')"
                " RETURNING id"
            ),
            {"o": tenant.id},
        ).scalar_one()
        conn.execute(sa.text("UPDATE core.plans SET name = 'Renamed' WHERE id = :id"), {"id": plan_id})
    with warehouse.tenant(tenant, actor="test") as conn:
        entries = conn.execute(
            sa.text(
                "SELECT operation, actor, run_id, organization_id, row_ids, changed_columns, prev_hash IS NOT NULL"
                " FROM audit.audit_logs WHERE :id = ANY(row_ids) ORDER BY id"
            ),
            {"id": plan_id},
        ).all()
        visible_to_tenant = conn.execute(
            sa.text("SELECT count(DISTINCT organization_id) FROM audit.audit_logs")
        ).scalar_one()
    with engine_for(warehouse.cluster, ROLE_OWNER).connect() as conn:
        ok = verify_chain(conn)
    assert visible_to_tenant == 1
    assert [(e.operation, e.actor, e.run_id, e.organization_id) for e in entries] == [
        ("INSERT", "run:abc123", "abc123", tenant.id),
        ("UPDATE", "run:abc123", "abc123", tenant.id),
    ]
    assert entries[1].changed_columns == ["name"]
    assert "plan_code" in entries[0].changed_columns and all(e[6] for e in entries)
    assert ok.ok, ok


def test_pipeline_role_cannot_update_delete_or_truncate_the_audit_log(cluster):
    for statement in (
        "UPDATE audit.audit_logs SET actor = 'x'",
        "DELETE FROM audit.audit_logs",
        "TRUNCATE audit.audit_logs",
    ):
        with pytest.raises(ProgrammingError, match="permission denied"):
            with engine_for(cluster, ROLE_PIPELINE).begin() as conn:
                conn.execute(sa.text(statement))


def test_tampering_is_found_at_the_right_entry(warehouse, make_tenant, cluster):
    tenant = make_tenant("tamper")
    with warehouse.tenant(tenant, actor="test") as conn:
        conn.execute(sa.text("UPDATE core.plans SET name = 'one' WHERE organization_id = :o"), {"o": tenant.id})
        conn.execute(sa.text("UPDATE core.plans SET name = 'two' WHERE organization_id = :o"), {"o": tenant.id})
        target = conn.execute(
            sa.text(
                "SELECT id, actor FROM audit.audit_logs WHERE organization_id = :o AND operation = 'UPDATE'"
                " ORDER BY id LIMIT 1"
            ),
            {"o": tenant.id},
        ).one()
    owner = engine_for(cluster, ROLE_OWNER)

    def set_actor(value: str) -> None:
        # The owner can switch the append-only trigger off; the chain still shows what it did.
        with owner.begin() as conn:
            conn.execute(sa.text("ALTER TABLE audit.audit_logs DISABLE TRIGGER audit_logs_append_only"))
            conn.execute(
                sa.text("UPDATE audit.audit_logs SET actor = :a WHERE id = :id"), {"a": value, "id": target.id}
            )
            conn.execute(sa.text("ALTER TABLE audit.audit_logs ENABLE TRIGGER audit_logs_append_only"))

    set_actor("someone-else")
    try:
        with owner.connect() as conn:
            report = verify_chain(conn)
        result = CliRunner().invoke(main, ["audit", "verify"])
    finally:
        set_actor(target.actor)
    assert (report.ok, report.first_broken_id) == (False, target.id)
    assert result.exit_code == 1
    assert f"BROKEN at entry {target.id}" in result.output
    assert CliRunner().invoke(main, ["audit", "verify"]).exit_code == 0


def test_owner_cannot_update_the_audit_log_while_the_trigger_is_on(cluster):
    with pytest.raises(ProgrammingError, match="append-only"):
        with engine_for(cluster, ROLE_OWNER).begin() as conn:
            conn.execute(
                sa.text("UPDATE audit.audit_logs SET actor = 'x' WHERE id = (SELECT min(id) FROM audit.audit_logs)")
            )
