"""`synclinqs demo recordkeeper`: plays the recordkeeper, turning a tenant's exports into confirmations.

It reads each export file back with the recordkeeper's own layout, confirms every non-zero amount with a
deposit date a few business days after the pay date, and can inject seeded discrepancies: a participant
missing, an amount off by a few cents, an extra participant, a deposit made late.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from synclinqs_pipelines.mapping.readers import read_source
from synclinqs_pipelines.mapping.spec import SystemSpec
from synclinqs_pipelines.mapping.transforms import dollars_text

DISCREPANCIES = ("missing", "amount", "extra", "late")


@dataclass(frozen=True)
class Injected:
    kind: str
    ssn: str = field(repr=False)  # demo data; never printed
    detail: str


@dataclass
class Confirmation:
    data: bytes
    rows: int
    injected: list[Injected] = field(default_factory=list)


def read_export(data: bytes, system: SystemSpec) -> pl.DataFrame:
    """An export file of `system` read back into its destination fields (text), headers and trailers dropped."""
    layout = system.file
    assert layout is not None
    body = data
    if layout.trailer_record:
        body = b"\n".join(data.rstrip(b"\r\n").splitlines()[:-1]) + b"\n"
    skip = len(layout.preamble) + (1 if layout.header_record else 0)
    fields = [f for f in system.fields if f.constant is None]
    spec = system.model_copy(
        update={
            "file": layout.model_copy(update={"skip_rows": skip}),
            "fields": [f.model_copy(update={"required": False}) for f in fields],
        }
    )
    return read_source(body, spec, "export")


def _add_business_days(day: dt.date, n: int) -> dt.date:
    while n > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _parse_money(text: str | None, fixed: bool) -> int:
    if not text:
        return 0
    if fixed:
        return int(text.replace("-", "") or 0) * (-1 if text.startswith("-") else 1)
    whole, _, frac = text.replace(",", "").partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole or 0)) * 100 + int((frac + "00")[:2]))


def confirm_export(
    data: bytes,
    system: SystemSpec,
    pay_date: dt.date,
    *,
    seed: int = 0,
    inject: tuple[str, ...] = (),
    deposit_business_days: int = 2,
) -> Confirmation:
    assert system.confirmation is not None, f"{system.system} has no confirmation layout"
    fixed = system.file is not None and system.file.format == "fixed_width"
    frame = read_export(data, system)
    reverse = {}
    for label, code in system.confirmation.source_map.items():
        reverse.setdefault(code, label)
    money = [f for f in system.fields if f.type == "money" and f.sources]
    rows: list[dict[str, str]] = []
    deposit = _add_business_days(pay_date, deposit_business_days)
    for record in frame.iter_rows(named=True):
        ssn = "".join(ch for ch in (record.get("ssn") or "") if ch.isdigit())
        for f in money:
            cents = _parse_money(record.get(f.name), fixed)
            if cents == 0:
                continue
            number = system.loan_number_field(f) if "LOAN" in (f.sources or []) else None
            loan = record.get(number.name) if number is not None else None
            rows.append(
                {
                    "PLAN NUMBER": record.get("plan_number") or "",
                    "SSN": f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}",
                    "EMPLOYEE ID": record.get("employee_id") or "",
                    "PAYROLL DATE": pay_date.strftime("%m/%d/%Y"),
                    "SOURCE": reverse[(f.sources or ["PRETAX"])[0]],
                    "AMOUNT": dollars_text(cents),
                    "DEPOSIT DATE": deposit.strftime("%m/%d/%Y"),
                    "LOAN NUMBER": loan or "",
                }
            )
    rng = random.Random(seed)
    injected: list[Injected] = []
    people = sorted({r["SSN"] for r in rows})
    for kind in inject:
        if kind == "missing" and people:
            gone = rng.choice(people)
            people.remove(gone)
            rows = [r for r in rows if r["SSN"] != gone]
            injected.append(Injected(kind, gone, "every source of one participant left out"))
        elif kind == "amount" and rows:
            row = rng.choice([r for r in rows if r["SSN"] in people])
            cents = _parse_money(row["AMOUNT"], False) + rng.choice([-3, -2, 2, 3])
            row["AMOUNT"] = dollars_text(cents)
            injected.append(Injected(kind, row["SSN"], f"one {row['SOURCE']} amount off by a few cents"))
        elif kind == "extra":
            ssn = f"7{rng.randint(10, 99)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
            rows.append(
                {
                    **rows[0],
                    "SSN": ssn,
                    "EMPLOYEE ID": "UNKNOWN",
                    "AMOUNT": "12.34",
                    "SOURCE": reverse["PRETAX"],
                    "LOAN NUMBER": "",
                }
            )
            injected.append(Injected(kind, ssn, "a participant the export did not have"))
        elif kind == "late":
            # Past the 15th business day of the next month, whatever the plan's size.
            late = _add_business_days(pay_date, 40).strftime("%m/%d/%Y")
            for r in rows:
                r["DEPOSIT DATE"] = late
            injected.append(Injected(kind, "", "deposited 40 weekdays after the pay date"))
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf,
        fieldnames=[
            "PLAN NUMBER",
            "SSN",
            "EMPLOYEE ID",
            "PAYROLL DATE",
            "SOURCE",
            "AMOUNT",
            "DEPOSIT DATE",
            "LOAN NUMBER",
        ],
        lineterminator="\r\n",
    )
    writer.writeheader()
    writer.writerows(rows)
    return Confirmation(buf.getvalue().encode(), len(rows), injected)


def write_confirmation(inbox: Path, tenant: str, pay_date: dt.date, confirmation: Confirmation) -> Path:
    folder = inbox / tenant / "confirmations"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"confirmation_{pay_date:%Y%m%d}.csv"
    tmp = folder / f".{target.name}.part"
    tmp.write_bytes(confirmation.data)
    tmp.replace(target)
    return target
