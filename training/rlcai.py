"""Writes of the RL-CAI stages: launch SFT, labelling, DPO, reward and evaluation runs.

Each stage is a :class:`~training.models.Run` with one shard, so it reuses the
critique-revision machinery unchanged: the ``training.run_shard`` task on the ``gpu``
queue, claiming with a fencing token, heartbeats, the reaper, cancel, resume and
``run_settle``. What a worker does with the shard lives in :mod:`training.rlcai_exec`.

The services check everything a launcher can get wrong up front (another team's
objects, a run that has not succeeded, a draft constitution, a model that cannot be
trained, an unapproved label set without an override reason) and raise
:class:`~training.services.TrainingError` with a message the view shows as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from cai_web.models import Team
from constitutions.models import ConstitutionVersion, VersionStatus

from .models import (
    Backend,
    ModelEntry,
    PromptSelection,
    PromptSet,
    Run,
    RunKind,
    RunShard,
    RunStatus,
)
from .services import TrainingError, _enqueue_shards, model_register, run_prompt_queryset

# Options a launcher may set on a trainer config; the rest is resolved here.
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
)


def run_dir(run: Run | int) -> Path:
    """The run's artifact folder: datasets, pairs, checkpoints (train/checkpoint-N), final/."""
    pk = run if isinstance(run, int) else run.pk
    return Path(settings.ARTIFACTS_DIR) / "runs" / str(pk)


def _user(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _check_team(team: Team, **objects: Any) -> None:
    for field, obj in objects.items():
        if obj is None:
            continue
        owner = obj.constitution.team_id if isinstance(obj, ConstitutionVersion) else obj.team_id
        if owner != team.pk:
            raise TrainingError(
                f"That {field.replace('_', ' ')} belongs to another team.", field=field
            )


def _check_trainable(model: ModelEntry, field: str = "model") -> None:
    if model.backend != Backend.TRANSFORMERS or model.gguf_file or not model.path:
        raise TrainingError(
            f"{model.name} is not a local transformers folder, so it cannot be trained "
            "(GGUF files and servers can only answer).",
            field=field,
        )


def _check_published(version: ConstitutionVersion) -> None:
    if version.status != VersionStatus.PUBLISHED:
        raise TrainingError(
            f"{version} is {version.status}: only published versions can be used.",
            field="version",
        )


def _default_logging(train: dict[str, Any]) -> dict[str, Any]:
    steps = int(train.get("max_steps") or 100)
    train.setdefault("logging_steps", max(1, steps // 200))
    train.setdefault("save_steps", max(1, min(100, steps // 4 or 1)))
    return train


def _train_config(cls: type, resolved: dict[str, Any], options: dict[str, Any] | None) -> Any:
    from training.engine.trainers.config import ConfigError

    options = dict(options or {})
    unknown = sorted(set(options) - set(TRAIN_OPTIONS))
    if unknown:
        raise TrainingError(f"Unknown training option(s): {', '.join(unknown)}.")
    known = {f for f in cls.__dataclass_fields__}
    values = {k: v for k, v in _default_logging(options).items() if k in known}
    try:
        return cls(**values, **resolved)
    except (ConfigError, TypeError) as exc:
        raise TrainingError(f"Invalid training options: {exc}") from None


def _create(
    *,
    team: Team,
    user: Any,
    kind: str,
    name: str,
    total_units: int,
    enqueue: bool,
    config_for: Any,
    **fields: Any,
) -> Run:
    """A stage run with one shard; ``config_for(run)`` resolves the config (needs the pk)."""
    run = Run.objects.create(
        team=team,
        kind=kind,
        name=(name or "").strip()[:200],
        created_by=_user(user),
        total_units=total_units,
        shard_size=max(1, total_units),
        **fields,
    )
    config = config_for(run)
    run.config = config.to_dict()
    run.save(update_fields=["config"])
    shard = RunShard.objects.create(run=run, index=0, start=0, end=1, total_units=total_units)
    if enqueue:
        _enqueue_shards([shard.pk])
    return run


# --- SFT ---------------------------------------------------------------------------------


@transaction.atomic
def sft_start(
    *,
    team: Team,
    user: Any,
    source_run: Run,
    model: ModelEntry,
    train: dict[str, Any] | None = None,
    min_rounds: int = 1,
    name: str = "",
    enqueue: bool = True,
) -> Run:
    """Fine-tune ``model`` on a succeeded critique-revision run's revisions (SL-CAI).

    The worker exports the run with ``export.save_hf_dataset`` into the run folder,
    then trains with trl's SFTTrainer (completion-only loss; LoRA if ``use_lora``).
    """
    from training.engine.trainers.config import ConfigError, SFTConfigCAI

    from .rlcai_config import SFTRunConfig

    _check_team(team, source_run=source_run, model=model)
    if source_run.kind != RunKind.CRITIQUE_REVISION or source_run.status != RunStatus.SUCCEEDED:
        raise TrainingError("SFT trains on a succeeded critique-revision run.", field="source_run")
    _check_trainable(model)
    train = {"max_steps": 100, **(train or {})}

    def config_for(run: Run) -> Any:
        folder = run_dir(run)
        config = _train_config(
            SFTConfigCAI,
            {
                "model_path": model.path,
                "output_dir": str(folder / "train"),
                "dataset_path": str(folder / "dataset"),
            },
            train,
        )
        try:
            return SFTRunConfig(train=config, min_rounds=min_rounds)
        except ConfigError as exc:
            raise TrainingError(str(exc)) from None

    return _create(
        team=team,
        user=user,
        kind=RunKind.SFT,
        name=name,
        total_units=int(train["max_steps"]),
        enqueue=enqueue,
        config_for=config_for,
        source_run=source_run,
        model=model,
        constitution_version=source_run.constitution_version,
        prompt_set=source_run.prompt_set,
        prompt_selection=source_run.prompt_selection,
    )


# --- labelling ---------------------------------------------------------------------------


@transaction.atomic
def labelling_start(
    *,
    team: Team,
    user: Any,
    prompt_set: PromptSet,
    policy: ModelEntry,
    judge: ModelEntry,
    version: ConstitutionVersion,
    config: Any,
    prompt_selection: str = PromptSelection.TRAIN,
    name: str = "",
    enqueue: bool = True,
) -> Run:
    """Sample two answers per prompt from ``policy`` and have ``judge`` label them.

    The output label set (source kind "run", status open) is created here so the run
    page links it from the start; the worker fills it batch by batch.
    """
    from constitutions.content import ContentError
    from constitutions.sampler import principle_probabilities
    from constitutions.selectors import version_content, version_with_content
    from labelling.services import LabellingError, labelset_create

    from .rlcai_config import LabellingRunConfig

    _check_team(team, prompt_set=prompt_set, model=policy, judge=judge, version=version)
    _check_published(version)
    if not isinstance(config, LabellingRunConfig):
        raise TrainingError("The run needs a LabellingRunConfig.")
    if prompt_selection not in PromptSelection.values:
        raise TrainingError(f"Unknown prompt selection {prompt_selection!r}.")
    if judge.backend == Backend.OPENAI:
        raise TrainingError(
            "The judge must expose next-token probabilities: choose a local model.",
            field="judge",
        )
    try:
        principle_probabilities(version_content(version_with_content(version.pk)))
    except ContentError as exc:
        raise TrainingError(str(exc), field="version") from None
    n = run_prompt_queryset(prompt_set, prompt_selection).count()
    if n == 0:
        raise TrainingError(f"{prompt_set} has no prompts in that selection.", field="prompt_set")

    def config_for(run: Run) -> Any:
        label_name = f"{run.name or 'Labelling run'} #{run.pk}"
        try:
            label_set = labelset_create(
                team=team,
                user=_user(user),
                name=label_name,
                source_kind="run",
                source_detail={
                    "run_id": run.pk,
                    "policy": policy.name,
                    "judge": judge.name,
                    "constitution_version_id": version.pk,
                    "k_principles": config.k_principles,
                    "mode": config.mode,
                },
                description=f"AI labels of {judge.name} on pairs sampled from {policy.name}.",
            )
        except LabellingError as exc:
            raise TrainingError(str(exc)) from None
        run.output_label_set = label_set
        run.save(update_fields=["output_label_set"])
        return config

    return _create(
        team=team,
        user=user,
        kind=RunKind.LABELLING,
        name=name,
        total_units=n,
        enqueue=enqueue,
        config_for=config_for,
        prompt_set=prompt_set,
        prompt_selection=prompt_selection,
        model=policy,
        judge_model=judge,
        constitution_version=version,
        examples_total=n,
    )


# --- DPO and reward ----------------------------------------------------------------------


@transaction.atomic
def preference_start(
    *,
    kind: str,
    team: Team,
    user: Any,
    label_set: Any,
    model: ModelEntry,
    train: dict[str, Any] | None = None,
    threshold: float = 0.5,
    override_reason: str = "",
    name: str = "",
    enqueue: bool = True,
) -> Run:
    """DPO or reward-model training on a label set's AI labels.

    Refused unless the label set is approved, or ``override_reason`` says why to use
    it anyway: the labelling app records the override (who, why, the status then)
    and the run keeps the reason, shown on its page.
    """
    from labelling.services import LabelSetNotApproved, labelset_require_approved
    from training.engine.trainers.config import ConfigError, DPOConfigCAI, RewardConfigCAI

    from .rlcai_config import PreferenceRunConfig

    if kind not in (RunKind.DPO, RunKind.REWARD):
        raise TrainingError(f"Not a preference run kind: {kind!r}.")
    _check_team(team, label_set=label_set, model=model)
    _check_trainable(model)
    reason = (override_reason or "").strip()
    try:
        labelset_require_approved(label_set, override_reason=reason or None, user=_user(user))
    except LabelSetNotApproved as exc:
        raise TrainingError(str(exc), field="label_set") from None
    if label_set.is_approved:
        reason = ""  # nothing was overridden
    if label_set.ai_label_count == 0:
        raise TrainingError("That label set has no AI labels to train on.", field="label_set")
    train = {"max_steps": 100, **(train or {})}
    source = getattr(label_set, "labelling_run", None)

    def config_for(run: Run) -> Any:
        folder = run_dir(run)
        cls = DPOConfigCAI if kind == RunKind.DPO else RewardConfigCAI
        config = _train_config(
            cls,
            {
                "model_path": model.path,
                "output_dir": str(folder / "train"),
                "pairs_path": str(folder / "pairs.jsonl"),
            },
            train,
        )
        try:
            return PreferenceRunConfig(train=config, threshold=float(threshold))
        except (ConfigError, TypeError, ValueError) as exc:
            raise TrainingError(str(exc), field="threshold") from None

    return _create(
        team=team,
        user=user,
        kind=kind,
        name=name,
        total_units=int(train["max_steps"]),
        enqueue=enqueue,
        config_for=config_for,
        label_set=label_set,
        model=model,
        override_reason=reason[:5000],
        constitution_version=source.constitution_version if source else None,
        source_run=source,
    )


def dpo_start(**kwargs: Any) -> Run:
    return preference_start(kind=RunKind.DPO, **kwargs)


def reward_start(**kwargs: Any) -> Run:
    return preference_start(kind=RunKind.REWARD, **kwargs)


# --- evaluation --------------------------------------------------------------------------


@transaction.atomic
def evaluation_start(
    *,
    team: Team,
    user: Any,
    policy: ModelEntry,
    base: ModelEntry,
    judge: ModelEntry,
    version: ConstitutionVersion,
    prompt_set: PromptSet,
    config: Any,
    name: str = "",
    enqueue: bool = True,
) -> Run:
    """Trained policy vs base on the prompt set's held-out split, judged in both orders."""
    from .rlcai_config import EvaluationRunConfig

    _check_team(team, model=policy, base=base, judge=judge, version=version, prompt_set=prompt_set)
    _check_published(version)
    if not isinstance(config, EvaluationRunConfig):
        raise TrainingError("The run needs an EvaluationRunConfig.")
    if judge.backend == Backend.OPENAI:
        raise TrainingError("The judge must be a local model (log-probs).", field="judge")
    n = run_prompt_queryset(prompt_set, PromptSelection.HELD_OUT).count()
    if n == 0:
        raise TrainingError(
            f"{prompt_set} has no held-out prompts; import it with a held-out fraction.",
            field="prompt_set",
        )
    return _create(
        team=team,
        user=user,
        kind=RunKind.EVALUATION,
        name=name,
        total_units=4,  # answers (policy, base), judging, benign answers
        enqueue=enqueue,
        config_for=lambda run: config,
        model=policy,
        base_model=base,
        judge_model=judge,
        constitution_version=version,
        prompt_set=prompt_set,
        prompt_selection=PromptSelection.HELD_OUT,
        examples_total=n,
        source_run=policy.source_run,
    )


# --- registering what a run trained -------------------------------------------------------


def trained_model_register(*, run: Run, final_dir: str) -> ModelEntry:
    """Register ``final_dir`` as a model of the run's team, with ``source_run`` (idempotent)."""
    existing = ModelEntry.objects.filter(source_run=run).first()
    if existing is not None:
        return existing
    base = run.model
    stem = f"{run.kind}-run-{run.pk}"
    name = f"{stem} ({base.name})"[:120] if base else stem
    options = {"kind": run.kind}
    if run.kind == RunKind.REWARD:
        options["reward_model"] = True
    return model_register(
        team=run.team,
        user=run.created_by,
        name=name,
        path=final_dir,
        dtype=base.dtype if base else "auto",
        context_length=base.context_length if base else 2048,
        options=options,
        source_run=run,
    )
