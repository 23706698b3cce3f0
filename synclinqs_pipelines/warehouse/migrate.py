"""Versioned migrations (Alembic), run as the owner role by one command: `synclinqs db migrate`."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from synclinqs_pipelines.warehouse.connection import ROLE_OWNER, Cluster

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(cluster: Cluster) -> str | None:
    engine = sa.create_engine(cluster.url_for(ROLE_OWNER), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade(cluster: Cluster, target: str = "head") -> str:
    """Bring the warehouse to `target`; returns the revision it is at afterwards."""
    engine = sa.create_engine(cluster.url_for(ROLE_OWNER), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), target)
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    return revision or ""
