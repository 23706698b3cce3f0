"""Run plain SQL scripts inside an Alembic migration."""

from __future__ import annotations

import sqlalchemy as sa


def run_sql(bind: sa.Connection, sql: str) -> None:
    """Execute a multi-statement SQL script as written (no bind-parameter parsing of `:` or `%`)."""
    cursor = bind.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    finally:
        cursor.close()
