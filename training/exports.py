"""The SL-CAI dataset of a critique-revision run, for training.

- ``trl`` JSONL: one conversational prompt/completion record per line,
  ``{"prompt": [{"role": "user", "content": ...}], "completion": [{"role": "assistant",
  "content": <final revision>}]}`` (the run's system prompt, if any, leads ``prompt``),
  which trl's SFTTrainer reads as is;
- a Hugging Face ``datasets`` folder (``save_to_disk``) with the same two columns,
  zipped, with ``provenance.json`` inside;
- ``provenance.json`` on its own: constitution version and hash, model, prompt set,
  the resolved config, counts.

Only examples whose every round has its revision are exported, so a cancelled or
half-finished run exports what is complete and says how many it left out.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from .models import Example, ExampleRound, Run


def sl_cai_records(run: Run) -> Iterator[dict[str, Any]]:
    """trl conversational prompt/completion records, in example order."""
    rounds_n = int(run.config.get("rounds", 1) or 1)
    system = run.config.get("system_prompt")
    complete = (
        Example.objects.filter(run=run)
        .annotate(revised=Count("rounds", filter=Q(rounds__revision__isnull=False)))
        .filter(revised__gte=rounds_n)
        .select_related("prompt")
        .prefetch_related(Prefetch("rounds", queryset=ExampleRound.objects.order_by("round")))
        .order_by("index")
    )
    for example in complete.iterator(chunk_size=500):
        final = [r for r in example.rounds.all() if r.round <= rounds_n][-1].revision
        prompt = [{"role": "user", "content": example.prompt.text}]
        if system:
            prompt.insert(0, {"role": "system", "content": system})
        yield {"prompt": prompt, "completion": [{"role": "assistant", "content": final}]}


def provenance(run: Run, *, exported: int | None = None) -> dict[str, Any]:
    version = run.constitution_version
    model = run.model
    prompt_set = run.prompt_set
    return {
        "dataset": "SL-CAI critique-revision (Bai et al. 2022, stage 1)",
        "format": "trl conversational prompt/completion",
        "exported_at": timezone.now().isoformat(),
        "run": {
            "id": run.pk,
            "name": run.name,
            "kind": run.kind,
            "status": run.status,
            "created_at": run.created_at.isoformat() if run.created_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "examples_total": run.examples_total,
            "examples_exported": exported,
        },
        "constitution": {
            "name": version.constitution.name if version else None,
            "version": version.number if version else None,
            "content_hash": version.content_hash if version else None,
        },
        "model": {
            "name": model.name if model else None,
            "backend": model.backend if model else None,
            "location": model.location if model else None,
            "dtype": model.dtype if model else None,
        },
        "prompt_set": {
            "name": prompt_set.name if prompt_set else None,
            "source": prompt_set.source if prompt_set else None,
            "selection": run.prompt_selection,
            "split_seed": prompt_set.split_seed if prompt_set else None,
            "held_out_fraction": prompt_set.held_out_fraction if prompt_set else None,
        },
        "config": run.config,
    }


def write_trl_jsonl(run: Run, path: Path) -> int:
    """Write the JSONL file; return the number of records."""
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        for record in sl_cai_records(run):
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def hf_dataset_zip(run: Run) -> Path:
    """Build the ``datasets`` folder and zip it under ARTIFACTS_DIR; return the zip's path.

    ``datasets`` (pyarrow) is imported here only; it does not import torch.
    """
    from datasets import Dataset

    out_dir = Path(settings.ARTIFACTS_DIR) / "runs" / str(run.pk)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = list(sl_cai_records(run))
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        folder = Path(tmp) / f"run-{run.pk}-sl-cai"
        if records:
            dataset = Dataset.from_list(records)
        else:
            dataset = Dataset.from_dict({"prompt": [], "completion": []})
        dataset.save_to_disk(str(folder))
        (folder / "provenance.json").write_text(
            json.dumps(provenance(run, exported=len(records)), indent=2, ensure_ascii=False)
        )
        target = out_dir / f"run-{run.pk}-sl-cai-datasets.zip"
        staging = Path(tmp) / "out.zip"
        with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    zf.write(file, file.relative_to(folder.parent))
        shutil.move(staging, target)
    return target
