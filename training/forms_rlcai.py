"""Launch forms of the RL-CAI stages. They offer only valid combinations (succeeded
critique-revision runs, trainable models, published versions, label sets with their
audit status) and parse input; the services in :mod:`training.rlcai` decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from cai_web.models import Team
from constitutions.models import ConstitutionVersion, VersionStatus

from .models import Backend, ModelEntry, PromptSelection, PromptSet, Run, RunKind, RunStatus


def trainable_models(team: Team) -> QuerySet[ModelEntry]:
    """Local transformers folders that are language models (not reward models)."""
    return (
        ModelEntry.objects.filter(team=team, backend=Backend.TRANSFORMERS, gguf_file="")
        .exclude(path="")
        .exclude(options__has_key="reward_model")
        .order_by("name")
    )


def answering_models(team: Team) -> QuerySet[ModelEntry]:
    return (
        ModelEntry.objects.filter(team=team)
        .exclude(options__has_key="reward_model")
        .order_by("name")
    )


def judge_models(team: Team) -> QuerySet[ModelEntry]:
    """Judges need next-token log-probs: local backends only."""
    return answering_models(team).exclude(backend=Backend.OPENAI)


def published_versions(team: Team) -> QuerySet[ConstitutionVersion]:
    return (
        ConstitutionVersion.objects.filter(constitution__team=team, status=VersionStatus.PUBLISHED)
        .select_related("constitution")
        .order_by("constitution__name", "-number")
    )


class _VersionField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ConstitutionVersion) -> str:
        return f"{obj.constitution.name} v{obj.number}"


class _LabelSetField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        note = "approved" if obj.is_approved else f"{obj.status}: needs an override reason"
        return f"{obj.name} ({obj.ai_label_count} labels, {note})"


class _TrainFields(forms.Form):
    """Trainer options shared by SFT, DPO and reward runs."""

    name = forms.CharField(required=False, max_length=200)
    max_steps = forms.IntegerField(min_value=1, max_value=1_000_000, initial=100)
    learning_rate = forms.FloatField(min_value=1e-9, max_value=1.0, initial=1e-5)
    per_device_batch_size = forms.IntegerField(min_value=1, max_value=1024, initial=4)
    max_length = forms.IntegerField(min_value=16, max_value=131072, initial=1024)
    use_lora = forms.BooleanField(required=False, label="LoRA (peft) instead of all weights")
    seed = forms.IntegerField(min_value=0, initial=0)

    train_fields = (
        "max_steps",
        "learning_rate",
        "per_device_batch_size",
        "max_length",
        "use_lora",
        "seed",
    )

    def train_options(self) -> dict[str, Any]:
        return {k: self.cleaned_data[k] for k in self.train_fields if k in self.cleaned_data}


class SFTLaunchForm(_TrainFields):
    kind = RunKind.SFT
    source_run = forms.ModelChoiceField(queryset=None, label="Critique-revision run (succeeded)")
    model = forms.ModelChoiceField(queryset=None, label="Base model")

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source_run"].queryset = Run.objects.filter(
            team=team, kind=RunKind.CRITIQUE_REVISION, status=RunStatus.SUCCEEDED
        ).order_by("-pk")
        self.fields["model"].queryset = trainable_models(team)
        self.fields["learning_rate"].initial = 2e-5


class LabellingLaunchForm(forms.Form):
    kind = RunKind.LABELLING
    name = forms.CharField(required=False, max_length=200)
    prompt_set = forms.ModelChoiceField(queryset=None)
    prompt_selection = forms.ChoiceField(
        choices=PromptSelection.choices, initial=PromptSelection.TRAIN
    )
    policy = forms.ModelChoiceField(queryset=None, label="Policy (answers twice)")
    judge = forms.ModelChoiceField(queryset=None, label="Feedback model (judge)")
    version = _VersionField(queryset=None, label="Constitution version (published)")
    k_principles = forms.IntegerField(
        min_value=1, max_value=16, initial=1, label="Principles per pair (ensemble)"
    )
    mode = forms.ChoiceField(
        choices=[("logprob", "log-prob (one forward pass)"), ("cot", "chain of thought, clamped")]
    )
    temperature = forms.FloatField(min_value=0.01, max_value=2.0, initial=1.0)
    max_new_tokens = forms.IntegerField(min_value=1, max_value=4096, initial=128)
    batch_size = forms.IntegerField(min_value=1, max_value=1024, initial=8)
    seed = forms.IntegerField(min_value=0, initial=0)

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prompt_set"].queryset = PromptSet.objects.filter(team=team)
        self.fields["policy"].queryset = answering_models(team)
        self.fields["judge"].queryset = judge_models(team)
        self.fields["version"].queryset = published_versions(team)


class PreferenceLaunchForm(_TrainFields):
    label_set = _LabelSetField(queryset=None, label="Label set")
    model = forms.ModelChoiceField(queryset=None, label="Policy / starting model")
    threshold = forms.FloatField(
        min_value=0.5, max_value=0.99, initial=0.5, help_text="Keep pairs at least this sure."
    )
    override_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required for a label set that is not approved; recorded and shown.",
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from labelling.models import LabelSet

        self.fields["label_set"].queryset = (
            LabelSet.objects.filter(team=team, ai_label_count__gt=0)
            .exclude(status=LabelSet.Status.REJECTED)
            .order_by("-status", "-pk")  # approved first
        )
        self.fields["model"].queryset = trainable_models(team)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        label_set = data.get("label_set")
        if (
            label_set is not None
            and not label_set.is_approved
            and not (data.get("override_reason") or "").strip()
        ):
            self.add_error(
                "override_reason",
                f"{label_set.name} is {label_set.status}, not approved: say why to train on it anyway.",
            )
        return data


class DPOLaunchForm(PreferenceLaunchForm):
    kind = RunKind.DPO
    beta = forms.FloatField(min_value=1e-4, max_value=10.0, initial=0.1)
    label_smoothing = forms.FloatField(min_value=0.0, max_value=0.49, initial=0.0)
    label_smoothing_from_soft_labels = forms.BooleanField(
        required=False, label="Soft labels: label smoothing = mean(1 − p_chosen)"
    )
    train_fields = _TrainFields.train_fields + (
        "beta",
        "label_smoothing",
        "label_smoothing_from_soft_labels",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["learning_rate"].initial = 5e-7


class RewardLaunchForm(PreferenceLaunchForm):
    kind = RunKind.REWARD
    eval_fraction = forms.FloatField(min_value=0.0, max_value=0.9, initial=0.1)
    train_fields = _TrainFields.train_fields + ("eval_fraction",)


class EvaluationLaunchForm(forms.Form):
    kind = RunKind.EVALUATION
    name = forms.CharField(required=False, max_length=200)
    policy = forms.ModelChoiceField(queryset=None, label="Trained policy")
    base = forms.ModelChoiceField(queryset=None, label="Base model")
    judge = forms.ModelChoiceField(queryset=None, label="Feedback model (judge)")
    version = _VersionField(queryset=None, label="Constitution version (published)")
    prompt_set = forms.ModelChoiceField(
        queryset=None, label="Prompt set (its held-out split is used)"
    )
    max_new_tokens = forms.IntegerField(min_value=1, max_value=4096, initial=128)
    k_principles = forms.IntegerField(min_value=1, max_value=16, initial=1)
    benign_limit = forms.IntegerField(min_value=1, max_value=20, initial=20, label="Benign prompts")
    seed = forms.IntegerField(min_value=0, initial=0)

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["policy"].queryset = answering_models(team)
        self.fields["base"].queryset = answering_models(team)
        self.fields["judge"].queryset = judge_models(team)
        self.fields["version"].queryset = published_versions(team)
        self.fields["prompt_set"].queryset = PromptSet.objects.filter(
            team=team, held_out_count__gt=0
        )


LAUNCH_FORMS: dict[str, type[forms.Form]] = {
    RunKind.SFT: SFTLaunchForm,
    RunKind.LABELLING: LabellingLaunchForm,
    RunKind.DPO: DPOLaunchForm,
    RunKind.REWARD: RewardLaunchForm,
    RunKind.EVALUATION: EvaluationLaunchForm,
}
