"""Reads for the lineage page: everything that descends from one constitution version.

version → critique-revision runs → SFT runs and their models → labelling runs →
label sets (audit status, agreement) → DPO / reward runs and their models →
evaluations. A few queries per level (never one per node below the runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from constitutions.models import ConstitutionVersion

from .models import ModelEntry, Run, RunKind


@dataclass
class Node:
    """One run with the model it produced and what was built on it."""

    run: Run
    model: ModelEntry | None = None
    label_set: Any = None
    agreement: float | None = None
    reviews: int = 0
    children: list[Node] = field(default_factory=list)


def _models_by_run(runs: list[Run]) -> dict[int, ModelEntry]:
    return {
        m.source_run_id: m for m in ModelEntry.objects.filter(source_run__in=[r.pk for r in runs])
    }


def _runs(**filters: Any) -> list[Run]:
    return list(
        Run.objects.filter(**filters)
        .select_related("model", "judge_model", "base_model", "label_set", "output_label_set")
        .order_by("pk")
    )


def version_lineage(version: ConstitutionVersion) -> dict[str, Any]:
    """The tree under ``version`` as Nodes, plus labelling runs not built on its SFT models."""
    from labelling.selectors import audit_summary

    team = version.constitution.team_id
    cr_runs = _runs(team_id=team, kind=RunKind.CRITIQUE_REVISION, constitution_version=version)
    sft_runs = _runs(team_id=team, kind=RunKind.SFT, source_run__in=cr_runs)
    labelling = _runs(team_id=team, kind=RunKind.LABELLING, constitution_version=version)
    pref = _runs(
        team_id=team,
        kind__in=(RunKind.DPO, RunKind.REWARD),
        label_set__in=[r.output_label_set_id for r in labelling if r.output_label_set_id],
    )
    evaluations = _runs(team_id=team, kind=RunKind.EVALUATION, constitution_version=version)
    models = _models_by_run(cr_runs + sft_runs + pref)

    def node(run: Run) -> Node:
        return Node(run=run, model=models.get(run.pk))

    eval_nodes = {r.pk: node(r) for r in evaluations}
    placed: set[int] = set()

    def evals_of(model: ModelEntry | None) -> list[Node]:
        if model is None:
            return []
        found = [n for n in eval_nodes.values() if n.run.model_id == model.pk]
        placed.update(n.run.pk for n in found)
        return found

    pref_nodes: dict[int, list[Node]] = {}
    for run in pref:
        n = node(run)
        n.children = evals_of(n.model)
        pref_nodes.setdefault(run.label_set_id, []).append(n)

    label_nodes: dict[int, Node] = {}
    for run in labelling:
        n = node(run)
        n.label_set = run.output_label_set
        if n.label_set is not None:
            audit = audit_summary(n.label_set)
            n.agreement = audit.agreement.percent.rate
            n.reviews = audit.agreement.percent.n
            n.children = pref_nodes.get(n.label_set.pk, [])
        label_nodes[run.pk] = n

    used_labelling: set[int] = set()
    sft_nodes: dict[int, list[Node]] = {}
    for run in sft_runs:
        n = node(run)
        if n.model is not None:
            below = [ln for ln in label_nodes.values() if ln.run.model_id == n.model.pk]
            used_labelling.update(ln.run.pk for ln in below)
            n.children = below + evals_of(n.model)
        sft_nodes.setdefault(run.source_run_id, []).append(n)

    roots = []
    for run in cr_runs:
        n = node(run)
        n.children = sft_nodes.get(run.pk, [])
        roots.append(n)
    return {
        "roots": roots,
        "other_labelling": [n for pk, n in label_nodes.items() if pk not in used_labelling],
        "other_evaluations": [n for pk, n in eval_nodes.items() if pk not in placed],
    }
