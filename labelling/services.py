"""Writes to the labelling app: label sets, AI labels, reviews, queues, approval.

The RL-CAI labelling run calls :func:`labelset_create_from_pairs` or
:func:`labelset_create` + :func:`comparison_bulk_create` + :func:`ailabel_bulk_create`
with plain dataclasses, exactly as the importers do.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Min, OuterRef, Subquery, Sum
from django.utils import timezone

from cai_web.models import Team
from constitutions.models import ConstitutionVersion, Principle, VersionStatus

from . import formats, stats
from .models import (
    AILabel,
    AILabelTally,
    Comparison,
    HumanReview,
    LabelSet,
    LabelSetOverride,
    QueueItem,
    ReviewQueue,
)

BATCH = 5000
IMPORT_FORMATS = ("jsonl", "llmbar", "pandalm")
CHOICES = ("first", "second", "tie", "both_bad")


class LabellingError(Exception):
    """A request that cannot be honoured; the message is shown to the user as is."""


class LabelSetNotApproved(LabellingError):
    pass


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ComparisonInput:
    external_id: str
    prompt: str
    response_a: str
    response_b: str
    principle_key: str = ""
    category: str = ""
    principle_id: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AILabelInput:
    """One judge's two-order verdicts on the comparison ``external_id`` of the set."""

    external_id: str
    judge: str
    verdict_ab: str | None
    verdict_ba: str | None
    p_a_ab: float | None = None
    p_a_ba: float | None = None


# ------------------------------------------------------------------------ label sets


def labelset_create(
    *,
    team: Team,
    user,
    name: str,
    source_kind: str,
    source_detail: dict[str, Any] | None = None,
    description: str = "",
    rule: str = "agree",
    threshold: float = 0.5,
) -> LabelSet:
    name = (name or "").strip()
    if not name:
        raise LabellingError("Give the label set a name.")
    if source_kind not in LabelSet.SourceKind.values:
        raise LabellingError(f"Unknown source kind {source_kind!r}.")
    stats.derive_label("a", "a", rule=rule, threshold=threshold)  # validates rule/threshold
    if LabelSet.objects.filter(team=team, name=name).exists():
        raise LabellingError(f"This team already has a label set called {name!r}.")
    return LabelSet.objects.create(
        team=team,
        name=name,
        description=description,
        source_kind=source_kind,
        source_detail=source_detail or {},
        rule=rule,
        threshold=threshold,
        created_by=user,
    )


@transaction.atomic
def comparison_bulk_create(*, label_set: LabelSet, comparisons: Sequence[ComparisonInput]) -> int:
    rows = [
        Comparison(
            label_set=label_set,
            external_id=c.external_id,
            prompt=c.prompt,
            response_a=c.response_a,
            response_b=c.response_b,
            principle_id=c.principle_id,
            principle_key=c.principle_key,
            category=c.category,
            metadata=c.metadata,
            flagged_harmful=bool(c.metadata.get("harmful"))
            if isinstance(c.metadata, dict)
            else False,
        )
        for c in comparisons
    ]
    Comparison.objects.bulk_create(rows, batch_size=BATCH)
    LabelSet.objects.filter(pk=label_set.pk).update(
        comparison_count=Comparison.objects.filter(label_set=label_set).count()
    )
    return len(rows)


def _derived(label_set: LabelSet, item: AILabelInput) -> dict[str, Any]:
    d = stats.derive_label(
        item.verdict_ab,
        item.verdict_ba,
        item.p_a_ab,
        item.p_a_ba,
        rule=label_set.rule,
        threshold=label_set.threshold,
    )
    return {
        "consistent": d.consistent,
        "preferred_slot": d.preferred_slot,
        "p_debiased": d.p_debiased,
        "confidence": None if d.p_debiased is None else max(d.p_debiased, 1 - d.p_debiased),
        "final": d.final,
        "rule": d.rule,
    }


@transaction.atomic
def ailabel_bulk_create(*, label_set: LabelSet, labels: Sequence[AILabelInput]) -> int:
    """Insert or update (per comparison and judge) AI labels; derived fields computed here.

    Idempotent: writing the same labels again changes nothing, so a restarted
    labelling job can resend a batch. Tallies are rebuilt afterwards.
    """
    ids = {lab.external_id for lab in labels}
    comparisons: dict[str, tuple[int, str, str, str | None, int]] = {}
    for chunk in iter_chunks(sorted(ids), 2000):
        for ext, *rest in Comparison.objects.filter(
            label_set=label_set, external_id__in=chunk
        ).values_list(
            "external_id", "pk", "principle_key", "category", "human_verdict", "review_count"
        ):
            comparisons[ext] = tuple(rest)
    missing = sorted(ids - comparisons.keys())
    if missing:
        raise LabellingError(f"No comparison with id {', '.join(missing[:5])} in this label set.")
    rows = []
    for lab in labels:
        pk, key, cat, human, n_reviews = comparisons[lab.external_id]
        rows.append(
            AILabel(
                label_set=label_set,
                comparison_id=pk,
                judge=lab.judge,
                principle_key=key,
                category=cat,
                verdict_ab=lab.verdict_ab,
                verdict_ba=lab.verdict_ba,
                p_a_ab=lab.p_a_ab,
                p_a_ba=lab.p_a_ba,
                reviewed=n_reviews > 0,
                human_verdict=human,
                **_derived(label_set, lab),
            )
        )
    AILabel.objects.bulk_create(
        rows,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["comparison", "judge"],
        update_fields=[
            "verdict_ab",
            "verdict_ba",
            "p_a_ab",
            "p_a_ba",
            "consistent",
            "preferred_slot",
            "p_debiased",
            "confidence",
            "final",
            "rule",
        ],
    )
    labelset_refresh_tallies(label_set=label_set)
    return len(rows)


@transaction.atomic
def labelset_refresh_tallies(*, label_set: LabelSet) -> None:
    """Rebuild the per-slice verdict counts with one GROUP BY over the set's AI labels."""
    AILabelTally.objects.filter(label_set=label_set).delete()
    groups = (
        AILabel.objects.filter(label_set=label_set)
        .values("judge", "principle_key", "category", "verdict_ab", "verdict_ba")
        .annotate(
            n=Count("id"),
            n_p_ab=Count("p_a_ab"),
            sum_p_ab=Sum("p_a_ab"),
            n_p_ba=Count("p_a_ba"),
            sum_p_ba=Sum("p_a_ba"),
        )
        .order_by()
    )
    tallies = [
        AILabelTally(
            label_set=label_set,
            **{k: g[k] for k in ("judge", "principle_key", "category", "verdict_ab", "verdict_ba")},
            n=g["n"],
            n_p_ab=g["n_p_ab"],
            sum_p_ab=g["sum_p_ab"] or 0.0,
            n_p_ba=g["n_p_ba"],
            sum_p_ba=g["sum_p_ba"] or 0.0,
        )
        for g in groups
    ]
    AILabelTally.objects.bulk_create(tallies, batch_size=BATCH)
    LabelSet.objects.filter(pk=label_set.pk).update(ai_label_count=sum(t.n for t in tallies))


def _principles_of(version: ConstitutionVersion | None) -> dict[str, Principle]:
    if version is None:
        return {}
    return {p.key: p for p in version.principles.select_related("category")}


@transaction.atomic
def labelset_create_from_pairs(
    *,
    team: Team,
    user,
    name: str,
    records: Sequence[formats.LabelRecord],
    source_kind: str = LabelSet.SourceKind.IMPORT,
    source_detail: dict[str, Any] | None = None,
    description: str = "",
    principle_version: ConstitutionVersion | None = None,
    rule: str = "agree",
    threshold: float = 0.5,
) -> LabelSet:
    """A label set with its comparisons, AI labels and any human labels, all or nothing.

    ``records`` are :class:`labelling.formats.LabelRecord` (plain data). With
    ``principle_version`` (a published version of this team), every record's
    principle key must name one of its principles; the comparison then links to it
    and takes its category. Records whose judge is ``formats.NO_JUDGE`` and that have
    no verdicts (PandaLM) get no AI label.
    """
    if not records:
        raise LabellingError("There is nothing to import.")
    if principle_version is not None and (
        principle_version.constitution.team_id != team.pk
        or principle_version.status != VersionStatus.PUBLISHED
    ):
        raise LabellingError("Choose a published constitution version of this team.")
    principles = _principles_of(principle_version)
    problems = []
    for i, rec in enumerate(records):
        if principles and rec.principle is not None and rec.principle not in principles:
            problems.append(
                f"record {i} ({rec.id}): principle {rec.principle!r} is not in {principle_version}"
            )
    if problems:
        raise formats.LabelFormatError(problems)

    label_set = labelset_create(
        team=team,
        user=user,
        name=name,
        source_kind=source_kind,
        source_detail=source_detail,
        description=description,
        rule=rule,
        threshold=threshold,
    )
    comparisons: dict[str, ComparisonInput] = {}
    labels: list[AILabelInput] = []
    for rec in records:
        principle = principles.get(rec.principle or "")
        category = principle.category.name if principle else rec.metadata.get("category", "")
        if rec.id not in comparisons:
            comparisons[rec.id] = ComparisonInput(
                external_id=rec.id,
                prompt=rec.prompt,
                response_a=rec.response_a,
                response_b=rec.response_b,
                principle_key=rec.principle or "",
                category=category if isinstance(category, str) else "",
                principle_id=principle.pk if principle else None,
                metadata=rec.metadata,
            )
        if not (
            rec.judge == formats.NO_JUDGE and rec.verdict_ab is None and rec.verdict_ba is None
        ):
            labels.append(
                AILabelInput(
                    external_id=rec.id,
                    judge=rec.judge,
                    verdict_ab=rec.verdict_ab,
                    verdict_ba=rec.verdict_ba,
                    p_a_ab=rec.p_a_ab,
                    p_a_ba=rec.p_a_ba,
                )
            )
    comparison_bulk_create(label_set=label_set, comparisons=list(comparisons.values()))
    if labels:
        ailabel_bulk_create(label_set=label_set, labels=labels)
    _import_human_labels(label_set, records)
    label_set.refresh_from_db()
    return label_set


def _import_human_labels(label_set: LabelSet, records: Sequence[formats.LabelRecord]) -> None:
    pk_of = dict(Comparison.objects.filter(label_set=label_set).values_list("external_id", "pk"))
    reviews = []
    by_comparison: dict[int, list[str]] = defaultdict(list)
    seen: set[tuple[int, str]] = set()
    for rec in records:
        cid = pk_of[rec.id]
        humans = list(rec.humans) or (
            [formats.HumanLabel(reviewer="imported", verdict=rec.human)] if rec.human else []
        )
        for h in humans:
            if (cid, h.reviewer) in seen:
                continue  # the same pair listed once per judge carries the same humans
            seen.add((cid, h.reviewer))
            reviews.append(
                HumanReview(
                    comparison_id=cid,
                    label_set=label_set,
                    reviewer_name=h.reviewer,
                    source=HumanReview.Source.IMPORT,
                    verdict=h.verdict,
                )
            )
            by_comparison[cid].append(h.verdict)
    HumanReview.objects.bulk_create(reviews, batch_size=BATCH)
    updates = []
    for cid, verdicts in by_comparison.items():
        updates.append(
            Comparison(pk=cid, human_verdict=consensus(verdicts), review_count=len(verdicts))
        )
    Comparison.objects.bulk_update(updates, ["human_verdict", "review_count"], batch_size=BATCH)
    _copy_consensus_to_labels(Comparison.objects.filter(label_set=label_set, review_count__gt=0))


def _copy_consensus_to_labels(comparisons) -> None:
    """Mirror the comparisons' human consensus onto their AI labels (see AILabel.reviewed)."""
    AILabel.objects.filter(comparison__in=comparisons).update(
        reviewed=True,
        human_verdict=Subquery(
            Comparison.objects.filter(pk=OuterRef("comparison_id")).values("human_verdict")[:1]
        ),
    )


def consensus(verdicts: Sequence[str]) -> str | None:
    """The verdict a strict majority gave, else None (as ``LabelRecord.majority_human``)."""
    if not verdicts:
        return None
    verdict, count = Counter(verdicts).most_common(1)[0]
    return verdict if count * 2 > len(verdicts) else None


def labelset_import(
    *,
    team: Team,
    user,
    name: str,
    fmt: str,
    data: bytes,
    judge: str = "",
    dataset_name: str = "",
    principle_version: ConstitutionVersion | None = None,
    description: str = "",
) -> LabelSet:
    """Parse an upload (our JSONL, LLMBar result.json or PandaLM) and store it; all or nothing.

    Raises ``formats.LabelFormatError`` (per-line problems) or :class:`LabellingError`.
    """
    if fmt == "jsonl":
        records = formats.parse_label_jsonl(data)
    elif fmt == "llmbar":
        if not judge.strip() or not dataset_name.strip():
            raise LabellingError("An LLMBar import needs the judge's name and the dataset's name.")
        records = formats.import_llmbar(
            data, judge=judge.strip(), dataset_name=dataset_name.strip()
        )
    elif fmt == "pandalm":
        records = formats.import_pandalm(data)
    else:
        raise LabellingError(f"Unknown format {fmt!r}.")
    return labelset_create_from_pairs(
        team=team,
        user=user,
        name=name,
        records=records,
        source_kind=LabelSet.SourceKind.IMPORT,
        source_detail={
            "format": fmt,
            "judge": judge,
            "dataset": dataset_name,
            "records": len(records),
        },
        description=description,
        principle_version=principle_version,
    )


# --------------------------------------------------------------------------- reviews


def shown_order_for(*, seed: int, reviewer_id: int, comparison_id: int) -> str:
    """Which canonical answer a reviewer sees on the left: "ab" (a left) or "ba".

    A hash of queue seed, reviewer and comparison: random across reviewers and
    items, yet the same every time this reviewer opens this item.
    """
    digest = hashlib.sha256(f"{seed}:{reviewer_id}:{comparison_id}".encode()).digest()
    return "ab" if digest[0] % 2 == 0 else "ba"


def canonical_verdict(choice: str, shown_order: str) -> str:
    """Map a slot choice (first = left) back to canonical a/b."""
    if choice not in CHOICES:
        raise LabellingError(f"Choose one of {', '.join(CHOICES)}.")
    if shown_order not in ("ab", "ba"):
        raise LabellingError(f"Unknown presentation order {shown_order!r}.")
    if choice in ("tie", "both_bad"):
        return choice
    first, second = ("a", "b") if shown_order == "ab" else ("b", "a")
    return first if choice == "first" else second


@transaction.atomic
def review_submit(
    *,
    queue: ReviewQueue,
    comparison: Comparison,
    reviewer,
    choice: str,
    flag_harmful: bool = False,
    flag_principle_misapplied: bool = False,
    flag_ai_wrong: bool = False,
    note: str = "",
    seconds_spent: float | None = None,
) -> tuple[HumanReview, bool]:
    """Record a reviewer's verdict; returns (review, created).

    A second submit by the same reviewer on the same comparison returns the first
    review unchanged (double clicks, retried requests). The order the reviewer saw
    is recomputed here from the queue seed, never taken from the form.
    """
    if (
        comparison.label_set_id != queue.label_set_id
        or not QueueItem.objects.filter(queue=queue, comparison=comparison).exists()
    ):
        raise LabellingError("This comparison is not in this queue.")
    existing = HumanReview.objects.filter(comparison=comparison, reviewer=reviewer).first()
    if existing is not None:
        return existing, False
    order = shown_order_for(seed=queue.seed, reviewer_id=reviewer.pk, comparison_id=comparison.pk)
    verdict = canonical_verdict(choice, order)
    # Serialise writers of this comparison so the consensus below sees every review.
    Comparison.objects.select_for_update().filter(pk=comparison.pk).first()
    try:
        with transaction.atomic():
            review = HumanReview.objects.create(
                comparison=comparison,
                label_set_id=comparison.label_set_id,
                reviewer=reviewer,
                reviewer_name=reviewer.get_username(),
                source=HumanReview.Source.APP,
                queue=queue,
                verdict=verdict,
                shown_order=order,
                flag_harmful=flag_harmful,
                flag_principle_misapplied=flag_principle_misapplied,
                flag_ai_wrong=flag_ai_wrong,
                note=note.strip()[:5000],
                seconds_spent=None
                if seconds_spent is None
                else max(0.0, min(seconds_spent, 86400.0)),
            )
    except IntegrityError:
        return HumanReview.objects.get(comparison=comparison, reviewer=reviewer), False
    verdicts = list(
        HumanReview.objects.filter(comparison=comparison).values_list("verdict", flat=True)
    )
    changes: dict[str, Any] = {"human_verdict": consensus(verdicts), "review_count": len(verdicts)}
    if flag_harmful:
        changes["flagged_harmful"] = True
    Comparison.objects.filter(pk=comparison.pk).update(**changes)
    AILabel.objects.filter(comparison=comparison).update(
        reviewed=True, human_verdict=changes["human_verdict"]
    )
    return review, True


# ---------------------------------------------------------------------------- queues


def _largest_remainder(sizes: dict[str, int], k: int) -> dict[str, int]:
    total = sum(sizes.values())
    quotas = {s: k * n / total for s, n in sizes.items()}
    alloc = {s: min(int(q), sizes[s]) for s, q in quotas.items()}
    rest = k - sum(alloc.values())
    order = sorted(sizes, key=lambda s: (-(quotas[s] - int(quotas[s])), s))
    while rest > 0:
        progressed = False
        for s in order:
            if rest and alloc[s] < sizes[s]:
                alloc[s] += 1
                rest -= 1
                progressed = True
        if not progressed:
            break
    return alloc


def queue_sample(*, label_set: LabelSet, strategy: str, sample_size: int, seed: int) -> list[int]:
    """The comparison ids a queue holds, in review order; the same for the same seed and data."""
    rng = random.Random(seed)
    comparisons = Comparison.objects.filter(label_set=label_set).order_by("pk")
    k = sample_size
    S = ReviewQueue.Strategy
    if strategy == S.UNIFORM:
        ids = list(comparisons.values_list("pk", flat=True))
        return rng.sample(ids, min(k, len(ids)))
    if strategy in (S.BY_PRINCIPLE, S.BY_CATEGORY):
        key = "principle_key" if strategy == S.BY_PRINCIPLE else "category"
        strata: dict[str, list[int]] = defaultdict(list)
        for pk, value in comparisons.values_list("pk", key):
            strata[value or stats.UNSET_SLICE].append(pk)
        total = sum(len(v) for v in strata.values())
        alloc = _largest_remainder({s: len(v) for s, v in strata.items()}, min(k, total))
        chosen: list[int] = []
        for s in sorted(strata):
            chosen.extend(rng.sample(strata[s], alloc[s]))
        rng.shuffle(chosen)
        return chosen
    if strategy == S.INCONSISTENT_FIRST:
        ids = list(comparisons.values_list("pk", flat=True))
        bad = set(
            AILabel.objects.filter(label_set=label_set, consistent=False).values_list(
                "comparison_id", flat=True
            )
        )
        first = [i for i in ids if i in bad]
        rest = [i for i in ids if i not in bad]
        rng.shuffle(first)
        rng.shuffle(rest)
        return (first + rest)[:k]
    if strategy == S.LOW_MARGIN_FIRST:
        ids = list(comparisons.values_list("pk", flat=True))
        conf = dict(
            AILabel.objects.filter(label_set=label_set, confidence__isnull=False)
            .values("comparison_id")
            .annotate(c=Min("confidence"))
            .values_list("comparison_id", "c")
        )
        tiebreak = {i: rng.random() for i in ids}
        ids.sort(key=lambda i: (i not in conf, conf.get(i, 0.0), tiebreak[i]))
        return ids[:k]
    raise LabellingError(f"Unknown strategy {strategy!r}.")


@transaction.atomic
def queue_create(
    *, label_set: LabelSet, user, strategy: str, sample_size: int, seed: int | None = None
) -> ReviewQueue:
    if strategy not in ReviewQueue.Strategy.values:
        raise LabellingError(f"Unknown strategy {strategy!r}.")
    if sample_size < 1:
        raise LabellingError("The sample size must be at least 1.")
    if label_set.comparison_count == 0:
        raise LabellingError("This label set has no comparisons to review.")
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    queue = ReviewQueue.objects.create(
        label_set=label_set, strategy=strategy, sample_size=sample_size, seed=seed, created_by=user
    )
    return queue_rebuild(queue=queue)


@transaction.atomic
def queue_rebuild(*, queue: ReviewQueue) -> ReviewQueue:
    """Rebuild the items from the queue's seed; reviews already given stay with their comparisons."""
    ids = queue_sample(
        label_set=queue.label_set,
        strategy=queue.strategy,
        sample_size=queue.sample_size,
        seed=queue.seed,
    )
    QueueItem.objects.filter(queue=queue).delete()
    QueueItem.objects.bulk_create(
        [QueueItem(queue=queue, position=i + 1, comparison_id=cid) for i, cid in enumerate(ids)],
        batch_size=BATCH,
    )
    queue.built_at = timezone.now()
    queue.save(update_fields=["built_at"])
    return queue


# -------------------------------------------------------------------------- approval


@transaction.atomic
def labelset_approve(*, label_set: LabelSet, user, reason: str = "") -> LabelSet:
    from .selectors import audit_summary

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


def iter_chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
