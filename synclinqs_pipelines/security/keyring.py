"""Per-tenant data and index keys, stored wrapped in `core.tenant_keys` and unwrapped by a key provider."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from synclinqs_pipelines.security.envelope import TenantCipher
from synclinqs_pipelines.security.key_providers import KeyProvider


def _context(tenant_id: uuid.UUID, purpose: str, version: int) -> dict[str, str]:
    return {"tenant": str(tenant_id), "purpose": purpose, "version": str(version)}


class KeyRing:
    """Reads and creates tenant keys through a tenant-scoped connection (RLS applies)."""

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider

    def _insert_key(self, conn: sa.Connection, tenant_id: uuid.UUID, purpose: str, version: int) -> None:
        key = AESGCM.generate_key(bit_length=256)
        conn.execute(
            sa.text(
                "INSERT INTO core.tenant_keys (organization_id, purpose, version, wrapped_key, provider, kek_id)"
                " VALUES (:org, :purpose, :version, :wrapped, :provider, :kek)"
            ),
            {
                "org": tenant_id,
                "purpose": purpose,
                "version": version,
                "wrapped": self.provider.wrap(key, _context(tenant_id, purpose, version)),
                "provider": self.provider.name,
                "kek": self.provider.key_id,
            },
        )

    def ensure_keys(self, conn: sa.Connection, tenant_id: uuid.UUID) -> None:
        """Create version 1 of the data and index keys if the tenant has none."""
        for purpose in ("data", "index"):
            exists = conn.execute(
                sa.text("SELECT 1 FROM core.tenant_keys WHERE organization_id = :org AND purpose = :p LIMIT 1"),
                {"org": tenant_id, "p": purpose},
            ).first()
            if not exists:
                self._insert_key(conn, tenant_id, purpose, 1)

    def cipher(self, conn: sa.Connection, tenant_id: uuid.UUID) -> TenantCipher:
        self.ensure_keys(conn, tenant_id)
        rows = conn.execute(
            sa.text(
                "SELECT purpose, version, wrapped_key, status FROM core.tenant_keys"
                " WHERE organization_id = :org ORDER BY purpose, version"
            ),
            {"org": tenant_id},
        ).all()
        data_keys: dict[int, bytes] = {}
        active = 0
        index_key = b""
        for row in rows:
            purpose, version, wrapped, status = str(row[0]), int(row[1]), bytes(row[2]), str(row[3])
            key = self.provider.unwrap(wrapped, _context(tenant_id, purpose, version))
            if purpose == "data":
                data_keys[version] = key
                if status == "active":
                    active = version
            elif status == "active":
                index_key = key
        return TenantCipher(tenant_id=tenant_id, data_keys=data_keys, active_version=active, index_key=index_key)

    def add_data_key_version(self, conn: sa.Connection, tenant_id: uuid.UUID) -> int:
        """Retire the active data key and make a new version active; old versions still decrypt."""
        self.ensure_keys(conn, tenant_id)
        current: int = conn.execute(
            sa.text("SELECT max(version) FROM core.tenant_keys WHERE organization_id = :org AND purpose = 'data'"),
            {"org": tenant_id},
        ).scalar_one()
        conn.execute(
            sa.text(
                "UPDATE core.tenant_keys SET status = 'retired' WHERE organization_id = :org"
                " AND purpose = 'data' AND status = 'active'"
            ),
            {"org": tenant_id},
        )
        new_version = int(current) + 1
        self._insert_key(conn, tenant_id, "data", new_version)
        return new_version

    def rewrap(self, conn: sa.Connection, tenant_id: uuid.UUID, new_provider: KeyProvider) -> int:
        """Re-wrap every key of the tenant under another key-encryption key; the data keys stay the same."""
        rows = conn.execute(
            sa.text("SELECT id, purpose, version, wrapped_key FROM core.tenant_keys WHERE organization_id = :org"),
            {"org": tenant_id},
        ).all()
        for row in rows:
            key_id, ctx = row[0], _context(tenant_id, str(row[1]), int(row[2]))
            rewrapped = new_provider.wrap(self.provider.unwrap(bytes(row[3]), ctx), ctx)
            conn.execute(
                sa.text("UPDATE core.tenant_keys SET wrapped_key = :w, provider = :p, kek_id = :k WHERE id = :id"),
                {"w": rewrapped, "p": new_provider.name, "k": new_provider.key_id, "id": key_id},
            )
        return len(rows)
