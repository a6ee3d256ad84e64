"""In-process inference with Hugging Face transformers: the embedded default, CPU or GPU.

torch and transformers are imported when a backend is built, never when this
module is imported, so the web process can name the class without loading torch.
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
    length_batches,
)
from training.engine.types import (
    BackendError,
    ChatRequest,
    Completion,
    ModelSpec,
    SamplingParams,
)

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


def dense_gguf_kwargs() -> dict[str, Any]:
    """``from_pretrained`` arguments that unpack a GGUF's weights into a dense model.

    transformers >= 5.21 keeps GGUF weights packed unless told otherwise (and packed
    weights cannot be saved); older releases (the vLLM worker's 5.20) always unpack
    and have no ``GgufConfig``.
    """
    try:
        from transformers import GgufConfig
    except ImportError:
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def _resolve_model_location(spec: ModelSpec) -> tuple[Path, str]:
    """Split ``spec`` into (folder, gguf file name or "") and check that they exist."""
    path = Path(spec.path).expanduser()
    gguf_file = spec.gguf_file
    if not gguf_file and path.suffix == ".gguf":
        path, gguf_file = path.parent, path.name
    if not path.is_dir():
        raise BackendError(f"model folder {str(path)!r} does not exist (spec {spec.name!r})")
    if gguf_file and not (path / gguf_file).is_file():
        raise BackendError(f"GGUF file {gguf_file!r} not found in {str(path)!r}")
    if not gguf_file and not (path / "config.json").is_file():
        raise BackendError(f"{str(path)!r} holds no config.json; is it a saved model folder?")
    return path, gguf_file


class TransformersBackend:
    """A causal LM loaded with ``AutoModelForCausalLM`` from a local folder or GGUF file.

    Batches are left-padded and built from requests of similar length; results come
    back in request order. On CUDA, generation uses the static KV cache (which
    transformers compiles) unless ``options["static_cache"]`` is False.
    """

    name = "transformers"

    def __init__(self, spec: ModelSpec) -> None:
        # Keep tokenizers from starting thread pools that break in forked Celery workers.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if spec.backend != "transformers":
            raise BackendError(f"spec {spec.name!r} is for backend {spec.backend!r}")
        self.spec = spec
        folder, gguf_file = _resolve_model_location(spec)

        device = spec.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"spec {spec.name!r} asks for {device} but CUDA is not available")
        self.device = torch.device(device)
        self.dtype = self._resolve_dtype(spec.dtype, self.device.type)
        threads = spec.options.get("threads")
        if threads is not None:
            # Process-wide. On a shared CPU box, 1 thread beats 2 by 10x when other
            # processes compete for the cores (OpenMP threads spin waiting on each other).
            if int(threads) < 1:
                raise BackendError(f"options['threads'] must be >= 1, got {threads!r}")
            torch.set_num_threads(int(threads))

        load_kwargs: dict[str, Any] = {"local_files_only": True}
        if gguf_file:
            load_kwargs["gguf_file"] = gguf_file
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, **load_kwargs)
            model_kwargs = dict(load_kwargs, dtype=self.dtype)
            if gguf_file:
                model_kwargs.update(dense_gguf_kwargs())
            self.model = AutoModelForCausalLM.from_pretrained(folder, **model_kwargs)
        except (OSError, ValueError) as error:
            raise BackendError(
                f"could not load model {spec.name!r} from {folder}: {error}"
            ) from error
        self.model.to(self.device)
        self.model.eval()

        if not getattr(self.tokenizer, "chat_template", None):
            raise BackendError(f"the tokenizer of {spec.name!r} has no chat template")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.pad_token_id: int = int(self.tokenizer.pad_token_id)
        self.eos_token_ids = self._eos_token_ids()
        if not self.eos_token_ids:
            raise BackendError(f"model {spec.name!r} declares no end-of-sequence token")

        default_batch = 32 if self.device.type == "cuda" else 16
        self.batch_size = int(spec.options.get("batch_size", default_batch))
        self.static_cache = self.device.type == "cuda" and bool(
            spec.options.get("static_cache", True)
        )
        self._closed = False

    @staticmethod
    def _resolve_dtype(dtype: str, device_type: str) -> Any:
        import torch

        if dtype == "auto":
            return torch.bfloat16 if device_type == "cuda" else torch.float32
        if dtype not in _DTYPES:
            raise BackendError(
                f"unknown dtype {dtype!r}; expected auto or one of {sorted(_DTYPES)}"
            )
        return getattr(torch, _DTYPES[dtype])

    def _eos_token_ids(self) -> list[int]:
        ids: list[int] = []
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        if isinstance(configured, int):
            ids.append(configured)
        elif configured:
            ids.extend(int(i) for i in configured)
        if self.tokenizer.eos_token_id is not None:
            ids.append(int(self.tokenizer.eos_token_id))
        return sorted(set(ids))

    # -- prompts -------------------------------------------------------------

    def _render(self, request: ChatRequest) -> str:
        try:
            return self.tokenizer.apply_chat_template(
                list(request.messages), add_generation_prompt=True, tokenize=False
            )
        except Exception as error:  # jinja raises its own errors for bad role orders
            raise BackendError(f"chat template of {self.spec.name!r} refused: {error}") from error

    def _encode_prompts(self, requests: Sequence[ChatRequest]) -> list[list[int]]:
        # The template already holds any BOS token it wants, so add none here.
        texts = [self._render(request) for request in requests]
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        for index, ids in enumerate(encoded):
            if len(ids) >= self.spec.context_length:
                raise BackendError(
                    f"request {index} is {len(ids)} tokens, beyond the context length "
                    f"{self.spec.context_length} of {self.spec.name!r}"
                )
        return [list(ids) for ids in encoded]

    def _left_pad(self, rows: list[list[int]]) -> tuple[Any, Any]:
        import torch

        width = max(len(row) for row in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for index, row in enumerate(rows):
            if row:
                input_ids[index, width - len(row) :] = torch.tensor(row, dtype=torch.long)
                attention_mask[index, width - len(row) :] = 1
        return input_ids.to(self.device), attention_mask.to(self.device)

    # -- the protocol --------------------------------------------------------

    def generate(self, requests: Sequence[ChatRequest], params: SamplingParams) -> list[Completion]:
        """Sample a completion for each request; deterministic when ``params.seed`` is set."""
        import torch

        self._check_open()
        requests = check_requests(requests)
        if not requests:
            return []
        prompts = self._encode_prompts(requests)
        results: list[Completion | None] = [None] * len(requests)
        if params.seed is not None:
            # Seeded once per call: the same call on the same model gives the same text.
            torch.manual_seed(params.seed)
        for batch in length_batches(prompts, len, self.batch_size):
            rows = [prompts[i] for i in batch]
            for index, completion in zip(batch, self._generate_batch(rows, params), strict=True):
                results[index] = completion
        return [completion for completion in results if completion is not None]

    def _generation_config(self, max_new_tokens: int, params: SamplingParams) -> Any:
        from transformers import GenerationConfig

        # A fresh config, so nothing from the model's generation_config.json (top_k,
        # repetition penalty, ...) silently changes what SamplingParams asked for.
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "pad_token_id": self.pad_token_id,
            "eos_token_id": self.eos_token_ids,
        }
        if params.greedy:
            kwargs["do_sample"] = False
        else:
            kwargs.update(
                do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0
            )
        if self.static_cache:
            kwargs["cache_implementation"] = "static"
            # One cache sized for the whole context, so calls of other lengths reuse the
            # compiled graph instead of recompiling.
            kwargs["max_cache_len"] = self.spec.context_length
        return GenerationConfig(**kwargs)

    def _generate_batch(self, rows: list[list[int]], params: SamplingParams) -> list[Completion]:
        import torch

        input_ids, attention_mask = self._left_pad(rows)
        width = input_ids.shape[1]
        max_new_tokens = min(params.max_new_tokens, self.spec.context_length - width)
        config = self._generation_config(max_new_tokens, params)
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids, attention_mask=attention_mask, generation_config=config
            )
        generated = output[:, width:].tolist()
        eos = set(self.eos_token_ids)
        completions = []
        for prompt, tokens in zip(rows, generated, strict=True):
            stop_at = next((i for i, token in enumerate(tokens) if token in eos), None)
            if stop_at is None:
                kept, finish = tokens, "length"
            else:
                kept, finish = tokens[: stop_at + 1], "stop"
            body = kept[:-1] if finish == "stop" else kept
            completions.append(
                Completion(
                    text=self.tokenizer.decode(body, skip_special_tokens=True),
                    prompt_tokens=len(prompt),
                    # Like vLLM and the OpenAI API, the end-of-sequence token counts.
                    completion_tokens=len(kept),
                    finish_reason=finish,
                )
            )
        return completions

    def score_choices(
        self, requests: Sequence[ChatRequest], choices: Sequence[str]
    ) -> list[list[float]]:
        """One forward pass per batch; softmax of the last position's logits over the choices."""
        import torch

        self._check_open()
        choices = check_choices(choices)
        requests = check_requests(requests)
        if not requests:
            return []
        texts = [self._render(request) for request in requests]
        choice_ids = choice_token_ids(self.tokenizer, texts[0], choices, self.spec.name)
        prompts = self._encode_prompts(requests)
        index_tensor = torch.tensor(choice_ids, device=self.device)
        results: list[list[float] | None] = [None] * len(requests)
        for batch in length_batches(prompts, len, self.batch_size):
            input_ids, attention_mask = self._left_pad([prompts[i] for i in batch])
            # Positions count real tokens only, so left padding does not shift RoPE.
            position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.model(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    position_ids=position_ids,
                    logits_to_keep=1,
                    use_cache=False,
                ).logits[:, -1, :]
            probs = torch.softmax(logits.float().index_select(-1, index_tensor), dim=-1)
            for index, row in zip(batch, probs.tolist(), strict=True):
                results[index] = row
        return [row for row in results if row is not None]

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` without special tokens."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def close(self) -> None:
        """Drop the model and return its memory (GPU memory too)."""
        if self._closed:
            return
        self._closed = True
        del self.model
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(f"backend for {self.spec.name!r} is closed")


def is_available() -> tuple[bool, str]:
    """Whether torch and transformers can be imported here, and if not, why."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as error:
        return False, f"transformers backend needs torch and transformers: {error}"
    return True, ""


__all__ = ["TransformersBackend", "is_available"]
