"""The log-prob labeller on vLLM agrees with the transformers backend on the demo model.

Runs inside .venv-vllm (marker ``vllm``; scripts/test runs it there) on the session's
one vLLM engine (tests/training/conftest.py) and SmolLM2-135M-Instruct in float32 on
both backends, so the two differ only by kernels and summation order.
"""

from __future__ import annotations

import pytest

from constitutions.content import DEMO_CONSTITUTION
from tests.training.test_labeller import PAIRS
from training.engine.labeller import label_pairs
from training.engine.types import ModelSpec

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def reference(demo_model_dir):
    from training.engine.backends import load_backend

    backend = load_backend(
        ModelSpec(name="smollm2", backend="transformers", path=str(demo_model_dir), dtype="float32")
    )
    yield backend
    backend.close()


def test_vllm_label_probabilities_match_transformers_within_1e3(vllm_demo_backend, reference):
    kwargs = dict(content=DEMO_CONSTITUTION, seed=4, k_principles=2, batch_size=3)
    on_vllm = label_pairs(PAIRS, backend=vllm_demo_backend, **kwargs)
    on_hf = label_pairs(PAIRS, backend=reference, **kwargs)
    assert [label.index for label in on_vllm] == [label.index for label in on_hf] == [0, 1, 2]
    for mine, theirs in zip(on_vllm, on_hf, strict=True):
        assert mine.principle_keys == theirs.principle_keys
        assert mine.p_a_ab == pytest.approx(theirs.p_a_ab, abs=TOLERANCE)
        assert mine.p_a_ba == pytest.approx(theirs.p_a_ba, abs=TOLERANCE)
        assert mine.p_a_mean == pytest.approx(theirs.p_a_mean, abs=TOLERANCE)
    # Not all 0.5: the comparison is a real one.
    assert any(abs(label.p_a_ab - 0.5) > 0.01 for label in on_hf)


def test_the_two_orders_and_the_principles_share_the_prefix_cache(vllm_demo_backend):
    before_sent = vllm_demo_backend.prompt_tokens_sent
    before_cached = vllm_demo_backend.prompt_tokens_cached
    label_pairs(
        PAIRS[:1], content=DEMO_CONSTITUTION, backend=vllm_demo_backend, seed=9, k_principles=4
    )
    sent = vllm_demo_backend.prompt_tokens_sent - before_sent
    cached = vllm_demo_backend.prompt_tokens_cached - before_cached
    # 2 orders x 4 principles of one pair: every request after the first of its order
    # reuses the long head (conversation and both answers) from the cache.
    assert sent > 0 and cached > 0, (sent, cached)
