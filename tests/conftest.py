"""Shared fixtures: the sample data, one embedding model per session, a real Chroma server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from knowledge import BilingualEmbedding

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One precompiled embedding-model cache for the whole run (built once)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def embedding(model_cache: Path) -> BilingualEmbedding:
    return BilingualEmbedding(cache_dir=model_cache)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> None:
    """No test touches the user's ~/.copilot or a developer's .env settings; CLI runs
    share one model cache instead of writing 80 MB into every temporary home."""
    monkeypatch.setenv("COPILOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COPILOT_CACHE_DIR", str(model_cache))
    for name in ("COPILOT_CHROMA_URL", "COPILOT_DATABASE_URL", "COPILOT_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server on 127.0.0.1 (the `chroma` binary chromadb installs)."""
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.skip("the chroma server binary is not installed")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("wb")
    env = {**os.environ, "CHROMA_TELEMETRY": "false"}
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"chroma server did not answer in 30 s; see {data / 'server.log'}")
            try:  # wait a little for the server, or notice at once that it died
                proc.wait(timeout=0.1)
                pytest.fail(f"chroma server exited; see {data / 'server.log'}")
            except subprocess.TimeoutExpired:
                pass
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
