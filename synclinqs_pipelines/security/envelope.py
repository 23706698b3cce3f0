"""Field-level envelope encryption: AES-256-GCM under a per-tenant data key, plus the SSN blind index.

A ciphertext is `0x01 | key version (4 bytes, big-endian) | nonce (12 bytes) | ciphertext+tag`. The
associated data binds the tenant, table, column and key version, so a value moved to another tenant,
table or column, or relabelled with another key version, fails to decrypt instead of decrypting wrongly.
Nonces are 96 random bits per encryption; with one key per tenant and version, the collision bound is
far beyond the number of values a tenant holds.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = 1
_HEADER = struct.Struct(">BI")
HEADER_LEN = _HEADER.size + 12


class DecryptionError(ValueError):
    """A ciphertext failed authentication: wrong tenant, table, column or key version, or tampered bytes."""


def associated_data(tenant_id: uuid.UUID, table: str, column: str, version: int) -> bytes:
    return f"synclinqs\x1f{tenant_id}\x1f{table}\x1f{column}\x1f{version}".encode()


def key_version_of(ciphertext: bytes) -> int:
    if len(ciphertext) < HEADER_LEN or ciphertext[0] != FORMAT_VERSION:
        raise DecryptionError("not a SyncLinqs ciphertext (unknown format byte or too short)")
    return int(_HEADER.unpack_from(ciphertext)[1])


def normalize_ssn(ssn: str) -> str:
    return "".join(ch for ch in ssn if ch.isdigit())


@dataclass
class TenantCipher:
    """Encrypts and decrypts one tenant's fields; holds every key version the tenant has had."""

    tenant_id: uuid.UUID
    data_keys: dict[int, bytes]
    active_version: int
    index_key: bytes
    _aead: dict[int, AESGCM] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.active_version not in self.data_keys:
            raise ValueError("the active key version must be among the data keys")
        self._aead = {v: AESGCM(k) for v, k in self.data_keys.items()}

    def __repr__(self) -> str:  # never print key material
        return f"TenantCipher(tenant_id={self.tenant_id}, versions={sorted(self.data_keys)})"

    def encrypt_bytes(self, table: str, column: str, plaintext: bytes, *, version: int | None = None) -> bytes:
        v = self.active_version if version is None else version
        nonce = os.urandom(12)
        body = self._aead[v].encrypt(nonce, plaintext, associated_data(self.tenant_id, table, column, v))
        return _HEADER.pack(FORMAT_VERSION, v) + nonce + body

    def decrypt_bytes(self, table: str, column: str, ciphertext: bytes) -> bytes:
        v = key_version_of(ciphertext)
        aead = self._aead.get(v)
        if aead is None:
            raise DecryptionError(f"key version {v} is unknown for this tenant")
        nonce, body = ciphertext[_HEADER.size : HEADER_LEN], ciphertext[HEADER_LEN:]
        try:
            return aead.decrypt(nonce, body, associated_data(self.tenant_id, table, column, v))
        except InvalidTag:
            raise DecryptionError(
                f"{table}.{column}: ciphertext does not authenticate (tampered, or bound to another tenant, "
                "table, column or key version)"
            ) from None

    def encrypt(self, table: str, column: str, plaintext: str) -> bytes:
        return self.encrypt_bytes(table, column, plaintext.encode())

    def decrypt(self, table: str, column: str, ciphertext: bytes) -> str:
        return self.decrypt_bytes(table, column, ciphertext).decode()

    def encrypt_many(self, table: str, column: str, values: Sequence[str | None]) -> list[bytes | None]:
        """Encrypt a column's worth of values (None stays None) with one AAD and one nonce draw."""
        v = self.active_version
        aead = self._aead[v]
        aad = associated_data(self.tenant_id, table, column, v)
        header = _HEADER.pack(FORMAT_VERSION, v)
        nonces = os.urandom(12 * len(values))
        out: list[bytes | None] = []
        append = out.append
        for i, value in enumerate(values):
            if value is None:
                append(None)
                continue
            nonce = nonces[12 * i : 12 * i + 12]
            append(header + nonce + aead.encrypt(nonce, value.encode(), aad))
        return out

    def decrypt_many(self, table: str, column: str, values: Iterable[bytes | None]) -> list[str | None]:
        return [None if c is None else self.decrypt(table, column, c) for c in values]

    def blind_index(self, ssn: str) -> bytes:
        """HMAC-SHA256 of the SSN's digits under the tenant's index key: equal SSNs, equal index."""
        return hmac.new(self.index_key, normalize_ssn(ssn).encode(), hashlib.sha256).digest()

    def blind_index_many(self, ssns: Sequence[str]) -> list[bytes]:
        # The keyed state is computed once and copied per value (the same digests, a third of the time).
        base = hmac.new(self.index_key, digestmod=hashlib.sha256)
        return [_digest(base, s.encode()) for s in ssns]

    def keyed_digest(self, parts: Sequence[str | None]) -> bytes:
        """A keyed digest of several values: tells whether stored PII changed without decrypting it."""
        return self.keyed_digest_many(["\x1f".join("" if p is None else p for p in parts)])[0]

    def keyed_digest_many(self, joined: Iterable[str]) -> list[bytes]:
        """keyed_digest of many rows whose parts are already joined by U+001F (empty for None)."""
        base = hmac.new(self.index_key, b"pii\x1f", hashlib.sha256)
        return [_digest(base, j.encode()) for j in joined]


def _digest(base: hmac.HMAC, data: bytes) -> bytes:
    h = base.copy()
    h.update(data)
    return h.digest()
