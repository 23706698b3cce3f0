"""IRS dollar limits by plan (calendar) year, in cents, each with its source.

Sources: irs.gov "COLA increases for dollar limitations on benefits and contributions" and IRS Notice
2025-67 (2026 limits); SECURE 2.0 section 109 (the 60-63 catch-up) and section 603 with final
regulations TD 10033 (the Roth catch-up rule). See REFERENCE.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    year: int
    elective_402g: int
    catch_up_50: int
    catch_up_60_63: int | None
    annual_additions_415c: int
    compensation_401a17: int
    hce_compensation: int
    # Prior-year FICA wages above which catch-up must be Roth; None while the rule does not apply.
    roth_catch_up_wage_threshold: int | None
    source: str


LIMITS: dict[int, Limits] = {
    2024: Limits(
        2024,
        23_000_00,
        7_500_00,
        None,
        69_000_00,
        345_000_00,
        155_000_00,
        None,
        "IRS COLA table for 2024 (Notice 2023-75)",
    ),
    # SECURE 2.0 section 603: the IRS transition relief ran through 2025, so no Roth catch-up test.
    2025: Limits(
        2025,
        23_500_00,
        7_500_00,
        11_250_00,
        70_000_00,
        350_000_00,
        160_000_00,
        None,
        "IRS COLA table for 2025 (Notice 2024-80)",
    ),
    # 2026: the Roth catch-up test applies to 2025 FICA wages above $150,000 (exactly $150,000 is not above).
    2026: Limits(
        2026, 24_500_00, 8_000_00, 11_250_00, 72_000_00, 360_000_00, 160_000_00, 150_000_00, "IRS Notice 2025-67"
    ),
}


def limits_for(year: int) -> tuple[Limits, bool]:
    """The limits of `year` and whether they are known; an unknown year gets the nearest known one."""
    if year in LIMITS:
        return LIMITS[year], True
    nearest = max(LIMITS) if year > max(LIMITS) else min(LIMITS)
    return LIMITS[nearest], False


def catch_up_limit(limits: Limits, age_by_year_end: int) -> int:
    """Catch-up allowed at an age attained by December 31: 0 under 50, the 60-63 limit where it exists."""
    if age_by_year_end < 50:
        return 0
    if limits.catch_up_60_63 is not None and 60 <= age_by_year_end <= 63:
        return limits.catch_up_60_63
    return limits.catch_up_50
