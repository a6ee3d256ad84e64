"""The prepared GPU benchmark (bench/bench_gpu.py) runs end to end at tiny size on CPU.

Inside .venv-vllm (marker ``vllm``): it builds a 2-layer Llama, runs vLLM and
transformers generation, both labellers and DPO steps, and writes its figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.conftest import VLLM_ENV

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_benchmark_runs_at_tiny_size_and_reports_every_figure(tmp_path):
    pytest.importorskip("vllm", reason="runs in .venv-vllm (scripts/test)")
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_gpu.py"), "--tiny", "--json", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, **VLLM_ENV},
        timeout=900,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    figures = json.loads(out.read_text())
    assert [row["batch"] for row in figures["vllm"]] == [4, 8]
    assert all(row["tokens"] == row["batch"] * 8 for row in figures["vllm"])
    assert all(row["tokens_per_s"] > 0 for row in figures["vllm"] + figures["transformers"])
    for key in ("labeller_vllm", "labeller_transformers"):
        assert figures[key]["logprob_labels_per_s"] > 0
        assert figures[key]["generation_labels_per_s"] > 0
    assert figures["dpo"]["steps"] == 3 and figures["dpo"]["step_seconds"] > 0
