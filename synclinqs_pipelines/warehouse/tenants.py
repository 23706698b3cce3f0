"""Tenants from config: `mapping_specs/tenants/<slug>.yaml` is the source of truth, the warehouse follows."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

from synclinqs_pipelines.mapping.catalog import SpecCatalog, tenant_digest
from synclinqs_pipelines.mapping.spec import TenantSpec
from synclinqs_pipelines.security.keyring import KeyRing
from synclinqs_pipelines.warehouse.session import Tenant, Warehouse


@dataclass(frozen=True)
class SyncReport:
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    deactivated: list[str]

    @property
    def tenants(self) -> list[str]:
        return sorted(self.created + self.updated + self.unchanged)


_UPSERT_ORG = sa.text(
    """
    INSERT INTO core.organizations (slug, name, payroll_system, recordkeeper_system, template, settings,
                                    config_digest, is_active)
    VALUES (:slug, :name, :payroll, :recordkeeper, :template, CAST(:settings AS jsonb), :digest, :active)
    ON CONFLICT (slug) DO UPDATE
       SET name = excluded.name, payroll_system = excluded.payroll_system,
           recordkeeper_system = excluded.recordkeeper_system, template = excluded.template,
           settings = excluded.settings, config_digest = excluded.config_digest,
           is_active = excluded.is_active, deleted_at = NULL
     WHERE core.organizations.config_digest IS DISTINCT FROM excluded.config_digest
        OR core.organizations.settings IS DISTINCT FROM excluded.settings
        OR core.organizations.deleted_at IS NOT NULL
    RETURNING id, (xmax = 0) AS inserted
    """
)

_UPSERT_PLAN = sa.text(
    """
    INSERT INTO core.plans (organization_id, plan_code, recordkeeper_plan_id, name, has_roth,
                            participants_at_year_start)
    VALUES (:org, :code, :rk, :name, :roth, :participants)
    ON CONFLICT (organization_id, plan_code) DO UPDATE
       SET recordkeeper_plan_id = excluded.recordkeeper_plan_id, name = excluded.name,
           has_roth = excluded.has_roth, participants_at_year_start = excluded.participants_at_year_start,
           deleted_at = NULL
     WHERE (core.plans.recordkeeper_plan_id, core.plans.name, core.plans.has_roth,
            core.plans.participants_at_year_start, core.plans.deleted_at)
           IS DISTINCT FROM (excluded.recordkeeper_plan_id, excluded.name, excluded.has_roth,
                             excluded.participants_at_year_start, NULL)
    """
)


def sync_tenants(
    warehouse: Warehouse,
    tenants: dict[str, TenantSpec],
    keyring: KeyRing,
    catalog: SpecCatalog,
    *,
    actor: str,
    run_id: str | None = None,
) -> SyncReport:
    """Upsert every tenant, its plans and its keys; tenants whose file is gone are deactivated.

    The settings carry what dbt needs from the specs: thresholds, and how the tenant's recordkeeper
    groups sources and loans in its confirmations.
    """
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    for slug, spec in sorted(tenants.items()):
        settings = {
            "thresholds": spec.thresholds.model_dump(),
            "reconciliation": spec.reconciliation.model_dump(),
            "recordkeeper": spec.recordkeeper.model_dump(),
            "confirmation_grouping": catalog.system(spec.recordkeeper.system).confirmation_grouping(),
        }
        with warehouse.registry(actor=actor, run_id=run_id) as conn:
            row = conn.execute(
                _UPSERT_ORG,
                {
                    "slug": slug,
                    "name": spec.name,
                    "payroll": spec.payroll.system,
                    "recordkeeper": spec.recordkeeper.system,
                    "template": spec.template,
                    "settings": json.dumps(settings, sort_keys=True),
                    "digest": tenant_digest(spec),
                    "active": spec.active,
                },
            ).first()
        if row is None:
            unchanged.append(slug)
        else:
            (created if row.inserted else updated).append(slug)
        tenant = warehouse.tenant_by_slug(slug)
        with warehouse.tenant(tenant, actor=actor, run_id=run_id) as conn:
            for plan in spec.plans:
                conn.execute(
                    _UPSERT_PLAN,
                    {
                        "org": tenant.id,
                        "code": plan.plan_code,
                        "rk": plan.recordkeeper_plan_id,
                        "name": plan.name,
                        "roth": plan.has_roth,
                        "participants": plan.participants_at_year_start,
                    },
                )
            keyring.ensure_keys(conn, tenant.id)
    with warehouse.registry(actor=actor, run_id=run_id) as conn:
        gone: list[str] = list(
            conn.execute(
                sa.text(
                    "UPDATE core.organizations SET is_active = false WHERE is_active AND NOT (slug = ANY(:slugs))"
                    " RETURNING slug"
                ),
                {"slugs": list(tenants)},
            )
            .scalars()
            .all()
        )
    return SyncReport(created, updated, unchanged, sorted(gone))


def seed_demo_users(warehouse: Warehouse, tenant: Tenant, *, actor: str) -> int:
    """An admin, a manager, a viewer and one soft-deleted former user per demo tenant."""
    users = [
        ("admin", "admin", None),
        ("manager", "manager", None),
        ("viewer", "viewer", None),
        ("former-ops", "user", "now()"),
    ]
    with warehouse.tenant(tenant, actor=actor) as conn:
        for username, role, deleted in users:
            conn.execute(
                sa.text(
                    "INSERT INTO core.users (organization_id, username, email, role, is_active, deleted_at)"
                    " VALUES (:org, :u, :e, :r, :active, " + ("now()" if deleted else "NULL") + ")"
                    " ON CONFLICT (organization_id, username) DO NOTHING"
                ),
                {
                    "org": tenant.id,
                    "u": username,
                    "e": f"{username}@{tenant.slug}.example",
                    "r": role,
                    "active": deleted is None,
                },
            )
    return len(users)
