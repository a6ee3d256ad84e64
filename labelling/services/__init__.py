"""Writes to the labelling app: label sets, AI labels, reviews, queues, approval.

The RL-CAI labelling run calls :func:`labelset_create_from_pairs` or
:func:`labelset_create` + :func:`comparison_bulk_create` + :func:`ailabel_bulk_create`
with plain dataclasses, exactly as the importers do.
"""

from __future__ import annotations

from .approval import (
    ApprovalGate,
    TrainingRisk,
    labelset_approval_gate,
    labelset_approve,
    labelset_reject,
    labelset_reopen,
    labelset_require_approved,
    labelset_require_confirmed,
    labelset_training_risk,
    labelset_training_risks,
    team_audit_settings_update,
)
from .common import (
    BATCH,
    CHOICES,
    IMPORT_FORMATS,
    AILabelInput,
    ComparisonInput,
    LabellingError,
    LabelSetNotApproved,
    iter_chunks,
)
from .exports import EXPORT_FORMATS, labelset_export_start
from .filejobs import filejob_cancel
from .humans import (
    COMBINED_RULE,
    GoldLabelInput,
    HumanVerdicts,
    comparison_refresh_human,
    consensus,
    gold_labels_add,
    human_verdicts_of,
)
from .imports import labelset_import_start
from .labelsets import (
    ailabel_bulk_create,
    comparison_bulk_create,
    labelset_create,
    labelset_create_from_pairs,
    labelset_import,
    labelset_refresh_tallies,
)
from .queues import _largest_remainder, queue_create, queue_rebuild, queue_sample
from .reviews import canonical_verdict, review_submit, shown_order_for

__all__ = [
    "AILabelInput",
    "COMBINED_RULE",
    "GoldLabelInput",
    "HumanVerdicts",
    "comparison_refresh_human",
    "gold_labels_add",
    "human_verdicts_of",
    "ApprovalGate",
    "TrainingRisk",
    "BATCH",
    "CHOICES",
    "EXPORT_FORMATS",
    "ComparisonInput",
    "IMPORT_FORMATS",
    "LabelSetNotApproved",
    "LabellingError",
    "_largest_remainder",
    "ailabel_bulk_create",
    "canonical_verdict",
    "comparison_bulk_create",
    "consensus",
    "filejob_cancel",
    "iter_chunks",
    "labelset_approval_gate",
    "labelset_approve",
    "labelset_create",
    "labelset_create_from_pairs",
    "labelset_export_start",
    "labelset_import",
    "labelset_import_start",
    "labelset_refresh_tallies",
    "labelset_reject",
    "labelset_reopen",
    "labelset_require_confirmed",
    "labelset_training_risk",
    "labelset_training_risks",
    "labelset_require_approved",
    "queue_create",
    "queue_rebuild",
    "queue_sample",
    "review_submit",
    "shown_order_for",
    "team_audit_settings_update",
]
