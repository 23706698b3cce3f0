"""Frames passed between the partition's assets, stored encrypted under the tenant's data key.

Canonical and validated rows hold SSNs, names and birth dates; plaintext may live only in memory during a
run, so the IO manager writes Parquet encrypted with AES-256-GCM (associated data: tenant, asset and
partition) and never leaves a plaintext copy on disk.
"""

from __future__ import annotations

import io
from pathlib import Path

import dagster as dg
import polars as pl

from synclinqs_pipelines.defs.resources import KeysResource, WarehouseResource
from synclinqs_pipelines.settings import get_settings


class EncryptedFrameIOManager(dg.ConfigurableIOManager):  # type: ignore[misc]
    base_dir: str
    warehouse: WarehouseResource
    # Not named `keys`: pydantic models turn into dicts through keys().
    key_store: KeysResource

    def _where(self, asset_key: dg.AssetKey, keys: str) -> tuple[str, str, Path]:
        if not isinstance(keys, dg.MultiPartitionKey):
            raise dg.Failure(f"{asset_key.to_user_string()} is stored per tenant and pay date partition")
        dims = keys.keys_by_dimension
        asset = "/".join(asset_key.path)
        path = Path(self.base_dir) / asset / dims["tenant"] / f"{dims['pay_date']}.parquet.enc"
        return dims["tenant"], f"{asset}@{keys}", path

    def _cipher(self, slug: str):  # type: ignore[no-untyped-def]
        wh = self.warehouse.warehouse
        tenant = wh.tenant_by_slug(slug)
        with wh.tenant(tenant, actor="io-manager") as conn:
            return self.key_store.keyring.cipher(conn, tenant.id)

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        slug, column, path = self._where(context.asset_key, context.asset_partition_key)
        buf = io.BytesIO()
        obj.write_parquet(buf, compression="zstd")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(self._cipher(slug).encrypt_bytes("io", column, buf.getvalue()))
        tmp.replace(path)

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        upstream = context.upstream_output
        assert upstream is not None
        slug, column, path = self._where(upstream.asset_key, context.asset_partition_key)
        data = self._cipher(slug).decrypt_bytes("io", column, path.read_bytes())
        return pl.read_parquet(io.BytesIO(data))


@dg.definitions
def defs() -> dg.Definitions:
    from synclinqs_pipelines.defs.resources import shared_resources

    shared = shared_resources()
    return dg.Definitions(
        resources={
            "frame_io_manager": EncryptedFrameIOManager(
                base_dir=str(get_settings().storage), warehouse=shared["warehouse"], key_store=shared["keys"]
            )
        }
    )
