"""What a run may take as input: one rule per role, asked by the form AND the service.

A kind declares its inputs as :class:`InputRule` s (``model``, ``judge``,
``label_set``...). ``rule.allowed(team)`` is the queryset of everything the role
accepts: the launch form offers exactly those choices and ``run_start`` refuses
anything outside it with ``rule.why_not(obj)``, so the two can never disagree (a
reward model is not offered as a DPO policy, and ``run_start dpo --model <reward
model>`` is refused by the service with the same reason).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, QuerySet

from cai_web.models import Team
from constitutions.models import ConstitutionVersion, VersionStatus
from labelling.models import LabelSet

from .errors import TrainingError
from .models import Backend, ModelEntry, PromptSelection, PromptSet, Run, RunStatus


@dataclass(frozen=True)
class InputRule:
    """One input role of a run kind.

    ``model`` is the Django model the role takes (``None`` for a plain choice such as
    the prompt selection, whose values are ``choices``). ``run_field`` is the
    :class:`~training.models.Run` column the chosen object is stored in.
    """

    role: str
    label: str
    run_field: str
    model: type[Model] | None = None
    allowed: Callable[[Team], QuerySet[Any]] | None = None
    why_not: Callable[[Any], str] = field(default=lambda obj: f"{obj} cannot be used here.")
    choices: tuple[tuple[str, str], ...] = ()
    default: Any = None
    required: bool = True
    help: str = ""
    describe: Callable[[Any], str] = field(default=str)

    def check(self, team: Team, value: Any) -> Any:
        """The value if this role accepts it for ``team``; TrainingError naming the role."""
        if value is None or value == "":
            if self.default is not None:
                return self.default
            if self.required:
                raise TrainingError(f"Choose the {self.label.lower()}.", field=self.role)
            return None
        if self.model is None:
            if value not in {v for v, _ in self.choices}:
                allowed = ", ".join(v for v, _ in self.choices)
                raise TrainingError(
                    f"{self.label}: {value!r} is not one of {allowed}.", field=self.role
                )
            return value
        if not isinstance(value, self.model):
            raise TrainingError(f"{self.label}: not a {self.model.__name__}.", field=self.role)
        if _team_id(value) != team.pk:
            raise TrainingError(
                f"That {self.label.lower()} belongs to another team.", field=self.role
            )
        assert self.allowed is not None
        if not self.allowed(team).filter(pk=value.pk).exists():
            raise TrainingError(self.why_not(value), field=self.role)
        return value

    def find(self, team: Team, ref: str) -> Any:
        """An object of the team by id or name (``Name@number`` for a version), for shells."""
        if self.model is None:
            return ref
        return find_object(self.model, team, ref, self.label.lower())


def _team_id(obj: Any) -> int:
    if isinstance(obj, ConstitutionVersion):
        return obj.constitution.team_id
    return obj.team_id


def find_object(model: type[Model], team: Team, ref: str, what: str) -> Any:
    ref = str(ref).strip()
    if model is ConstitutionVersion:
        qs: QuerySet[Any] = ConstitutionVersion.objects.filter(constitution__team=team)
        if ref.isdigit():
            found = qs.filter(pk=int(ref)).first()
        else:
            name, _, number = ref.rpartition("@")
            if not name or not number.isdigit():
                raise TrainingError(f"A {what} is an id or 'Constitution name@number'.")
            found = qs.filter(constitution__name=name, number=int(number)).first()
    else:
        qs = model._default_manager.filter(team=team)
        found = qs.filter(pk=int(ref)).first() if ref.isdigit() else qs.filter(name=ref).first()
    if found is None:
        raise TrainingError(f"There is no {what} {ref!r} in {team.slug}.")
    return found


# --- what each role accepts (one definition each) ----------------------------------------


def published_versions(team: Team) -> QuerySet[ConstitutionVersion]:
    return (
        ConstitutionVersion.objects.filter(constitution__team=team, status=VersionStatus.PUBLISHED)
        .select_related("constitution")
        .order_by("constitution__name", "-number")
    )


def prompt_sets(team: Team) -> QuerySet[PromptSet]:
    return PromptSet.objects.filter(team=team, count__gt=0).order_by("name")


def held_out_prompt_sets(team: Team) -> QuerySet[PromptSet]:
    return prompt_sets(team).filter(held_out_count__gt=0)


def _is_reward_model(entry: ModelEntry) -> bool:
    return bool((entry.options or {}).get("reward_model"))


def answering_models(team: Team) -> QuerySet[ModelEntry]:
    """Models that generate text: every registered model but reward models."""
    return (
        ModelEntry.objects.filter(team=team)
        .exclude(options__has_key="reward_model")
        .order_by("name")
    )


def judge_models(team: Team) -> QuerySet[ModelEntry]:
    """Judges need next-token log-probs: local backends only."""
    return answering_models(team).exclude(backend=Backend.OPENAI)


def trainable_models(team: Team) -> QuerySet[ModelEntry]:
    """Local transformers folders that are language models (not reward models)."""
    return (
        answering_models(team).filter(backend=Backend.TRANSFORMERS, gguf_file="").exclude(path="")
    )


def succeeded_runs(kind: str) -> Callable[[Team], QuerySet[Run]]:
    def allowed(team: Team) -> QuerySet[Run]:
        return Run.objects.filter(team=team, kind=kind, status=RunStatus.SUCCEEDED).order_by("-pk")

    return allowed


def trainable_label_sets(team: Team) -> QuerySet[LabelSet]:
    """Label sets with AI labels that were not rejected (approval is checked separately,
    because an unapproved set may be used with a recorded reason)."""
    return (
        LabelSet.objects.filter(team=team, ai_label_count__gt=0)
        .exclude(status=LabelSet.Status.REJECTED)
        .order_by("-status", "-pk")
    )


def why_not_answering(entry: ModelEntry) -> str:
    return f"{entry.name} is a reward model: it scores answers and cannot write them."


def why_not_judge(entry: ModelEntry) -> str:
    if _is_reward_model(entry):
        return why_not_answering(entry)
    return (
        f"{entry.name} is an OpenAI-compatible server: the judge must expose next-token "
        "probabilities, so choose a local model."
    )


def why_not_trainable(entry: ModelEntry) -> str:
    if _is_reward_model(entry):
        return f"{entry.name} is a reward model, not a language model: it cannot be trained as a policy."
    return (
        f"{entry.name} is not a local transformers folder, so it cannot be trained "
        "(GGUF files and servers can only answer)."
    )


def why_not_published(version: ConstitutionVersion) -> str:
    return f"{version} is {version.status}: only published versions can be used."


def why_not_label_set(label_set: LabelSet) -> str:
    if label_set.ai_label_count == 0:
        return f"{label_set.name} has no AI labels to train on."
    return f"{label_set.name} was rejected by its audit; it cannot train anything."


def why_not_prompt_set(prompt_set: PromptSet) -> str:
    return f"{prompt_set.name} has no prompts."


def why_not_held_out(prompt_set: PromptSet) -> str:
    return f"{prompt_set.name} has no held-out prompts; import it with a held-out fraction."


# --- the rules kinds reuse ----------------------------------------------------------------

VERSION = InputRule(
    role="version",
    label="Constitution version (published)",
    run_field="constitution_version",
    model=ConstitutionVersion,
    allowed=published_versions,
    why_not=why_not_published,
    describe=lambda v: f"{v.constitution.name} v{v.number} ({v.short_hash})",
)
PROMPT_SET = InputRule(
    role="prompt_set",
    label="Prompt set",
    run_field="prompt_set",
    model=PromptSet,
    allowed=prompt_sets,
    why_not=why_not_prompt_set,
    describe=lambda p: f"{p.name} ({p.count:,} prompts)",
)
PROMPT_SELECTION = InputRule(
    role="prompt_selection",
    label="Prompts",
    run_field="prompt_selection",
    choices=tuple(PromptSelection.choices),
    default=PromptSelection.TRAIN,
)


def model_rule(role: str, label: str, *, run_field: str, trainable: bool = False) -> InputRule:
    if trainable:
        return InputRule(
            role=role,
            label=label,
            run_field=run_field,
            model=ModelEntry,
            allowed=trainable_models,
            why_not=why_not_trainable,
        )
    if role == "judge":
        return InputRule(
            role=role,
            label=label,
            run_field=run_field,
            model=ModelEntry,
            allowed=judge_models,
            why_not=why_not_judge,
        )
    return InputRule(
        role=role,
        label=label,
        run_field=run_field,
        model=ModelEntry,
        allowed=answering_models,
        why_not=why_not_answering,
    )


LABEL_SET = InputRule(
    role="label_set",
    label="Label set",
    run_field="label_set",
    model=LabelSet,
    allowed=trainable_label_sets,
    why_not=why_not_label_set,
    describe=lambda s: (
        f"{s.name} ({s.ai_label_count} labels, "
        + ("approved" if s.is_approved else f"{s.status}: needs an override reason")
        + ")"
    ),
)

__all__ = [
    "InputRule",
    "LABEL_SET",
    "PROMPT_SELECTION",
    "PROMPT_SET",
    "VERSION",
    "answering_models",
    "find_object",
    "held_out_prompt_sets",
    "judge_models",
    "model_rule",
    "published_versions",
    "succeeded_runs",
    "trainable_label_sets",
    "trainable_models",
]
