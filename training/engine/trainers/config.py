"""Run configurations for the SFT, DPO and reward trainers, and what a run returns.

Plain dataclasses (no torch import): the web side builds them from a form, stores
``to_dict()`` as the run's resolved JSON, and a GPU worker rebuilds them with
``from_dict``. ``load_recipe`` reads a YAML or JSON recipe from training/recipes/.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from training.engine.config import ConfigError, config_from_dict

C = TypeVar("C", bound="BaseTrainConfig")

DPO_LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)


# One machine's worth of processes; more machines are a cluster launcher's job.
MAX_PROCESSES = 64


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(kw_only=True)
class BaseTrainConfig:
    """Fields every trainer shares: where to read and write, how long, how to log and save."""

    model_path: str = field(metadata=_help("Local folder of the model to start from."))
    output_dir: str = field(
        metadata=_help("Run folder: checkpoint-N/ while training, final/ at the end.")
    )
    max_steps: int = field(default=100, metadata=_help("Optimizer steps to train for."))
    learning_rate: float = field(default=1e-5, metadata=_help("Peak learning rate."))
    lr_scheduler_type: str = field(default="linear", metadata=_help("transformers scheduler name."))
    warmup_steps: int = field(default=0, metadata=_help("Linear warm-up steps."))
    per_device_batch_size: int = field(default=4, metadata=_help("Examples per device per step."))
    gradient_accumulation: int = field(
        default=1, metadata=_help("Micro-batches accumulated per optimizer step.")
    )
    max_length: int = field(
        default=1024, metadata=_help("Tokens kept per example (prompt + answer).")
    )
    logging_steps: int = field(default=10, metadata=_help("Log metrics every N steps."))
    save_steps: int = field(
        default=100, metadata=_help("Save a resumable checkpoint every N steps.")
    )
    save_total_limit: int | None = field(
        default=2, metadata=_help("Keep at most this many checkpoints (None keeps all).")
    )
    seed: int = field(default=0, metadata=_help("Seed for data order, dropout and LoRA init."))
    bf16: bool = field(
        default=True,
        metadata=_help("Train in bf16 when CUDA is available; always float32 on CPU."),
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata=_help("Recompute activations to save GPU memory (CUDA only; ignored on CPU)."),
    )
    use_lora: bool = field(
        default=False, metadata=_help("Train a LoRA adapter instead of all weights.")
    )
    lora_r: int = field(default=16, metadata=_help("LoRA rank."))
    lora_alpha: int = field(default=32, metadata=_help("LoRA scaling numerator (alpha / r)."))
    lora_dropout: float = field(default=0.05, metadata=_help("Dropout on the LoRA input."))
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        metadata=_help(
            "Module names that get adapters ('all-linear' as a one-item list works too)."
        ),
    )
    report_to: list[str] = field(
        default_factory=list, metadata=_help("transformers integrations (wandb, tensorboard...).")
    )
    num_processes: int = field(
        default=1,
        metadata=_help(
            "Data-parallel processes (DDP through `accelerate launch`): one per GPU, or gloo "
            "processes on CPU. 1 trains inside the worker process."
        ),
    )

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigError("; ".join(problems))

    def problems(self) -> list[str]:
        """Every problem with this config, as 'field: message'."""
        out: list[str] = []
        if not str(self.model_path).strip():
            out.append("model_path: must not be empty")
        if not str(self.output_dir).strip():
            out.append("output_dir: must not be empty")
        for name in (
            "max_steps",
            "per_device_batch_size",
            "gradient_accumulation",
            "max_length",
            "logging_steps",
            "save_steps",
            "lora_r",
            "lora_alpha",
            "num_processes",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                out.append(f"{name}: must be an integer >= 1, got {value!r}")
        for name in ("warmup_steps", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                out.append(f"{name}: must be an integer >= 0, got {value!r}")
        if self.save_total_limit is not None and (
            not isinstance(self.save_total_limit, int) or self.save_total_limit < 1
        ):
            out.append(f"save_total_limit: must be None or >= 1, got {self.save_total_limit!r}")
        if not _finite(self.learning_rate) or self.learning_rate <= 0:
            out.append(f"learning_rate: must be a positive number, got {self.learning_rate!r}")
        if not _finite(self.lora_dropout) or not 0.0 <= self.lora_dropout < 1.0:
            out.append(f"lora_dropout: must be in [0, 1), got {self.lora_dropout!r}")
        if isinstance(self.num_processes, int) and self.num_processes > MAX_PROCESSES:
            out.append(f"num_processes: must be at most {MAX_PROCESSES}, got {self.num_processes}")
        if self.use_lora and not self.lora_target_modules:
            out.append("lora_target_modules: must name at least one module when use_lora is on")
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (what a run stores as its resolved config)."""
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Rebuild a config strictly (unknown keys, wrong types are errors naming the field)."""
        return config_from_dict(cls, data)

    @property
    def final_dir(self) -> Path:
        """Where the finished model (merged if LoRA) and tokenizer are saved."""
        return Path(self.output_dir) / "final"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(kw_only=True)
class SFTConfigCAI(BaseTrainConfig):
    """Supervised fine-tuning on the SL-CAI revisions (prompt/completion records)."""

    dataset_path: str = field(
        metadata=_help(
            "A datasets folder (save_to_disk) or a JSONL file of prompt/completion records."
        )
    )
    learning_rate: float = field(default=2e-5, metadata=_help("Peak learning rate."))
    completion_only_loss: bool = field(
        default=True, metadata=_help("Train on the completion tokens only, not the prompt.")
    )

    def problems(self) -> list[str]:
        out = super().problems()
        if not str(self.dataset_path).strip():
            out.append("dataset_path: must not be empty")
        return out


@dataclass(kw_only=True)
class DPOConfigCAI(BaseTrainConfig):
    """Direct preference optimisation on AI-labelled pairs.

    Soft labels: the sigmoid (cDPO) and robust losses take one ``label_smoothing``
    epsilon, the probability that a label is flipped. With AI labels, the mean of
    ``1 - p_chosen`` over the kept pairs is that probability; set
    ``label_smoothing_from_soft_labels`` to use it (capped below 0.5).
    """

    pairs_path: str = field(
        metadata=_help(
            "JSONL or datasets folder with prompt (text or messages), chosen, rejected and "
            "optionally p_chosen."
        )
    )
    ref_model_path: str | None = field(
        default=None, metadata=_help("Reference model; None uses a frozen copy of model_path.")
    )
    beta: float = field(
        default=0.1, metadata=_help("KL strength: higher stays closer to the reference.")
    )
    label_smoothing: float = field(
        default=0.0, metadata=_help("Probability that a label is flipped (cDPO / robust DPO).")
    )
    label_smoothing_from_soft_labels: bool = field(
        default=False,
        metadata=_help("Set label_smoothing to the mean (1 - p_chosen) of the pairs file."),
    )
    loss_type: str = field(default="sigmoid", metadata=_help("trl DPO loss type."))
    learning_rate: float = field(default=5e-7, metadata=_help("Peak learning rate."))
    max_prompt_length: int | None = field(
        default=None,
        metadata=_help("Unused by trl 1.16 (kept for recipes from older trl); must be None."),
    )

    def problems(self) -> list[str]:
        out = super().problems()
        if not str(self.pairs_path).strip():
            out.append("pairs_path: must not be empty")
        if not _finite(self.beta) or self.beta <= 0:
            out.append(f"beta: must be a positive number, got {self.beta!r}")
        if not _finite(self.label_smoothing) or not 0.0 <= self.label_smoothing < 0.5:
            out.append(f"label_smoothing: must be in [0, 0.5), got {self.label_smoothing!r}")
        if self.loss_type not in DPO_LOSS_TYPES:
            out.append(
                f"loss_type: must be one of {', '.join(DPO_LOSS_TYPES)}, got {self.loss_type!r}"
            )
        if self.max_prompt_length is not None:
            out.append("max_prompt_length: trl 1.16 truncates with max_length only; leave it None")
        return out


@dataclass(kw_only=True)
class RewardConfigCAI(BaseTrainConfig):
    """A preference model (sequence classifier with one output) on AI-labelled pairs."""

    pairs_path: str = field(
        metadata=_help("JSONL or datasets folder with prompt, chosen and rejected.")
    )
    eval_fraction: float = field(
        default=0.1, metadata=_help("Share of pairs held out to measure accuracy (0 for none).")
    )
    learning_rate: float = field(default=1e-5, metadata=_help("Peak learning rate."))
    center_rewards_coefficient: float | None = field(
        default=None, metadata=_help("Penalty pulling mean rewards to zero (trl option).")
    )

    def problems(self) -> list[str]:
        out = super().problems()
        if not str(self.pairs_path).strip():
            out.append("pairs_path: must not be empty")
        if not _finite(self.eval_fraction) or not 0.0 <= self.eval_fraction < 1.0:
            out.append(f"eval_fraction: must be in [0, 1), got {self.eval_fraction!r}")
        return out


@dataclass
class TrainResult:
    """What a finished (or cooperatively stopped) run reports back."""

    output_dir: str
    metrics_history: list[tuple[int, dict[str, float]]]
    final_metrics: dict[str, float]
    global_step: int
    resumed_from: str | None
    stopped: bool = False
    final_dir: str | None = None


CONFIG_CLASSES: dict[str, type[BaseTrainConfig]] = {
    "sft": SFTConfigCAI,
    "dpo": DPOConfigCAI,
    "reward": RewardConfigCAI,
}


def load_recipe(path: str | Path, **overrides: Any) -> BaseTrainConfig:
    """Read a YAML or JSON recipe: ``trainer: sft|dpo|reward`` plus the config's fields.

    ``overrides`` replace fields (e.g. ``output_dir`` for this run). A JSON file
    without ``trainer`` (a stored resolved config) needs ``trainer=`` in overrides.
    """
    from cai_web.jsonlimits import json_loads, yaml_loads

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml_loads(text) if path.suffix in (".yaml", ".yml") else json_loads(text)
    except ValueError as exc:  # malformed, too deep, NaN (yaml's own errors pass as they are)
        raise ConfigError(f"{path}: cannot read the recipe ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping")
    data = {**data, **overrides}
    trainer = data.pop("trainer", None)
    if trainer not in CONFIG_CLASSES:
        raise ConfigError(
            f"{path}: 'trainer' must be one of {', '.join(CONFIG_CLASSES)}, got {trainer!r}"
        )
    return CONFIG_CLASSES[trainer].from_dict(data)


def trainer_name(config: BaseTrainConfig) -> str:
    """'sft', 'dpo' or 'reward' for a config instance."""
    for name, cls in CONFIG_CLASSES.items():
        if type(config) is cls:
            return name
    raise ConfigError(f"not a trainer config: {type(config).__name__}")
