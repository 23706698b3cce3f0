"""Recordkeeper confirmation files: what the recordkeeper posted, per participant, pay date and source.

A confirmation layout (in the recordkeeper's catalog) is read with the same readers and mapping engine
as payroll files, so a bad row becomes an error with its row number and the rest is loaded.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from synclinqs_pipelines.mapping import engine
from synclinqs_pipelines.mapping.canonical import SOURCE_CODES
from synclinqs_pipelines.mapping.engine import ROW
from synclinqs_pipelines.mapping.errors import MappingFileError
from synclinqs_pipelines.mapping.plan import MappingPlan, build_plan
from synclinqs_pipelines.mapping.readers import read_source
from synclinqs_pipelines.mapping.spec import (
    DirectRule,
    FieldSpec,
    LookupRule,
    Rule,
    SystemSpec,
    TransformationRule,
)
from synclinqs_pipelines.security.envelope import TenantCipher
from synclinqs_pipelines.warehouse.loader import copy_frame

CONFIRMED = SystemSpec(
    system="confirmation",
    display_name="Confirmed contribution",
    kind="canonical",
    verified=True,
    source="SyncLinqs",
    fields=[
        FieldSpec(name="ssn", type="ssn", required=True, pii=True, label="SSN"),
        FieldSpec(name="external_id", label="Employee ID"),
        FieldSpec(name="pay_date", type="date", required=True, label="Payroll Date"),
        FieldSpec(name="source_code", type="code", required=True, allowed=list(SOURCE_CODES), label="Source"),
        FieldSpec(name="amount_cents", type="money", required=True, label="Amount"),
        FieldSpec(name="deposit_date", type="date", required=True, label="Deposit Date"),
        FieldSpec(name="loan_number", label="Loan Number"),
    ],
)


def confirmation_system(recordkeeper: SystemSpec) -> SystemSpec:
    if recordkeeper.confirmation is None:
        raise MappingFileError(None, f"{recordkeeper.system} has no confirmation layout; confirmations cannot be read")
    return SystemSpec(
        system=f"{recordkeeper.system}_confirmation",
        display_name=f"{recordkeeper.display_name} confirmation",
        kind="recordkeeper",
        verified=recordkeeper.verified,
        source=recordkeeper.source,
        file=recordkeeper.confirmation.file,
        fields=recordkeeper.confirmation.fields,
    )


def confirmation_plan(recordkeeper: SystemSpec) -> MappingPlan:
    source = confirmation_system(recordkeeper)
    assert recordkeeper.confirmation is not None
    rules: dict[str, Rule] = {
        "ssn": DirectRule(type="direct", source="ssn"),
        "external_id": DirectRule(type="direct", source="employee_id"),
        "pay_date": DirectRule(type="direct", source="pay_date"),
        "source_code": LookupRule(type="lookup", source="source", values=dict(recordkeeper.confirmation.source_map)),
        "amount_cents": DirectRule(type="direct", source="amount"),
        "deposit_date": DirectRule(type="direct", source="deposit_date"),
        "loan_number": TransformationRule(type="transformation", source="loan_number", transforms=["trim_whitespace"]),
    }
    return build_plan(f"{recordkeeper.system}_confirmation", rules, source, CONFIRMED, None)


def read_confirmations(data: bytes, name: str, recordkeeper: SystemSpec) -> engine.MappingResult:
    frame = read_source(data, confirmation_system(recordkeeper), name)
    return engine.run(confirmation_plan(recordkeeper), frame)


def confirmation_pay_date(data: bytes, name: str, system: SystemSpec) -> dt.date:
    if system.confirmation is None:
        raise MappingFileError(name, f"{system.system} has no confirmation layout; confirmations cannot be read")
    result = read_confirmations(data, name, system)
    dates = [d for d in result.frame["pay_date"].to_list() if d is not None]
    if not dates:
        raise MappingFileError(name, "has no row with a valid payroll date; the file cannot be placed in a partition")
    return Counter(dates).most_common(1)[0][0]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ConfirmationLoad:
    rows: int
    amount_cents: int
    latest_deposit: dt.date | None


def load_confirmations(
    conn: sa.Connection, tenant_id: uuid.UUID, pay_date: dt.date, frame: pl.DataFrame, cipher: TenantCipher
) -> ConfirmationLoad:
    """Replace the partition's confirmations with `frame` (confirmed fields plus __file and ROW)."""
    rows = frame.filter(pl.col("pay_date") == pay_date)
    rows = rows.with_columns(pl.Series("bi", cipher.blind_index_many(rows["ssn"].to_list()), dtype=pl.Binary))
    conn.execute(
        sa.text("DELETE FROM core.recordkeeper_confirmations WHERE organization_id = :org AND pay_date = :pd"),
        {"org": tenant_id, "pd": pay_date},
    )
    conn.exec_driver_sql(
        "CREATE TEMP TABLE tmp_confirm (file_id uuid, source_row integer, external_id text, bi bytea,"
        " source_code text, loan_number text, amount_cents bigint, deposit_date date) ON COMMIT DROP"
    )
    copy_frame(
        conn,
        "tmp_confirm",
        rows.select(
            pl.col("__file").alias("file_id"),
            pl.col(ROW).alias("source_row"),
            "external_id",
            "bi",
            "source_code",
            "loan_number",
            "amount_cents",
            "deposit_date",
        ),
    )
    conn.execute(
        sa.text(
            "INSERT INTO core.recordkeeper_confirmations (organization_id, file_upload_id, source_row, pay_date,"
            " employee_external_id, ssn_blind_index, source_code, loan_number, amount_cents, deposit_date)"
            " SELECT :org, file_id, source_row, :pd, external_id, bi, source_code, loan_number, amount_cents, deposit_date"
            " FROM tmp_confirm"
        ),
        {"org": tenant_id, "pd": pay_date},
    )
    latest = rows["deposit_date"].max() if rows.height else None
    return ConfirmationLoad(rows.height, int(rows["amount_cents"].sum() or 0), latest)  # type: ignore[arg-type]
