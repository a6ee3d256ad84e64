"""Prompt sets, the model registry, runs, their shards and the examples they produce.

``Run`` is general on purpose: every kind (``training.kinds``) shares the same
status, progress, heartbeat and shard machinery and keeps its own results in its own
tables (critique-revision: Example/ExampleRound; labelling: a label set; trainers:
RunMetric and a registered model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models

from cai_web.models import Team
from training.engine.config import config_from_dict
from training.kinds.registry import get as get_kind
from training.kinds.registry import kind_choices

if TYPE_CHECKING:
    from training.kinds.base import KindSpec


class Backend(models.TextChoices):
    TRANSFORMERS = "transformers", "transformers (in process)"
    VLLM = "vllm", "vLLM (offline engine)"
    OPENAI = "openai", "OpenAI-compatible server"


class ModelEntry(models.Model):
    """A model the team may run: a local folder, a GGUF file, or a server URL."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=120)
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.TRANSFORMERS)
    path = models.CharField(max_length=500, blank=True, help_text="Local folder or .gguf file.")
    gguf_file = models.CharField(max_length=200, blank=True)
    dtype = models.CharField(max_length=20, default="auto")
    context_length = models.PositiveIntegerField(default=2048)
    base_url = models.CharField(max_length=500, blank=True)
    options = models.JSONField(default=dict, blank=True)
    # Trained models register themselves here (a later issue); null for imported ones.
    source_run = models.ForeignKey(
        "Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="produced_models"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="unique_model_name_per_team"),
        ]

    def __str__(self) -> str:
        return self.name

    def to_spec(self):
        """The engine's ModelSpec (a plain dataclass; importing it loads no model)."""
        from training.engine.types import ModelSpec

        return ModelSpec(
            name=self.name,
            backend=self.backend,
            path=self.path,
            gguf_file=self.gguf_file,
            dtype=self.dtype,
            context_length=self.context_length,
            base_url=self.base_url,
            options=dict(self.options or {}),
        )

    @property
    def location(self) -> str:
        if self.backend == Backend.OPENAI:
            return self.base_url
        return f"{self.path}/{self.gguf_file}" if self.gguf_file else self.path


class Split(models.TextChoices):
    TRAIN = "train", "Train"
    HELD_OUT = "held_out", "Held out"


class PromptSet(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="prompt_sets")
    name = models.CharField(max_length=120)
    source = models.CharField(max_length=300, blank=True, help_text="File name or origin.")
    format = models.CharField(max_length=20, blank=True)
    count = models.PositiveIntegerField(default=0)
    held_out_count = models.PositiveIntegerField(default=0)
    held_out_fraction = models.FloatField(default=0.0)
    split_seed = models.PositiveIntegerField(default=0)
    duplicates_removed = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name"], name="unique_prompt_set_name_per_team"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def train_count(self) -> int:
        return self.count - self.held_out_count


class Prompt(models.Model):
    prompt_set = models.ForeignKey(PromptSet, on_delete=models.CASCADE, related_name="prompts")
    index = models.PositiveIntegerField()
    text = models.TextField()
    split = models.CharField(max_length=10, choices=Split.choices, default=Split.TRAIN)

    class Meta:
        ordering = ["prompt_set", "index"]
        constraints = [
            models.UniqueConstraint(fields=["prompt_set", "index"], name="unique_prompt_index"),
        ]
        indexes = [models.Index(fields=["prompt_set", "split", "index"])]

    def __str__(self) -> str:
        return self.text[:60]


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class PromptSelection(models.TextChoices):
    TRAIN = "train", "Train split"
    HELD_OUT = "held_out", "Held-out split"
    ALL = "all", "All prompts"


class Run(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="runs")
    # Choices come from the registry (a callable), so a new kind needs no migration.
    kind = models.CharField(max_length=30, choices=kind_choices)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    name = models.CharField(max_length=200, blank=True)
    # The resolved, validated config dataclass of the run's kind, as JSON.
    config = models.JSONField(default=dict)
    constitution_version = models.ForeignKey(
        "constitutions.ConstitutionVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
    )
    prompt_set = models.ForeignKey(
        PromptSet, null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    prompt_selection = models.CharField(
        max_length=10, choices=PromptSelection.choices, default=PromptSelection.TRAIN
    )
    model = models.ForeignKey(
        ModelEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    shard_size = models.PositiveIntegerField(default=256)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Progress, summed over the shards after every batch.
    done_units = models.PositiveBigIntegerField(default=0)
    total_units = models.PositiveBigIntegerField(default=0)
    examples_done = models.PositiveIntegerField(default=0)
    examples_total = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=20, blank=True)
    round = models.PositiveSmallIntegerField(default=0)
    tokens_per_s = models.FloatField(default=0.0)
    eta_seconds = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    gpu_seconds = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    # The launcher's key for this start (a launch form's hidden token, an API client's
    # Idempotency-Key): the same key again within the team returns this run instead of
    # a second; the fingerprint of what was asked refuses the key with another request.
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    idempotency_fingerprint = models.CharField(max_length=64, blank=True, default="")
    # The run whose output this one consumes: the critique-revision run an SFT run
    # trains on. Models a run trains on are ``model`` (registered, with source_run).
    source_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derived_runs"
    )
    # The feedback model of a labelling or evaluation run.
    judge_model = models.ForeignKey(
        ModelEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="judged_runs"
    )
    # The model an evaluation compares the trained policy (``model``) with.
    base_model = models.ForeignKey(
        ModelEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="baseline_runs"
    )
    # Input of DPO / reward runs.
    label_set = models.ForeignKey(
        "labelling.LabelSet",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="training_runs",
    )
    # Output of a labelling run (kept on the training side: labelling has no FK here).
    output_label_set = models.OneToOneField(
        "labelling.LabelSet",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="labelling_run",
    )
    # Why the launcher trained on a label set that was not approved (empty if it was).
    override_reason = models.TextField(blank=True)
    # "cuda" or "cpu", and how many GPUs: gpu_seconds is wall time x GPUs on "cuda",
    # process CPU-seconds on "cpu" (shown as such).
    device = models.CharField(max_length=10, blank=True)
    device_count = models.PositiveSmallIntegerField(default=0)
    # Final figures of a run: final metrics, global step, resumed_from,
    # evaluation results, labels written.
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["team", "-created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="unique_run_idempotency_key_per_team",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"Run #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def can_resume(self) -> bool:
        return self.status in (RunStatus.FAILED, RunStatus.CANCELLED)

    @property
    def percent(self) -> float:
        return 100.0 * self.done_units / self.total_units if self.total_units else 0.0

    @property
    def spec(self) -> KindSpec:
        """Everything about this run's kind (``training.kinds``)."""
        return get_kind(self.kind)

    def config_object(self) -> Any:
        """The run's config as its kind's dataclass (strictly rebuilt from the JSON)."""
        return config_from_dict(self.spec.config_class, self.config)

    @property
    def prompt_subset_text(self) -> str:
        """The part of its prompt selection the run uses, from its config ("" for all)."""
        from training.engine.prompt_sets import describe_subset

        config = self.config if isinstance(self.config, dict) else {}
        return describe_subset(
            config.get("prompt_limit"),
            str(config.get("prompt_subset") or "first"),
            int(config.get("seed") or 0),
        )


# A shard keeps the newest SHARD_LOG_LINES lines its workers logged (training.shards).
SHARD_LOG_LINES = 200


class RunShard(models.Model):
    """An independent slice of a run's examples, one Celery task on the gpu queue.

    ``attempts`` doubles as a fencing token: a worker owns the shard only while the
    row still carries the attempt number it claimed, so a shard the reaper handed to
    another worker is never written by two owners at once.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="shards")
    index = models.PositiveIntegerField()
    start = models.PositiveIntegerField(help_text="First example index (inclusive).")
    end = models.PositiveIntegerField(help_text="Last example index (exclusive).")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    # Times the reaper found this shard's worker gone since the last resume.
    lost = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    done_units = models.PositiveBigIntegerField(default=0)
    total_units = models.PositiveBigIntegerField(default=0)
    examples_done = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=20, blank=True)
    round = models.PositiveSmallIntegerField(default=0)
    tokens_per_s = models.FloatField(default=0.0)
    units_per_s = models.FloatField(default=0.0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    gpu_seconds = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    # What its workers logged while running it (``training.shards.ShardLog``): the newest
    # SHARD_LOG_LINES lines as {"at", "level", "worker", "pid", "attempt", "logger",
    # "message"}, written with the shard's heartbeat and progress writes. Pages that only
    # show the shard's status defer it.
    log_lines = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="unique_shard_index"),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.run} shard {self.index}"

    @property
    def indices(self) -> list[int]:
        return list(range(self.start, self.end))


class RunMetric(models.Model):
    """One logged value of a training run at one optimizer step (loss, rewards/margins...).

    Written by the trainers' MetricsCallback sink every logging step; a resumed run
    logs the steps after its checkpoint again, which overwrite (run, step, name).
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metrics")
    step = models.PositiveIntegerField()
    name = models.CharField(max_length=80)
    value = models.FloatField()

    class Meta:
        ordering = ["run", "step", "name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "step", "name"], name="unique_run_metric"),
        ]
        indexes = [models.Index(fields=["run", "step"], name="runmetric_run_step_idx")]

    def __str__(self) -> str:
        return f"{self.run_id}@{self.step} {self.name}={self.value:g}"


class Finish(models.TextChoices):
    STOP = "stop", "stop"
    LENGTH = "length", "length (truncated)"


class Example(models.Model):
    """One prompt of a critique-revision run: the initial answer and, below, its rounds."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="examples")
    index = models.PositiveIntegerField()
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+")
    initial_answer = models.TextField()
    initial_tokens = models.PositiveIntegerField(default=0)
    initial_finish = models.CharField(max_length=10, choices=Finish.choices, default=Finish.STOP)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="unique_example_index"),
        ]

    def __str__(self) -> str:
        return f"{self.run} example {self.index}"


class ExampleRound(models.Model):
    """One critique and revision of an example, against the exact published principle."""

    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="rounds")
    round = models.PositiveSmallIntegerField()
    principle = models.ForeignKey(
        "constitutions.Principle", on_delete=models.PROTECT, related_name="+"
    )
    principle_key = models.CharField(max_length=64)
    critique = models.TextField()
    critique_tokens = models.PositiveIntegerField(default=0)
    critique_finish = models.CharField(max_length=10, choices=Finish.choices, default=Finish.STOP)
    # None means "not generated yet", which an empty revision is not.
    revision = models.TextField(null=True, blank=True)  # noqa: DJ001
    revision_tokens = models.PositiveIntegerField(null=True, blank=True)
    revision_finish = models.CharField(  # noqa: DJ001
        max_length=10, choices=Finish.choices, null=True, blank=True
    )

    class Meta:
        ordering = ["example", "round"]
        constraints = [
            models.UniqueConstraint(fields=["example", "round"], name="unique_example_round"),
        ]

    def __str__(self) -> str:
        return f"{self.example} round {self.round}"

    @property
    def truncated(self) -> bool:
        return Finish.LENGTH in (self.critique_finish, self.revision_finish)
