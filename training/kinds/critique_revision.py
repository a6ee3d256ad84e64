"""Critique–revision (SL-CAI stage 1): answer each red-team prompt, then critique and
revise it against principles drawn from a published constitution.

Sharded over the prompts (one Celery task per shard); each shard saves every batch
through :class:`DbResultStore`, so a re-queued or resumed shard continues where it
stopped and never duplicates an example or a round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.db import transaction

from training.engine.critique_revision import (
    MAX_BATCH_SIZE,
    MAX_ROUNDS,
    CritiqueRevisionConfig,
    CritiqueRevisionError,
    ExampleState,
    RoundResult,
    run_critique_revision,
)
from training.forms import PromptSubsetLaunchForm
from training.inputs import PROMPT_SELECTION, PROMPT_SET, VERSION, model_rule
from training.kinds.base import KindSpec, ShardPlan, need, split_evenly
from training.kinds.checks import parse_options, require_drawable, require_prompts
from training.models import Example, ExampleRound, Run
from training.services.prompt_sets import run_prompt_queryset
from training.shards import ShardContext

DEFAULT_SHARD_SIZE = 256
STAGE_DEFAULTS = {"answer": 256, "critique": 192, "revision": 256}

INPUTS = (
    VERSION,
    PROMPT_SET,
    PROMPT_SELECTION,
    model_rule("model", "Model", run_field="model"),
)


class LaunchCritiqueRevision(PromptSubsetLaunchForm):
    inputs = INPUTS
    rounds = forms.IntegerField(min_value=1, max_value=MAX_ROUNDS, initial=1)
    few_shot = forms.BooleanField(required=False, initial=True, label="Few-shot dialogues")
    system_prompt = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)
    batch_size = forms.IntegerField(min_value=1, max_value=MAX_BATCH_SIZE, initial=16)
    shard_size = forms.IntegerField(
        min_value=1,
        max_value=100_000,
        initial=DEFAULT_SHARD_SIZE,
        help_text="Prompts per shard (one task each).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for stage, tokens in STAGE_DEFAULTS.items():
            self.fields[f"{stage}_temperature"] = forms.FloatField(
                min_value=0.0, max_value=10.0, initial=0.7, label=f"{stage} temperature"
            )
            self.fields[f"{stage}_top_p"] = forms.FloatField(
                min_value=0.01, max_value=1.0, initial=0.95, label=f"{stage} top_p"
            )
            self.fields[f"{stage}_max_new_tokens"] = forms.IntegerField(
                min_value=1, max_value=32_768, initial=tokens, label=f"{stage} max new tokens"
            )

    def stage_fields(self) -> list[tuple[str, list[Any]]]:
        return [
            (stage, [self[f"{stage}_{n}"] for n in ("temperature", "top_p", "max_new_tokens")])
            for stage in STAGE_DEFAULTS
        ]

    def options(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "rounds": data["rounds"],
            "few_shot": bool(data.get("few_shot")),
            "system_prompt": (data.get("system_prompt") or "").strip() or None,
            "seed": data["seed"],
            "batch_size": data["batch_size"],
            **self.subset_options(),
            **{
                stage: {
                    "temperature": data[f"{stage}_temperature"],
                    "top_p": data[f"{stage}_top_p"],
                    "max_new_tokens": data[f"{stage}_max_new_tokens"],
                }
                for stage in STAGE_DEFAULTS
            },
        }


def _config(options: dict[str, Any]) -> CritiqueRevisionConfig:
    return parse_options(CritiqueRevisionConfig, options)


def check(team: Any, inputs: dict[str, Any], options: dict[str, Any], user: Any) -> dict[str, Any]:
    config = _config(options)
    require_drawable(inputs["version"])
    require_prompts(inputs["prompt_set"], inputs["prompt_selection"], config)
    return {}


def plan(inputs: dict[str, Any], options: dict[str, Any], shard_size: int | None) -> ShardPlan:
    config = _config(options)
    units = config.units_per_example
    n = run_prompt_queryset(inputs["prompt_set"], inputs["prompt_selection"], config).count()
    size = shard_size or DEFAULT_SHARD_SIZE
    return ShardPlan(
        shards=[(a, b, (b - a) * units) for a, b in split_evenly(n, size)],
        total_units=n * units,
        examples_total=n,
        shard_size=size,
    )


def build_config(
    options: dict[str, Any], run: Run, inputs: dict[str, Any]
) -> CritiqueRevisionConfig:
    return _config(options)


class DbResultStore:
    """The engine's ResultStore over Example/ExampleRound rows of one run's shard.

    Every ``save_batch`` is one transaction of idempotent upserts keyed by
    (run, index) and (example, round), so a batch saved twice (a redelivered task, a
    resumed run) leaves exactly one row per example and round. It follows the rules
    of ``critique_revision.apply_output``: a changed answer or critique drops what
    was built on it.
    """

    def __init__(self, run: Run, start: int, end: int, prompt_ids: Sequence[int]) -> None:
        self.run = run
        self.start = start
        self.end = end
        self.prompt_ids = prompt_ids

    def _examples(self):
        return Example.objects.filter(run=self.run, index__gte=self.start, index__lt=self.end)

    def load(self) -> dict[int, Any]:
        states: dict[int, ExampleState] = {}
        for row in self._examples().values(
            "id", "index", "prompt__text", "initial_answer", "initial_tokens", "initial_finish"
        ):
            states[row["index"]] = ExampleState(
                index=row["index"],
                prompt=row["prompt__text"],
                initial_answer=row["initial_answer"],
                initial_tokens=row["initial_tokens"],
                initial_finish=row["initial_finish"],
            )
        rounds = ExampleRound.objects.filter(
            example__run=self.run, example__index__gte=self.start, example__index__lt=self.end
        ).order_by("example__index", "round")
        for r in rounds.values(
            "example__index",
            "round",
            "principle_id",
            "principle_key",
            "critique",
            "critique_tokens",
            "critique_finish",
            "revision",
            "revision_tokens",
            "revision_finish",
        ):
            state = states[r["example__index"]]
            if r["round"] != len(state.rounds) + 1:
                continue  # a gap cannot happen through save_batch; ignore what follows one
            state.rounds.append(
                RoundResult(
                    round=r["round"],
                    principle_key=r["principle_key"],
                    principle_id=r["principle_id"],
                    critique=r["critique"],
                    revision=r["revision"],
                    critique_tokens=r["critique_tokens"],
                    revision_tokens=r["revision_tokens"],
                    critique_finish=r["critique_finish"],
                    revision_finish=r["revision_finish"],
                )
            )
        return states

    @transaction.atomic
    def save_batch(self, stage: str, round: int, results: list[Any]) -> None:
        if not results:
            return
        indices = [o.index for o in results]
        if any(not self.start <= i < self.end for i in indices):
            raise CritiqueRevisionError(f"indices {indices} fall outside this shard")
        if stage == "answer":
            stored = dict(
                self._examples().filter(index__in=indices).values_list("index", "initial_answer")
            )
            changed = [o.index for o in results if o.index in stored and stored[o.index] != o.text]
            if changed:
                ExampleRound.objects.filter(
                    example__run=self.run, example__index__in=changed
                ).delete()
            Example.objects.bulk_create(
                [
                    Example(
                        run=self.run,
                        index=o.index,
                        prompt_id=self.prompt_ids[o.index],
                        initial_answer=o.text,
                        initial_tokens=o.tokens,
                        initial_finish=o.finish_reason,
                    )
                    for o in results
                ],
                update_conflicts=True,
                unique_fields=["run", "index"],
                update_fields=["prompt", "initial_answer", "initial_tokens", "initial_finish"],
            )
            return
        example_ids = dict(self._examples().filter(index__in=indices).values_list("index", "id"))
        missing = [i for i in indices if i not in example_ids]
        if missing:
            raise CritiqueRevisionError(f"examples {missing} got a {stage} before their answer")
        if stage == "critique":
            stored = {
                ex: (key, critique)
                for ex, key, critique in ExampleRound.objects.filter(
                    example_id__in=example_ids.values(), round=round
                ).values_list("example_id", "principle_key", "critique")
            }
            changed = [
                example_ids[o.index]
                for o in results
                if example_ids[o.index] in stored
                and stored[example_ids[o.index]] != (o.principle_key, o.text)
            ]
            if changed:
                ExampleRound.objects.filter(example_id__in=changed, round__gte=round).delete()
            for o in results:
                if o.principle_id is None:
                    raise CritiqueRevisionError(
                        f"example {o.index}: the principle has no database id"
                    )
            ExampleRound.objects.bulk_create(
                [
                    ExampleRound(
                        example_id=example_ids[o.index],
                        round=round,
                        principle_id=o.principle_id,
                        principle_key=o.principle_key,
                        critique=o.text,
                        critique_tokens=o.tokens,
                        critique_finish=o.finish_reason,
                    )
                    for o in results
                ],
                update_conflicts=True,
                unique_fields=["example", "round"],
                update_fields=[
                    "principle",
                    "principle_key",
                    "critique",
                    "critique_tokens",
                    "critique_finish",
                ],
            )
            return
        rows = {
            r.example_id: r
            for r in ExampleRound.objects.filter(example_id__in=example_ids.values(), round=round)
        }
        missing = [o.index for o in results if example_ids[o.index] not in rows]
        if missing:
            raise CritiqueRevisionError(
                f"examples {missing}: revision of round {round} before its critique"
            )
        changed = []
        for o in results:
            row = rows[example_ids[o.index]]
            if row.revision is not None and row.revision != o.text:
                changed.append(row.example_id)
            row.revision, row.revision_tokens, row.revision_finish = (
                o.text,
                o.tokens,
                o.finish_reason,
            )
        if changed:
            ExampleRound.objects.filter(example_id__in=changed, round__gt=round).delete()
        ExampleRound.objects.bulk_update(
            list(rows.values()), ["revision", "revision_tokens", "revision_finish"]
        )


def execute(ctx: ShardContext) -> tuple[bool, dict[str, Any]]:
    """Run the engine over this shard's prompts, saving every batch as it goes."""
    from constitutions.selectors import version_content, version_with_content

    run = ctx.run
    config = run.config_object()
    prompt_set = need(run.prompt_set, "prompt set")
    rows = list(
        run_prompt_queryset(prompt_set, run.prompt_selection, config).values_list("id", "text")
    )
    prompt_ids = [pk for pk, _ in rows]
    prompts = [text for _, text in rows]
    if len(prompts) != run.examples_total:
        raise ValueError(
            f"the run was started over {run.examples_total} prompts but the set now has {len(prompts)}"
        )
    content = version_content(version_with_content(need(run.constitution_version_id, "version")))
    store = DbResultStore(run, ctx.start, ctx.end, prompt_ids)
    (backend,) = ctx.backends(need(run.model, "model"))

    def on_progress(p: Any) -> None:
        remaining = p.total_units - p.done_units
        # "critique 3/8": the batch being generated now (the run page splits it out).
        stage = f"{p.stage} {p.batch}/{p.batches}" if p.batches else p.stage
        ctx.progress(
            p.done_units,
            stage=stage[:20],
            round=p.round,
            total_units=p.total_units,
            examples_done=p.examples_done,
            tokens_per_s=p.tokens_per_s,
            units_per_s=remaining / p.eta_seconds if p.eta_seconds else 0.0,
            # Recorded every batch: a killed attempt's tokens stay counted as spent.
            **ctx.tokens(p.prompt_tokens, p.completion_tokens),
        )

    report = run_critique_revision(
        prompts=prompts,
        content=content,
        backend=backend,
        config=config,
        store=store,
        indices=ctx.indices,
        progress=on_progress,
        should_stop=ctx.should_stop,
    )
    ctx.add_tokens(report.prompt_tokens, report.completion_tokens)
    return report.completed, {}


SPEC = KindSpec(
    name="critique_revision",
    label="Critique–revision (SL-CAI)",
    summary="Answer red-team prompts, then critique and revise each answer against "
    "principles drawn from a published constitution.",
    config_class=CritiqueRevisionConfig,
    form_class=LaunchCritiqueRevision,
    inputs=INPUTS,
    build_config=build_config,
    check=check,
    plan=plan,
    execute=execute,
    template="training/kinds/critique_revision.html",
    progress_unit="generations",
    count_unit="examples",  # examples_done: the prompts with every round revised
    parent=lambda run: None,
)

__all__ = ["SPEC", "DbResultStore", "LaunchCritiqueRevision"]
