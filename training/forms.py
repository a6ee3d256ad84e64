"""Forms of the training app. They parse input; services decide what is allowed.

Each kind's launch form lives in its kind module (``training/kinds/``) and derives
from :class:`LaunchForm` here."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms

from cai_web.jsonlimits import json_loads

from .models import Backend
from .services.prompt_sets import MAX_SPLIT_SEED

if TYPE_CHECKING:
    from .inputs import InputRule


class PromptSetUploadForm(forms.Form):
    name = forms.CharField(max_length=120)
    # Empty files reach the parser, which reports them like every other problem.
    file = forms.FileField(
        allow_empty_file=True,
        help_text='JSONL ({"prompt": …}, {"messages": […]} or HH-RLHF {"chosen": …}), '
        "CSV with a prompt column, or plain text, one prompt per line; .gz accepted.",
    )
    held_out_fraction = forms.FloatField(min_value=0.0, max_value=0.99, initial=0.1)
    split_seed = forms.IntegerField(min_value=0, max_value=MAX_SPLIT_SEED, initial=0)


class ModelRegisterForm(forms.Form):
    name = forms.CharField(max_length=120)
    backend = forms.ChoiceField(choices=Backend.choices, initial=Backend.TRANSFORMERS)
    path = forms.CharField(
        required=False,
        max_length=500,
        help_text="Local model folder or .gguf file (transformers, vllm).",
    )
    gguf_file = forms.CharField(
        required=False, max_length=200, help_text="GGUF file name inside the folder."
    )
    base_url = forms.CharField(
        required=False,
        max_length=500,
        help_text="OpenAI-compatible server, e.g. http://host:8000/v1.",
    )
    dtype = forms.ChoiceField(
        choices=[(d, d) for d in ("auto", "float32", "bfloat16", "float16")], initial="auto"
    )
    context_length = forms.IntegerField(min_value=1, max_value=1_048_576, initial=2048)
    options = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='JSON, e.g. {"tensor_parallel_size": 2}.',
    )

    def clean_options(self) -> dict[str, Any]:
        raw = (self.cleaned_data.get("options") or "").strip()
        if not raw:
            return {}
        try:
            value = json_loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Options must be a JSON object.")
        return value


class LaunchForm(forms.Form):
    """Base of every kind's launch form.

    The input fields come from the kind's :class:`~training.inputs.InputRule` s: a
    role's choices are exactly ``rule.allowed(team)``, the queryset the service checks
    against, so the form never offers what ``run_start`` would refuse. Subclasses add
    their option fields and say how they map to the kind's config in ``options()``.
    """

    inputs: ClassVar[Sequence[InputRule]] = ()
    name = forms.CharField(required=False, max_length=200, label="Name (optional)")
    # A fresh token per page view: submitting the same page twice starts one run.
    launch_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, forms.Field] = {}
        for rule in self.inputs:
            if rule.model is None:
                fields[rule.role] = forms.ChoiceField(
                    choices=rule.choices,
                    initial=rule.default,
                    label=rule.label,
                    help_text=rule.help,
                )
            else:
                assert rule.allowed is not None
                field = forms.ModelChoiceField(
                    queryset=rule.allowed(team),
                    label=rule.label,
                    required=rule.required,
                    help_text=rule.help,
                )
                field.label_from_instance = rule.describe  # type: ignore[method-assign,assignment]
                fields[rule.role] = field
        self.fields = {**fields, **self.fields}
        if not self.is_bound:
            self.fields["launch_key"].initial = uuid.uuid4().hex

    def main_fields(self) -> list[forms.BoundField]:
        """The visible fields not shown in a group of their own (``stage_fields``)."""
        grouped = {bf.name for _, group in self.stage_fields() for bf in group}
        return [bf for bf in self.visible_fields() if bf.name not in grouped]

    def stage_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        return []

    def input_values(self) -> dict[str, Any]:
        return {rule.role: self.cleaned_data.get(rule.role) for rule in self.inputs}

    def options(self) -> dict[str, Any]:
        """The kind's config options from the cleaned data."""
        return {}

    def requested_shard_size(self) -> int | None:
        return self.cleaned_data.get("shard_size")


class PromptSubsetLaunchForm(LaunchForm):
    """A launch form for a kind that runs over prompts: "N prompts only" (first N or a
    seeded random N) beside the selection (all, train or held-out split); the subset
    is part of the run's config (``training.engine.prompt_sets.PromptSubset``)."""

    prompt_limit = forms.IntegerField(
        required=False,
        min_value=1,
        label="N prompts only",
        help_text="Run over N prompts of the selection (blank: all of them).",
    )
    prompt_subset = forms.ChoiceField(
        choices=[("first", "the first N"), ("random", "a random N (drawn with the seed)")],
        initial="first",
        required=False,
        label="Which N",
    )

    def subset_options(self) -> dict[str, Any]:
        return {
            "prompt_limit": self.cleaned_data.get("prompt_limit") or None,
            "prompt_subset": self.cleaned_data.get("prompt_subset") or "first",
        }


# Options a launcher may set on a trainer config; the paths are resolved by the kind.
TRAIN_OPTIONS = (
    "max_steps",
    "learning_rate",
    "per_device_batch_size",
    "gradient_accumulation",
    "max_length",
    "logging_steps",
    "save_steps",
    "save_total_limit",
    "seed",
    "use_lora",
    "lora_r",
    "lora_alpha",
    "warmup_steps",
    "completion_only_loss",
    "beta",
    "label_smoothing",
    "label_smoothing_from_soft_labels",
    "loss_type",
    "eval_fraction",
    "num_processes",
)


class TrainLaunchForm(LaunchForm):
    """Trainer options shared by the kinds that train (SFT, DPO, reward)."""

    max_steps = forms.IntegerField(min_value=1, max_value=1_000_000, initial=100)
    learning_rate = forms.FloatField(min_value=1e-9, max_value=1.0, initial=1e-5)
    per_device_batch_size = forms.IntegerField(min_value=1, max_value=1024, initial=4)
    max_length = forms.IntegerField(min_value=16, max_value=131072, initial=1024)
    use_lora = forms.BooleanField(required=False, label="LoRA (peft) instead of all weights")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    train_fields: ClassVar[tuple[str, ...]] = (
        "max_steps",
        "learning_rate",
        "per_device_batch_size",
        "max_length",
        "use_lora",
        "seed",
    )

    def options(self) -> dict[str, Any]:
        return {
            "train": {
                k: self.cleaned_data[k]
                for k in self.train_fields
                if self.cleaned_data.get(k) is not None
            }
        }


class ResultsFilterForm(forms.Form):
    principle = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    round = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    truncated = forms.BooleanField(required=False, label="Truncated only")

    def __init__(
        self, *args: Any, principles: list[tuple[int, str]], rounds: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        principle = self.fields["principle"]
        round_ = self.fields["round"]
        assert isinstance(principle, forms.ChoiceField) and isinstance(round_, forms.ChoiceField)
        principle.choices = [("", "any principle"), *principles]
        round_.choices = [("", "any round")] + [(r, f"round {r}") for r in range(1, rounds + 1)]
