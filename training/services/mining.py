"""Writes about mined principles: adding a candidate of a mining run to a draft."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from constitutions import services as constitution_services
from constitutions.models import ConstitutionVersion, Principle

from ..errors import TrainingError
from ..models import Run

MINED_CATEGORY_DESCRIPTION = "Principles mined from AI-human disagreements in a label set."


def _unique_key(draft: ConstitutionVersion, base: str) -> str:
    taken = set(draft.principles.values_list("key", flat=True))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


@transaction.atomic
def mined_principle_add(
    *, run: Run, index: int, user: Any
) -> tuple[ConstitutionVersion, Principle]:
    """Add candidate ``index`` of a mining run to a draft of the run's constitution.

    A published version never changes, so the principle goes into the draft started
    from it (``version_draft_from``: the existing one, else a new one), in its
    "Mined" category (made when missing). The draft's history records that it was
    mined from the label set; the candidate records where it went, so it is added once.
    """
    from training.engine.mining import MINED_CATEGORY

    locked = Run.objects.select_for_update().get(pk=run.pk)
    result = dict(locked.result or {})
    candidates = list(result.get("candidates") or [])
    position = next((i for i, c in enumerate(candidates) if c.get("index") == index), None)
    if position is None:
        raise TrainingError(f"Run #{run.pk} has no candidate #{index}.")
    candidate = candidates[position]
    if candidate.get("added"):
        added = candidate["added"]
        raise TrainingError(
            f"Candidate #{index} was already added to v{added['number']} as {added['key']!r}."
        )
    version = locked.constitution_version
    label_set = locked.label_set
    if version is None or label_set is None:
        raise TrainingError(f"Run #{run.pk} has no constitution version or label set.")
    draft, _ = constitution_services.version_draft_from(version=version, user=user)
    category = draft.categories.filter(name=MINED_CATEGORY).first()
    if category is None:
        category = constitution_services.category_add(
            version=draft, user=user, name=MINED_CATEGORY, description=MINED_CATEGORY_DESCRIPTION
        )
    key = _unique_key(draft, f"mined-{label_set.pk}-{index}")
    principle = constitution_services.principle_add(
        version=draft,
        user=user,
        category=category,
        key=key,
        critique_request=candidate["critique_request"],
        revision_request=candidate["revision_request"],
        comparison_question=candidate["comparison_question"],
    )
    agreement = candidate.get("agreement")
    measured = f"; agreed with the humans on {agreement['k']}/{agreement['n']}" if agreement else ""
    constitution_services.history_note(
        version=draft,
        user=user,
        action="principle_mined",
        summary=(
            f"Principle {key!r} mined from label set {label_set.name!r} "
            f"(run #{locked.pk}, candidate #{index}{measured})"
        ),
        detail={
            "key": key,
            "label_set_id": label_set.pk,
            "label_set": label_set.name,
            "run_id": locked.pk,
            "candidate": index,
            "agreement": agreement,
        },
    )
    candidates[position] = {
        **candidate,
        "added": {
            "version_id": draft.pk,
            "number": draft.number,
            "key": key,
            "by": getattr(user, "username", ""),
            "at": timezone.now().isoformat(),
        },
    }
    Run.objects.filter(pk=locked.pk).update(result={**result, "candidates": candidates})
    return draft, principle


__all__ = ["mined_principle_add"]
