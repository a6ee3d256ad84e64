"""Forms of the training app. They parse input; services decide what is allowed."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from .models import Backend, ModelEntry, PromptSelection, PromptSet

STAGE_DEFAULTS = {"answer": 256, "critique": 192, "revision": 256}


class PromptSetUploadForm(forms.Form):
    name = forms.CharField(max_length=120)
    # Empty files reach the parser, which reports them like every other problem.
    file = forms.FileField(
        allow_empty_file=True,
        help_text='JSONL ({"prompt": …}, {"messages": […]} or HH-RLHF {"chosen": …}), '
        "CSV with a prompt column, or plain text, one prompt per line; .gz accepted.",
    )
    held_out_fraction = forms.FloatField(min_value=0.0, max_value=0.99, initial=0.1)
    split_seed = forms.IntegerField(min_value=0, initial=0)


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
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Options must be a JSON object.")
        return value


class RunLaunchForm(forms.Form):
    """Offers only valid combinations: the team's published versions, prompt sets and models."""

    name = forms.CharField(required=False, max_length=200)
    version = forms.ModelChoiceField(queryset=None, label="Constitution version (published)")
    prompt_set = forms.ModelChoiceField(queryset=None)
    prompt_selection = forms.ChoiceField(
        choices=PromptSelection.choices, initial=PromptSelection.TRAIN
    )
    model = forms.ModelChoiceField(queryset=None)
    rounds = forms.IntegerField(min_value=1, max_value=4, initial=1)
    few_shot = forms.BooleanField(required=False, initial=True, label="Few-shot dialogues")
    system_prompt = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    seed = forms.IntegerField(min_value=0, initial=0)
    batch_size = forms.IntegerField(min_value=1, max_value=1024, initial=16)
    shard_size = forms.IntegerField(
        min_value=1, max_value=100_000, initial=256, help_text="Prompts per shard (one task each)."
    )

    def __init__(self, *args: Any, team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from constitutions.selectors import published_versions

        self.fields["version"].queryset = published_versions(team=team)
        self.fields["version"].label_from_instance = lambda v: (
            f"{v.constitution.name} v{v.number} ({v.short_hash})"
        )
        self.fields["prompt_set"].queryset = PromptSet.objects.filter(
            team=team, count__gt=0
        ).order_by("name")
        self.fields["prompt_set"].label_from_instance = lambda p: f"{p.name} ({p.count:,} prompts)"
        self.fields["model"].queryset = ModelEntry.objects.filter(team=team).order_by("name")
        for stage, tokens in STAGE_DEFAULTS.items():
            self.fields[f"{stage}_temperature"] = forms.FloatField(
                min_value=0.0, max_value=10.0, initial=0.7, label=f"{stage} temperature"
            )
            self.fields[f"{stage}_top_p"] = forms.FloatField(
                min_value=0.01, max_value=1.0, initial=0.95, label=f"{stage} top_p"
            )
            self.fields[f"{stage}_max_new_tokens"] = forms.IntegerField(
                min_value=1, max_value=32_768, initial=tokens, label=f"{stage} max new tokens"
            )

    def stage_fields(self) -> list[tuple[str, list[Any]]]:
        return [
            (
                stage,
                [self[f"{stage}_{name}"] for name in ("temperature", "top_p", "max_new_tokens")],
            )
            for stage in STAGE_DEFAULTS
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        from training.engine.critique_revision import CritiqueRevisionConfig
        from training.engine.types import SamplingParams

        try:
            data["config"] = CritiqueRevisionConfig(
                rounds=data["rounds"],
                few_shot=bool(data.get("few_shot")),
                system_prompt=(data.get("system_prompt") or "").strip() or None,
                seed=data["seed"],
                batch_size=data["batch_size"],
                **{
                    stage: SamplingParams(
                        temperature=data[f"{stage}_temperature"],
                        top_p=data[f"{stage}_top_p"],
                        max_new_tokens=data[f"{stage}_max_new_tokens"],
                    )
                    for stage in STAGE_DEFAULTS
                },
            )
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


class ResultsFilterForm(forms.Form):
    principle = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    round = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    truncated = forms.BooleanField(required=False, label="Truncated only")

    def __init__(
        self, *args: Any, principles: list[tuple[int, str]], rounds: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["principle"].choices = [("", "any principle"), *principles]
        self.fields["round"].choices = [("", "any round")] + [
            (r, f"round {r}") for r in range(1, rounds + 1)
        ]
