"""Model fixtures for the inference tests.

* ``tiny_model_dir``: a random-weight Llama of real architecture (2 layers, width 64)
  with the demo model's real tokenizer and chat template; loads in a blink.
* ``stopping_model_dir``: the same, with its last norm zeroed so every logit ties and
  greedy decoding picks token 0, declared an end-of-sequence token: it always stops.
* ``demo_model_dir``: SmolLM2-135M-Instruct converted from its GGUF (slow, once a session).
* ``llama_server_url``: a real llama-cpp-python OpenAI server on a free port serving
  the demo GGUF, started as a subprocess for the session.
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
    demo_gguf_path,
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


@pytest.fixture(scope="session")
def llama_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``python -m llama_cpp.server`` on the demo GGUF; yield its base URL (…/v1)."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python[server] is not installed (scripts/install installs it)")
    for module in ("uvicorn", "fastapi", "sse_starlette", "pydantic_settings"):
        if importlib.util.find_spec(module) is None:
            pytest.fail(f"llama-cpp-python server extra missing ({module} not installed)")
    try:
        gguf = demo_gguf_path()
    except DemoModelMissing as error:
        pytest.fail(f"{error} (scripts/install installs it)")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        str(max(1, min(2, os.cpu_count() or 1))),
        "--verbose",
        "false",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{tail}")
            try:
                if httpx.get(base_url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer /v1/models within 90 s")
            time.sleep(0.3)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
