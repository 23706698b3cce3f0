"""Resources every domain uses. The choice between local and production implementations (embedded or
external PostgreSQL, local inbox or S3, key file or KMS) is made here and in `settings.py`, nowhere else."""

from __future__ import annotations

from functools import cached_property

import dagster as dg

from synclinqs_pipelines.mapping.catalog import SpecCatalog, get_catalog
from synclinqs_pipelines.security.key_providers import KeyProvider, provider_from_settings
from synclinqs_pipelines.security.keyring import KeyRing
from synclinqs_pipelines.settings import get_settings
from synclinqs_pipelines.warehouse.connection import Cluster, cluster_from_url, default_cluster
from synclinqs_pipelines.warehouse.session import Warehouse


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The warehouse as the pipeline role; the embedded PostgreSQL unless a URL is configured."""

    database_url: str | None = None

    @cached_property
    def cluster(self) -> Cluster:
        return cluster_from_url(self.database_url) if self.database_url else default_cluster()

    @cached_property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.cluster)


class KeysResource(dg.ConfigurableResource):  # type: ignore[misc]
    """Per-tenant keys through the configured key provider (local key file or AWS KMS)."""

    @cached_property
    def provider(self) -> KeyProvider:
        return provider_from_settings()

    @cached_property
    def keyring(self) -> KeyRing:
        return KeyRing(self.provider)


class SpecsResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The mapping specs directory (systems, templates, tenants)."""

    specs_dir: str | None = None

    @cached_property
    def catalog(self) -> SpecCatalog:
        from pathlib import Path

        return get_catalog(Path(self.specs_dir) if self.specs_dir else None)


def shared_resources() -> dict[str, object]:
    settings = get_settings()
    return {
        "warehouse": WarehouseResource(database_url=settings.database_url),
        "keys": KeysResource(),
        "specs": SpecsResource(specs_dir=str(settings.specs_dir)),
    }


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources=shared_resources())
