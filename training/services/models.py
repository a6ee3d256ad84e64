"""The model registry: models a team may run, and the models runs train."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from cai_web.models import Team

from ..errors import TrainingError
from ..model_access import check_gguf_name, check_server_url, resolve_local
from ..models import Backend, ModelEntry, Run


def _check_local_model(
    team: Team, path: str, gguf_file: str, source_run: Run | None
) -> tuple[str, str]:
    """(folder, gguf file) of a local model the team may use (``model_access``)."""
    gguf_file = check_gguf_name(gguf_file)
    location = resolve_local(team, path, source_run=source_run)
    if location.is_file():
        if location.suffix.lower() != ".gguf":
            raise TrainingError(
                f"{path.strip()} is a file but not a .gguf file: give a model folder or a "
                ".gguf file.",
                field="path",
            )
        return str(location.parent), location.name
    if gguf_file:
        if not (location / gguf_file).is_file():
            raise TrainingError(f"{gguf_file} is not in {path.strip()}.", field="gguf_file")
        return str(location), gguf_file
    if not (location / "config.json").is_file():
        ggufs = sorted(p.name for p in location.glob("*.gguf"))
        hint = f" It holds {', '.join(ggufs)}: name one as the GGUF file." if ggufs else ""
        raise TrainingError(
            f"{path.strip()} has no config.json, so it is not a transformers model folder.{hint}",
            field="path",
        )
    return str(location), ""


def model_register(
    *,
    team: Team,
    user: Any,
    name: str,
    backend: str = Backend.TRANSFORMERS,
    path: str = "",
    gguf_file: str = "",
    dtype: str = "auto",
    context_length: int = 2048,
    base_url: str = "",
    options: dict[str, Any] | None = None,
    source_run: Run | None = None,
) -> ModelEntry:
    """Add a model to the team's registry after checking that it can be found.

    Local backends need an existing folder with ``config.json`` or a GGUF file in a
    place the team may use; the openai backend an http(s) URL of an allowed host
    (``training.model_access``). Nothing is loaded here: loading is the GPU worker's job.
    """
    name = (name or "").strip()
    if not name:
        raise TrainingError("Give the model a name.", field="name")
    if backend not in Backend.values:
        raise TrainingError(f"Unknown backend {backend!r}.", field="backend")
    if not isinstance(context_length, int) or context_length < 1:
        raise TrainingError(
            "The context length must be a positive integer.", field="context_length"
        )
    if isinstance(options, dict) and "connect_ip" in options:
        raise TrainingError(
            "connect_ip is set by the worker (the address it checked), not by hand.",
            field="options",
        )
    if options is not None and not isinstance(options, dict):
        raise TrainingError("Options must be a JSON object.", field="options")
    if backend == Backend.OPENAI:
        base_url = check_server_url(base_url)
        path, gguf_file = "", ""
    else:
        path, gguf_file = _check_local_model(team, path, gguf_file, source_run)
        base_url = ""
    entry = ModelEntry(
        team=team,
        name=name,
        backend=backend,
        path=path,
        gguf_file=gguf_file,
        dtype=dtype or "auto",
        context_length=context_length,
        base_url=base_url,
        options=options or {},
        source_run=source_run,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    try:
        entry.to_spec()
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        raise TrainingError(f"The team already has a model named {name!r}.", field="name") from None
    return entry


def trained_model_register(*, run: Run, final_dir: str) -> ModelEntry:
    """Register ``final_dir`` as a model of the run's team, with ``source_run`` (idempotent).

    The name is the run's (``dpo-run-18``; ``dpo-run-18-2`` when a model of that name
    was registered by hand), not the base model's with the run wrapped around it (which
    nested with every stage: "dpo-run-18 (sft-run-14 (…))"); the base is kept in
    ``options["base_model"]``. The kind decides whether the model is a reward model.
    """
    existing = ModelEntry.objects.filter(source_run=run).first()
    if existing is not None:
        return existing
    base = run.model
    options: dict[str, Any] = {"kind": run.kind}
    if base is not None:
        options["base_model"] = base.name
    if run.spec.reward_model:
        options["reward_model"] = True
    # Someone may have registered a model under this name by hand: a trained model must
    # still register (the training is done), so it takes the first free "-2", "-3"...
    name = f"{run.kind}-run-{run.pk}"
    taken = set(
        ModelEntry.objects.filter(team=run.team, name__startswith=name).values_list(
            "name", flat=True
        )
    )
    suffix = 1
    while (name if suffix == 1 else f"{name}-{suffix}") in taken:
        suffix += 1
    return model_register(
        team=run.team,
        user=run.created_by,
        name=name if suffix == 1 else f"{name}-{suffix}",
        path=final_dir,
        dtype=base.dtype if base else "auto",
        context_length=base.context_length if base else 2048,
        options=options,
        source_run=run,
    )
