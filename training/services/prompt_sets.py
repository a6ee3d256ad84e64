"""Prompt sets: upload (all or nothing) and the prompts a run reads."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from cai_web.models import Team

from ..errors import PromptSetError, TrainingError
from ..models import Prompt, PromptSelection, PromptSet, Split

# PromptSet.split_seed is a PositiveIntegerField: its range on every database.
MAX_SPLIT_SEED = 2_147_483_647


def promptset_import(
    *,
    team: Team,
    user: Any,
    name: str,
    data: bytes,
    filename: str,
    held_out_fraction: float = 0.1,
    split_seed: int = 0,
    source: str = "",
    limit: int | None = None,
) -> PromptSet:
    """Parse an uploaded prompt file and store it as a prompt set, all or nothing.

    The file is parsed completely before anything is written; any bad line rejects
    the whole file with every problem listed. ``limit`` keeps only the first N prompts
    (the demo uses it). The seeded split marks ``round(N * held_out_fraction)``
    prompts as held out.
    """
    from training.engine.prompt_sets import PromptFileError, parse_prompt_file, split_prompts

    name = (name or "").strip()
    if not name:
        raise TrainingError("Give the prompt set a name.", field="name")
    if len(name) > 120:
        raise TrainingError("The name is longer than 120 characters.", field="name")
    if not 0.0 <= held_out_fraction < 1.0:
        raise TrainingError(
            "The held-out fraction must be at least 0 and below 1.", field="held_out_fraction"
        )
    if isinstance(split_seed, bool) or not isinstance(split_seed, int):
        raise TrainingError("The split seed must be a whole number.", field="split_seed")
    if not 0 <= split_seed <= MAX_SPLIT_SEED:
        raise TrainingError(
            f"The split seed must be from 0 to {MAX_SPLIT_SEED:,}.", field="split_seed"
        )
    try:
        parsed = parse_prompt_file(data, filename)
    except PromptFileError as exc:
        raise PromptSetError(exc.problems) from None
    prompts = parsed.prompts[:limit] if limit else parsed.prompts
    _, held_out = split_prompts(prompts, held_out_fraction, split_seed)
    held = set(held_out)

    with transaction.atomic():
        if PromptSet.objects.filter(team=team, name=name).exists():
            raise TrainingError(f"The team already has a prompt set named {name!r}.", field="name")
        prompt_set = PromptSet.objects.create(
            team=team,
            name=name,
            source=source or filename,
            format=parsed.format,
            count=len(prompts),
            held_out_count=len(held),
            held_out_fraction=held_out_fraction,
            split_seed=split_seed,
            duplicates_removed=parsed.duplicates_removed,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        Prompt.objects.bulk_create(
            (
                Prompt(
                    prompt_set=prompt_set,
                    index=i,
                    text=text,
                    split=Split.HELD_OUT if text in held else Split.TRAIN,
                )
                for i, text in enumerate(prompts)
            ),
            batch_size=2000,
        )
    return prompt_set


def run_prompt_queryset(
    prompt_set: PromptSet, selection: str, limit: int | None = None
) -> QuerySet[Prompt]:
    """The prompts a run over ``prompt_set`` uses, in order; example i is the i-th row.

    ``limit`` keeps the first N of the selection (a run over a subset, no re-upload).
    """
    qs = Prompt.objects.filter(prompt_set=prompt_set)
    if selection != PromptSelection.ALL:
        qs = qs.filter(split=selection)
    qs = qs.order_by("index")
    return qs[:limit] if limit else qs
