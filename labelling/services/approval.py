"""Approving or rejecting a label set for training, and a team's audit thresholds."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cai_web.models import Team

from ..models import LabelSet, LabelSetOverride
from .common import LabellingError, LabelSetNotApproved


@transaction.atomic
def labelset_approve(*, label_set: LabelSet, user, reason: str = "") -> LabelSet:
    from ..selectors import audit_summary

    label_set = LabelSet.objects.select_for_update().get(pk=label_set.pk)
    if label_set.status == LabelSet.Status.APPROVED:
        raise LabellingError("This label set is already approved.")
    audit = audit_summary(label_set)
    if not audit.passes:
        raise LabellingError("Not approvable yet: " + "; ".join(audit.shortfalls) + ".")
    label_set.status = LabelSet.Status.APPROVED
    label_set.decided_by = user
    label_set.decided_at = timezone.now()
    label_set.decision_reason = reason.strip() or audit.summary_line
    label_set.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return label_set


@transaction.atomic
def labelset_reject(*, label_set: LabelSet, user, reason: str) -> LabelSet:
    label_set = LabelSet.objects.select_for_update().get(pk=label_set.pk)
    if not reason.strip():
        raise LabellingError("Say why the label set is rejected.")
    if label_set.status == LabelSet.Status.REJECTED:
        raise LabellingError("This label set is already rejected.")
    label_set.status = LabelSet.Status.REJECTED
    label_set.decided_by = user
    label_set.decided_at = timezone.now()
    label_set.decision_reason = reason.strip()
    label_set.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return label_set


@transaction.atomic
def labelset_require_approved(
    label_set: LabelSet, override_reason: str | None = None, user=None
) -> LabelSet:
    """The gate training calls before using a label set.

    Approved sets pass. Others raise :class:`LabelSetNotApproved` unless an
    ``override_reason`` is given, which is recorded (who, why, the status then).
    """
    label_set = LabelSet.objects.get(pk=label_set.pk)
    if label_set.status == LabelSet.Status.APPROVED:
        return label_set
    if override_reason is None or not override_reason.strip():
        raise LabelSetNotApproved(
            f"Label set {label_set.name!r} is {label_set.status}, not approved; "
            "approve it after an audit or give an override reason."
        )
    LabelSetOverride.objects.create(
        label_set=label_set,
        user=user,
        reason=override_reason.strip(),
        status_at_override=label_set.status,
    )
    return label_set


def team_audit_settings_update(
    *, team: Team, min_audit_agreement: float, min_audit_reviews: int
) -> Team:
    if not 0.0 <= min_audit_agreement <= 1.0:
        raise LabellingError("The minimum agreement must be between 0 and 1.")
    if min_audit_reviews < 1:
        raise LabellingError("At least one review must be required.")
    team.min_audit_agreement = min_audit_agreement
    team.min_audit_reviews = min_audit_reviews
    team.save(update_fields=["min_audit_agreement", "min_audit_reviews"])
    return team
