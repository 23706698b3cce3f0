"""The AWS KMS key provider against a local KMS-compatible endpoint (moto's server)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import boto3
import pytest

from synclinqs_pipelines.security.envelope import TenantCipher
from synclinqs_pipelines.security.key_providers import AwsKmsProvider, KeyProviderError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kms_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(10)


def test_kms_wraps_and_unwraps_a_tenant_key_bound_to_its_context(kms_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("kms", endpoint_url=kms_endpoint, region_name="us-east-1")
    key_id = client.create_key(Description="synclinqs test KEK")["KeyMetadata"]["KeyId"]
    provider = AwsKmsProvider(key_id, endpoint_url=kms_endpoint, region="us-east-1")
    context = {"tenant": str(uuid.uuid4()), "purpose": "data", "version": "1"}
    data_key = b"\x11" * 32
    wrapped = provider.wrap(data_key, context)
    assert data_key not in wrapped
    assert provider.unwrap(wrapped, context) == data_key
    with pytest.raises(KeyProviderError, match="wrong key or context"):
        provider.unwrap(wrapped, {**context, "tenant": str(uuid.uuid4())})
    cipher = TenantCipher(uuid.UUID(context["tenant"]), {1: provider.unwrap(wrapped, context)}, 1, b"i" * 32)
    assert cipher.decrypt("t", "c", cipher.encrypt("t", "c", "value")) == "value"
