"""Tenant-scoped transactions: the one way pipeline code reaches tenant tables.

The tenant, the actor and the run are set with `set_config(..., true)`, which lasts until the end of
the transaction. A pooled connection handed to the next caller therefore carries no tenant, and the
policies give it zero rows until it sets its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from synclinqs_pipelines.warehouse.connection import ROLE_PIPELINE, Cluster, engine_for

_SET_CONTEXT = sa.text(
    "SELECT set_config('app.current_organization_id', :org, true),"
    " set_config('app.actor', :actor, true),"
    " set_config('app.run_id', :run, true)"
)


class UnknownTenantError(LookupError):
    """No organization has this slug; sync the tenant files (`synclinqs tenants sync`) first."""


@dataclass(frozen=True)
class Tenant:
    id: uuid.UUID
    slug: str


@dataclass(frozen=True)
class Warehouse:
    """The warehouse as the pipeline sees it: pipeline role, tenant context per transaction."""

    cluster: Cluster

    @property
    def engine(self) -> sa.Engine:
        return engine_for(self.cluster, ROLE_PIPELINE)

    @contextmanager
    def tenant(self, tenant: Tenant | uuid.UUID, *, actor: str, run_id: str | None = None) -> Iterator[sa.Connection]:
        """A transaction whose every statement sees only `tenant`'s rows; commits on success."""
        org_id = tenant.id if isinstance(tenant, Tenant) else tenant
        with self.engine.begin() as conn:
            conn.execute(_SET_CONTEXT, {"org": str(org_id), "actor": actor, "run": run_id or ""})
            yield conn

    @contextmanager
    def registry(self, *, actor: str, run_id: str | None = None) -> Iterator[sa.Connection]:
        """A transaction with no tenant: the organizations registry and audit events only."""
        with self.engine.begin() as conn:
            conn.execute(_SET_CONTEXT, {"org": "", "actor": actor, "run": run_id or ""})
            yield conn

    def tenant_by_slug(self, slug: str) -> Tenant:
        with self.registry(actor="lookup") as conn:
            row = conn.execute(
                sa.text("SELECT id FROM core.organizations WHERE slug = :s AND deleted_at IS NULL"), {"s": slug}
            ).first()
        if row is None:
            raise UnknownTenantError(
                f"no tenant '{slug}' in the warehouse; add mapping_specs/tenants/{slug}.yaml and run "
                "`synclinqs tenants sync`"
            )
        return Tenant(id=row[0], slug=slug)

    def record_event(
        self, event: str, organization_id: uuid.UUID | None, details: dict[str, object], *, actor: str
    ) -> None:
        """Append a non-table event (login, upload, refusal) to the audit chain. No PII in `details`."""
        import json

        ctx = self.tenant(organization_id, actor=actor) if organization_id else self.registry(actor=actor)
        with ctx as conn:
            conn.execute(
                sa.text("SELECT audit.record_event(:e, :o, CAST(:d AS jsonb))"),
                {"e": event, "o": organization_id, "d": json.dumps(details, default=str, sort_keys=True)},
            )
