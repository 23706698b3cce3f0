"""`synclinqs dev` (what `make run` starts) serves the Dagster UI; the test requests it and stops it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dev_command_serves_the_dagster_ui(cluster, tmp_path):
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "synclinqs_pipelines.cli", "dev", "--port", str(port), "--no-demo", "--no-sftp"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    body = None
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as resp:
                    body = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    assert body is not None, output[-3000:]
    assert body["dagster_webserver_version"] == "1.13.27"
