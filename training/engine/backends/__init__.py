"""Inference backends behind one protocol, chosen by ``ModelSpec.backend``.

Importing this package is cheap: each backend module imports its heavy
dependencies (torch, transformers, vllm) only when a backend is built.
"""

from __future__ import annotations

from training.engine.types import BackendError, InferenceBackend, ModelSpec


def load_backend(spec: ModelSpec) -> InferenceBackend:
    """Build the backend ``spec`` names, loading the model or connecting to the server."""
    if spec.backend == "transformers":
        from training.engine.backends.transformers_backend import TransformersBackend

        return TransformersBackend(spec)
    if spec.backend == "openai":
        from training.engine.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(spec)
    if spec.backend == "vllm":
        from training.engine.backends.vllm_backend import VLLMBackend

        return VLLMBackend(spec)
    raise BackendError(f"unknown backend {spec.backend!r} in spec {spec.name!r}")


__all__ = ["load_backend"]
