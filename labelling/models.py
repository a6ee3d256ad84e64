"""AI preference labels, the sets they come in, and the humans who audit them.

Derived fields of an AI label (consistency, preferred slot, debiased probability,
final label) are computed once by ``labelling.stats.derive_label`` in the services
and stored, so the statistics screens can ``GROUP BY`` them in SQL.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cai_web.models import Team


class Verdict(models.TextChoices):
    A = "a", "a"
    B = "b", "b"
    TIE = "tie", "tie"


class HumanVerdict(models.TextChoices):
    A = "a", "a"
    B = "b", "b"
    TIE = "tie", "tie"
    BOTH_BAD = "both_bad", "both unacceptable"


class LabelSet(models.Model):
    class SourceKind(models.TextChoices):
        IMPORT = "import", "Import"
        RUN = "run", "Labelling run"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="label_sets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # No FK to training: the RL-CAI run writes its id into source_detail.
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices)
    source_detail = models.JSONField(default=dict, blank=True)
    # How AILabel.final was derived for this set (labelling.stats.derive_label).
    rule = models.CharField(max_length=10, default="agree")
    threshold = models.FloatField(default=0.5)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    comparison_count = models.PositiveIntegerField(default=0)
    ai_label_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="unique_labelset_name_per_team"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED


class LabelSetDecision(models.Model):
    """One step of a label set's approval history: approved, rejected or reopened.

    Written by the approval services only; the label set's own ``status`` and
    ``decided_*`` fields hold the latest step, this table every step.
    """

    class Action(models.TextChoices):
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"
        REOPEN = "reopen", "Reopened"

    label_set = models.ForeignKey(LabelSet, on_delete=models.CASCADE, related_name="decisions")
    action = models.CharField(max_length=10, choices=Action.choices)
    status_before = models.CharField(max_length=10)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.label_set_id} by {self.user_id}"


class LabelSetOverride(models.Model):
    """Someone used an unapproved label set anyway, and said why."""

    label_set = models.ForeignKey(LabelSet, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    status_at_override = models.CharField(max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"override of {self.label_set_id} by {self.user_id}"


class Comparison(models.Model):
    """A prompt and two responses in canonical order (a, b)."""

    # No index of its own: (label_set, external_id) and (label_set, id) lead with it.
    label_set = models.ForeignKey(
        LabelSet, on_delete=models.CASCADE, related_name="comparisons", db_index=False
    )
    external_id = models.CharField(max_length=200)
    prompt = models.TextField()
    response_a = models.TextField()
    response_b = models.TextField()
    # The exact published principle when known; the key and category are kept as
    # text too, so imported sets without a constitution can still be sliced.
    principle = models.ForeignKey(
        "constitutions.Principle", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    principle_key = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=120, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    flagged_harmful = models.BooleanField(default=False)
    # Human judgments by source, kept up to date by the services (review_submit and the
    # importers, through services.comparison_refresh_human) so each AI-human figure is
    # one GROUP BY. Gold = the labels imported with the set (HumanReview.source
    # "import"), audit = the reviews made in the app (source "app"); each is the
    # strict majority of its own source, NULL when there is none or no majority.
    # Gold never changes when people review in the app.
    gold_verdict = models.CharField(  # noqa: DJ001 (NULL = no gold label)
        max_length=8, choices=HumanVerdict.choices, null=True, blank=True
    )
    gold_count = models.PositiveIntegerField(default=0)
    audit_verdict = models.CharField(  # noqa: DJ001 (NULL = no audit verdict)
        max_length=8, choices=HumanVerdict.choices, null=True, blank=True
    )
    audit_count = models.PositiveIntegerField(default=0)
    # The combined consensus: strict majority of every human verdict, gold and audit
    # alike (one vote each). Shown only when a user asks for it; see docs/statistics.md.
    human_verdict = models.CharField(  # noqa: DJ001 (NULL = no verdict, as in stats)
        max_length=8, choices=HumanVerdict.choices, null=True, blank=True
    )
    review_count = models.PositiveIntegerField(default=0)  # gold_count + audit_count

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["label_set", "external_id"], name="unique_comparison_id_per_set"
            ),
        ]
        indexes = [
            models.Index(
                fields=["label_set"],
                name="comparison_reviewed_idx",
                condition=models.Q(review_count__gt=0),
            ),
            # The label-set page's comparison table pages by id within a set (keyset).
            models.Index(fields=["label_set", "id"], name="comparison_set_id_idx"),
        ]

    def __str__(self) -> str:
        return self.external_id


class AILabel(models.Model):
    """One judge's verdicts on a comparison in both presentation orders, plus the derived label."""

    # A copy of comparison.label_set, kept by the services so a set's labels are read
    # without a join. No database constraint (the comparison's own foreign key already
    # ties the label to an existing set; the check cost a million-label import about a
    # fifth of its PostgreSQL time) and no index of its own (the (label_set, ...)
    # indexes lead with it); deleting a set still deletes its labels (Django cascades).
    label_set = models.ForeignKey(
        LabelSet,
        on_delete=models.CASCADE,
        related_name="ai_labels",
        db_constraint=False,
        db_index=False,
    )
    # No index of its own: the unique (comparison, judge) leads with it.
    comparison = models.ForeignKey(
        Comparison, on_delete=models.CASCADE, related_name="ai_labels", db_index=False
    )
    judge = models.CharField(max_length=120)
    principle_key = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=120, blank=True)
    verdict_ab = models.CharField(max_length=3, choices=Verdict.choices, null=True, blank=True)  # noqa: DJ001 (NULL = no verdict, as in stats)
    verdict_ba = models.CharField(max_length=3, choices=Verdict.choices, null=True, blank=True)  # noqa: DJ001 (NULL = no verdict, as in stats)
    p_a_ab = models.FloatField(null=True, blank=True)
    p_a_ba = models.FloatField(null=True, blank=True)
    # Derived (labelling.stats.derive_label); never set by hand.
    consistent = models.BooleanField(null=True)
    preferred_slot = models.CharField(max_length=6, null=True, blank=True)  # noqa: DJ001 (NULL = no verdict, as in stats)
    p_debiased = models.FloatField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)  # max(p, 1 - p) of p_debiased
    final = models.CharField(max_length=3, choices=Verdict.choices)
    rule = models.CharField(max_length=10)
    # Copies of the comparison's human verdicts (gold, audit, combined), kept by the
    # services, so agreement and calibration read only the reviewed labels through a
    # partial index. reviewed = the comparison has any human label.
    reviewed = models.BooleanField(default=False)
    gold_verdict = models.CharField(  # noqa: DJ001 (NULL = no gold label)
        max_length=8, choices=HumanVerdict.choices, null=True, blank=True
    )
    audit_verdict = models.CharField(  # noqa: DJ001 (NULL = no audit verdict)
        max_length=8, choices=HumanVerdict.choices, null=True, blank=True
    )
    human_verdict = models.CharField(  # noqa: DJ001 (NULL = no human label)
        max_length=8, choices=HumanVerdict.choices, null=True, blank=True
    )

    class Meta:
        ordering = ["comparison_id", "judge"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "judge"], name="unique_label_per_judge"),
        ]
        indexes = [
            models.Index(fields=["label_set", "consistent"], name="ailabel_set_consistent_idx"),
            models.Index(fields=["label_set", "confidence"], name="ailabel_set_confidence_idx"),
            models.Index(
                fields=["label_set"], name="ailabel_reviewed_idx", condition=models.Q(reviewed=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.judge} on {self.comparison_id}"


class AILabelTally(models.Model):
    """Counts of AI labels per slice and verdict pair, rebuilt in SQL whenever labels are written.

    The position-bias figures of a million-label set come from these few rows
    instead of a scan (``stats.position_bias_from_counts``).
    """

    label_set = models.ForeignKey(LabelSet, on_delete=models.CASCADE, related_name="tallies")
    judge = models.CharField(max_length=120)
    principle_key = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=120, blank=True)
    verdict_ab = models.CharField(max_length=3, null=True, blank=True)  # noqa: DJ001 (NULL = no verdict, as in stats)
    verdict_ba = models.CharField(max_length=3, null=True, blank=True)  # noqa: DJ001 (NULL = no verdict, as in stats)
    n = models.PositiveIntegerField()
    n_p_ab = models.PositiveIntegerField(default=0)
    sum_p_ab = models.FloatField(default=0.0)
    n_p_ba = models.PositiveIntegerField(default=0)
    sum_p_ba = models.FloatField(default=0.0)

    class Meta:
        indexes = [models.Index(fields=["label_set"], name="tally_set_idx")]

    def __str__(self) -> str:
        return f"{self.judge} {self.verdict_ab}/{self.verdict_ba}: {self.n}"


class HumanReview(models.Model):
    """One human judgment of a comparison. ``source`` says which kind it is:

    ``import`` = a gold label that came with the data (expert annotation, the paper's
    label); ``app`` = an audit review made on the review screen. The two are counted
    apart (Comparison.gold_verdict / audit_verdict) and never outvote each other.
    """

    class Source(models.TextChoices):
        APP = "app", "Audit (reviewed here)"
        IMPORT = "import", "Gold (imported)"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="reviews")
    label_set = models.ForeignKey(LabelSet, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="label_reviews",
    )
    # Imported annotators are not users; app reviews keep the username at review time.
    reviewer_name = models.CharField(max_length=150)
    source = models.CharField(max_length=6, choices=Source.choices, default=Source.APP)
    queue = models.ForeignKey(
        "ReviewQueue", null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    verdict = models.CharField(max_length=8, choices=HumanVerdict.choices)
    # "ab": response a was shown on the left; "ba": b was on the left. None for imports.
    shown_order = models.CharField(max_length=2, null=True, blank=True)  # noqa: DJ001 (NULL = no verdict, as in stats)
    flag_harmful = models.BooleanField(default=False)
    flag_principle_misapplied = models.BooleanField(default=False)
    flag_ai_wrong = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["comparison_id", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["comparison", "reviewer"],
                condition=models.Q(reviewer__isnull=False),
                name="one_review_per_user",
            ),
            models.UniqueConstraint(
                fields=["comparison", "reviewer_name"],
                condition=models.Q(source="import"),
                name="one_import_review_per_name",
            ),
        ]
        indexes = [
            models.Index(fields=["label_set", "source"], name="review_set_source_idx"),
            models.Index(fields=["reviewer", "comparison"], name="review_reviewer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_name} on {self.comparison_id}: {self.verdict}"


class ReviewQueue(models.Model):
    class Strategy(models.TextChoices):
        UNIFORM = "uniform", "Uniform random"
        BY_PRINCIPLE = "by_principle", "Stratified by principle"
        BY_CATEGORY = "by_category", "Stratified by category"
        INCONSISTENT_FIRST = "inconsistent_first", "Swap-inconsistent first"
        LOW_MARGIN_FIRST = "low_margin_first", "Low margin first (|p − 0.5| smallest)"

    label_set = models.ForeignKey(LabelSet, on_delete=models.CASCADE, related_name="queues")
    strategy = models.CharField(max_length=20, choices=Strategy.choices)
    sample_size = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_strategy_display()} · {self.sample_size} · seed {self.seed}"


class QueueItem(models.Model):
    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="queue_items")

    class Meta:
        ordering = ["queue", "position"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "position"], name="unique_queue_position"),
            models.UniqueConstraint(fields=["queue", "comparison"], name="unique_queue_comparison"),
        ]

    def __str__(self) -> str:
        return f"{self.queue_id} #{self.position}"


class FileJob(models.Model):
    """A big import or export a worker does while the page shows its progress.

    Imports: the upload is stored under ``ARTIFACTS_DIR/uploads/`` by the request and
    parsed by a ``default``-queue task; nothing is stored unless every line is good
    (one transaction), and the upload is deleted when the job ends. Exports: the
    worker writes the file under ``ARTIFACTS_DIR/exports/``; the page links to it.
    ``result_id`` is the label set or prompt set made (imports) or exported.
    """

    class Kind(models.TextChoices):
        LABEL_IMPORT = "label_import", "Label import"
        PROMPT_IMPORT = "prompt_import", "Prompt-set import"
        LABEL_EXPORT = "label_export", "Label-set export"
        DATASET_EXPORT = "dataset_export", "Dataset export"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="file_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    stage = models.CharField(max_length=40, blank=True)
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True)
    problem_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    upload_path = models.CharField(max_length=500, blank=True)
    upload_name = models.CharField(max_length=255, blank=True)
    artifact_path = models.CharField(max_length=500, blank=True)
    artifact_name = models.CharField(max_length=255, blank=True)
    result_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "kind", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def result_link_text(self) -> str:
        """What the job page's link to the job's result says (one place, per kind)."""
        texts: dict[str, str] = {
            self.Kind.LABEL_IMPORT: "Open the label set",
            self.Kind.PROMPT_IMPORT: "Open the prompt set",
        }
        return texts.get(str(self.kind), "Back to what was exported")
