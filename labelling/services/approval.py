"""Approving or rejecting a label set for training, and a team's audit thresholds.

The approval gate lives here, once: :func:`labelset_approval_gate` says whether a set
may be approved and, if not, why. The approve service enforces it, the label-set
page and the statistics page show it, the ``labelstats`` command prints it, and
:func:`labelset_require_approved` names it when it refuses a set.

Every decision (approve, reject, reopen) is also a :class:`LabelSetDecision` row: the
set's history. :func:`labelset_training_risk` is the second rule training asks: how
position-inconsistent a set is, and whether the team wants a confirmation first.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Avg, Count
from django.utils import timezone

from cai_web.models import Team

from .. import stats
from ..models import AILabel, AILabelTally, Comparison, LabelSet, LabelSetDecision, LabelSetOverride
from ..selectors import AuditSummary, audit_summary
from .common import LabellingError, LabelSetNotApproved


@dataclass(frozen=True)
class ApprovalGate:
    """The team's gate applied to a label set's audit: may it be approved, and if not, why.

    Approvable when the in-app reviews give at least ``min_reviews`` audited
    comparisons with an a/b/tie verdict and the final AI label agrees with at least
    ``min_agreement`` of them. A set with fewer comparisons than ``min_reviews`` can
    never reach that count; it passes the size rule once every one of its comparisons
    has an in-app review (``small_set``).
    """

    audit: AuditSummary
    min_agreement: float
    min_reviews: int
    shortfalls: tuple[str, ...]
    status: str = LabelSet.Status.OPEN
    small_set: bool = False
    comparisons: int = 0
    comparisons_reviewed: int | None = None

    @property
    def passes(self) -> bool:
        return not self.shortfalls

    @property
    def can_approve(self) -> bool:
        return self.passes and self.status != LabelSet.Status.APPROVED

    @property
    def approve_blocked_because(self) -> str:
        """Why the Approve button is disabled ("" when it is not), in one sentence."""
        if self.status == LabelSet.Status.APPROVED:
            return "Already approved."
        if self.shortfalls:
            return "Not approvable yet: " + "; ".join(self.shortfalls) + "."
        return ""

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
        size = (
            f"n ≥ {self.min_reviews}, or every comparison of a smaller set reviewed"
            if not self.small_set
            else f"a set of {self.comparisons} < {self.min_reviews}: every comparison reviewed"
        )
        return f"audited agreement {rate} over n = {p.n} (gate: ≥ {self.min_agreement:.0%}, {size})"


def labelset_approval_gate(
    *, label_set: LabelSet, audit: AuditSummary | None = None
) -> ApprovalGate:
    """The approval rule: the set's audit (read now unless given) against its team's thresholds."""
    audit = audit_summary(label_set) if audit is None else audit
    team = label_set.team
    shortfalls = []
    p = audit.agreement.percent
    small = 0 < label_set.comparison_count < team.min_audit_reviews
    reviewed = None
    if small:
        # Cheap: only sets smaller than the team minimum (a few dozen rows) get here.
        reviewed = Comparison.objects.filter(label_set=label_set, audit_count__gt=0).count()
        if reviewed < label_set.comparison_count:
            shortfalls.append(
                f"{reviewed} of the set's {label_set.comparison_count} comparisons reviewed "
                f"in the app; a set smaller than the team minimum of {team.min_audit_reviews} "
                "needs every comparison reviewed"
            )
    elif p.n < team.min_audit_reviews:
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
        status=label_set.status,
        small_set=small,
        comparisons=label_set.comparison_count,
        comparisons_reviewed=reviewed,
    )


def _record(label_set: LabelSet, action: str, before: str, user, reason: str) -> None:
    LabelSetDecision.objects.create(
        label_set=label_set,
        action=action,
        status_before=before,
        user=user if getattr(user, "is_authenticated", False) else None,
        reason=reason,
    )


@transaction.atomic
def labelset_approve(*, label_set: LabelSet, user, reason: str = "") -> LabelSet:
    label_set = LabelSet.objects.select_for_update().select_related("team").get(pk=label_set.pk)
    if label_set.status == LabelSet.Status.APPROVED:
        raise LabellingError("This label set is already approved.")
    gate = labelset_approval_gate(label_set=label_set)
    if not gate.passes:
        raise LabellingError("Not approvable yet: " + "; ".join(gate.shortfalls) + ".")
    before = label_set.status
    label_set.status = LabelSet.Status.APPROVED
    label_set.decided_by = user
    label_set.decided_at = timezone.now()
    label_set.decision_reason = reason.strip() or gate.summary_line
    label_set.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    _record(label_set, LabelSetDecision.Action.APPROVE, before, user, label_set.decision_reason)
    return label_set


@transaction.atomic
def labelset_reject(*, label_set: LabelSet, user, reason: str) -> LabelSet:
    label_set = LabelSet.objects.select_for_update().get(pk=label_set.pk)
    if not reason.strip():
        raise LabellingError("Say why the label set is rejected.", field="reason")
    if label_set.status == LabelSet.Status.REJECTED:
        raise LabellingError("This label set is already rejected.")
    before = label_set.status
    label_set.status = LabelSet.Status.REJECTED
    label_set.decided_by = user
    label_set.decided_at = timezone.now()
    label_set.decision_reason = reason.strip()
    label_set.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    _record(label_set, LabelSetDecision.Action.REJECT, before, user, label_set.decision_reason)
    return label_set


@transaction.atomic
def labelset_reopen(*, label_set: LabelSet, user, reason: str = "") -> LabelSet:
    """A rejected set goes back to open (reviewing and approval start again); kept in history."""
    label_set = LabelSet.objects.select_for_update().get(pk=label_set.pk)
    if label_set.status != LabelSet.Status.REJECTED:
        raise LabellingError(
            f"Only a rejected label set can be reopened; this one is {label_set.status}."
        )
    label_set.status = LabelSet.Status.OPEN
    label_set.decided_by = user
    label_set.decided_at = timezone.now()
    label_set.decision_reason = reason.strip()
    label_set.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    _record(
        label_set, LabelSetDecision.Action.REOPEN, LabelSet.Status.REJECTED, user, reason.strip()
    )
    return label_set


@dataclass(frozen=True)
class TrainingRisk:
    """How position-inconsistent a label set's AI labels are, before DPO or reward training.

    ``inconsistent``: labels whose two presentation orders gave different verdicts
    (``AILabel.consistent`` is False, as ``stats.derive_label`` defines it) among
    ``n`` labels; ``mean_confidence``: the mean of max(p, 1 − p) of the debiased P(a).
    Above the team's ``threshold`` share, training needs an explicit confirmation.
    """

    label_set_id: int
    n: int
    inconsistent: int
    mean_confidence: float | None
    threshold: float

    @property
    def share(self) -> float | None:
        return self.inconsistent / self.n if self.n else None

    @property
    def share_text(self) -> str:
        return "—" if self.share is None else f"{self.share:.1%}"

    @property
    def threshold_text(self) -> str:
        return f"{self.threshold:.0%}"

    @property
    def needs_confirmation(self) -> bool:
        return self.share is not None and self.share > self.threshold

    @property
    def summary(self) -> str:
        if not self.n:
            return "no AI labels"
        conf = "n/a" if self.mean_confidence is None else f"{self.mean_confidence:.3f}"
        return (
            f"{self.share:.1%} position-inconsistent ({self.inconsistent} of {self.n} AI labels), "
            f"mean confidence {conf}"
        )


def labelset_training_risks(label_sets: list[LabelSet]) -> dict[int, TrainingRisk]:
    """:class:`TrainingRisk` of each set, from its tallies and one AVG (two queries in all)."""
    ids = [ls.pk for ls in label_sets]
    counts: dict[int, list[int]] = {pk: [0, 0] for pk in ids}
    for pk, v_ab, v_ba, n in AILabelTally.objects.filter(label_set_id__in=ids).values_list(
        "label_set_id", "verdict_ab", "verdict_ba", "n"
    ):
        counts[pk][0] += n
        if v_ab is not None and v_ba is not None and v_ab != v_ba:
            counts[pk][1] += n
    means = {
        row["label_set_id"]: row["mean"]
        for row in AILabel.objects.filter(label_set_id__in=ids)
        .values("label_set_id")
        .annotate(mean=Avg("confidence"), n=Count("confidence"))
        .order_by()
    }
    return {
        ls.pk: TrainingRisk(
            label_set_id=ls.pk,
            n=counts[ls.pk][0],
            inconsistent=counts[ls.pk][1],
            mean_confidence=means.get(ls.pk),
            threshold=ls.team.confirm_inconsistent_above,
        )
        for ls in label_sets
    }


def labelset_training_risk(label_set: LabelSet) -> TrainingRisk:
    return labelset_training_risks([label_set])[label_set.pk]


def labelset_require_confirmed(label_set: LabelSet, *, confirmed: bool) -> TrainingRisk:
    """The second gate DPO and reward training call: a set above the team's
    inconsistency threshold is refused unless the launcher confirmed it."""
    label_set = LabelSet.objects.select_related("team").get(pk=label_set.pk)  # the team now
    risk = labelset_training_risk(label_set)
    if risk.needs_confirmation and not confirmed:
        raise LabellingError(
            f"Label set {label_set.name!r} is {risk.summary}; the team asks for a "
            f"confirmation above {risk.threshold:.0%} inconsistent. Confirm to train on it anyway.",
            field="confirm_inconsistent",
        )
    return risk


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
    *,
    team: Team,
    min_audit_agreement: float,
    min_audit_reviews: int,
    confirm_inconsistent_above: float | None = None,
) -> Team:
    if not 0.0 <= min_audit_agreement <= 1.0:
        raise LabellingError(
            "The minimum agreement must be between 0 and 1.", field="min_audit_agreement"
        )
    if min_audit_reviews < 1:
        raise LabellingError("At least one review must be required.", field="min_audit_reviews")
    fields = ["min_audit_agreement", "min_audit_reviews"]
    if confirm_inconsistent_above is not None:
        if not 0.0 <= confirm_inconsistent_above <= 1.0:
            raise LabellingError(
                "The inconsistency threshold must be a share between 0 and 1.",
                field="confirm_inconsistent_above",
            )
        team.confirm_inconsistent_above = confirm_inconsistent_above
        fields.append("confirm_inconsistent_above")
    team.min_audit_agreement = min_audit_agreement
    team.min_audit_reviews = min_audit_reviews
    team.save(update_fields=fields)
    return team
