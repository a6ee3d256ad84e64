"""The real split: the web side and a `default`-queue worker from .venv, a `gpu`-queue
Celery worker from .venv-vllm running the demo model on vLLM (CPU build, float32).

A critique–revision run and a labelling run start through ``run_start`` (what the launch
pages call), go through the configured broker, and finish on vLLM with exact counts.
"""

from __future__ import annotations

import gzip
import os

import pytest

from labelling.models import AILabel, Comparison
from tests.factories import published_demo_version
from tests.training.conftest import VLLM_ENV, need_vllm_venv
from tests.training.worker_process import Worker, purge_queues, wait_for
from training import services
from training.models import Example, ExampleRound, Run, RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CR_OPTIONS = {"seed": 0, "rounds": 1, "batch_size": 4, "few_shot": True}
for _stage in ("answer", "critique", "revision"):
    CR_OPTIONS[_stage] = {"temperature": 0.7, "top_p": 0.95, "max_new_tokens": 12}


def test_runs_finish_on_a_vllm_gpu_worker_beside_a_default_worker(
    team, author, shared_data, demo_model_dir, tmp_path
) -> None:
    vllm_python = need_vllm_venv()
    version = published_demo_version(team, author)
    with gzip.open(shared_data / "hh-rlhf-harmless-base-test.jsonl.gz", "rt") as fh:
        lines = [next(fh) for _ in range(3)]
    prompt_set = services.promptset_import(
        team=team,
        user=author,
        name="red team",
        data="".join(lines).encode(),
        filename="hh.jsonl",
        held_out_fraction=0.0,
    )
    model = services.model_register(
        team=team,
        user=author,
        name="smollm2 (vLLM)",
        backend="vllm",
        path=str(demo_model_dir),
        options={"cpu_kv_cache_gb": 1},
    )

    purge_queues()
    default = Worker(tmp_path, "default", queues="default")
    # The pool the GPU image uses (docker-compose.yml): a thread may start vLLM's engine
    # process, a prefork child (daemonic) may not, and remote control still answers.
    gpu = Worker(
        tmp_path, "gpu", queues="gpu", python=vllm_python, extra_env=VLLM_ENV, pool="threads"
    )
    try:
        cr = services.run_start(
            kind="critique_revision",
            team=team,
            user=author,
            inputs={
                "version": version,
                "prompt_set": prompt_set,
                "model": model,
                "prompt_selection": "all",
            },
            config=CR_OPTIONS,
            shard_size=2,
        )
        labelling = services.run_start(
            kind="labelling",
            team=team,
            user=author,
            inputs={
                "prompt_set": prompt_set,
                "prompt_selection": "all",
                "policy": model,
                "judge": model,
                "version": version,
            },
            config={"seed": 1, "temperature": 1.0, "max_new_tokens": 12, "batch_size": 4},
        )
        for run in (cr, labelling):
            wait_for(lambda r=run: Run.objects.get(pk=r.pk).is_finished, timeout=900, worker=gpu)
        assert default.process.poll() is None, default.log()
    finally:
        gpu.stop()
        default.stop()
    gpu_log = gpu.log_path.read_text(errors="replace")
    cr.refresh_from_db()
    labelling.refresh_from_db()
    assert cr.status == RunStatus.SUCCEEDED, (cr.error, gpu.log())
    assert labelling.status == RunStatus.SUCCEEDED, (labelling.error, gpu.log())
    # 3 prompts x (answer, critique, revision); every shard ran on the gpu worker.
    assert cr.done_units == cr.total_units == 9 and cr.examples_done == 3
    assert Example.objects.filter(run=cr).count() == 3
    assert ExampleRound.objects.filter(example__run=cr).count() == 3
    assert all(shard.worker.startswith("gpu-") for shard in cr.shards.all())
    assert labelling.done_units == labelling.total_units == 6
    comparisons = Comparison.objects.filter(label_set=labelling.output_label_set)
    assert comparisons.count() == 3
    assert AILabel.objects.filter(comparison__in=comparisons).count() == 3
    # The worker really ran vLLM (its engine logs), from the other environment.
    assert "vllm" in gpu_log.lower()
    assert os.fspath(vllm_python) != os.fspath(default.process.args[0])
