"""Demo data for ``manage.py seed_demo``: a real judge's labels to audit."""

from __future__ import annotations

from django.conf import settings

DEMO_NAME = "LLMBar MT-Bench · GPT-4 judge"


def seed(*, team, users, stdout) -> None:
    """Import the LLMBar MT-Bench GPT-4 result.json as a label set (skipped if present or missing)."""
    from . import services
    from .models import LabelSet

    if LabelSet.objects.filter(team=team, name=DEMO_NAME).exists():
        return
    path = settings.SHARED_DATA_DIR / "judge-eval" / "llmbar-mt-bench" / "GPT-4" / "result.json"
    if not path.exists():
        stdout.write(f"labelling: {path} not found (set CAI_SHARED_DATA); no demo label set")
        return
    label_set = services.labelset_import(
        team=team,
        user=users.get("author"),
        name=DEMO_NAME,
        fmt="llmbar",
        data=path.read_bytes(),
        judge="GPT-4",
        dataset_name="mt-bench",
        description="GPT-4 judging 200 MT-Bench pairs in both orders (LLMBar, MIT licence); "
        "the human gold label comes from MT-Bench's expert judgements.",
    )
    stdout.write(f"labelling: imported {label_set.comparison_count} comparisons as {DEMO_NAME!r}")
