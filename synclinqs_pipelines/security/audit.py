"""Verification of the hash-chained audit log (`synclinqs audit verify`)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

_ROWS = sa.text(
    """
    SELECT id, prev_hash, entry_hash,
           audit.entry_digest(prev_hash, id, occurred_at, actor, run_id, organization_id, table_name,
                              operation, row_count, row_ids, changed_columns, details) AS recomputed
      FROM audit.audit_logs
     ORDER BY id
    """
)


@dataclass(frozen=True)
class ChainReport:
    entries_checked: int
    first_broken_id: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def verify_chain(conn: sa.Connection) -> ChainReport:
    """Walk the chain in id order; report the first entry whose digest or link does not hold."""
    previous: bytes | None = None
    checked = 0
    result = conn.execution_options(stream_results=True, yield_per=10_000).execute(_ROWS)
    for row in result:
        entry_id: int = row[0]
        prev_hash: bytes | None = row[1]
        entry_hash: bytes = row[2]
        recomputed: bytes = row[3]
        checked += 1
        prev = bytes(prev_hash) if prev_hash is not None else None
        if prev != previous:
            return ChainReport(checked, entry_id, "link broken: prev_hash does not match the entry before it")
        if bytes(recomputed) != bytes(entry_hash):
            return ChainReport(checked, entry_id, "content changed: stored digest does not match the entry")
        previous = bytes(entry_hash)
    return ChainReport(checked, None, None)
