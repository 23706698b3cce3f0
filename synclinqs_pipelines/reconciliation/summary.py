"""After a dbt build: the reconciliation summary per tenant, and notifications where people must act."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import sqlalchemy as sa

from synclinqs_pipelines.warehouse.connection import ROLE_TRANSFORMER, Cluster, engine_for
from synclinqs_pipelines.warehouse.session import Tenant, Warehouse


def dbt_environment(cluster: Cluster) -> dict[str, str]:
    """The variables dbt_project/profiles.yml reads: the transformer role on the configured server."""
    p = cluster.libpq_params(ROLE_TRANSFORMER)
    return {
        "SYNCLINQS_DBT_HOST": str(p["host"]),
        "SYNCLINQS_DBT_PORT": str(p["port"]),
        "SYNCLINQS_DBT_USER": ROLE_TRANSFORMER,
        "SYNCLINQS_DBT_PASSWORD": str(p["password"]),
        "SYNCLINQS_DBT_DBNAME": str(p["dbname"]),
        "DO_NOT_TRACK": "1",
    }


def set_dbt_environment(cluster: Cluster) -> None:
    os.environ.update(dbt_environment(cluster))


@dataclass(frozen=True)
class DaySummary:
    tenant: str
    reconciliation_date: dt.date
    status: str
    expected_cents: int
    confirmed_cents: int
    absolute_variance_cents: int
    items_open: int
    over_threshold: bool


@dataclass(frozen=True)
class LateDeposit:
    tenant: str
    pay_date: dt.date
    deposit_date: dt.date
    business_days: int


def read_summary(cluster: Cluster, tenant: str | None = None) -> tuple[list[DaySummary], list[LateDeposit]]:
    """The daily report and late deposits, read as the transformer (which sees every tenant's marts)."""
    where = "WHERE d.tenant_slug = :t" if tenant else ""
    with engine_for(cluster, ROLE_TRANSFORMER).connect() as conn:
        days = [
            DaySummary(
                r.tenant_slug,
                r.reconciliation_date,
                r.status,
                int(r.expected_cents),
                int(r.confirmed_cents),
                int(r.absolute_variance_cents),
                int(r.items_total - r.items_matched - r.items_resolved),
                bool(r.is_over_threshold),
            )
            for r in conn.execute(
                sa.text(
                    f"SELECT * FROM marts.rpt_reconciliation_daily d {where} ORDER BY tenant_slug, reconciliation_date"
                ),
                {"t": tenant},
            )
        ]
        late = [
            LateDeposit(r.slug, r.pay_date, r.deposit_date, int(r.business_days_to_deposit))
            for r in conn.execute(
                sa.text(
                    "SELECT o.slug, t.pay_date, t.deposit_date, t.business_days_to_deposit"
                    " FROM marts.rpt_deposit_timeliness t JOIN core.organizations o ON o.id = t.organization_id"
                    f" WHERE t.is_late {'AND o.slug = :t' if tenant else ''} ORDER BY o.slug, t.pay_date"
                ),
                {"t": tenant},
            )
        ]
    return days, late


def notify(warehouse: Warehouse, tenant: Tenant, days: list[DaySummary], late: list[LateDeposit], *, actor: str) -> int:
    """A notification per day over the variance threshold and per late deposit; each raised once."""
    rows = []
    for d in days:
        if d.tenant == tenant.slug and d.over_threshold and d.status == "discrepancies":
            rows.append(
                (
                    "warning",
                    "reconciliation_variance",
                    f"Reconciliation variance for {d.reconciliation_date}",
                    f"{d.items_open} item(s) open; absolute variance {d.absolute_variance_cents / 100:,.2f}. "
                    "See marts.fct_reconciliation_items and record a resolution with `synclinqs recon resolve`.",
                    f"partition/{tenant.slug}|{d.reconciliation_date}",
                    f"variance:{d.reconciliation_date}:{d.absolute_variance_cents}",
                )
            )
    for item in late:
        if item.tenant == tenant.slug:
            rows.append(
                (
                    "critical",
                    "late_deposit",
                    f"Late deposit for pay date {item.pay_date}",
                    f"Deposited {item.deposit_date}, {item.business_days} business days after the pay date; "
                    "correct with lost earnings and report on Form 5500 (Schedule H line 4a / SF line 10a).",
                    f"partition/{tenant.slug}|{item.pay_date}",
                    f"late:{item.pay_date}:{item.deposit_date}",
                )
            )
    created = 0
    with warehouse.tenant(tenant, actor=actor) as conn:
        for severity, kind, title, message, link, key in rows:
            created += conn.execute(
                sa.text(
                    "INSERT INTO core.notifications (organization_id, severity, kind, title, message, link, dedupe_key)"
                    " VALUES (:o, :s, :k, :t, :m, :l, :d) ON CONFLICT DO NOTHING"
                ),
                {"o": tenant.id, "s": severity, "k": kind, "t": title, "m": message, "l": link, "d": key},
            ).rowcount
    return created
