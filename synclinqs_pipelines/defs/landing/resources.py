"""Where payroll files land and where archives and exports are kept: local directories or S3."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import dagster as dg

from synclinqs_pipelines.landing.zones import (
    LandingZone,
    LocalLandingZone,
    LocalObjectStore,
    ObjectStore,
    S3LandingZone,
    S3ObjectStore,
)
from synclinqs_pipelines.settings import get_settings


class LandingResource(dg.ConfigurableResource):  # type: ignore[misc]
    """backend 'local' (directories under .synclinqs/) or 's3' (one bucket, through dagster-aws)."""

    backend: str = "local"
    inbox_dir: str | None = None
    quarantine_dir: str | None = None
    archive_dir: str | None = None
    outbox_dir: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None

    @cached_property
    def _s3(self) -> Any:
        from dagster_aws.s3 import S3Resource

        if not self.s3_bucket:
            raise dg.DagsterInvalidConfigError("landing backend 's3' needs SYNCLINQS_S3_BUCKET", [], None)
        return S3Resource(endpoint_url=self.s3_endpoint_url).get_client()

    @cached_property
    def zone(self) -> LandingZone:
        s = get_settings()
        if self.backend == "s3":
            return S3LandingZone(self._s3, self.s3_bucket or "", "inbox/", "quarantine/")
        return LocalLandingZone(_p(self.inbox_dir, s.inbox), _p(self.quarantine_dir, s.quarantine))

    @cached_property
    def archive(self) -> ObjectStore:
        if self.backend == "s3":
            return S3ObjectStore(self._s3, self.s3_bucket or "", "archive/")
        return LocalObjectStore(_p(self.archive_dir, get_settings().archive))

    @cached_property
    def outbox(self) -> ObjectStore:
        if self.backend == "s3":
            return S3ObjectStore(self._s3, self.s3_bucket or "", "outbox/")
        return LocalObjectStore(_p(self.outbox_dir, get_settings().outbox))


def _p(value: str | None, default: Any) -> Any:
    from pathlib import Path

    return Path(value) if value else default


def landing_resource() -> LandingResource:
    s = get_settings()
    return LandingResource(backend=s.landing_backend, s3_bucket=s.s3_bucket, s3_endpoint_url=s.aws_endpoint_url)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"landing": landing_resource()})
