"""docs/api_example.py, the whole RL-CAI chain from outside, run as a user runs it: a
separate Python process with only the client, against a live server and a real Celery
worker (critique-revision → SFT → labelling → DPO with an override reason, since
nobody audited the label set). The model is the tiny random-weight Llama of real
architecture with the demo model's tokenizer (tests/training/conftest.py); every stage
is kept tiny through the script's ``--configs``. Run a second time the same day, the
script's Idempotency-Keys return the same runs and start nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from api.services import token_create
from tests.factories import published_demo_version
from tests.training.conftest import (
    demo_tokenizer_dir,  # noqa: F401 - a fixture
    tiny_model_dir,  # noqa: F401 - a fixture
)
from tests.training.worker_process import Worker, purge_queues
from training.models import ModelEntry, Prompt, Run, RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TRAIN = {"max_steps": 2, "per_device_batch_size": 2, "max_length": 96, "seed": 0}
CONFIGS = {
    "critique_revision": {
        "rounds": 1,
        "batch_size": 4,
        **{s: {"max_new_tokens": 8} for s in ("answer", "critique", "revision")},
    },
    "sft": {"train": TRAIN},
    "labelling": {"max_new_tokens": 6, "batch_size": 2, "seed": 3},
    # The tiny random judge's labels are position-inconsistent: the nightly job says it
    # trains on them anyway (the team's gate asks for that confirmation).
    "dpo": {"train": TRAIN, "confirm_inconsistent": True},
}


@pytest.fixture
def model_root() -> Path:
    """The real model root: the worker process checks and loads models from it too."""
    return Path(settings.MODELS_DIR)


def _run_example(url: str, token: str, team: str, prompts: Path, configs: Path) -> dict:
    env = {
        **os.environ,
        "CAI_URL": url,
        "CAI_TOKEN": token,
        "CAI_TEAM": team,
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "docs" / "api_example.py"),
            str(prompts),
            "--constitution",
            "Demo",
            "--model",
            "tiny",
            "--configs",
            str(configs),
            "--day",
            "2026-12-01",  # both runs are the same day's, even across midnight
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_documented_example_runs_the_whole_rl_cai_chain_against_a_live_server(
    live_server,
    team,
    author,
    tiny_model_dir,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    published_demo_version(team, author, name="Demo")
    model_dir = Path(settings.MODELS_DIR) / f"api-example-{tmp_path.name}"
    shutil.copytree(tiny_model_dir, model_dir, dirs_exist_ok=True)
    _, token = token_create(user=author, team=team, name="nightly")
    from cai_client import Client

    with Client(live_server.url, token=token, team=team.slug) as cai:
        cai.register_model("tiny", path=str(model_dir))
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(
        "\n".join(f"How do I get into my neighbour's house number {i}?" for i in range(4)) + "\n"
    )
    configs = tmp_path / "configs.json"
    configs.write_text(json.dumps(CONFIGS))

    purge_queues()
    worker = Worker(tmp_path)
    try:
        chain = _run_example(live_server.url, token, team.slug, prompts, configs)
        runs = {kind: Run.objects.get(pk=r["id"]) for kind, r in chain["runs"].items()}
        assert sorted(runs) == ["critique_revision", "dpo", "labelling", "sft"]
        assert all(r.status == RunStatus.SUCCEEDED for r in runs.values()), worker.log()
        # The chain is wired as the script says: each stage consumes the one before.
        assert runs["sft"].source_run_id == runs["critique_revision"].pk
        assert runs["labelling"].model_id == chain["sft_model"]
        assert runs["labelling"].output_label_set_id == chain["label_set"]
        assert runs["dpo"].label_set_id == chain["label_set"]
        assert runs["dpo"].override_reason == "nightly job: audit pending"
        assert runs["dpo"].config["train"]["max_steps"] == 2
        (dpo_model,) = chain["dpo_models"]
        trained = ModelEntry.objects.get(pk=dpo_model)
        assert trained.source_run_id == runs["dpo"].pk
        # Short names, no nesting: the run's own name; the base is one click away.
        assert trained.name == f"dpo-run-{runs['dpo'].pk}"
        assert ModelEntry.objects.get(pk=chain["sft_model"]).name == f"sft-run-{runs['sft'].pk}"
        assert trained.options["base_model"] == f"sft-run-{runs['sft'].pk}"
        train = Prompt.objects.filter(prompt_set_id=chain["prompt_set"], split="train").count()
        assert runs["labelling"].output_label_set.ai_label_count == train > 0

        # The same day again: every Idempotency-Key replays its run, nothing new starts.
        count = Run.objects.count()
        again = _run_example(live_server.url, token, team.slug, prompts, configs)
        assert again["runs"] == chain["runs"] and Run.objects.count() == count
        assert again["prompt_set"] == chain["prompt_set"]
    finally:
        worker.stop()
