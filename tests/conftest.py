"""Shared fixtures. The environment is set before any SyncLinqs module reads it.

Every test session gets its own state directory and its own database: the embedded PostgreSQL in a
temporary directory by default, or a fresh database on the server named by SYNCLINQS_TEST_DATABASE_URL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

STATE = Path(tempfile.mkdtemp(prefix="synclinqs-test-"))
os.environ["SYNCLINQS_STATE_DIR"] = str(STATE)
os.environ["DAGSTER_HOME"] = str(STATE / "dagster_home")
os.environ["DO_NOT_TRACK"] = "1"
os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"
os.environ["SYNCLINQS_EXPORT_FILE_DATE"] = "2026-02-09"
os.environ.pop("SYNCLINQS_KEY_PROVIDER", None)
(STATE / "dagster_home").mkdir(parents=True, exist_ok=True)
(STATE / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

# Everything logged during the session, to be scanned for personal data by the last end-to-end test.
import logging  # noqa: E402

LOG_FILE = STATE / "python.log"
_handler = logging.FileHandler(LOG_FILE, encoding="utf-8")
_handler.setLevel(logging.DEBUG)
for _name in ("", "dagster", "synclinqs_pipelines"):
    logging.getLogger(_name).addHandler(_handler)
logging.getLogger().setLevel(logging.DEBUG)

EXTERNAL = os.environ.get("SYNCLINQS_TEST_DATABASE_URL")
if EXTERNAL:
    from sqlalchemy.engine import make_url

    TEST_DB = f"synclinqs_test_{uuid.uuid4().hex[:8]}"
    os.environ["SYNCLINQS_DATABASE_URL"] = (
        make_url(EXTERNAL).set(database=TEST_DB).render_as_string(hide_password=False)
    )
else:
    os.environ.pop("SYNCLINQS_DATABASE_URL", None)
    os.environ["SYNCLINQS_PGDATA"] = str(STATE / "pgdata")


@pytest.fixture(scope="session")
def cluster() -> Iterator[object]:
    from synclinqs_pipelines.warehouse.connection import cluster_from_url, dispose_engines, embedded_cluster
    from synclinqs_pipelines.warehouse.migrate import upgrade
    from synclinqs_pipelines.warehouse.provision import drop_database, provision

    if EXTERNAL:
        c = cluster_from_url(os.environ["SYNCLINQS_DATABASE_URL"])
    else:
        c = embedded_cluster(STATE / "pgdata", cleanup_mode="delete")
    provision(c)
    upgrade(c)
    yield c
    dispose_engines()
    if EXTERNAL:
        drop_database(c)


@pytest.fixture(scope="session")
def warehouse(cluster: object) -> object:
    from synclinqs_pipelines.warehouse.session import Warehouse

    return Warehouse(cluster)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def keyring() -> object:
    from synclinqs_pipelines.security.key_providers import provider_from_settings
    from synclinqs_pipelines.security.keyring import KeyRing

    return KeyRing(provider_from_settings())


@pytest.fixture
def make_tenant(warehouse: object, keyring: object):  # type: ignore[no-untyped-def]
    """Create a fresh tenant (organization, one plan, keys) with a unique slug."""
    import sqlalchemy as sa

    from synclinqs_pipelines.warehouse.session import Warehouse

    wh: Warehouse = warehouse  # type: ignore[assignment]

    def make(prefix: str = "t", plan_code: str = "401K", has_roth: bool = True):  # type: ignore[no-untyped-def]
        slug = f"{prefix}-{uuid.uuid4().hex[:8]}"
        with wh.registry(actor="test") as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO core.organizations (slug, name, payroll_system, recordkeeper_system, template)"
                    " VALUES (:s, :n, 'adp_workforce_now', 'fidelity', 'adp_to_fidelity')"
                ),
                {"s": slug, "n": f"Test {slug}"},
            )
        tenant = wh.tenant_by_slug(slug)
        with wh.tenant(tenant, actor="test") as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO core.plans (organization_id, plan_code, name, has_roth)"
                    " VALUES (:o, :c, 'Test plan', :r)"
                ),
                {"o": tenant.id, "c": plan_code, "r": has_roth},
            )
            keyring.ensure_keys(conn, tenant.id)  # type: ignore[attr-defined]
        return tenant

    return make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from synclinqs_pipelines.warehouse.connection import dispose_engines, stop_embedded

    dispose_engines()
    if not EXTERNAL:
        # Directly, not through the pgserver handle: a test kills a worker process on purpose, and the
        # handle would then wait for that process's (never coming) release before stopping the server.
        stop_embedded(STATE / "pgdata")
    shutil.rmtree(STATE, ignore_errors=True)
