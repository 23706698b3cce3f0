"""Key rotation over the warehouse: a new data key version, and every encrypted column moved onto it."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from synclinqs_pipelines.security.envelope import key_version_of
from synclinqs_pipelines.security.keyring import KeyRing
from synclinqs_pipelines.warehouse.session import Tenant, Warehouse

# Every encrypted column, by table. The associated data of a value names its table and column.
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "core.employees": (
        "ssn_encrypted",
        "first_name_encrypted",
        "middle_name_encrypted",
        "last_name_encrypted",
        "birth_date_encrypted",
        "address_encrypted",
        "email_encrypted",
    ),
}


@dataclass(frozen=True)
class RotationReport:
    tenant: str
    new_version: int
    rows_reencrypted: int
    values_reencrypted: int


def rotate_data_key(warehouse: Warehouse, tenant: Tenant, keyring: KeyRing, *, actor: str) -> RotationReport:
    """Add a data key version and re-encrypt the tenant's values onto it, in one transaction.

    Old versions stay (retired) so anything encrypted elsewhere under them, such as archived raw files,
    still decrypts; a failure part-way rolls the whole rotation back.
    """
    rows_done = values_done = 0
    with warehouse.tenant(tenant, actor=actor) as conn:
        new_version = keyring.add_data_key_version(conn, tenant.id)
        cipher = keyring.cipher(conn, tenant.id)
        for table, columns in ENCRYPTED_COLUMNS.items():
            rows = conn.execute(sa.text(f"SELECT id, {', '.join(columns)} FROM {table}")).all()
            updates = []
            for row in rows:
                new_values: dict[str, object] = {"id": row[0]}
                changed = False
                for column, value in zip(columns, row[1:], strict=True):
                    if value is None:
                        new_values[column] = None
                        continue
                    blob = bytes(value)
                    if key_version_of(blob) == new_version:
                        new_values[column] = blob
                        continue
                    plaintext = cipher.decrypt_bytes(table, column, blob)
                    new_values[column] = cipher.encrypt_bytes(table, column, plaintext)
                    values_done += 1
                    changed = True
                if changed:
                    updates.append(new_values)
            if updates:
                # One statement, so the audit chain records one entry naming every re-encrypted row.
                unnest = ", ".join(f"unnest(CAST(:{c} AS bytea[])) AS {c}" for c in columns)
                assignments = ", ".join(f"{c} = v.{c}" for c in columns)
                params: dict[str, object] = {"ids": [u["id"] for u in updates]}
                params.update({c: [u[c] for u in updates] for c in columns})
                conn.execute(
                    sa.text(
                        f"UPDATE {table} AS t SET {assignments}"
                        f" FROM (SELECT unnest(CAST(:ids AS uuid[])) AS id, {unnest}) AS v WHERE t.id = v.id"
                    ),
                    params,
                )
                rows_done += len(updates)
        conn.execute(
            sa.text("SELECT audit.record_event('key_rotation', :org, CAST(:d AS jsonb))"),
            {"org": tenant.id, "d": f'{{"new_version": {new_version}, "rows": {rows_done}}}'},
        )
    return RotationReport(tenant.slug, new_version, rows_done, values_done)
