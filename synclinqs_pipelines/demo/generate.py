"""Synthetic payroll files for the demo tenants: seeded, reproducible, realistic enough to exercise rules.

Every tenant gets a few hundred employees over several biweekly pay dates, including people of catch-up
age (50+ and 60-63), loan repayments, a terminated employee still paid after termination, high earners
under the 2026 Roth catch-up rule (one contributing catch-up as Roth, one wrongly as pre-tax), and a few
deliberately bad rows. The names are drawn from short lists and the SSNs from the 7xx area, so nothing
here is a real person.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

FIRST = [
    "Avery",
    "Jordan",
    "Morgan",
    "Riley",
    "Casey",
    "Taylor",
    "Quinn",
    "Rowan",
    "Emerson",
    "Harper",
    "Parker",
    "Reese",
    "Sawyer",
    "Finley",
    "Hayden",
    "Kendall",
    "Logan",
    "Marley",
    "Peyton",
    "Skyler",
    "Dakota",
    "Elliot",
    "Jamie",
    "Kai",
    "Lennon",
    "Micah",
    "Noel",
    "Oakley",
    "Remy",
    "Sage",
]
LAST = [
    "Alder",
    "Birchwood",
    "Calloway",
    "Dunmore",
    "Ellery",
    "Fairbanks",
    "Garrison",
    "Holloway",
    "Ingram",
    "Jessup",
    "Kingsley",
    "Langford",
    "Merriweather",
    "Northcott",
    "Oakhurst",
    "Pemberton",
    "Quimby",
    "Radcliffe",
    "Stanhope",
    "Thorne",
    "Underhill",
    "Vance",
    "Whitlock",
    "Yardley",
    "Zeller",
    "O'Donnell",
    "García",
    "Nguyen-Park",
    "St. Clair",
    "MacAllister",
]
STREETS = ["Maple Ave", "Oak St", "Cedar Ln", "Pine Rd", "Elm Ct", "Birch Way", "Willow Dr", "Spruce Pl"]
CITIES = [
    ("Springfield", "IL", "62701"),
    ("Madison", "WI", "53703"),
    ("Columbus", "OH", "43215"),
    ("Boise", "ID", "83702"),
    ("Raleigh", "NC", "27601"),
    ("Denver", "CO", "80202"),
]

DEFAULT_PAY_DATES = (dt.date(2026, 1, 9), dt.date(2026, 1, 23), dt.date(2026, 2, 6))


@dataclass
class Person:
    external_id: str
    ssn: str
    first_name: str
    middle_name: str | None
    last_name: str
    birth_date: dt.date
    hire_date: dt.date
    termination_date: dt.date | None
    address_line1: str
    city: str
    state: str
    postal_code: str
    email: str
    annual_salary_cents: int
    prior_year_fica_cents: int
    pretax_pct: float
    roth_pct: float
    catch_up_cents: int = 0
    catch_up_as_roth: bool = False
    loans: list[tuple[str, int]] = field(default_factory=list)


def _ssn(rng: random.Random, used: set[str]) -> str:
    while True:
        value = f"7{rng.randint(0, 99):02d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        if value not in used:
            used.add(value)
            return value


def _age_birth(rng: random.Random, age_at_end_of_2026: int) -> dt.date:
    return dt.date(2026 - age_at_end_of_2026, rng.randint(1, 12), rng.randint(1, 28))


def make_people(seed: int, count: int, plan_has_roth: bool = True) -> list[Person]:
    rng = random.Random(seed)
    used: set[str] = set()
    people = []
    for i in range(count):
        age = rng.randint(22, 66)
        salary = rng.randrange(38_000_00, 180_000_00, 100)
        person = Person(
            external_id=f"E{seed % 1000:03d}{i:05d}",
            ssn=_ssn(rng, used),
            first_name=rng.choice(FIRST),
            middle_name=rng.choice([None, "A", "B", "Lee", "Marie", "J"]),
            last_name=rng.choice(LAST),
            birth_date=_age_birth(rng, age),
            hire_date=dt.date(rng.randint(2005, 2025), rng.randint(1, 12), rng.randint(1, 28)),
            termination_date=None,
            address_line1=f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
            city="",
            state="",
            postal_code="",
            email=f"employee{i}@example.com",
            annual_salary_cents=salary,
            prior_year_fica_cents=int(salary * rng.uniform(0.9, 1.05)),
            pretax_pct=rng.choice([0.03, 0.04, 0.05, 0.06, 0.08, 0.10]),
            roth_pct=rng.choice([0.0, 0.0, 0.02, 0.03]) if plan_has_roth else 0.0,
        )
        person.city, person.state, person.postal_code = rng.choice(CITIES)
        high_earner = person.prior_year_fica_cents > 150_000_00
        if age >= 50 and rng.random() < 0.5 and (plan_has_roth or not high_earner):
            person.catch_up_cents = rng.choice([100_00, 200_00, 250_00])
            # A payroll that follows the 2026 rule sends a high earner's catch-up as Roth.
            person.catch_up_as_roth = high_earner
        if rng.random() < 0.12:
            person.loans.append((f"{rng.randint(100, 999)}", rng.randrange(50_00, 300_00, 1)))
            if rng.random() < 0.3:
                person.loans.append((f"{rng.randint(100, 999)}", rng.randrange(40_00, 150_00, 1)))
        people.append(person)
    # The cases the rules are about, at fixed positions so tests can find them.
    for p in people[:2]:
        p.annual_salary_cents, p.prior_year_fica_cents, p.catch_up_as_roth = 95_000_00, 92_000_00, False
    people[0].birth_date = dt.date(1974, 6, 15)  # 52 in 2026: regular catch-up
    people[0].catch_up_cents = 300_00
    people[1].birth_date = dt.date(1964, 3, 2)  # 62 in 2026: the 60-63 super catch-up
    people[1].catch_up_cents = 432_69
    people[2].birth_date = dt.date(1968, 9, 30)  # high earner: catch-up must be Roth from 2026
    people[2].annual_salary_cents = 260_000_00
    people[2].prior_year_fica_cents = 210_000_00
    people[2].catch_up_cents = 300_00 if plan_has_roth else 0
    people[2].catch_up_as_roth = True
    people[3].termination_date = DEFAULT_PAY_DATES[1] - dt.timedelta(days=3)
    people[4].loans = [("501", 125_37), ("502", 80_00)]
    people[5].birth_date = dt.date(1971, 1, 20)  # high earner making pre-tax catch-up: refused in 2026
    people[5].annual_salary_cents = 190_000_00
    people[5].prior_year_fica_cents = 175_000_00
    people[5].catch_up_cents = 250_00
    people[5].catch_up_as_roth = False
    return people


def period_row(p: Person, pay_date: dt.date, plan_code: str, periods_per_year: int = 26) -> dict[str, Any]:
    gross = p.annual_salary_cents // periods_per_year
    pretax = round(gross * p.pretax_pct)
    roth = round(gross * p.roth_pct)
    match = round(min(p.pretax_pct + p.roth_pct, 0.06) * gross * 0.5)
    row: dict[str, Any] = {
        "external_id": p.external_id,
        "ssn": p.ssn,
        "first_name": p.first_name,
        "middle_name": p.middle_name,
        "last_name": p.last_name,
        "birth_date": p.birth_date,
        "hire_date": p.hire_date,
        "rehire_date": None,
        "termination_date": p.termination_date,
        "employment_status": "T" if p.termination_date and p.termination_date <= pay_date else "A",
        "address_line1": p.address_line1,
        "address_line2": None,
        "city": p.city,
        "state": p.state,
        "postal_code": p.postal_code,
        "email": p.email,
        "plan_code": plan_code,
        "pay_date": pay_date,
        "period_start_date": pay_date - dt.timedelta(days=13),
        "period_end_date": pay_date,
        "pay_frequency": "B",
        "gross_pay_cents": gross,
        "plan_compensation_cents": gross,
        "hours": 80.0,
        "prior_year_fica_cents": p.prior_year_fica_cents,
        "pretax_pct": p.pretax_pct,
        "roth_pct": p.roth_pct,
        "pretax_cents": pretax,
        "roth_cents": roth,
        "catchup_pretax_cents": 0 if p.catch_up_as_roth else p.catch_up_cents,
        "catchup_roth_cents": p.catch_up_cents if p.catch_up_as_roth else 0,
        "match_cents": match,
        "safe_harbor_match_cents": 0,
        "safe_harbor_nec_cents": 0,
        "profit_sharing_cents": 0,
        "loan_1_number": p.loans[0][0] if p.loans else None,
        "loan_1_cents": p.loans[0][1] if p.loans else 0,
        "loan_2_number": p.loans[1][0] if len(p.loans) > 1 else None,
        "loan_2_cents": p.loans[1][1] if len(p.loans) > 1 else 0,
    }
    return row


# ---- text encoders per payroll system ----------------------------------------------------------------


def _money(c: int | None, commas: bool = True) -> str:
    if c is None:
        return ""
    sign = "-" if c < 0 else ""
    whole, cents = divmod(abs(c), 100)
    return f"{sign}{whole:,}.{cents:02d}" if commas else f"{sign}{whole}.{cents:02d}"


def _us(d: dt.date | None) -> str:
    return d.strftime("%m/%d/%Y") if d else ""


def _iso(d: dt.date | None) -> str:
    return d.isoformat() if d else ""


def _pct(x: float) -> str:
    return f"{x * 100:g}"


def _dash(ssn: str) -> str:
    return f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}"


Encoder = dict[str, Callable[[dict[str, Any]], Any]]

ADP: Encoder = {
    "Company Code": lambda r: "ACM",
    "File Number": lambda r: r["external_id"],
    "Tax ID": lambda r: _dash(r["ssn"]),
    "Last Name": lambda r: r["last_name"],
    "First Name": lambda r: r["first_name"],
    "Middle Name": lambda r: r["middle_name"] or "",
    "Birth Date": lambda r: _us(r["birth_date"]),
    "Hire Date": lambda r: _us(r["hire_date"]),
    "Rehire Date": lambda r: _us(r["rehire_date"]),
    "Termination Date": lambda r: _us(r["termination_date"]),
    "Position Status": lambda r: r["employment_status"],
    "Pay Date": lambda r: _us(r["pay_date"]),
    "Period Start Date": lambda r: _us(r["period_start_date"]),
    "Period End Date": lambda r: _us(r["period_end_date"]),
    "Pay Frequency": lambda r: r["pay_frequency"],
    "Gross Pay": lambda r: _money(r["gross_pay_cents"]),
    "401K Eligible Wages": lambda r: _money(r["plan_compensation_cents"]),
    "Hours Worked": lambda r: f"{r['hours']:.2f}",
    "401K": lambda r: _money(r["pretax_cents"]),
    "Roth 401K": lambda r: _money(r["roth_cents"]),
    "401K Catch Up": lambda r: _money(r["catchup_pretax_cents"]),
    "Roth Catch Up": lambda r: _money(r["catchup_roth_cents"]),
    "401K Loan 1": lambda r: _money(r["loan_1_cents"]),
    "401K Loan 2": lambda r: _money(r["loan_2_cents"]),
    "Employer Match": lambda r: _money(r["match_cents"]),
    "Safe Harbor Match": lambda r: _money(r["safe_harbor_match_cents"]),
    "401K Deferral %": lambda r: _pct(r["pretax_pct"]),
    "Roth Deferral %": lambda r: _pct(r["roth_pct"]),
    "Prior Year FICA Wages": lambda r: _money(r["prior_year_fica_cents"]),
    "Plan Code": lambda r: r["plan_code"],
}

PAYCHEX: Encoder = {
    "Client ID": lambda r: "70012345",
    "Employee ID": lambda r: r["external_id"],
    "SSN": lambda r: _dash(r["ssn"]),
    "Last Name": lambda r: r["last_name"],
    "First Name": lambda r: r["first_name"],
    "Middle Initial": lambda r: (r["middle_name"] or "")[:1],
    "Address Line 1": lambda r: r["address_line1"],
    "Address Line 2": lambda r: "",
    "City": lambda r: r["city"],
    "State": lambda r: r["state"],
    "Zip Code": lambda r: r["postal_code"],
    "Email": lambda r: r["email"],
    "Date of Birth": lambda r: r["birth_date"],
    "Date of Hire": lambda r: r["hire_date"],
    "Date of Rehire": lambda r: r["rehire_date"],
    "Date of Termination": lambda r: r["termination_date"],
    "Employee Status": lambda r: {"A": "Active", "T": "Terminated", "L": "Leave"}[r["employment_status"]],
    "Check Date": lambda r: r["pay_date"],
    "Pay Period Begin": lambda r: r["period_start_date"],
    "Pay Period End": lambda r: r["period_end_date"],
    "Pay Frequency": lambda r: "Biweekly",
    "Gross Wages": lambda r: _money(r["gross_pay_cents"], commas=False),
    "401k Compensation": lambda r: _money(r["plan_compensation_cents"], commas=False),
    "Hours": lambda r: f"{r['hours']:.2f}",
    "401k Pre-Tax": lambda r: _money(r["pretax_cents"], commas=False),
    "401k Roth": lambda r: _money(r["roth_cents"], commas=False),
    "401k Catch-Up": lambda r: _money(r["catchup_pretax_cents"], commas=False),
    "Roth Catch-Up": lambda r: _money(r["catchup_roth_cents"], commas=False),
    "Loan Repayment": lambda r: _money(r["loan_1_cents"] + r["loan_2_cents"], commas=False),
    "Loan Number": lambda r: r["loan_1_number"] or "",
    "Employer Match": lambda r: _money(r["match_cents"], commas=False),
    "Profit Sharing": lambda r: _money(r["profit_sharing_cents"], commas=False),
    "401k %": lambda r: _pct(r["pretax_pct"]),
    "Roth %": lambda r: _pct(r["roth_pct"]),
    "Prior Year FICA Wages": lambda r: _money(r["prior_year_fica_cents"], commas=False),
    "Plan ID": lambda r: r["plan_code"],
}

GUSTO: Encoder = {
    "employee_id": lambda r: r["external_id"],
    "ssn": lambda r: r["ssn"],
    "first_name": lambda r: r["first_name"],
    "middle_initial": lambda r: (r["middle_name"] or "")[:1],
    "last_name": lambda r: r["last_name"],
    "work_email": lambda r: r["email"],
    "street_1": lambda r: r["address_line1"],
    "street_2": lambda r: "",
    "city": lambda r: r["city"],
    "state": lambda r: r["state"],
    "zip": lambda r: r["postal_code"],
    "date_of_birth": lambda r: _iso(r["birth_date"]),
    "hire_date": lambda r: _iso(r["hire_date"]),
    "termination_date": lambda r: _iso(r["termination_date"]),
    "employment_status": lambda r: "terminated" if r["employment_status"] == "T" else "active",
    "check_date": lambda r: _iso(r["pay_date"]),
    "pay_period_start": lambda r: _iso(r["period_start_date"]),
    "pay_period_end": lambda r: _iso(r["period_end_date"]),
    "pay_schedule": lambda r: "biweekly",
    "gross_pay": lambda r: _money(r["gross_pay_cents"], commas=False),
    "retirement_eligible_wages": lambda r: "",
    "hours_worked": lambda r: f"{r['hours']:.2f}",
    "traditional_401k": lambda r: _money(r["pretax_cents"], commas=False),
    "roth_401k": lambda r: _money(r["roth_cents"], commas=False),
    "catch_up_401k": lambda r: _money(r["catchup_pretax_cents"], commas=False),
    "catch_up_roth_401k": lambda r: _money(r["catchup_roth_cents"], commas=False),
    "loan_repayment_401k": lambda r: _money(r["loan_1_cents"] + r["loan_2_cents"], commas=False),
    "company_match_401k": lambda r: _money(r["match_cents"], commas=False),
    "safe_harbor_nonelective": lambda r: _money(r["safe_harbor_nec_cents"], commas=False),
    "traditional_deferral_percent": lambda r: _pct(r["pretax_pct"]),
    "roth_deferral_percent": lambda r: _pct(r["roth_pct"]),
    "prior_year_fica_wages": lambda r: _money(r["prior_year_fica_cents"], commas=False),
    "plan_code": lambda r: r["plan_code"],
}

ENCODERS: dict[str, Encoder] = {"adp_workforce_now": ADP, "paychex_flex": PAYCHEX, "gusto": GUSTO}

# Deliberately bad rows, applied to rows at fixed offsets: (header in each system, replacement).
BAD_CELLS: dict[str, list[tuple[str, str]]] = {
    "adp_workforce_now": [
        ("Tax ID", "000-12-3456"),
        ("Last Name", ""),
        ("401K", "-25.00"),
        ("Roth 401K", "12.345"),
        ("Birth Date", "13/45/1980"),
    ],
    "paychex_flex": [
        ("SSN", "666-01-2345"),
        ("First Name", ""),
        ("401k Pre-Tax", "abc"),
        ("Employer Match", "-10.00"),
        ("Plan ID", ""),
    ],
    "gusto": [
        ("ssn", "123-45-0000"),
        ("last_name", ""),
        ("traditional_401k", "1.999"),
        ("company_match_401k", "-5.00"),
        ("date_of_birth", "1980-02-30"),
    ],
}


def encode(system: str, rows: list[dict[str, Any]], bad_rows: int = 0, seed: int = 0) -> pl.DataFrame:
    encoder = ENCODERS[system]
    data = {header: [fn(r) for r in rows] for header, fn in encoder.items()}
    if bad_rows:
        rng = random.Random(seed)
        cells = BAD_CELLS[system]
        targets = rng.sample(range(6, len(rows)), bad_rows)
        for n, index in enumerate(targets):
            header, value = cells[n % len(cells)]
            data[header][index] = value
    return pl.DataFrame(data)


def write_payroll(system: str, frame: pl.DataFrame) -> bytes:
    if system == "paychex_flex":
        buf = io.BytesIO()
        frame.write_excel(buf, worksheet="Payroll", autofit=False)
        return buf.getvalue()
    return frame.write_csv(line_terminator="\r\n" if system == "adp_workforce_now" else "\n").encode()


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    system: str
    plan_code: str
    employees: int
    seed: int
    has_roth: bool = True
    bad_rows: dict[int, int] = field(default_factory=dict)  # pay date index -> bad rows


DEMO_TENANTS = (
    DemoTenant("acme-manufacturing", "adp_workforce_now", "401K", 300, 101, bad_rows={2: 5}),
    DemoTenant("bluebird-health", "paychex_flex", "BH401K", 150, 202, bad_rows={1: 3, 2: 20}),
    DemoTenant("cedar-logistics", "gusto", "CL401K", 220, 303, has_roth=False, bad_rows={2: 4}),
)
EXTENSIONS = {"adp_workforce_now": "csv", "paychex_flex": "xlsx", "gusto": "csv"}


def demo_files(tenant: DemoTenant, pay_dates: tuple[dt.date, ...] = DEFAULT_PAY_DATES) -> dict[str, bytes]:
    """File name -> bytes for each pay date of one demo tenant."""
    people = make_people(tenant.seed, tenant.employees, tenant.has_roth)
    out = {}
    for i, pay_date in enumerate(pay_dates):
        rows = [period_row(p, pay_date, tenant.plan_code) for p in people]
        frame = encode(tenant.system, rows, tenant.bad_rows.get(i, 0), seed=tenant.seed + i)
        name = f"{tenant.slug}_payroll_{pay_date:%Y%m%d}.{EXTENSIONS[tenant.system]}"
        out[name] = write_payroll(tenant.system, frame)
    return out


def generate(inbox: Path, tenants: tuple[DemoTenant, ...] = DEMO_TENANTS) -> list[Path]:
    """Write every demo file into `<inbox>/<tenant>/`, completely or not at all (temp name, rename)."""
    written = []
    for tenant in tenants:
        folder = inbox / tenant.slug
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in demo_files(tenant).items():
            target = folder / name
            tmp = folder / f".{name}.part"
            tmp.write_bytes(data)
            tmp.replace(target)
            written.append(target)
    return written
