"""`synclinqs keys rotate`: every encrypted value moves to the new key version, nothing is lost."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from synclinqs_pipelines.cli import main
from synclinqs_pipelines.security.envelope import key_version_of
from synclinqs_pipelines.warehouse.keys import ENCRYPTED_COLUMNS

pytestmark = pytest.mark.integration
TABLE = "core.employees"


def _seed(warehouse, keyring, tenant, people):
    with warehouse.tenant(tenant, actor="test") as conn:
        c = keyring.cipher(conn, tenant.id)
        for ssn, last in people:
            conn.execute(
                sa.text(
                    "INSERT INTO core.employees (organization_id, ssn_blind_index, ssn_encrypted,"
                    " last_name_encrypted, pii_digest) VALUES (:o, :b, :s, :l, :d)"
                ),
                {
                    "o": tenant.id,
                    "b": c.blind_index(ssn),
                    "s": c.encrypt(TABLE, "ssn_encrypted", ssn),
                    "l": c.encrypt(TABLE, "last_name_encrypted", last),
                    "d": hashlib.sha256(ssn.encode()).digest(),
                },
            )


def _decrypted(warehouse, keyring, tenant):
    with warehouse.tenant(tenant, actor="test") as conn:
        c = keyring.cipher(conn, tenant.id)
        rows = conn.execute(sa.text("SELECT ssn_encrypted, last_name_encrypted FROM core.employees")).all()
    return sorted(
        (c.decrypt(TABLE, "ssn_encrypted", bytes(s)), c.decrypt(TABLE, "last_name_encrypted", bytes(last)))
        for s, last in rows
    ), {key_version_of(bytes(s)) for s, _ in rows}


def test_rotate_command_reencrypts_every_value_to_the_new_version(warehouse, keyring, make_tenant):
    tenant = make_tenant("rot")
    people = [("701-01-0001", "Alder"), ("701-01-0002", "Birchwood"), ("701-01-0003", "Calloway")]
    _seed(warehouse, keyring, tenant, people)
    before, versions = _decrypted(warehouse, keyring, tenant)
    assert versions == {1}

    result = CliRunner().invoke(main, ["keys", "rotate", "--tenant", tenant.slug])
    assert result.exit_code == 0, result.output
    assert "data key version 2" in result.output and "re-encrypted 6 values in 3 rows" in result.output

    after, versions = _decrypted(warehouse, keyring, tenant)
    assert after == before == sorted(people)
    assert versions == {2}
    with warehouse.tenant(tenant, actor="test") as conn:
        keys = conn.execute(
            sa.text("SELECT version, status FROM core.tenant_keys WHERE purpose = 'data' ORDER BY version")
        ).all()
        event = conn.execute(
            sa.text("SELECT details FROM audit.audit_logs WHERE operation = 'key_rotation'")
        ).scalar_one()
    assert [tuple(k) for k in keys] == [(1, "retired"), (2, "active")]
    assert event == {"new_version": 2, "rows": 3}


def test_rotate_unknown_tenant_is_a_clear_error():
    result = CliRunner().invoke(main, ["keys", "rotate", "--tenant", "no-such-tenant"])
    assert result.exit_code == 2
    assert "no tenant 'no-such-tenant'" in result.output


def test_encrypted_columns_registry_matches_the_table(cluster):
    from synclinqs_pipelines.warehouse.connection import ROLE_OWNER, engine_for

    with engine_for(cluster, ROLE_OWNER).connect() as conn:
        columns = (
            conn.execute(
                sa.text(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core'"
                    " AND table_name = 'employees' AND column_name LIKE '%\\_encrypted'"
                )
            )
            .scalars()
            .all()
        )
    assert sorted(columns) == sorted(ENCRYPTED_COLUMNS[TABLE])
