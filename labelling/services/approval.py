"""Approving or rejecting a label set for training, and a team's audit thresholds.

The approval gate lives here, once: :func:`labelset_approval_gate` says whether a set
may be approved and, if not, why. The approve service enforces it, the label-set
page and the statistics page show it, the ``labelstats`` command prints it, and
:func:`labelset_require_approved` names it when it refuses a set.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from cai_web.models import Team

from .. import stats
from ..models import LabelSet, LabelSetOverride
from ..selectors import AuditSummary, audit_summary
from .common import LabellingError, LabelSetNotApproved


@dataclass(frozen=True)
class ApprovalGate:
    """The team's gate applied to a label set's audit: may it be approved, and if not, why.

    Approvable when the in-app reviews give at least ``min_reviews`` audited
    comparisons with an a/b/tie verdict and the final AI label agrees with at least
    ``min_agreement`` of them.
    """

    audit: AuditSummary
    min_agreement: float
    min_reviews: int
    shortfalls: tuple[str, ...]

    @property
    def passes(self) -> bool:
        return not self.shortfalls

    @property
    def agreement(self) -> stats.Agreement:
        return self.audit.agreement

    @property
    def n_reviews(self) -> int:
        return self.audit.n_reviews

    @property
    def summary_line(self) -> str:
        p = self.audit.agreement.percent
        rate = "n/a" if p.rate is None else f"{p.rate:.1%}"
        return f"audited agreement {rate} over n = {p.n} (gate: ≥ {self.min_agreement:.0%}, n ≥ {self.min_reviews})"


def labelset_approval_gate(
    *, label_set: LabelSet, audit: AuditSummary | None = None
) -> ApprovalGate:
    """The approval rule: the set's audit (read now unless given) against its team's thresholds."""
    audit = audit_summary(label_set) if audit is None else audit
    team = label_set.team
    shortfalls = []
    p = audit.agreement.percent
    if p.n < team.min_audit_reviews:
        shortfalls.append(
            f"{p.n} audited comparison(s) with an a/b/tie verdict, the team requires {team.min_audit_reviews}"
        )
    if p.rate is None or p.rate < team.min_audit_agreement:
        got = "no agreement yet" if p.rate is None else f"agreement {p.rate:.1%}"
        shortfalls.append(f"{got}, the team requires {team.min_audit_agreement:.0%}")
    return ApprovalGate(
        audit=audit,
        min_agreement=team.min_audit_agreement,
        min_reviews=team.min_audit_reviews,
        shortfalls=tuple(shortfalls),
    )


@transaction.atomic
def labelset_approve(*, label_set: LabelSet, user, reason: str = "") -> LabelSet:
    label_set = LabelSet.objects.select_for_update().select_related("team").get(pk=label_set.pk)
    if label_set.status == LabelSet.Status.APPROVED:
        raise LabellingError("This label set is already approved.")
    gate = labelset_approval_gate(label_set=label_set)
    if not gate.passes:
        raise LabellingError("Not approvable yet: " + "; ".join(gate.shortfalls) + ".")
    label_set.status = LabelSet.Status.APPROVED
    label_set.decided_by = user
    label_set.decided_at = timezone.now()
    label_set.decision_reason = reason.strip() or gate.summary_line
    label_set.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return label_set


@transaction.atomic
def labelset_reject(*, label_set: LabelSet, user, reason: str) -> LabelSet:
    label_set = LabelSet.objects.select_for_update().get(pk=label_set.pk)
    if not reason.strip():
        raise LabellingError("Say why the label set is rejected.", field="reason")
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
    label_set = LabelSet.objects.select_related("team").get(pk=label_set.pk)
    if label_set.status == LabelSet.Status.APPROVED:
        return label_set
    if override_reason is None or not override_reason.strip():
        gate = labelset_approval_gate(label_set=label_set)
        how = (
            "its audit meets the gate, so approve it"
            if gate.passes
            else "not approvable yet (" + "; ".join(gate.shortfalls) + ")"
        )
        raise LabelSetNotApproved(
            f"Label set {label_set.name!r} is {label_set.status}, not approved: {how}; "
            "or give an override reason."
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
        raise LabellingError(
            "The minimum agreement must be between 0 and 1.", field="min_audit_agreement"
        )
    if min_audit_reviews < 1:
        raise LabellingError("At least one review must be required.", field="min_audit_reviews")
    team.min_audit_agreement = min_audit_agreement
    team.min_audit_reviews = min_audit_reviews
    team.save(update_fields=["min_audit_agreement", "min_audit_reviews"])
    return team
