"""Prompt sets, the model registry and runs of any registered kind.

Runs start through ``training.services.run_start`` (inputs by id, options as the
kind's config mapping), exactly as the launch page and the ``run_start`` command do;
``Idempotency-Key`` makes a retried start return the run the first try made.
"""

import dataclasses
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from ninja import File, Form, Header, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from cai_web.models import Capability
from training import selectors, services
from training.artifacts import run_dir
from training.errors import TrainingError
from training.inputs import InputRule
from training.kinds.registry import UnknownKind, get, kinds
from training.models import Backend, ModelEntry, Prompt, PromptSet, Run, RunStatus

from ..auth import team_access
from ..problems import Problem
from .common import ERRORS, Cursor, get_in

router = Router(tags=["training"])
LAUNCH = Capability.LAUNCH_RUNS
MAX_UPLOAD_BYTES = 20_000_000  # the prompt-set page's limit
MAX_ARTIFACTS_LISTED = 2000


# --- run kinds ----------------------------------------------------------------------------


class InputOut(Schema):
    role: str
    label: str
    required: bool
    takes: str = Field(
        description="'version', 'prompt_set', 'model', 'label_set', 'run' or 'choice'"
    )
    choices: list[str] = []
    default: str | None = None
    help: str = ""


class ConfigFieldOut(Schema):
    name: str
    type: str
    help: str = ""
    default: Any = None


class KindOut(Schema):
    name: str
    label: str
    summary: str
    progress_unit: str
    trains_model: bool
    inputs: list[InputOut]
    config: list[ConfigFieldOut]


_TAKES = {
    "ConstitutionVersion": "version",
    "PromptSet": "prompt_set",
    "ModelEntry": "model",
    "LabelSet": "label_set",
    "Run": "run",
}


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)


def _config_fields(config_class: type) -> list[ConfigFieldOut]:
    out = []
    for f in dataclasses.fields(config_class):
        if f.default is not dataclasses.MISSING:
            default = _jsonable(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = _jsonable(f.default_factory())
        else:
            default = None
        type_name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        out.append(
            ConfigFieldOut(
                name=f.name, type=str(type_name), help=f.metadata.get("help", ""), default=default
            )
        )
    return out


def _input_out(rule: InputRule) -> InputOut:
    return InputOut(
        role=rule.role,
        label=rule.label,
        required=rule.required and rule.default is None,
        takes=_TAKES.get(rule.model.__name__, rule.model.__name__) if rule.model else "choice",
        choices=[v for v, _ in rule.choices],
        default=None if rule.default is None else str(rule.default),
        help=rule.help,
    )


@router.get("/teams/{slug}/run-kinds", response={200: list[KindOut], **ERRORS})
def run_kinds(request: HttpRequest, slug: str) -> list[KindOut]:
    """Every registered run kind: its inputs (roles) and config options with their defaults."""
    team_access(request, slug)
    return [
        KindOut(
            name=spec.name,
            label=spec.label,
            summary=spec.summary,
            progress_unit=spec.progress_unit,
            trains_model=spec.trains_model,
            inputs=[_input_out(rule) for rule in spec.inputs],
            config=_config_fields(spec.config_class),
        )
        for spec in kinds().values()
    ]


# --- prompt sets --------------------------------------------------------------------------


class PromptSetOut(Schema):
    id: int
    name: str
    source: str
    format: str
    count: int
    held_out_count: int
    held_out_fraction: float
    split_seed: int
    duplicates_removed: int
    created_at: datetime


class PromptOut(Schema):
    index: int
    text: str
    split: str


@router.get("/teams/{slug}/prompt-sets", response={200: list[PromptSetOut], **ERRORS})
@paginate(Cursor)
def promptset_list(request: HttpRequest, slug: str) -> QuerySet[PromptSet]:
    team, _ = team_access(request, slug)
    return selectors.prompt_set_list(team=team)


@router.post("/teams/{slug}/prompt-sets", response={201: PromptSetOut, **ERRORS})
def promptset_upload(
    request: HttpRequest,
    slug: str,
    file: File[UploadedFile],
    name: Form[str],
    held_out_fraction: Form[float] = 0.1,
    split_seed: Form[int] = 0,
) -> Status[PromptSetOut]:
    """Upload a prompt file (text, JSONL, CSV, hh-rlhf...); all or nothing, every bad line listed."""
    team, _ = team_access(request, slug, LAUNCH)
    if (file.size or 0) > MAX_UPLOAD_BYTES:
        raise TrainingError(
            f"the file is {file.size:,} bytes; the limit is {MAX_UPLOAD_BYTES:,}", field="file"
        )
    prompt_set = services.promptset_import(
        team=team,
        user=request.user,
        name=name,
        data=file.read(),
        filename=file.name or "upload.txt",
        held_out_fraction=held_out_fraction,
        split_seed=split_seed,
    )
    return Status(201, PromptSetOut.model_validate(prompt_set))


@router.get("/teams/{slug}/prompt-sets/{pk}", response={200: PromptSetOut, **ERRORS})
def promptset_detail(request: HttpRequest, slug: str, pk: int) -> PromptSetOut:
    team, _ = team_access(request, slug)
    return PromptSetOut.model_validate(
        get_in(selectors.prompt_set_list(team=team), "prompt set", pk=pk)
    )


@router.get("/teams/{slug}/prompt-sets/{pk}/prompts", response={200: list[PromptOut], **ERRORS})
@paginate(Cursor, ordering=("index",))
def promptset_prompts(
    request: HttpRequest, slug: str, pk: int, split: Literal["", "train", "held_out"] = ""
) -> QuerySet[Prompt]:
    """The prompts in file order; ``split`` keeps the train or held-out ones."""
    team, _ = team_access(request, slug)
    prompt_set = get_in(selectors.prompt_set_list(team=team), "prompt set", pk=pk)
    prompts = Prompt.objects.filter(prompt_set=prompt_set)
    return prompts.filter(split=split) if split else prompts


# --- models -------------------------------------------------------------------------------


class ModelIn(Schema):
    name: str = Field(max_length=120)
    backend: Literal[tuple(Backend.values)] = Backend.TRANSFORMERS  # type: ignore[valid-type]
    path: str = ""
    gguf_file: str = ""
    dtype: str = "auto"
    context_length: int = 2048
    base_url: str = ""
    options: dict[str, Any] | None = None


class ModelOut(Schema):
    id: int
    name: str
    backend: str
    path: str
    gguf_file: str
    dtype: str
    context_length: int
    base_url: str
    options: dict[str, Any]
    source_run_id: int | None
    created_at: datetime


@router.get("/teams/{slug}/models", response={200: list[ModelOut], **ERRORS})
@paginate(Cursor)
def model_list(request: HttpRequest, slug: str) -> QuerySet[ModelEntry]:
    team, _ = team_access(request, slug)
    return selectors.model_list(team=team)


@router.post("/teams/{slug}/models", response={201: ModelOut, **ERRORS})
def model_register(request: HttpRequest, slug: str, payload: ModelIn) -> Status[ModelOut]:
    """Register a model the workers can load (a folder or GGUF on the server, or an
    OpenAI-compatible URL); checked as on the models page, nothing loaded."""
    team, _ = team_access(request, slug, LAUNCH)
    entry = services.model_register(team=team, user=request.user, **payload.model_dump())
    return Status(201, ModelOut.model_validate(entry))


# --- runs ---------------------------------------------------------------------------------


class RunIn(Schema):
    kind: str = Field(description="A registered kind (GET run-kinds).")
    inputs: dict[str, int | str] = Field(
        default_factory=dict,
        description="role → id (or name; 'Name@number' for a version); choices as their value.",
    )
    config: dict[str, Any] = Field(default_factory=dict, description="The kind's options.")
    name: str = Field(default="", max_length=200)
    shard_size: int | None = Field(default=None, ge=1, le=services.MAX_SHARD_SIZE)


class Progress(Schema):
    done_units: int
    total_units: int
    percent: float
    unit: str
    stage: str
    round: int
    examples_done: int
    examples_total: int
    tokens_per_s: float
    eta_seconds: float | None


class ShardOut(Schema):
    index: int
    status: str
    start: int
    end: int
    attempts: int
    worker: str
    done_units: int
    total_units: int


class RunOut(Schema):
    id: int
    kind: str
    name: str
    status: str
    is_finished: bool
    can_resume: bool
    cancel_requested: bool
    error: str
    inputs: dict[str, int | str | None]
    config: dict[str, Any]
    progress: Progress
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    prompt_tokens: int
    completion_tokens: int
    gpu_seconds: float
    device: str
    output_label_set_id: int | None
    source_run_id: int | None
    result: dict[str, Any]

    @staticmethod
    def resolve_inputs(run: Run) -> dict[str, int | str | None]:
        """role → the id of the object it took (or the choice), in the kind's order."""
        out: dict[str, int | str | None] = {}
        for rule in run.spec.inputs:
            if rule.model is None:
                out[rule.role] = getattr(run, rule.run_field, None) or None
            else:
                out[rule.role] = getattr(run, f"{rule.run_field}_id", None)
        return out

    @staticmethod
    def resolve_progress(run: Run) -> Progress:
        return Progress(
            done_units=run.done_units,
            total_units=run.total_units,
            percent=round(run.percent, 2),
            unit=run.spec.progress_unit,
            stage=run.stage,
            round=run.round,
            examples_done=run.examples_done,
            examples_total=run.examples_total,
            tokens_per_s=run.tokens_per_s,
            eta_seconds=run.eta_seconds,
        )

    @staticmethod
    def resolve_config(run: Run) -> dict[str, Any]:
        return run.config or {}

    @staticmethod
    def resolve_result(run: Run) -> dict[str, Any]:
        return run.result or {}


class RunDetail(RunOut):
    shards: list[ShardOut]

    @staticmethod
    def resolve_shards(run: Run) -> list[Any]:
        return list(run.shards.order_by("index").defer("log_lines"))


class MetricPoint(Schema):
    step: int
    value: float


class ArtifactFile(Schema):
    path: str
    size: int
    url: str


class Artifacts(Schema):
    files: list[ArtifactFile]
    truncated: bool
    models: list[ModelOut]
    output_label_set_id: int | None


def run_out(run: Run) -> RunOut:
    return RunOut.model_validate(run)


def _run(request: HttpRequest, slug: str, pk: int, capability: str = Capability.VIEW) -> Run:
    team, _ = team_access(request, slug, capability)
    return get_in(selectors.run_list(team=team), "run", pk=pk)


def resolve_inputs(team: Any, kind: str, refs: dict[str, int | str]) -> dict[str, Any]:
    """role → object of the team, from ids or names; a bad reference names its role."""
    try:
        spec = get(kind)
    except UnknownKind as exc:
        raise TrainingError(str(exc), field="kind") from None
    roles = {rule.role: rule for rule in spec.inputs}
    inputs: dict[str, Any] = {}
    for role, ref in refs.items():
        rule = roles.get(role)
        if rule is None or rule.model is None or ref in (None, ""):
            inputs[role] = ref  # run_start names unknown roles and checks choices
            continue
        try:
            inputs[role] = rule.find(team, str(ref))
        except TrainingError as exc:
            raise TrainingError(str(exc), field=role) from None
    return inputs


class RunFilters(Schema):
    kind: str = ""
    status: Literal[tuple(["", *RunStatus.values])] = ""  # type: ignore[valid-type]


@router.get("/teams/{slug}/runs", response={200: list[RunOut], **ERRORS})
@paginate(Cursor)
def run_list(request: HttpRequest, slug: str, filters: Query[RunFilters]) -> QuerySet[Run]:
    """The team's runs, newest first; ``kind`` and ``status`` filter."""
    team, _ = team_access(request, slug)
    return selectors.run_list(team=team, kind=filters.kind, status=filters.status)


@router.post("/teams/{slug}/runs", response={200: RunOut, 201: RunOut, 409: Problem, **ERRORS})
def run_start(
    request: HttpRequest,
    slug: str,
    payload: RunIn,
    response: HttpResponse,
    idempotency_key: str = Header("", alias="Idempotency-Key"),
) -> Status[RunOut]:
    """Start a run of any kind (201). With ``Idempotency-Key``, a retry with the same body
    returns the run the first request started (200, ``Idempotent-Replayed: true``); the
    same key with another body is refused (409)."""
    team, _ = team_access(request, slug, LAUNCH)

    key = request.headers.get("Idempotency-Key")
    if key is not None and not key.strip():
        raise TrainingError(
            "The Idempotency-Key header must be 1 to 200 characters.", field="Idempotency-Key"
        )
    try:
        run, replayed = services.run_start_once(
            kind=payload.kind,
            team=team,
            user=request.user,
            inputs=resolve_inputs(team, payload.kind, payload.inputs),
            config=payload.config,
            name=payload.name,
            shard_size=payload.shard_size,
            idempotency_key=key or "",
        )
    except TrainingError as exc:
        if exc.field != "idempotency_key":
            raise
        raise type(exc)(str(exc), field="Idempotency-Key") from None
    if replayed:
        response["Idempotent-Replayed"] = "true"
        run.refresh_from_db()
        return Status(200, run_out(run))
    return Status(201, run_out(run))


@router.get("/teams/{slug}/runs/{pk}", response={200: RunDetail, **ERRORS})
def run_detail(request: HttpRequest, slug: str, pk: int) -> RunDetail:
    """Status and progress (summed over the shards after every batch), and each shard."""
    return RunDetail.model_validate(_run(request, slug, pk))


@router.post("/teams/{slug}/runs/{pk}/cancel", response={200: RunOut, **ERRORS})
def run_cancel(request: HttpRequest, slug: str, pk: int) -> RunOut:
    """Queued shards stop now, running ones after their batch; what was made is kept."""
    run = _run(request, slug, pk, LAUNCH)
    return run_out(services.run_cancel(run=run, user=request.user))


@router.post("/teams/{slug}/runs/{pk}/resume", response={200: RunOut, **ERRORS})
def run_resume(request: HttpRequest, slug: str, pk: int) -> RunOut:
    """Re-queue the unfinished shards of a failed or cancelled run."""
    run = _run(request, slug, pk, LAUNCH)
    return run_out(services.run_resume(run=run, user=request.user))


@router.get(
    "/teams/{slug}/runs/{pk}/metrics", response={200: dict[str, list[MetricPoint]], **ERRORS}
)
def run_metrics(request: HttpRequest, slug: str, pk: int) -> dict[str, list[MetricPoint]]:
    """The logged training metrics: name → points in step order (the run page's charts)."""
    run = _run(request, slug, pk)
    return {
        name: [MetricPoint(step=s, value=v) for s, v in points]
        for name, points in selectors.run_metric_series(run).items()
    }


def _artifact_root(run: Run) -> Path:
    return run_dir(run).resolve()


@router.get("/teams/{slug}/runs/{pk}/artifacts", response={200: Artifacts, **ERRORS})
def run_artifacts(request: HttpRequest, slug: str, pk: int) -> Artifacts:
    """The run's files (datasets, pairs, checkpoints, final model), the models it
    registered and the label set it wrote."""
    run = _run(request, slug, pk)
    root = _artifact_root(run)
    files: list[ArtifactFile] = []
    truncated = False
    if root.is_dir():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for filename in sorted(filenames):
                path = Path(dirpath) / filename
                if len(files) >= MAX_ARTIFACTS_LISTED:
                    truncated = True
                    break
                rel = path.relative_to(root).as_posix()
                files.append(
                    ArtifactFile(
                        path=rel,
                        size=path.stat().st_size,
                        url=request.build_absolute_uri(
                            f"/api/v1/teams/{slug}/runs/{run.pk}/artifacts/{rel}"
                        ),
                    )
                )
            if truncated:
                break
    return Artifacts(
        files=files,
        truncated=truncated,
        models=[ModelOut.model_validate(m) for m in run.produced_models.order_by("pk")],
        output_label_set_id=run.output_label_set_id,
    )


@router.get(
    "/teams/{slug}/runs/{pk}/artifacts/{path:path}",
    response={200: None, **ERRORS},
    openapi_extra={
        "responses": {
            200: {
                "description": "The file's bytes.",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        }
    },
)
def run_artifact(request: HttpRequest, slug: str, pk: int, path: str) -> FileResponse:
    """One file of the run's artifact folder (paths as the listing gives them)."""
    run = _run(request, slug, pk)
    root = _artifact_root(run)
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise Http404("No such artifact.")
    return FileResponse(open(target, "rb"), as_attachment=True, filename=target.name)
