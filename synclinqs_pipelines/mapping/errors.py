"""Error codes of the mapping engine and their messages.

Messages name the field and the rule, never the value: a value may be an SSN, a name or a birth date.
"""

from __future__ import annotations

from pathlib import Path

MESSAGES: dict[str, str] = {
    "INVALID_SSN": "is not a valid SSN (9 digits; area not 000, 666 or 900-999; group not 00; serial not 0000)",
    "INVALID_MONEY": "is not an amount (digits with an optional $, thousands commas, minus or parentheses)",
    "TOO_MANY_DECIMALS": "has more than 2 decimal places",
    "INVALID_NUMBER": "is not a number",
    "INVALID_INTEGER": "is not a whole number",
    "INVALID_DATE": "is not a valid date in the expected format",
    "AMBIGUOUS_DATE_FORMAT": "holds dates that fit more than one format (month/day or day/month); "
    "set the field's format in the spec",
    "INVALID_EMAIL": "is not an email address",
    "NEGATIVE_AMOUNT": "is negative",
    "NOT_POSITIVE": "must be greater than zero",
    "REQUIRED_FIELD_MISSING": "is required but empty",
    "LOOKUP_MISSING": "has a value that is not in the lookup table",
    "INVALID_CODE": "is not one of the allowed codes",
    "VALUE_TOO_LONG": "is longer than the destination field allows",
}


def message(code: str, field: str) -> str:
    return f"{field} {MESSAGES.get(code, 'failed rule ' + code)}"


class MappingFileError(ValueError):
    """A problem with the whole file (encoding, columns, emptiness, layout): nothing in it was mapped."""

    def __init__(self, path: Path | str | None, problem: str) -> None:
        self.path = str(path) if path is not None else "<input>"
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class SpecError(ValueError):
    """A spec file that cannot be used; lists each problem with the path inside the file."""

    def __init__(self, path: Path | str | None, problems: list[str]) -> None:
        self.path = str(path) if path is not None else ""
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" if path is not None else p for p in problems))
