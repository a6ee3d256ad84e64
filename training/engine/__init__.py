"""Django-free inference and training engines; see docs/inference.md.

Re-exports the plain types; nothing here imports torch.
"""

from training.engine.types import (
    BackendError,
    ChatRequest,
    Completion,
    InferenceBackend,
    ModelSpec,
    SamplingParams,
)

__all__ = [
    "BackendError",
    "ChatRequest",
    "Completion",
    "InferenceBackend",
    "ModelSpec",
    "SamplingParams",
]
