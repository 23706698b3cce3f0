"""Recording a person's decision on a reconciliation item (it survives every rebuild of the marts)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from synclinqs_pipelines.warehouse.session import Tenant, Warehouse

ACTIONS = ("manual_review", "auto_corrected", "ignored")


class ResolutionError(ValueError):
    """The resolution cannot be recorded; the message says why."""


def record_resolution(
    warehouse: Warehouse, tenant: Tenant, item_id: str, action: str, note: str, *, actor: str
) -> uuid.UUID:
    if action not in ACTIONS:
        raise ResolutionError(f"action must be one of {', '.join(ACTIONS)}, not '{action}'")
    if len(item_id) != 32 or any(c not in "0123456789abcdef" for c in item_id):
        raise ResolutionError("an item id is the 32-character item_id of marts.fct_reconciliation_items")
    with warehouse.tenant(tenant, actor=actor) as conn:
        return conn.execute(  # type: ignore[no-any-return]
            sa.text(
                "INSERT INTO core.reconciliation_resolutions (organization_id, item_id, action, note, resolved_by)"
                " VALUES (:o, :i, :a, :n, :by) RETURNING id"
            ),
            {"o": tenant.id, "i": item_id, "a": action, "n": note, "by": actor},
        ).scalar_one()
