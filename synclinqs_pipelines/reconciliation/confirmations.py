"""Recordkeeper confirmation files: what the recordkeeper posted, per participant, pay date and source."""

from __future__ import annotations

import datetime as dt

from synclinqs_pipelines.mapping.errors import MappingFileError
from synclinqs_pipelines.mapping.spec import SystemSpec


def confirmation_pay_date(data: bytes, name: str, system: SystemSpec) -> dt.date:
    if system.confirmation is None:
        raise MappingFileError(name, f"{system.system} has no confirmation layout; confirmations cannot be read")
    raise MappingFileError(name, "confirmation files are not read yet")
