"""The SL-CAI critique-revision pipeline, batched, resumable and Django-free.

For every red-team prompt the model answers; then, for each of ``rounds`` rounds, it
critiques its latest response against a principle drawn from the constitution and
rewrites it (Bai et al. 2022, section 3). The work runs breadth-first: stage "answer"
for every example, then "critique" of round 1 for every example, then "revision" of
round 1, and so on, each stage in batches of ``batch_size`` requests, so the backend
always sees full batches.

Everything that decides an output is derived from the config and the data, never from
when or where the run happened: the principle for (example, round) comes from a seeded
draw over the whole prompt list, batches are formed the same way every time, and each
batch's sampling seed is derived from (seed, stage, round, batch number). A run stopped
half-way and started again against the same :class:`ResultStore` generates only what is
missing and ends with the same results as an uninterrupted run (given a backend that is
deterministic for a fixed seed and batch, as the transformers backend is on one device).

The Django side implements :class:`ResultStore` over the database; this module ships
:class:`InMemoryResultStore` for tests, benchmarks and scripts.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from training.engine.config import config_from_dict
from training.engine.prompt_sets import PromptSubset, subset_problems
from training.engine.prompts import (
    Messages,
    answer_messages,
    clean_generation,
    critique_messages,
    revision_messages,
)
from training.engine.seeds import derive_seed
from training.engine.types import ChatRequest, Completion, SamplingParams

if TYPE_CHECKING:
    from constitutions.content import ConstitutionContent, PrincipleSpec
    from training.engine.types import InferenceBackend

STAGES = ("answer", "critique", "revision")
MAX_ROUNDS = 4
MAX_BATCH_SIZE = 1024
# Redraws tried per round before picking an unused principle directly (see plan_principles).
_FRESH_REDRAWS = 8


class CritiqueRevisionError(RuntimeError):
    """The pipeline cannot go on: the store disagrees with the inputs, or a backend misbehaved."""


# --------------------------------------------------------------------------------------
# Config


def _stage_params(max_new_tokens: int) -> SamplingParams:
    return SamplingParams(temperature=0.7, top_p=0.95, max_new_tokens=max_new_tokens)


@dataclass
class CritiqueRevisionConfig(PromptSubset):
    """How a critique-revision run samples. Stored with the run as JSON (``to_dict``)."""

    rounds: int = field(
        default=1,
        metadata={
            "help": "Critique-revision rounds per example, 1 to 4; each draws a fresh principle."
        },
    )
    few_shot: bool = field(
        default=True,
        metadata={
            "help": "Put the constitution's few-shot dialogues before each critique and revision."
        },
    )
    answer: SamplingParams = field(
        default_factory=lambda: _stage_params(256),
        metadata={"help": "Sampling for the initial answer (temperature, top_p, max_new_tokens)."},
    )
    critique: SamplingParams = field(
        default_factory=lambda: _stage_params(192),
        metadata={"help": "Sampling for critiques (temperature, top_p, max_new_tokens)."},
    )
    revision: SamplingParams = field(
        default_factory=lambda: _stage_params(256),
        metadata={"help": "Sampling for revisions (temperature, top_p, max_new_tokens)."},
    )
    seed: int = field(
        default=0,
        metadata={"help": "Seeds principle draws and every batch's sampling; same seed, same run."},
    )
    batch_size: int = field(
        default=16,
        metadata={"help": f"Requests sent to the backend at once, 1 to {MAX_BATCH_SIZE}."},
    )
    system_prompt: str | None = field(
        default=None,
        metadata={"help": "Optional system message put before every conversation."},
    )
    sort_by_length: bool = field(
        default=True,
        metadata={"help": "Group requests of similar length into a batch to waste less padding."},
    )

    def __post_init__(self) -> None:
        problems: list[str] = []

        def is_int(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        if not is_int(self.rounds) or not 1 <= self.rounds <= MAX_ROUNDS:
            problems.append(
                f"rounds must be an integer from 1 to {MAX_ROUNDS}, got {self.rounds!r}"
            )
        if not is_int(self.batch_size) or not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            problems.append(
                f"batch_size must be an integer from 1 to {MAX_BATCH_SIZE}, got {self.batch_size!r}"
            )
        if not is_int(self.seed) or self.seed < 0:
            problems.append(f"seed must be a non-negative integer, got {self.seed!r}")
        for name in ("few_shot", "sort_by_length"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be true or false, got {getattr(self, name)!r}")
        for stage in STAGES:
            params = getattr(self, stage)
            if not isinstance(params, SamplingParams):
                problems.append(f"{stage} must be SamplingParams, got {type(params).__name__}")
            elif params.seed is not None:
                problems.append(
                    f"{stage}.seed must be left unset: every batch's seed is derived from seed"
                )
        problems += subset_problems(self.prompt_limit, self.prompt_subset)
        if self.system_prompt is not None and (
            not isinstance(self.system_prompt, str) or not self.system_prompt.strip()
        ):
            problems.append("system_prompt must be a non-empty string or None")
        if problems:
            raise ValueError("invalid critique-revision config: " + "; ".join(problems))

    @property
    def units_per_example(self) -> int:
        """Generations per example: one answer, then a critique and a revision per round."""
        return 1 + 2 * self.rounds

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_dict` turns back into an equal config."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CritiqueRevisionConfig:
        """Build a config from stored JSON strictly: unknown keys and wrong types are errors."""
        return config_from_dict(cls, data)


# --------------------------------------------------------------------------------------
# Results


@dataclass
class RoundResult:
    """One critique-revision round of one example. ``revision`` is None until it is written."""

    round: int
    principle_key: str
    principle_id: int | None
    critique: str
    revision: str | None = None
    critique_tokens: int = 0
    revision_tokens: int | None = None
    critique_finish: str = "stop"
    revision_finish: str | None = None


@dataclass
class ExampleState:
    """Everything generated so far for one prompt."""

    index: int
    prompt: str
    initial_answer: str | None = None
    initial_tokens: int | None = None
    initial_finish: str | None = None
    rounds: list[RoundResult] = field(default_factory=list)

    @property
    def rounds_revised(self) -> int:
        """How many rounds, counted from the first, have their revision written."""
        count = 0
        for result in self.rounds:
            if result.revision is None:
                break
            count += 1
        return count

    @property
    def final_response(self) -> str | None:
        """The latest revision, else the initial answer, else None."""
        for result in reversed(self.rounds):
            if result.revision is not None:
                return result.revision
        return self.initial_answer

    def is_done(self, stage: str, round: int) -> bool:
        """Whether ``stage`` of ``round`` (0 for the answer) is already stored."""
        if stage == "answer":
            return self.initial_answer is not None
        if len(self.rounds) < round:
            return False
        return stage == "critique" or self.rounds[round - 1].revision is not None

    def units_done(self, rounds: int) -> int:
        """Generations stored for this example, counting at most ``rounds`` rounds."""
        units = int(self.initial_answer is not None)
        for result in self.rounds[:rounds]:
            units += 1 + int(result.revision is not None)
        return units

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reverses it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExampleState:
        """Rebuild an example from :meth:`to_dict` output."""
        values = dict(data)
        values["rounds"] = [RoundResult(**r) for r in values.get("rounds", [])]
        return cls(**values)


@dataclass(frozen=True)
class StageOutput:
    """One generation to store: the result of ``stage`` for example ``index``.

    ``principle_key``/``principle_id`` are set for critique and revision outputs.
    """

    index: int
    prompt: str
    text: str
    tokens: int
    finish_reason: str
    principle_key: str | None = None
    principle_id: int | None = None


@runtime_checkable
class ResultStore(Protocol):
    """Where a run keeps its results; the Django side implements it over the database."""

    def load(self) -> dict[int, ExampleState]:
        """Every example with anything stored, by index."""
        ...

    def save_batch(self, stage: str, round: int, results: list[StageOutput]) -> None:
        """Upsert one batch of ``stage`` outputs for ``round`` (0 for answers).

        Must be idempotent: saving the same batch twice leaves the same state as once.
        """
        ...


def apply_output(
    states: dict[int, ExampleState], stage: str, round: int, output: StageOutput
) -> None:
    """Upsert one stage output into ``states``, the rules any ResultStore should follow.

    A new answer or critique that differs from the stored one drops what was built on
    it (later rounds, the round's revision), so a store never mixes generations.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    state = states.get(output.index)
    if stage == "answer":
        if state is None:
            state = states[output.index] = ExampleState(index=output.index, prompt=output.prompt)
        if state.initial_answer != output.text:
            state.rounds.clear()
        state.initial_answer = output.text
        state.initial_tokens = output.tokens
        state.initial_finish = output.finish_reason
        return
    if output.principle_key is None:
        raise ValueError(f"a {stage} output needs principle_key")
    if state is None or state.initial_answer is None:
        raise CritiqueRevisionError(f"example {output.index}: {stage} saved before its answer")
    if stage == "critique":
        if len(state.rounds) < round - 1 or (
            round > 1 and state.rounds[round - 2].revision is None
        ):
            raise CritiqueRevisionError(
                f"example {output.index}: critique of round {round} saved before round {round - 1}"
            )
        new = RoundResult(
            round=round,
            principle_key=output.principle_key,
            principle_id=output.principle_id,
            critique=output.text,
            critique_tokens=output.tokens,
            critique_finish=output.finish_reason,
        )
        if len(state.rounds) >= round:
            old = state.rounds[round - 1]
            if (old.principle_key, old.critique) == (new.principle_key, new.critique):
                new.revision, new.revision_tokens, new.revision_finish = (
                    old.revision,
                    old.revision_tokens,
                    old.revision_finish,
                )
            else:
                del state.rounds[round:]
            state.rounds[round - 1] = new
        else:
            state.rounds.append(new)
        return
    if len(state.rounds) < round:
        raise CritiqueRevisionError(
            f"example {output.index}: revision of round {round} saved before its critique"
        )
    result = state.rounds[round - 1]
    if result.revision != output.text:
        del state.rounds[round:]
    result.revision = output.text
    result.revision_tokens = output.tokens
    result.revision_finish = output.finish_reason


class InMemoryResultStore:
    """A ResultStore in a dict, for tests, benchmarks and scripts. ``saves`` logs every call."""

    def __init__(self) -> None:
        self.states: dict[int, ExampleState] = {}
        self.saves: list[tuple[str, int, tuple[int, ...]]] = []

    def load(self) -> dict[int, ExampleState]:
        return copy.deepcopy(self.states)

    def save_batch(self, stage: str, round: int, results: list[StageOutput]) -> None:
        for output in results:
            apply_output(self.states, stage, round, output)
        self.saves.append((stage, round, tuple(o.index for o in results)))


# --------------------------------------------------------------------------------------
# Determinism helpers


def plan_principles(
    content: ConstitutionContent, n_examples: int, rounds: int, seed: int
) -> list[list[PrincipleSpec]]:
    """``plan[round - 1][index]``: the principle each example is critiqued against.

    Round r draws one principle per example with the constitution's weights and the
    seed ``derive_seed(seed, "principles", r)``, over the whole prompt list, so every
    shard and every resumed run sees the same plan. Where an example drew a principle
    it already had in an earlier round, it redraws (seeded) and, failing that, takes
    the most likely principle it has not had, so rounds use fresh principles whenever
    the constitution has enough of them.
    """
    from constitutions.sampler import principle_probabilities, sample_principles

    probabilities = principle_probabilities(content, "critique")
    by_key = {p.key: p for p in content.principles}
    ranked = [
        by_key[key]
        for key, prob in sorted(probabilities.items(), key=lambda kv: (-kv[1], kv[0]))
        if prob > 0 and key in by_key
    ]
    if not ranked:
        raise CritiqueRevisionError("the constitution has no enabled principle to critique with")

    plan: list[list[PrincipleSpec]] = []
    for r in range(1, rounds + 1):
        drawn = list(
            sample_principles(content, n_examples, derive_seed(seed, "principles", r), "critique")
        )
        if len(drawn) != n_examples:
            raise CritiqueRevisionError(
                f"sample_principles returned {len(drawn)} principles for {n_examples} examples"
            )
        used = [{plan[q][i].key for q in range(r - 1)} for i in range(n_examples)]
        clashing = [i for i in range(n_examples) if drawn[i].key in used[i]]
        for attempt in range(1, _FRESH_REDRAWS + 1):
            if not clashing:
                break
            redraw = sample_principles(
                content, n_examples, derive_seed(seed, "principles", r, attempt), "critique"
            )
            for i in clashing:
                if redraw[i].key not in used[i]:
                    drawn[i] = redraw[i]
            clashing = [i for i in clashing if drawn[i].key in used[i]]
        for i in clashing:
            drawn[i] = next((p for p in ranked if p.key not in used[i]), drawn[i])
        plan.append(drawn)
    return plan


# --------------------------------------------------------------------------------------
# The pipeline


@dataclass(frozen=True)
class Progress:
    """A snapshot sent to the ``progress`` callback after each batch."""

    done_units: int
    total_units: int
    examples_done: int
    examples_total: int
    stage: str
    round: int
    tokens_per_s: float
    eta_seconds: float | None
    # The batch of ``stage`` being generated now (1-based) and how many it has; 0 at
    # the start and after the last batch of a stage.
    batch: int = 0
    batches: int = 0
    # Tokens this call has spent so far (so a caller can record them before a crash).
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class RunReport:
    """How a call to :func:`run_critique_revision` ended, and the shard's examples."""

    completed: bool
    stopped: bool
    examples: list[ExampleState]
    units_generated: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float


def stage_sequence(rounds: int) -> Iterator[tuple[str, int]]:
    """``("answer", 0)``, then ``("critique", r)`` and ``("revision", r)`` for each round."""
    yield "answer", 0
    for r in range(1, rounds + 1):
        yield "critique", r
        yield "revision", r


def run_critique_revision(
    *,
    prompts: Sequence[str],
    content: ConstitutionContent,
    backend: InferenceBackend,
    config: CritiqueRevisionConfig,
    store: ResultStore,
    indices: Sequence[int] | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunReport:
    """Run (or resume) critique-revision over ``prompts``, or over the shard ``indices``.

    Reads what ``store`` already holds, generates only what is missing, batch by batch,
    and saves every batch before the next one starts. Before each batch it asks
    ``should_stop()``; on True it returns at once with ``stopped=True`` and everything
    finished so far saved. ``progress`` gets a :class:`Progress` at the start and after
    each batch. A shard is an independent unit of work: several shards over disjoint
    ``indices`` may share one store and run one after another or on different workers.
    """
    started = time.monotonic()
    shard = _check_indices(indices, len(prompts))
    states = store.load()
    _check_stored(states, prompts, shard)
    plan = plan_principles(content, len(prompts), config.rounds, config.seed)
    _check_plan(states, plan, shard)
    few_shots = tuple(content.few_shots) if config.few_shot else ()

    total_units = len(shard) * config.units_per_example
    counters = {"units": 0, "prompt_tokens": 0, "completion_tokens": 0}

    def done_units() -> int:
        return sum(states[i].units_done(config.rounds) for i in shard if i in states)

    def report(*, completed: bool, stopped: bool) -> RunReport:
        return RunReport(
            completed=completed,
            stopped=stopped,
            examples=[copy.deepcopy(states[i]) for i in shard if i in states],
            units_generated=counters["units"],
            prompt_tokens=counters["prompt_tokens"],
            completion_tokens=counters["completion_tokens"],
            seconds=time.monotonic() - started,
        )

    def notify(stage: str, round: int, batch: int = 0, batches: int = 0) -> None:
        if progress is None:
            return
        done = done_units()
        elapsed = max(time.monotonic() - started, 1e-9)
        rate = counters["units"] / elapsed
        progress(
            Progress(
                done_units=done,
                total_units=total_units,
                examples_done=sum(
                    1 for i in shard if i in states and states[i].rounds_revised >= config.rounds
                ),
                examples_total=len(shard),
                stage=stage,
                round=round,
                tokens_per_s=counters["completion_tokens"] / elapsed,
                prompt_tokens=counters["prompt_tokens"],
                completion_tokens=counters["completion_tokens"],
                eta_seconds=(total_units - done) / rate if rate > 0 else None,
                batch=batch,
                batches=batches,
            )
        )

    notify("answer", 0)
    for stage, r in stage_sequence(config.rounds):
        messages = {
            i: _messages(stage, r, prompts[i], states.get(i), plan, few_shots, config)
            for i in shard
        }
        order = list(shard)
        if config.sort_by_length:
            # Similar lengths share a batch, so less of each batch is padding. The key
            # depends only on stored text, so a resumed run forms the same batches.
            order.sort(key=lambda i: (sum(len(m["content"]) for m in messages[i]), i))
        params = getattr(config, stage)
        for number, start in enumerate(range(0, len(order), config.batch_size)):
            batch = order[start : start + config.batch_size]
            missing = [i for i in batch if i not in states or not states[i].is_done(stage, r)]
            if not missing:
                continue
            if should_stop is not None and should_stop():
                return report(completed=False, stopped=True)
            # Say what is being generated now, not only what just finished.
            notify(stage, r, number + 1, math.ceil(len(order) / config.batch_size))
            seeded = dataclasses.replace(params, seed=derive_seed(config.seed, stage, r, number))
            completions = backend.generate([ChatRequest(messages[i]) for i in missing], seeded)
            if len(completions) != len(missing):
                raise CritiqueRevisionError(
                    f"the backend returned {len(completions)} completions for {len(missing)} requests"
                )
            outputs = [
                _output(stage, r, i, prompts[i], completion, plan)
                for i, completion in zip(missing, completions, strict=True)
            ]
            store.save_batch(stage, r, outputs)
            for output in outputs:
                apply_output(states, stage, r, output)
            counters["units"] += len(outputs)
            counters["prompt_tokens"] += sum(c.prompt_tokens for c in completions)
            counters["completion_tokens"] += sum(c.completion_tokens for c in completions)
            notify(stage, r)
    return report(completed=True, stopped=False)


def _check_indices(indices: Sequence[int] | None, n_prompts: int) -> list[int]:
    if indices is None:
        return list(range(n_prompts))
    shard = sorted(set(indices))
    if len(shard) != len(indices):
        raise ValueError("indices must not repeat")
    bad = [i for i in shard if not isinstance(i, int) or not 0 <= i < n_prompts]
    if bad:
        raise ValueError(f"indices out of range 0..{n_prompts - 1}: {bad[:10]}")
    return shard


def _check_stored(
    states: dict[int, ExampleState], prompts: Sequence[str], shard: list[int]
) -> None:
    for i in shard:
        if i in states and states[i].prompt != prompts[i]:
            raise CritiqueRevisionError(
                f"example {i} in the store has a different prompt; the store belongs to another prompt list"
            )


def _check_plan(
    states: dict[int, ExampleState], plan: list[list[PrincipleSpec]], shard: list[int]
) -> None:
    for i in shard:
        for result in states[i].rounds if i in states else ():
            if result.round > len(plan):
                continue
            expected = plan[result.round - 1][i].key
            if result.principle_key != expected:
                raise CritiqueRevisionError(
                    f"example {i} round {result.round} was critiqued against {result.principle_key!r}"
                    f" but this run draws {expected!r}: the constitution or seed changed"
                )


def _messages(
    stage: str,
    r: int,
    prompt: str,
    state: ExampleState | None,
    plan: list[list[PrincipleSpec]],
    few_shots: tuple[Any, ...],
    config: CritiqueRevisionConfig,
) -> Messages:
    system = config.system_prompt
    if stage == "answer":
        return answer_messages(prompt, system=system)
    # Breadth-first order guarantees the previous stage is stored for every example.
    assert state is not None and state.initial_answer is not None
    answer = state.initial_answer if r == 1 else state.rounds[r - 2].revision
    assert answer is not None
    principle = plan[r - 1][state.index]
    if stage == "critique":
        return critique_messages(prompt, answer, principle, few_shots, system=system)
    return revision_messages(
        prompt, answer, principle, state.rounds[r - 1].critique, few_shots, system=system
    )


def _output(
    stage: str,
    r: int,
    index: int,
    prompt: str,
    completion: Completion,
    plan: list[list[PrincipleSpec]],
) -> StageOutput:
    principle = plan[r - 1][index] if stage != "answer" else None
    text = clean_generation(completion.text) if stage == "revision" else completion.text.strip()
    return StageOutput(
        index=index,
        prompt=prompt,
        text=text,
        tokens=completion.completion_tokens,
        finish_reason=completion.finish_reason,
        principle_key=principle.key if principle else None,
        principle_id=principle.id if principle else None,
    )
