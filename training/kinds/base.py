"""What a run kind is: one :class:`KindSpec` per kind module.

A spec says what the kind needs (input rules, config class, launch form), how it is
planned into shards, what a worker does with a shard (``execute(ctx)``), and what
its run page shows (partial template, charts, outputs). Everything that differs
between kinds is here; the services, the worker's shard context, the run page shell
and the ``run_start`` command only ask the spec.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from training.engine.sharding import split_evenly

if TYPE_CHECKING:
    from cai_web.models import Team
    from training.forms import LaunchForm
    from training.inputs import InputRule
    from training.models import Run
    from training.shards import ShardContext


T = TypeVar("T")


def need(value: T | None, what: str) -> T:
    """A run input the kind requires (set by ``run_start``); a clear error if it is gone."""
    if value is None:
        raise ValueError(f"the run has no {what}")
    return value


@dataclass(frozen=True)
class ShardPlan:
    """How a run splits: ``shards`` as (start, end, units); totals for the run row."""

    shards: list[tuple[int, int, int]]
    total_units: int
    examples_total: int = 0
    shard_size: int = 0


def single_shard(total_units: int, examples_total: int = 0) -> ShardPlan:
    """A kind that runs as one unit of work (a trainer): one shard over everything."""
    return ShardPlan(
        shards=[(0, 1, total_units)],
        total_units=total_units,
        examples_total=examples_total,
        shard_size=max(1, total_units),
    )


@dataclass(frozen=True)
class Chart:
    """One chart of a run page: an id, an SVG and the latest values for the caption."""

    id: str
    svg: str
    latest: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class KindSpec:
    """Everything about one run kind.

    * ``config_class`` — the engine-side dataclass the run stores as JSON.
    * ``form_class`` — the launch form (inputs come from ``inputs``; options are its own).
    * ``inputs`` — one :class:`~training.inputs.InputRule` per role.
    * ``build_config(options, run, inputs)`` — the resolved config (paths need the run).
    * ``check(team, inputs, config, user)`` — rules across inputs; returns extra Run fields.
    * ``plan(inputs, config, shard_size)`` — the shards.
    * ``after_create(run, inputs, config, user)`` — e.g. the output label set.
    * ``execute(ctx)`` — the worker's work on one shard: ``(completed, result)``.
    * ``template`` — the run page partial; ``charts(run)`` its charts.
    * ``parent(run)`` — the run this one builds on, for the lineage tree.
    * ``progress_unit`` — what ``done_units`` counts ("steps", "generations"...): the
      progress bar, the ETA and the shards' progress.
    * ``count_unit`` — when set, people read the run's progress in this unit, counted by
      ``examples_done`` / ``examples_total`` ("labels" of a labelling run, "examples" of
      critique–revision) on the runs list and the run page, with ``done_units`` in
      ``progress_unit`` beside it on the run page; empty: ``done_units`` is the count.
    """

    name: str
    label: str
    summary: str
    config_class: type
    form_class: type[LaunchForm]
    inputs: Sequence[InputRule]
    build_config: Callable[[dict[str, Any], Run, dict[str, Any]], Any]
    plan: Callable[[dict[str, Any], Any, int | None], ShardPlan]
    execute: Callable[[ShardContext], tuple[bool, dict[str, Any]]]
    template: str
    progress_unit: str = "steps"
    count_unit: str = ""
    check: Callable[[Team, dict[str, Any], Any, Any], dict[str, Any]] | None = None
    after_create: Callable[[Run, dict[str, Any], Any, Any], None] | None = None
    charts: Callable[[Run], list[Chart]] = lambda run: []
    parent: Callable[[Run], int | None] = lambda run: run.source_run_id
    labels_produced: Callable[[Run], int] = lambda run: 0
    trains_model: bool = False
    reward_model: bool = False
    resume_note: str = "it continues where it stopped"

    def input(self, role: str) -> InputRule:
        for rule in self.inputs:
            if rule.role == role:
                return rule
        raise KeyError(role)


__all__ = ["Chart", "KindSpec", "ShardPlan", "single_shard", "split_evenly"]
