"""What DPO and reward-model runs share: the label set input and its two gates (approval,
and a confirmation when the set is more position-inconsistent than the team accepts),
the launch options, and turning a label set's AI labels into training pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms

from training.errors import TrainingError
from training.forms import TrainLaunchForm
from training.inputs import LABEL_SET, model_rule
from training.kinds import trainer
from training.kinds.base import ShardPlan, need, single_shard
from training.kinds.checks import user_or_none
from training.models import Run
from training.shards import ShardContext

INPUTS = (
    LABEL_SET,
    model_rule("model", "Policy / starting model", run_field="model", trainable=True),
)


class PreferenceLaunchForm(TrainLaunchForm):
    inputs = INPUTS
    threshold = forms.FloatField(
        min_value=0.5, max_value=0.99, initial=0.5, help_text="Keep pairs at least this sure."
    )
    override_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required for a label set that is not approved; recorded and shown.",
    )
    confirm_inconsistent = forms.BooleanField(
        required=False,
        label="Train on it although it is position-inconsistent above the team's threshold",
        help_text="Needed only for a set marked “confirm” in the table above the form.",
    )
    # Shown above the form by training/run_launch.html: each offered set's figures.
    launch_template = "training/kinds/_preference_risks.html"

    def options(self) -> dict[str, Any]:
        return {
            **super().options(),
            "threshold": self.cleaned_data["threshold"],
            "override_reason": (self.cleaned_data.get("override_reason") or "").strip(),
            "confirm_inconsistent": bool(self.cleaned_data.get("confirm_inconsistent")),
        }

    RISK_ROWS = 20

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, team=team, **kwargs)
        self.team_threshold_text = f"{team.confirm_inconsistent_above:.0%}"

    def label_set_risks(self) -> list[tuple[Any, Any]]:
        """(label set, TrainingRisk) of the most recent sets the form offers."""
        from labelling.services import labelset_training_risks

        field = self.fields["label_set"]
        sets = list(field.queryset.select_related("team")[: self.RISK_ROWS])  # type: ignore[attr-defined]
        risks = labelset_training_risks(sets)
        return [(ls, risks[ls.pk]) for ls in sets]


def check(team: Any, inputs: dict[str, Any], options: dict[str, Any], user: Any) -> dict[str, Any]:
    """The label set's gates: an approved set, or a recorded reason to use it anyway;
    and, above the team's position-inconsistency threshold, a confirmation.

    The reason travels in the options as ``override_reason`` (the form's field, the
    command's ``--override-reason``); it is taken out of the config and kept on the run.
    The confirmation is ``confirm_inconsistent`` (true/false), also taken out.
    """
    from labelling.services import (
        LabellingError,
        LabelSetNotApproved,
        labelset_require_approved,
        labelset_require_confirmed,
    )

    reason = str(options.pop("override_reason", "") or "").strip()
    confirmed = options.pop("confirm_inconsistent", False)
    if not isinstance(confirmed, bool):
        raise TrainingError(
            "confirm_inconsistent must be true or false.", field="confirm_inconsistent"
        )
    label_set = inputs["label_set"]
    try:
        labelset_require_approved(
            label_set, override_reason=reason or None, user=user_or_none(user)
        )
    except LabelSetNotApproved as exc:
        # The field to fix is the reason (or the audit, which is not on this form).
        raise TrainingError(str(exc), field="override_reason") from None
    try:
        # After the approval gate, so an unapproved set is told that first; run_start is
        # one transaction, so an override recorded above goes if this refuses.
        labelset_require_confirmed(label_set, confirmed=confirmed)
    except LabellingError as exc:
        raise TrainingError(str(exc), field="confirm_inconsistent") from None
    source = getattr(label_set, "labelling_run", None)
    return {
        "override_reason": "" if label_set.is_approved else reason[:5000],
        "constitution_version": source.constitution_version if source else None,
        "source_run": source,
    }


def plan(inputs: dict[str, Any], options: dict[str, Any], shard_size: int | None) -> ShardPlan:
    return single_shard(trainer.default_steps(options))


def build_config_for(run_config_class: type) -> Any:
    def build_config(options: dict[str, Any], run: Run, inputs: dict[str, Any]) -> Any:
        return trainer.resolve(
            run_config_class, options, run, inputs["model"], pairs_path="pairs.jsonl"
        )

    return build_config


def preference_records(label_set: Any, threshold: float) -> tuple[list[dict], float | None]:
    """The label set's AI labels as DPO pairs, binarised at ``threshold``.

    p(a) is the order-averaged probability (both presentation orders), so a
    constant position bias cancels; the prompt is one user turn.
    """
    from labelling.models import AILabel
    from training.engine.trainers.data import binarise

    rows = []
    for label in (
        AILabel.objects.filter(label_set=label_set, p_a_ab__isnull=False, p_a_ba__isnull=False)
        .select_related("comparison")
        .order_by("comparison_id", "judge")
        .iterator(chunk_size=1000)
    ):
        c = label.comparison
        rows.append(
            {
                "prompt": [{"role": "user", "content": c.prompt}],
                "response_a": c.response_a,
                "response_b": c.response_b,
                "p_a": (need(label.p_a_ab, "p_a_ab") + need(label.p_a_ba, "p_a_ba")) / 2.0,
            }
        )
    return binarise(rows, threshold)


def human_reference(label_set: Any) -> str:
    """Which human verdict stands for "the humans" in a set: its gold labels when it
    has any, else its in-app audit reviews (the statistics page's primary reference)."""
    from labelling.models import Comparison

    has_gold = Comparison.objects.filter(label_set=label_set, gold_count__gt=0).exists()
    return "gold" if has_gold else "audit"


def human_pairs(label_set: Any, reference: str | None = None) -> list[dict[str, Any]]:
    """Comparisons whose human verdict (gold, or audit where the set has no gold: see
    :func:`human_reference`) is a or b, as prompt/chosen/rejected."""
    from labelling.models import Comparison

    field = f"{reference or human_reference(label_set)}_verdict"
    pairs = []
    for c in Comparison.objects.filter(label_set=label_set, **{f"{field}__in": ("a", "b")}):
        chosen, rejected = (
            (c.response_a, c.response_b)
            if getattr(c, field) == "a"
            else (c.response_b, c.response_a)
        )
        pairs.append(
            {
                "prompt": [{"role": "user", "content": c.prompt}],
                "chosen": chosen,
                "rejected": rejected,
            }
        )
    return pairs


def write_pairs_and_train(ctx: ShardContext) -> tuple[bool, dict[str, Any]]:
    """Write the pairs file once (binarised AI labels), then train on it."""
    from training.engine.trainers.data import write_jsonl

    run = ctx.run
    config = run.config_object()
    pairs_path = Path(config.train.pairs_path)
    if not pairs_path.is_file():
        ctx.progress(0, stage="pairs")
        records, mean = preference_records(run.label_set, config.threshold)
        if not records:
            raise ValueError(
                f"no pair of the label set is at least {config.threshold:g} sure either way"
            )
        tmp = pairs_path.with_suffix(".tmp")
        write_jsonl(records, tmp)
        tmp.replace(pairs_path)
        ctx.update_run(examples_total=len(records))
        ctx.merge_result({"pairs": len(records), "mean_p_chosen": mean})
    return trainer.train(ctx, config.train)
