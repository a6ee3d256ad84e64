"""DPO (RL-CAI policy): direct preference optimisation on a label set's AI labels.

Refused unless the label set is approved, or a reason to use it anyway is given
(recorded by the labelling app and shown on the run page)."""

from __future__ import annotations

from typing import Any

from django import forms

from training.engine.run_configs import DPORunConfig
from training.kinds import preference, trainer
from training.kinds.base import KindSpec


class LaunchDPO(preference.PreferenceLaunchForm):
    beta = forms.FloatField(min_value=1e-4, max_value=10.0, initial=0.1)
    label_smoothing = forms.FloatField(min_value=0.0, max_value=0.49, initial=0.0)
    label_smoothing_from_soft_labels = forms.BooleanField(
        required=False, label="Soft labels: label smoothing = mean(1 − p_chosen)"
    )
    train_fields = (
        *preference.PreferenceLaunchForm.train_fields,
        "beta",
        "label_smoothing",
        "label_smoothing_from_soft_labels",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["learning_rate"].initial = 5e-7


SPEC = KindSpec(
    name="dpo",
    label="DPO (RL-CAI policy)",
    summary="Train the policy directly on an approved label set's AI preferences.",
    config_class=DPORunConfig,
    form_class=LaunchDPO,
    inputs=preference.INPUTS,
    build_config=preference.build_config_for(DPORunConfig),
    check=preference.check,
    plan=preference.plan,
    execute=preference.write_pairs_and_train,
    template="training/kinds/trainer.html",
    charts=trainer.charts_of(
        trainer.LOSS,
        ("margin", "Reward margin (chosen − rejected) per step", ("rewards/margins",)),
        ("accuracy", "Reward accuracy per step", ("rewards/accuracies",)),
    ),
    parent=lambda run: run.source_run_id,
    trains_model=True,
    resume_note="training continues from the last checkpoint",
)
