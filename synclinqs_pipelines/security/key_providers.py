"""Key-encryption-key providers: they wrap and unwrap the per-tenant data keys, nothing else.

`LocalKeyFileProvider` keeps a 256-bit key in a file (created on first use, mode 0600, outside git);
`AwsKmsProvider` asks AWS KMS (or any endpoint that speaks its API) through boto3. Both bind the wrapped
key to an encryption context (tenant, purpose, version), so a wrapped key copied to another tenant's
row does not unwrap.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyProviderError(RuntimeError):
    """A data key could not be wrapped or unwrapped; the message names the provider and what to check."""


class KeyProvider(Protocol):
    name: str

    @property
    def key_id(self) -> str: ...

    def wrap(self, data_key: bytes, context: dict[str, str]) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: dict[str, str]) -> bytes: ...


def _context_bytes(context: dict[str, str]) -> bytes:
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


_LOCAL_MAGIC = b"SLK1"


class LocalKeyFileProvider:
    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._kek: bytes | None = None

    def _load(self) -> bytes:
        if self._kek is not None:
            return self._kek
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = AESGCM.generate_key(bit_length=256)
            # O_EXCL: two processes starting at once cannot both create (and overwrite) the key.
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(base64.b64encode(key) + b"\n")
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise KeyProviderError(
                f"key file {self.path} is readable by others (mode {mode:o}); run `chmod 600 {self.path}`"
            )
        try:
            key = base64.b64decode(self.path.read_bytes().strip(), validate=True)
        except ValueError as exc:
            raise KeyProviderError(f"key file {self.path} is not base64; restore it from backup") from exc
        if len(key) != 32:
            raise KeyProviderError(f"key file {self.path} must hold a 256-bit key, found {len(key) * 8} bits")
        self._kek = key
        return key

    @property
    def key_id(self) -> str:
        return "local:" + hashlib.sha256(self._load()).hexdigest()[:16]

    def wrap(self, data_key: bytes, context: dict[str, str]) -> bytes:
        nonce = os.urandom(12)
        return _LOCAL_MAGIC + nonce + AESGCM(self._load()).encrypt(nonce, data_key, _context_bytes(context))

    def unwrap(self, wrapped: bytes, context: dict[str, str]) -> bytes:
        if not wrapped.startswith(_LOCAL_MAGIC):
            raise KeyProviderError("wrapped key was not made by the local key-file provider")
        nonce, body = wrapped[4:16], wrapped[16:]
        try:
            return AESGCM(self._load()).decrypt(nonce, body, _context_bytes(context))
        except InvalidTag as exc:
            raise KeyProviderError(
                f"data key does not unwrap with {self.path}: wrong key file or the key row was altered"
            ) from exc


class AwsKmsProvider:
    name = "aws-kms"

    def __init__(
        self, key_id: str, *, endpoint_url: str | None = None, region: str | None = None, client: Any = None
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client(
                "kms", endpoint_url=endpoint_url, region_name=region or os.environ.get("AWS_REGION", "us-east-1")
            )
        self._client = client
        self._key_id = key_id

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, data_key: bytes, context: dict[str, str]) -> bytes:
        try:
            response = self._client.encrypt(KeyId=self._key_id, Plaintext=data_key, EncryptionContext=context)
        except Exception as exc:
            raise KeyProviderError(f"KMS encrypt with key {self._key_id} failed: {type(exc).__name__}") from exc
        return bytes(response["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, context: dict[str, str]) -> bytes:
        try:
            response = self._client.decrypt(CiphertextBlob=wrapped, EncryptionContext=context, KeyId=self._key_id)
        except Exception as exc:
            raise KeyProviderError(
                f"KMS decrypt with key {self._key_id} failed ({type(exc).__name__}): wrong key or context"
            ) from exc
        return bytes(response["Plaintext"])


def provider_from_settings() -> KeyProvider:
    from synclinqs_pipelines.settings import get_settings

    settings = get_settings()
    if settings.key_provider == "local":
        return LocalKeyFileProvider(settings.key_file)
    if settings.key_provider == "aws-kms":
        if not settings.kms_key_id:
            raise KeyProviderError("SYNCLINQS_KEY_PROVIDER=aws-kms needs SYNCLINQS_KMS_KEY_ID (a key id or ARN)")
        return AwsKmsProvider(settings.kms_key_id, endpoint_url=settings.aws_endpoint_url)
    raise KeyProviderError(f"SYNCLINQS_KEY_PROVIDER must be 'local' or 'aws-kms', got '{settings.key_provider}'")
