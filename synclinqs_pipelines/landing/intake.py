"""Taking in one landed file: digest, tenant, pay date, duplicate check, encrypted archive, record.

Nothing is lost: a file is archived (encrypted) and recorded before it leaves the inbox, a file that
cannot be placed moves to the quarantine with its reason, and a crash between the two leaves the file
in the inbox for the next tick, which recognises it by digest and name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, replace

import sqlalchemy as sa

from synclinqs_pipelines.landing.zones import LandedFile, LandingZone, ObjectStore
from synclinqs_pipelines.mapping import engine
from synclinqs_pipelines.mapping.catalog import SpecCatalog
from synclinqs_pipelines.mapping.errors import MappingFileError, SpecError
from synclinqs_pipelines.mapping.readers import read_source
from synclinqs_pipelines.mapping.spec import SystemSpec, TenantSpec
from synclinqs_pipelines.security.keyring import KeyRing
from synclinqs_pipelines.warehouse.session import Warehouse

ARCHIVE_TABLE, ARCHIVE_COLUMN = "core.file_uploads", "archive"


@dataclass(frozen=True)
class Intake:
    status: str  # accepted | duplicate | quarantined
    tenant: str | None
    kind: str
    file_name: str
    digest: str
    pay_date: dt.date | None = None
    file_upload_id: uuid.UUID | None = None
    duplicate_of: uuid.UUID | None = None
    reason: str | None = None
    superseded: tuple[uuid.UUID, ...] = ()


def pay_date_of(data: bytes, name: str, catalog: SpecCatalog, tenant: TenantSpec, system: SystemSpec) -> dt.date:
    """The file's pay date: the most common valid value of the inbound mapping's pay_date field."""
    resolved = catalog.resolve(tenant.template, tenant)
    frame = read_source(data, system, name)
    plan = resolved.inbound
    only = [fp for fp in plan.fields if fp.target == "pay_date"]
    if not only:
        raise MappingFileError(name, f"template {tenant.template} maps no pay_date")
    result = engine.run(replace(plan, fields=only, typed_inputs={}), frame)
    dates = [d for d in result.frame["pay_date"].to_list() if d is not None]
    if not dates:
        raise MappingFileError(name, "has no row with a valid pay date; the file cannot be placed in a partition")
    return Counter(dates).most_common(1)[0][0]  # type: ignore[no-any-return]


def take_in(
    f: LandedFile,
    *,
    zone: LandingZone,
    archive: ObjectStore,
    warehouse: Warehouse,
    catalog: SpecCatalog,
    tenants: dict[str, TenantSpec],
    keyring: KeyRing,
    actor: str,
) -> Intake:
    data = zone.read(f)
    digest = hashlib.sha256(data).hexdigest()
    tenant_spec = tenants.get(f.tenant_folder or "")
    if tenant_spec is None or not tenant_spec.active:
        reason = (
            f"'{f.tenant_folder}' is not a tenant folder; files go in <inbox>/<tenant-slug>/"
            if f.tenant_folder
            else "file is not in a tenant folder; files go in <inbox>/<tenant-slug>/"
        )
        zone.quarantine(f, reason)
        warehouse.record_event(
            "file_quarantined", None, {"file_name": f.name, "reason": reason, "digest": digest}, actor=actor
        )
        return Intake("quarantined", f.tenant_folder, f.kind, f.name, digest, reason=reason)
    tenant = warehouse.tenant_by_slug(tenant_spec.slug)

    pay_date: dt.date | None = None
    problem: str | None = None
    if f.kind == "payroll":
        try:
            pay_date = pay_date_of(data, f.name, catalog, tenant_spec, catalog.system(tenant_spec.payroll.system))
        except MappingFileError as exc:
            problem = exc.problem
        except SpecError as exc:
            problem = f"the tenant's mapping spec does not load: {exc.problems[0]}"
    else:
        from synclinqs_pipelines.reconciliation.confirmations import confirmation_pay_date

        try:
            pay_date = confirmation_pay_date(data, f.name, catalog.system(tenant_spec.recordkeeper.system))
        except MappingFileError as exc:
            problem = exc.problem

    with warehouse.tenant(tenant, actor=actor) as conn:
        existing = conn.execute(
            sa.text(
                "SELECT id, file_name, landing_uri, pay_date FROM core.file_uploads WHERE organization_id = :org"
                " AND kind = :kind AND digest_sha256 = :d AND status NOT IN ('duplicate', 'quarantined')"
            ),
            {"org": tenant.id, "kind": f.kind, "d": digest},
        ).first()
        if existing is not None and existing.landing_uri == zone.uri(f):
            # Seen before: the last tick recorded it but stopped before removing it from the inbox.
            result = Intake("accepted", tenant.slug, f.kind, f.name, digest, existing.pay_date, existing.id)
        elif existing is not None:
            dup_id = conn.execute(
                sa.text(
                    "INSERT INTO core.file_uploads (organization_id, kind, file_name, landing_uri, digest_sha256,"
                    " size_bytes, pay_date, status, status_reason, duplicate_of) VALUES (:org, :kind, :n, :u, :d,"
                    " :s, :pd, 'duplicate', :r, :dup) RETURNING id"
                ),
                {
                    "org": tenant.id,
                    "kind": f.kind,
                    "n": f.name,
                    "u": zone.uri(f),
                    "d": digest,
                    "s": f.size,
                    "pd": existing.pay_date,
                    "r": f"same bytes as {existing.file_name}",
                    "dup": existing.id,
                },
            ).scalar_one()
            result = Intake(
                "duplicate",
                tenant.slug,
                f.kind,
                f.name,
                digest,
                existing.pay_date,
                dup_id,
                duplicate_of=existing.id,
                reason=f"same bytes as {existing.file_name}",
            )
            conn.execute(
                sa.text(
                    "INSERT INTO core.notifications (organization_id, severity, kind, title, message, dedupe_key)"
                    " VALUES (:org, 'info', 'duplicate_file', :t, :m, :k) ON CONFLICT DO NOTHING"
                ),
                {
                    "org": tenant.id,
                    "t": "Duplicate file ignored",
                    "m": f"{f.name} has the same content as {existing.file_name}; nothing was loaded twice.",
                    "k": f"duplicate:{dup_id}",
                },
            )
        elif problem is not None:
            uri = zone.quarantine(f, problem)
            quarantined_id = conn.execute(
                sa.text(
                    "INSERT INTO core.file_uploads (organization_id, kind, file_name, landing_uri, archive_uri,"
                    " digest_sha256, size_bytes, status, status_reason) VALUES (:org, :kind, :n, :u, :q, :d, :s,"
                    " 'quarantined', :r) RETURNING id"
                ),
                {
                    "org": tenant.id,
                    "kind": f.kind,
                    "n": f.name,
                    "u": zone.uri(f),
                    "q": uri,
                    "d": digest,
                    "s": f.size,
                    "r": problem,
                },
            ).scalar_one()
            return Intake(
                "quarantined", tenant.slug, f.kind, f.name, digest, file_upload_id=quarantined_id, reason=problem
            )
        else:
            cipher = keyring.cipher(conn, tenant.id)
            archive_uri = archive.put(
                f"{tenant.slug}/{f.kind}/{digest}.enc", cipher.encrypt_bytes(ARCHIVE_TABLE, ARCHIVE_COLUMN, data)
            )
            # A corrected file sent under the same name replaces the earlier one for its pay date.
            superseded = (
                conn.execute(
                    sa.text(
                        "UPDATE core.file_uploads SET status = 'superseded', status_reason = 'replaced by a newer'"
                        " || ' file of the same name' WHERE organization_id = :org AND kind = :kind AND pay_date = :pd"
                        " AND file_name = :n AND status NOT IN ('duplicate', 'quarantined', 'superseded') RETURNING id"
                    ),
                    {"org": tenant.id, "kind": f.kind, "pd": pay_date, "n": f.name},
                )
                .scalars()
                .all()
            )
            new_id = conn.execute(
                sa.text(
                    "INSERT INTO core.file_uploads (organization_id, kind, file_name, landing_uri, archive_uri,"
                    " digest_sha256, size_bytes, pay_date, status) VALUES (:org, :kind, :n, :u, :a, :d, :s, :pd,"
                    " 'received') RETURNING id"
                ),
                {
                    "org": tenant.id,
                    "kind": f.kind,
                    "n": f.name,
                    "u": zone.uri(f),
                    "a": archive_uri,
                    "d": digest,
                    "s": f.size,
                    "pd": pay_date,
                },
            ).scalar_one()
            result = Intake(
                "accepted", tenant.slug, f.kind, f.name, digest, pay_date, new_id, superseded=tuple(superseded)
            )
    zone.remove(f)
    return result


def read_archived(archive: ObjectStore, uri: str, conn: sa.Connection, keyring: KeyRing, tenant_id: uuid.UUID) -> bytes:
    """The plaintext of an archived file, in memory only."""
    return keyring.cipher(conn, tenant_id).decrypt_bytes(ARCHIVE_TABLE, ARCHIVE_COLUMN, archive.get(uri))
