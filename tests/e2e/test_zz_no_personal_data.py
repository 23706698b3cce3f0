"""After the end-to-end suite: no SSN, name or birth date of the demo data in Dagster's storage, the logs,
the error queue, notifications, file records or the audit log.

Named to run last in the e2e folder. Exports (which must carry the data), the inbox and quarantine (the
files as delivered) are not scanned; archives and stored frames are encrypted.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from synclinqs_pipelines.demo.generate import DEMO_TENANTS, make_people
from synclinqs_pipelines.warehouse.connection import ROLE_OWNER, engine_for
from tests.conftest import LOG_FILE, STATE

pytestmark = pytest.mark.e2e


def personal_data() -> tuple[re.Pattern[bytes], list[bytes]]:
    ssns, texts = set(), set()
    for tenant in DEMO_TENANTS:
        for p in make_people(tenant.seed, tenant.employees, tenant.has_roth):
            ssns.add(p.ssn)
            texts.update(
                {
                    f"{p.ssn[:3]}-{p.ssn[3:5]}-{p.ssn[5:]}",
                    f"{p.first_name} {p.last_name}",
                    f"{p.last_name}, {p.first_name}",
                }
            )
            if p.birth_date.year < 2000:
                texts.update({p.birth_date.strftime("%m/%d/%Y"), p.birth_date.isoformat()})
    digits = re.compile(rb"(?<![0-9])(" + b"|".join(s.encode() for s in sorted(ssns)) + rb")(?![0-9])")
    return digits, sorted(t.encode() for t in texts)


def find(blob: bytes, digits: re.Pattern[bytes], texts: list[bytes]) -> list[str]:
    hits = [m.group(0).decode()[:3] + "******" for m in digits.finditer(blob)]
    hits += [t.decode()[:3] + "..." for t in texts if t in blob]
    return hits


def test_no_personal_data_in_dagster_storage_logs_or_queues(demo, warehouse, cluster):
    digits, texts = personal_data()
    scanned = {}
    for root in (STATE / "dagster_events", STATE / "dagster_home", STATE / "storage"):
        for path in root.rglob("*"):
            if path.is_file():
                scanned[str(path)] = find(path.read_bytes(), digits, texts)
    scanned[str(LOG_FILE)] = find(LOG_FILE.read_bytes(), digits, texts)
    assert any(p.endswith(".db") for p in scanned), "Dagster's event storage was found and read"
    assert LOG_FILE.stat().st_size > 1_000, "the session's log was captured"

    queries = [
        "SELECT coalesce(field, '') || ' ' || message FROM core.error_queue",
        "SELECT title || ' ' || message FROM core.notifications",
        "SELECT file_name || ' ' || coalesce(status_reason, '') FROM core.file_uploads",
        "SELECT coalesce(errors_by_code::text, '') FROM core.mapping_execution_logs",
    ]
    rows = 0
    for tenant in DEMO_TENANTS:
        with warehouse.tenant(warehouse.tenant_by_slug(tenant.slug), actor="test") as conn:
            for query in queries:
                for (text,) in conn.execute(sa.text(query)):
                    rows += 1
                    scanned[f"{tenant.slug}: {query[:40]}"] = scanned.get(f"{tenant.slug}: {query[:40]}", []) + find(
                        text.encode(), digits, texts
                    )
    with engine_for(cluster, ROLE_OWNER).connect() as conn:
        audit = conn.execute(
            sa.text("SELECT details::text || array_to_string(changed_columns, ',') FROM audit.audit_logs")
        )
        scanned["audit.audit_logs"] = [h for (text,) in audit for h in find(text.encode(), digits, texts)]
    assert rows > 50, "the queues were read"
    leaks = {where: hits for where, hits in scanned.items() if hits}
    assert leaks == {}
