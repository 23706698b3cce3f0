"""Typed models of the mapping specs under `mapping_specs/` (systems, templates, tenants).

The JSON Schemas editors use (`mapping_specs/schema/*.schema.json`) are generated from these models by
`synclinqs mapping schema`, and a test keeps them in step.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
FieldType = Literal["string", "ssn", "money", "date", "percent", "decimal", "integer", "code", "email"]
SourceCode = Literal[
    "PRETAX",
    "ROTH",
    "CATCHUP_PRETAX",
    "CATCHUP_ROTH",
    "AFTER_TAX",
    "MATCH",
    "SAFE_HARBOR_MATCH",
    "SAFE_HARBOR_NEC",
    "PROFIT_SHARING",
    "QNEC",
    "QMAC",
    "LOAN",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One field of a system's catalog; for file-based systems also where it sits in the file."""

    name: str = Field(pattern=NAME_PATTERN, description="Field name used by mapping rules (snake_case).")
    label: str | None = Field(None, description="Display name.")
    column: str | None = Field(None, description="Column header in CSV/XLSX files; defaults to the label.")
    aliases: list[str] = Field(default_factory=list, description="Other headers accepted for this column.")
    type: FieldType = "string"
    format: str | None = Field(
        None,
        description="date: strptime format such as %m/%d/%Y, or 'auto'; money: 'dollars' or 'cents'; "
        "percent: 'whole' (5.5 means 5.5%) or 'fraction' (0.055); ssn: 'dashed' or 'digits'.",
    )
    required: bool = False
    pii: bool = Field(False, description="Personal data: masked in previews, encrypted at rest.")
    allowed: list[str] | None = Field(None, description="Allowed codes for type 'code'.")
    start: int | None = Field(None, ge=1, description="Fixed-width: 1-based first position.")
    width: int | None = Field(None, ge=1, description="Fixed-width: number of characters.")
    align: Literal["left", "right"] | None = Field(None, description="Fixed-width output alignment.")
    pad: str | None = Field(None, min_length=1, max_length=1, description="Fixed-width output pad character.")
    decimals: int = Field(2, ge=0, le=6, description="Digits after the point for money/percent output.")
    constant: str | None = Field(None, description="Output: a fixed value (record type, filler); needs no rule.")
    sources: list[SourceCode] | None = Field(
        None,
        description="Output money field: the contribution source codes it carries. These fields make "
        "the control total, and a source no field carries cannot be exported.",
    )
    description: str | None = None

    @property
    def header(self) -> str:
        return self.column or self.label or self.name


class RecordItem(_Strict):
    """One item of a header, trailer or preamble record."""

    literal: str | None = None
    value: str | None = Field(
        None,
        description="A value of the export context: client_id, pay_date, file_date, site_code, "
        "sequence, plan_number, tenant, record_count_with_header_trailer.",
    )
    aggregate: Literal["count", "sum", "control_total"] | None = Field(
        None, description="count: detail records; sum: one money field; control_total: all money fields."
    )
    field: str | None = Field(None, description="Destination field summed by aggregate 'sum'.")
    type: FieldType | None = None
    format: str | None = None
    width: int | None = Field(None, ge=1)
    align: Literal["left", "right"] | None = None
    pad: str | None = Field(None, min_length=1, max_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> RecordItem:
        given = [x for x in (self.literal, self.value, self.aggregate) if x is not None]
        if len(given) != 1:
            raise ValueError("a record item needs exactly one of literal, value or aggregate")
        if self.aggregate == "sum" and not self.field:
            raise ValueError("aggregate 'sum' needs the field to sum")
        return self


class FileLayout(_Strict):
    format: Literal["csv", "fixed_width", "xlsx"]
    encoding: str = Field("auto", description="'auto' reads UTF-8 (with or without BOM), else Windows-1252.")
    delimiter: str = Field(",", min_length=1, max_length=1)
    quote: Literal["minimal", "all"] = "minimal"
    line_terminator: Literal["\n", "\r\n"] = "\n"
    header: bool = Field(True, description="A row of column names precedes the data.")
    preamble: list[list[RecordItem]] = Field(
        default_factory=list, description="Lines written before the column-name row (e.g. Ascensus' first line)."
    )
    header_record: list[RecordItem] | None = None
    trailer_record: list[RecordItem] | None = None
    sheet: str | None = Field(None, description="XLSX: sheet name (default: the first sheet).")
    skip_rows: int = Field(0, ge=0, description="Input: lines to skip before the header (preamble lines).")
    record_type: dict[str, str] | None = Field(
        None, description="Fixed-width input: {'start': 1, 'detail': 'D'}-style record-type filter."
    )
    file_name: str = Field(
        "{tenant}_{pay_date:%Y%m%d}_{system}.csv", description="Output file name; str.format placeholders."
    )


class ConfirmationLayout(_Strict):
    """The file a recordkeeper sends back to confirm what it posted, one row per participant and source.

    Fields named plan_number, ssn, employee_id, pay_date, source, amount, deposit_date and loan_number are
    read; `source_map` turns the recordkeeper's source labels into canonical source codes.
    """

    file: FileLayout
    fields: list[FieldSpec]
    source_map: dict[
        str,
        SourceCode,
    ]


class SystemSpec(_Strict):
    system: str = Field(pattern=NAME_PATTERN)
    display_name: str
    kind: Literal["payroll", "recordkeeper", "canonical"]
    aliases: list[str] = Field(default_factory=list, description="Short names used in template names.")
    verified: bool = Field(description="True only when the layout was checked against a published spec.")
    source: str = Field(description="Where the layout comes from.")
    file: FileLayout | None = None
    fields: list[FieldSpec]
    pay_date_field: str | None = Field(None, description="Payroll: the field holding the pay (check) date.")
    pgp_encrypt: bool = Field(False, description="Outbound files must be PGP-encrypted before delivery.")
    confirmation: ConfirmationLayout | None = None

    @model_validator(mode="after")
    def _unique_fields(self) -> SystemSpec:
        seen: set[str] = set()
        for f in self.fields:
            if f.name in seen:
                raise ValueError(f"field '{f.name}' is defined twice")
            seen.add(f.name)
        if self.pay_date_field and self.pay_date_field not in seen:
            raise ValueError(f"pay_date_field '{self.pay_date_field}' is not a field of this system")
        if self.file and self.file.format == "fixed_width":
            position = None
            for f in self.fields:
                if f.start is None or f.width is None:
                    raise ValueError(f"fixed-width field '{f.name}' needs start and width")
                if self.kind != "payroll" and position is not None and f.start != position:
                    raise ValueError(
                        f"fixed-width field '{f.name}' starts at {f.start}, expected {position} "
                        "(output fields must be contiguous; add a filler field with a constant)"
                    )
                position = f.start + f.width
        return self

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def loan_number_field(self, payment: FieldSpec) -> FieldSpec | None:
        """The loan number beside a loan payment column (loan_1_payment -> loan_1_number or loan_1_id)."""
        prefix = payment.name.rsplit("_", 1)[0] + "_"
        for f in self.fields:
            if f is not payment and f.name.startswith(prefix) and f.type != "money":
                return f
        return None

    def confirmation_grouping(self) -> dict[str, Any]:
        """How this recordkeeper can confirm what it was sent, as reconciliation must compare it.

        A column that carries several sources (catch-up inside EMPLOYEE 401(K)) is confirmed under its
        first source, so `sources` maps the others to it; loans are confirmed one by one, by number, only
        when the layout has a payment column per loan, otherwise as one LOAN amount.
        """
        grouped: dict[str, str] = {}
        loan_columns = 0
        for f in self.fields:
            if f.type != "money" or not f.sources:
                continue
            grouped.update({code: f.sources[0] for code in f.sources[1:]})
            if "LOAN" in f.sources:
                loan_columns += 1
        return {"sources": grouped, "loans_by_number": loan_columns > 1}


TransformCall = str | dict[str, dict[str, Any]]


class DirectRule(_Strict):
    type: Literal["direct"]
    source: str


class TransformationRule(_Strict):
    type: Literal["transformation"]
    source: str
    transforms: list[TransformCall] = Field(min_length=1)


class Case(_Strict):
    when: str = Field(description="A condition such as contribution_type == 'ROTH'.")
    value: Any = Field(None, description="The literal result when the condition holds.")
    formula: str | None = Field(None, description="Or an expression for the result.")


class ConditionalRule(_Strict):
    type: Literal["conditional"]
    cases: list[Case] = Field(min_length=1)
    default: Any = None
    default_formula: str | None = None


class CalculatedRule(_Strict):
    type: Literal["calculated"]
    formula: str
    rounding: Literal["half_up", "half_even", "down", "up", "none"] = Field(
        description="How the result is rounded to an integer (cents); 'none' keeps a decimal."
    )


class LookupRule(_Strict):
    type: Literal["lookup"]
    source: str
    table: str | None = Field(None, description="A lookup table of the tenant file (lookups.<name>).")
    values: dict[str, Any] | None = Field(None, description="Or an inline table.")
    default: Any = None
    on_missing: Literal["error", "default", "source"] = Field(
        "error", description="A key not in the table: reject the row, use the default, or keep the source value."
    )

    @model_validator(mode="after")
    def _one_table(self) -> LookupRule:
        if (self.table is None) == (self.values is None):
            raise ValueError("a lookup needs exactly one of table (from the tenant file) or values (inline)")
        return self


class MultiFieldRule(_Strict):
    type: Literal["multi_field"]
    sources: list[str] = Field(min_length=2)
    separator: str = " "


Rule = Annotated[
    DirectRule | TransformationRule | ConditionalRule | CalculatedRule | LookupRule | MultiFieldRule,
    Field(discriminator="type"),
]


class Overrides(_Strict):
    inbound: dict[str, Rule] = Field(default_factory=dict)
    outbound: dict[str, Rule] = Field(default_factory=dict)


class TemplateSpec(_Strict):
    """Either a spoke (payroll -> canonical or canonical -> recordkeeper, with rules) or a pair (overrides)."""

    template: str = Field(pattern=NAME_PATTERN)
    version: int = Field(1, ge=1)
    description: str | None = None
    source: str
    destination: str
    rules: dict[str, Rule] = Field(default_factory=dict)
    inbound: str | None = Field(None, description="Pair: the payroll -> canonical template.")
    outbound: str | None = Field(None, description="Pair: the canonical -> recordkeeper template.")
    overrides: Overrides = Field(default_factory=Overrides)

    @field_validator("rules")
    @classmethod
    def _rule_names(cls, rules: dict[str, Any]) -> dict[str, Any]:
        for name in rules:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"rule target '{name}' must be snake_case")
        return rules


class PlanSpec(_Strict):
    plan_code: str
    name: str
    recordkeeper_plan_id: str | None = None
    has_roth: bool = True
    participants_at_year_start: int = Field(0, ge=0)


class ScheduleSpec(_Strict):
    cron: str = "0 2 * * *"
    timezone: str = "America/New_York"


class ThresholdSpec(_Strict):
    max_error_rate: float = Field(0.05, ge=0, le=1, description="Share of rejected rows above which a batch waits.")
    reconciliation_variance_cents: int = Field(100, ge=0)


class SftpInboundSpec(_Strict):
    username: str | None = None
    authorized_keys: list[str] = Field(default_factory=list, description="OpenSSH public key lines.")
    password_hash_env: str | None = Field(None, description="Env var holding a scrypt hash of the password.")
    max_file_bytes: int = Field(200 * 1024 * 1024, ge=1)


class SftpOutboundSpec(_Strict):
    host: str
    port: int = 22
    username: str
    private_key_env: str | None = Field(None, description="Env var with the path of the private key.")
    password_env: str | None = None
    host_key_fingerprint: str = Field(pattern=r"^SHA256:[A-Za-z0-9+/]+=*$")
    remote_dir: str = "/"
    pgp_public_key_file: str | None = None
    confirmations_dir: str | None = None


class AlertRule(_Strict):
    name: str
    when: Literal["error_rate_above_threshold", "reconciliation_variance", "late_deposit", "delivery_failed"]
    severity: Literal["info", "warning", "error", "critical"] = "warning"


class SystemRef(_Strict):
    system: str
    client_id: str | None = None
    site_code: str | None = None


class TenantSpec(_Strict):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    name: str
    payroll: SystemRef
    recordkeeper: SystemRef
    template: str
    overrides: Overrides = Field(default_factory=Overrides)
    lookups: dict[str, dict[str, Any]] = Field(default_factory=dict)
    plans: list[PlanSpec] = Field(min_length=1)
    thresholds: ThresholdSpec = Field(default_factory=lambda: ThresholdSpec.model_validate({}))
    reconciliation: ScheduleSpec = Field(default_factory=lambda: ScheduleSpec.model_validate({}))
    alerts: list[AlertRule] = Field(default_factory=list)
    notification_channels: list[dict[str, str]] = Field(default_factory=list)
    sftp_inbound: SftpInboundSpec | None = None
    sftp_outbound: SftpOutboundSpec | None = None
    active: bool = True
