"""Create the SyncLinqs database and its roles: the one step that needs the cluster's administrator.

In production a DBA or the infrastructure code runs this once; locally `make run` and the test suite run
it against the embedded server. Nothing else in SyncLinqs connects as the administrator.
"""

from __future__ import annotations

import sqlalchemy as sa

from synclinqs_pipelines.warehouse.connection import (
    ROLE_ANALYST,
    ROLE_OWNER,
    ROLE_PIPELINE,
    ROLE_TRANSFORMER,
    Cluster,
)

_ROLE_ATTRIBUTES = {
    # CREATEROLE lets the owner add analyst login roles (`synclinqs analysts create`).
    ROLE_OWNER: "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB CREATEROLE NOREPLICATION",
    ROLE_PIPELINE: "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION",
    ROLE_TRANSFORMER: "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION",
    ROLE_ANALYST: "NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION",
}


def _quote(conn: sa.Connection, identifier: str) -> str:
    return str(conn.exec_driver_sql("SELECT quote_ident(%s)", (identifier,)).scalar_one())


def provision(cluster: Cluster) -> None:
    """Create roles and the database if missing; safe to run again."""
    engine = sa.create_engine(cluster.admin(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for role, attributes in _ROLE_ATTRIBUTES.items():
                exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
                verb = "ALTER" if exists else "CREATE"
                conn.exec_driver_sql(f"{verb} ROLE {role} {attributes}")
                password = cluster.passwords.get(role)
                if password:
                    conn.execute(sa.text(f"ALTER ROLE {role} PASSWORD :p"), {"p": password})
            conn.exec_driver_sql(f"GRANT {ROLE_ANALYST} TO {ROLE_OWNER} WITH ADMIN OPTION")
            db = _quote(conn, cluster.database)
            if not conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": cluster.database}
            ).first():
                conn.exec_driver_sql(f"CREATE DATABASE {db} OWNER {ROLE_OWNER} ENCODING 'UTF8' TEMPLATE template0")
            conn.exec_driver_sql(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC")
            conn.exec_driver_sql(f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {ROLE_PIPELINE}, {ROLE_TRANSFORMER}")
            conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {db} TO {ROLE_ANALYST}")
            # dbt creates its own schemas (staging and intermediate views, marts tables).
            conn.exec_driver_sql(f"GRANT CREATE ON DATABASE {db} TO {ROLE_TRANSFORMER}")
    finally:
        engine.dispose()


def drop_database(cluster: Cluster) -> None:
    """Drop the database (tests only; roles are shared by the cluster and stay)."""
    engine = sa.create_engine(cluster.admin(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            db = _quote(conn, cluster.database)
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    finally:
        engine.dispose()
