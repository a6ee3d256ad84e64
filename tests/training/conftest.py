"""Model fixtures for the inference tests.

* ``tiny_model_dir``: a random-weight Llama of real architecture (2 layers, width 64)
  with the demo model's real tokenizer and chat template; loads in a blink.
* ``stopping_model_dir``: the same, with its last norm zeroed so every logit ties and
  greedy decoding picks token 0, declared an end-of-sequence token: it always stops.
* ``demo_model_dir``: SmolLM2-135M-Instruct converted from its GGUF (slow, once a session).
* ``vllm_server_url``: ``vllm serve`` (from .venv-vllm) on a free port serving the demo
  model, a real OpenAI-compatible server started as a subprocess for the session.
* ``vllm_demo_backend``: one in-process vLLM engine on the demo model for the session
  (only where vllm is installed: the tests that use it run in .venv-vllm).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from training.engine.demo_model import (
    DemoModelMissing,
    demo_tokenizer,
    ensure_demo_model,
)


def _copy_tokenizer(source: Path, dest: Path) -> None:
    for item in source.iterdir():
        if item.is_file():
            shutil.copy2(item, dest / item.name)


@pytest.fixture(scope="session")
def demo_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model's tokenizer and chat template, saved once a session."""
    try:
        return demo_tokenizer(tmp_path_factory.mktemp("demo") / "tokenizer")
    except DemoModelMissing as error:
        pytest.fail(f"{error} (scripts/install installs it)")


def _tiny_llama(tokenizer_dir: Path, dest: Path, *, always_stop: bool) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(1234)
    model = LlamaForCausalLM(config)
    if always_stop:
        with torch.no_grad():
            model.model.norm.weight.zero_()
        # Several stop ids, like Llama 3's generation_config, of which 0 always wins.
        model.generation_config.eos_token_id = [tokenizer.eos_token_id, 0]
    model.save_pretrained(dest)
    _copy_tokenizer(tokenizer_dir, dest)
    return dest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, demo_tokenizer_dir: Path) -> Path:
    """A random 2-layer Llama with a real tokenizer, saved as a transformers folder."""
    return _tiny_llama(demo_tokenizer_dir, tmp_path_factory.mktemp("tiny"), always_stop=False)


@pytest.fixture(scope="session")
def stopping_model_dir(tmp_path_factory: pytest.TempPathFactory, demo_tokenizer_dir: Path) -> Path:
    """A tiny Llama whose greedy choice is always an end-of-sequence token."""
    return _tiny_llama(demo_tokenizer_dir, tmp_path_factory.mktemp("stopper"), always_stop=True)


@pytest.fixture(scope="session")
def demo_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2-135M-Instruct as a transformers folder, converted from the GGUF once a session."""
    try:
        return ensure_demo_model(tmp_path_factory.mktemp("demo_model") / "smollm2")
    except DemoModelMissing as error:
        pytest.fail(f"{error} (scripts/install installs it)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vllm_python() -> Path:
    """A python with vllm: this interpreter when vllm is installed here, else .venv-vllm's."""
    if importlib.util.find_spec("vllm") is not None:
        return Path(sys.executable)
    return VLLM_VENV / "bin" / "python"


# scripts/install --vllm builds it; the vLLM tests run inside it (scripts/test), the
# split-worker test starts its gpu worker from it.
VLLM_VENV = Path(__file__).resolve().parents[2] / ".venv-vllm"
VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}


def need_vllm_venv() -> Path:
    """.venv-vllm's python, or fail saying how to make it."""
    python = VLLM_VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{VLLM_VENV} is missing: run scripts/install --vllm (scripts/test does)")
    return python


@pytest.fixture(scope="session")
def vllm_demo_backend(demo_model_dir: Path) -> Iterator[object]:
    """One vLLM engine on the demo model (float32, eager on CPU) for the whole session."""
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm is not installed in this environment: these tests run in .venv-vllm")
    from training.engine.backends import load_backend
    from training.engine.types import ModelSpec

    os.environ.update(VLLM_ENV)
    backend = load_backend(
        ModelSpec(
            name="smollm2", backend="vllm", path=str(demo_model_dir), options={"cpu_kv_cache_gb": 1}
        )
    )
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def vllm_server_url(
    tmp_path_factory: pytest.TempPathFactory, demo_model_dir: Path
) -> Iterator[str]:
    """vLLM's OpenAI-compatible server on the demo model, on 127.0.0.1.

    The server ``vllm serve`` runs, started through its module: vllm-cpu 0.32.0's
    ``vllm`` command asks for the version of a distribution named "vllm" (this one is
    "vllm-cpu") and exits before parsing its arguments.
    """
    python = vllm_python()
    if not python.exists():
        pytest.fail(f"{python} is missing: run scripts/install --vllm (scripts/test does)")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("vllm_server") / "server.log"
    command = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(demo_model_dir),
        "--served-model-name",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--enforce-eager",
        "--max-model-len",
        "2048",
        "--enable-prefix-caching",
    ]
    env = {**os.environ, **VLLM_ENV}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 600
        while True:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"vllm serve exited with {process.returncode}:\n{tail}")
            try:
                if httpx.get(base_url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("vllm serve did not answer /v1/models within 600 s")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
