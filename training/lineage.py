"""Reads for the lineage page: everything that descends from one constitution version.

Each kind says which run it builds on (``KindSpec.parent``: an SFT run on its
critique–revision run, a labelling run on the run that trained its policy, DPO on the
labelling run of its label set, an evaluation on the run that trained the policy), so
the tree is built the same way for every kind, a new kind included. Three queries for
the whole team (runs, the models they made, the audit of their label sets), never one
per node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from constitutions.models import ConstitutionVersion

from .models import ModelEntry, Run


@dataclass
class Node:
    """One run with the model or label set it produced and the runs built on it."""

    run: Run
    model: ModelEntry | None = None
    label_set: Any = None
    agreement: float | None = None
    reviews: int = 0
    children: list[Node] = field(default_factory=list)


def version_lineage(version: ConstitutionVersion) -> list[Node]:
    """The runs of ``version`` that build on nothing of it, each with its descendants."""
    from labelling.selectors import audit_summary

    runs = list(
        Run.objects.filter(team_id=version.constitution.team_id)
        .select_related(
            "model", "judge_model", "base_model", "label_set", "output_label_set", "prompt_set"
        )
        .order_by("pk")
    )
    by_pk = {r.pk: r for r in runs}
    models = {
        m.source_run_id: m for m in ModelEntry.objects.filter(source_run__in=[r.pk for r in runs])
    }
    children: dict[int | None, list[Run]] = {}
    for run in runs:
        parent = run.spec.parent(run)
        children.setdefault(parent if parent in by_pk else None, []).append(run)

    def node(run: Run) -> Node:
        n = Node(run=run, model=models.get(run.pk), label_set=run.output_label_set)
        if n.label_set is not None:
            audit = audit_summary(n.label_set)
            n.agreement = audit.agreement.percent.rate
            n.reviews = audit.agreement.percent.n
        n.children = [node(c) for c in children.get(run.pk, [])]
        return n

    def of_version(run: Run) -> bool:
        return run.constitution_version_id == version.pk

    roots = []
    for run in runs:
        parent = run.spec.parent(run)
        if of_version(run) and (parent not in by_pk or not of_version(by_pk[parent])):
            roots.append(node(run))
    return roots


__all__ = ["Node", "version_lineage"]
