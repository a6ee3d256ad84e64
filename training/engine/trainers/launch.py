"""Multi-process training: run a trainer under ``accelerate launch`` (DDP) from a worker.

The worker process stays the run's owner: it starts ``accelerate launch --multi_gpu
--num_processes N -m training.engine.trainers <trainer>``, and while the ranks train it
hands each metrics line that rank 0 appends to a file to the run's sink, beats the
heartbeat, and turns the run's cancel flag into a stop file. The ranks read the stop
file on rank 0 only and agree through an all-reduce (see ``StopCallback``), so they all
stop on the same step and save one checkpoint. Without CUDA the ranks use gloo on CPU.

Django-free: the caller passes plain functions (``sink``, ``should_stop``, ``beat``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.engine.trainers.config import BaseTrainConfig, TrainResult, trainer_name

# The environment a launched rank reads (training/engine/trainers/__main__.py).
METRICS_ENV = "CAI_TRAIN_METRICS_FILE"
STOP_ENV = "CAI_TRAIN_STOP_FILE"
POLL_SECONDS = 1.0

MetricsSink = Callable[[int, dict[str, float]], None]


class LaunchError(RuntimeError):
    """``accelerate launch`` failed; the message ends with the tail of its log."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the launcher if the worker dies, so no orphan ranks keep training."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def launch_command(config_file: Path, trainer: str, num_processes: int, summary: Path) -> list[str]:
    """The ``accelerate launch`` command line for one multi-process run."""
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        # --multi_gpu starts torchrun's N ranks; without CUDA accelerate runs them on
        # CPU with gloo (--cpu would start one process and expect MPI for more).
        "--multi_gpu",
        "--num_processes",
        str(num_processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_ip",
        "127.0.0.1",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "training.engine.trainers",
        trainer,
        "--config",
        str(config_file),
        "--summary",
        str(summary),
    ]


def _drain(path: Path, offset: int, sink: MetricsSink | None) -> int:
    """Hand every complete line after ``offset`` to ``sink``; the new offset."""
    if not path.exists():
        return offset
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1  # a half-written last line waits for the next poll
    for line in data[:end].splitlines():
        if line.strip() and sink is not None:
            row = json.loads(line)
            sink(int(row["step"]), {k: float(v) for k, v in row["metrics"].items()})
    return offset + end


def launch(
    config: BaseTrainConfig,
    *,
    sink: MetricsSink | None = None,
    should_stop: Callable[[], bool] | None = None,
    beat: Callable[[], Any] | None = None,
    env: dict[str, str] | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> TrainResult:
    """Train ``config`` in ``config.num_processes`` ranks and return rank 0's result.

    Files live in ``<output_dir>/launch/``: the config, the metrics lines, the stop
    flag, the summary and ``launch.log`` (every rank's output). Resuming works as in
    one process: each rank loads the newest ``checkpoint-N`` of ``output_dir``.
    """
    folder = Path(config.output_dir) / "launch"
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "config.json"
    data = config.to_dict()
    data["trainer"] = trainer_name(config)
    config_file.write_text(json.dumps(data, indent=2), encoding="utf-8")
    metrics_file, stop_file = folder / "metrics.jsonl", folder / "stop"
    summary, log_path = folder / "summary.json", folder / "launch.log"
    for stale in (metrics_file, stop_file, summary):
        stale.unlink(missing_ok=True)
    child_env = {**os.environ, **(env or {})}
    child_env.update({METRICS_ENV: str(metrics_file), STOP_ENV: str(stop_file)})
    # One thread per rank unless told otherwise: N ranks x all cores oversubscribes.
    child_env.setdefault(
        "OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // config.num_processes))
    )
    command = launch_command(config_file, trainer_name(config), config.num_processes, summary)
    offset = 0
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - nothing else runs in between
        )
        try:
            while True:
                code = process.poll()
                offset = _drain(metrics_file, offset, sink)
                if code is not None:
                    break
                if should_stop is not None and not stop_file.exists() and should_stop():
                    stop_file.touch()
                if beat is not None:
                    beat()
                time.sleep(poll_seconds)
        except BaseException:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            raise
    if code != 0 or not summary.exists():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise LaunchError(f"accelerate launch exited with {code}:\n{tail}")
    result = json.loads(summary.read_text(encoding="utf-8"))
    history = []
    if metrics_file.exists():
        for line in metrics_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                history.append((int(row["step"]), row["metrics"]))
    return TrainResult(
        output_dir=result["output_dir"],
        metrics_history=history,
        final_metrics=result["final_metrics"],
        global_step=int(result["global_step"]),
        resumed_from=result["resumed_from"],
        stopped=bool(result["stopped"]),
        final_dir=result["final_dir"],
    )


__all__ = ["LaunchError", "launch", "launch_command"]
