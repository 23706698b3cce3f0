"""Analyst login roles and their tenant grants, managed by the owner role (never a superuser)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from synclinqs_pipelines.warehouse.connection import ROLE_ANALYST, ROLE_OWNER, Cluster, engine_for

_ROLE = re.compile(r"^[a-z][a-z0-9_]{2,62}$")


class AnalystError(ValueError):
    """The analyst role or grant cannot be made; the message says what to change."""


def create_analyst(cluster: Cluster, role: str, password: str | None = None) -> None:
    if not _ROLE.match(role) or role.startswith("synclinqs_"):
        raise AnalystError("an analyst role name is lowercase letters, digits and _, not starting with synclinqs_")
    with engine_for(cluster, ROLE_OWNER).begin() as conn:
        if conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
            raise AnalystError(f"role {role} already exists")
        conn.exec_driver_sql(
            f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE IN ROLE {ROLE_ANALYST}"
        )
        if password:
            conn.execute(sa.text(f"ALTER ROLE {role} PASSWORD :p"), {"p": password})


def grant_tenants(cluster: Cluster, role: str, slugs: list[str]) -> int:
    with engine_for(cluster, ROLE_OWNER).begin() as conn:
        if not conn.execute(sa.text("SELECT pg_has_role(:r, :g, 'MEMBER')"), {"r": role, "g": ROLE_ANALYST}).scalar():
            raise AnalystError(f"{role} is not an analyst role; create it with `synclinqs analysts create {role}`")
        count = 0
        for slug in slugs:
            org = conn.execute(sa.text("SELECT id FROM core.organizations WHERE slug = :s"), {"s": slug}).scalar()
            if org is None:
                raise AnalystError(f"no tenant '{slug}'")
            count += conn.execute(
                sa.text(
                    "INSERT INTO core.analyst_grants (organization_id, role_name) VALUES (:o, :r) ON CONFLICT DO NOTHING"
                ),
                {"o": org, "r": role},
            ).rowcount
    return count


def drop_analyst(cluster: Cluster, role: str) -> None:
    with engine_for(cluster, ROLE_OWNER).begin() as conn:
        conn.execute(sa.text("DELETE FROM core.analyst_grants WHERE role_name = :r"), {"r": role})
        # Analysts own nothing and hold privileges only through synclinqs_analyst.
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
