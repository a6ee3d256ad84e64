"""Label sets (import, read, statistics, export, decision) and review queues."""

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from cai_web.models import Capability
from constitutions.models import ConstitutionVersion, VersionStatus
from labelling import selectors, services
from labelling.formats import MAX_LABEL_FILE_BYTES
from labelling.forms import ImportForm as LabelImportForm
from labelling.models import LabelSet, ReviewQueue

from ..auth import team_access
from .common import ERRORS, Cursor

router = Router(tags=["labelling"])
FORMATS = tuple(value for value, _ in LabelImportForm.FORMATS)


class LabelSetOut(Schema):
    id: int
    name: str
    description: str
    source_kind: str
    status: str
    rule: str
    threshold: float
    comparison_count: int
    ai_label_count: int
    decision_reason: str
    decided_at: datetime | None
    created_at: datetime


class Gate(Schema):
    passes: bool
    shortfalls: list[str]
    min_agreement: float
    min_reviews: int
    n_reviews: int
    summary: str


class LabelSetDetail(LabelSetOut):
    gate: Gate
    queue_ids: list[int]


class Statistics(Schema):
    """The statistics page's figures for one slice (``judge``/``principle``/``category``),
    optionally broken down ``by`` one of them; rates carry Wilson 95% intervals."""

    filters: dict[str, str]
    position_bias: dict[str, Any]
    agreements: dict[str, dict[str, Any]]
    accuracy: dict[str, Any]
    human: dict[str, Any]
    calibration: list[dict[str, Any]]
    audit: dict[str, Any]
    gate: Gate
    by: str
    slices: list[dict[str, Any]]
    primary_reference: str = "gold"
    agreements_by_reference: dict[str, dict[str, dict[str, Any]]] = {}
    accuracy_by_reference: dict[str, dict[str, Any]] = {}
    auditor_vs_gold: dict[str, Any] | None = None
    combined_rule: str | None = None


class StatsQuery(Schema):
    judge: str = ""
    principle: str = ""
    category: str = ""
    by: Literal["", "judge", "principle", "category"] = ""
    combined: bool = False  # also against the combined consensus of gold and audit


class DecisionIn(Schema):
    action: Literal["approve", "reject"]
    reason: str = ""


class QueueIn(Schema):
    strategy: Literal[tuple(ReviewQueue.Strategy.values)]  # type: ignore[valid-type]
    sample_size: int = Field(ge=1)
    seed: int | None = Field(default=None, ge=0)


class QueueOut(Schema):
    id: int
    label_set_id: int
    strategy: str
    sample_size: int
    seed: int
    created_at: datetime
    built_at: datetime | None
    items: int
    reviewed_by_you: int


def _plain(value: Any) -> Any:
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _gate(gate: services.ApprovalGate) -> Gate:
    return Gate(
        passes=gate.passes,
        shortfalls=list(gate.shortfalls),
        min_agreement=gate.min_agreement,
        min_reviews=gate.min_reviews,
        n_reviews=gate.n_reviews,
        summary=gate.summary_line,
    )


def _detail(label_set: LabelSet) -> LabelSetDetail:
    return LabelSetDetail(
        **LabelSetOut.model_validate(label_set).model_dump(),
        gate=_gate(services.labelset_approval_gate(label_set=label_set)),
        queue_ids=[q.pk for q in selectors.queue_list(label_set)],
    )


def _queue_out(request: HttpRequest, queue: ReviewQueue) -> QueueOut:
    progress = selectors.queue_progress(queue, request.user)
    return QueueOut(
        **{
            f: getattr(queue, f)
            for f in (
                "id",
                "label_set_id",
                "strategy",
                "sample_size",
                "seed",
                "created_at",
                "built_at",
            )
        },
        items=progress["total"],
        reviewed_by_you=progress["done"],
    )


@router.get("/teams/{slug}/label-sets", response={200: list[LabelSetOut], **ERRORS})
@paginate(Cursor)
def labelset_list(request: HttpRequest, slug: str) -> QuerySet[LabelSet]:
    team, _ = team_access(request, slug)
    return selectors.labelset_list(team=team)


@router.post("/teams/{slug}/label-sets", response={201: LabelSetDetail, **ERRORS})
def labelset_import(
    request: HttpRequest,
    slug: str,
    file: File[UploadedFile],
    name: Form[str],
    fmt: Form[Literal[FORMATS]] = "jsonl",  # type: ignore[valid-type]
    judge: Form[str] = "",
    dataset_name: Form[str] = "",
    principle_version: Form[int | None] = None,
    description: Form[str] = "",
) -> Status[LabelSetDetail]:
    """Import labels (cai_web JSONL, LLMBar result.json, PandaLM); all or nothing, every
    bad line listed in ``errors``."""
    team, _ = team_access(request, slug, Capability.LAUNCH_RUNS)
    if (file.size or 0) > MAX_LABEL_FILE_BYTES:
        raise services.LabellingError(
            f"The file is larger than {MAX_LABEL_FILE_BYTES:,} bytes.", field="file"
        )
    version = None
    if principle_version is not None:
        version = ConstitutionVersion.objects.filter(
            constitution__team=team, status=VersionStatus.PUBLISHED, pk=principle_version
        ).first()
        if version is None:
            raise services.LabellingError(
                "Choose a published constitution version of this team.", field="principle_version"
            )
    label_set = services.labelset_import(
        team=team,
        user=request.user,
        name=name,
        fmt=fmt,
        data=file.read(),
        judge=judge,
        dataset_name=dataset_name,
        principle_version=version,
        description=description,
    )
    return Status(201, _detail(label_set))


@router.get("/teams/{slug}/label-sets/{pk}", response={200: LabelSetDetail, **ERRORS})
def labelset_detail(request: HttpRequest, slug: str, pk: int) -> LabelSetDetail:
    """A label set, its approval gate (audit against the team's thresholds) and queues."""
    team, _ = team_access(request, slug)
    return _detail(selectors.labelset_get(team=team, pk=pk))


@router.get("/teams/{slug}/label-sets/{pk}/statistics", response={200: Statistics, **ERRORS})
def labelset_statistics(
    request: HttpRequest, slug: str, pk: int, query: Query[StatsQuery]
) -> Statistics:
    team, _ = team_access(request, slug)
    label_set = selectors.labelset_get(team=team, pk=pk)
    filters = selectors.Filters(
        judge=query.judge, principle=query.principle, category=query.category
    )
    s = selectors.labelset_statistics(label_set, filters, by=query.by, combined=query.combined)
    gate = services.labelset_approval_gate(label_set=label_set, audit=s.audit)
    ag = s.auditor_vs_gold
    return Statistics(
        filters={"judge": query.judge, "principle": query.principle, "category": query.category},
        position_bias=_plain(s.position_bias),
        agreements={k: _plain(v) for k, v in s.agreements.items()},
        accuracy=_plain(s.accuracy),
        human=_plain(s.human),
        calibration=[_plain(b) for b in s.calibration],
        audit={"agreement": _plain(s.audit.agreement), "n_reviews": s.audit.n_reviews},
        gate=_gate(gate),
        by=s.by,
        slices=[
            {
                "value": row.value,
                "position_bias": _plain(row.position_bias),
                "agreement": _plain(row.agreement),
                "agreements_by_reference": _plain(row.agreements),
            }
            for row in s.slices
        ],
        primary_reference=s.primary,
        agreements_by_reference=_plain(s.agreements_by_reference),
        accuracy_by_reference=_plain(s.accuracy_by_reference),
        auditor_vs_gold=None
        if ag is None
        else {
            "n_reviews": ag.n_reviews,
            "n_with_gold": ag.n_with_gold,
            "overall": _plain(ag.overall),
            "by_reviewer": {name: _plain(r) for name, r in ag.by_reviewer},
        },
        combined_rule=services.COMBINED_RULE if "combined" in s.references else None,
    )


@router.get(
    "/teams/{slug}/label-sets/{pk}/export",
    response={200: None, **ERRORS},
    openapi_extra={
        "responses": {
            200: {
                "description": "Every AI label with its human labels, streamed.",
                "content": {
                    "application/x-ndjson": {"schema": {"type": "string"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def labelset_export(
    request: HttpRequest, slug: str, pk: int, format: Literal["jsonl", "csv"] = "jsonl"
) -> StreamingHttpResponse:
    """The label set as cai_web JSONL (docs/label-format.md) or CSV, streamed in chunks
    of 2,000 records (the browser page builds big files in a worker instead)."""
    from labelling import formats

    team, _ = team_access(request, slug)
    label_set = selectors.labelset_get(team=team, pk=pk)

    def encode(batch: list[formats.LabelRecord], first: bool) -> str:
        if format == "jsonl":
            return formats.export_jsonl(batch)
        text = formats.export_csv(batch)
        return text if first else text.split("\r\n", 1)[1]

    def chunks() -> Iterator[str]:
        batch: list[formats.LabelRecord] = []
        first = True
        for record in selectors.export_records(label_set):
            batch.append(record)
            if len(batch) >= 2000:
                yield encode(batch, first)
                batch, first = [], False
        if batch or first:
            yield encode(batch, first)

    response = StreamingHttpResponse(
        chunks(), content_type="application/x-ndjson" if format == "jsonl" else "text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="label-set-{label_set.pk}.{format}"'
    return response


@router.post("/teams/{slug}/label-sets/{pk}/decision", response={200: LabelSetDetail, **ERRORS})
def labelset_decide(
    request: HttpRequest, slug: str, pk: int, payload: DecisionIn
) -> LabelSetDetail:
    """Approve (when the audit passes the gate) or reject (with a reason)."""
    team, _ = team_access(request, slug, Capability.APPROVE_LABELS)
    label_set = selectors.labelset_get(team=team, pk=pk)
    if payload.action == "approve":
        services.labelset_approve(label_set=label_set, user=request.user, reason=payload.reason)
    else:
        services.labelset_reject(label_set=label_set, user=request.user, reason=payload.reason)
    return _detail(selectors.labelset_get(team=team, pk=pk))


@router.post("/teams/{slug}/label-sets/{pk}/queues", response={201: QueueOut, **ERRORS})
def queue_create(request: HttpRequest, slug: str, pk: int, payload: QueueIn) -> Status[QueueOut]:
    """A review queue: a seeded sample of the set's comparisons for people to audit."""
    team, _ = team_access(request, slug, Capability.REVIEW_LABELS)
    label_set = selectors.labelset_get(team=team, pk=pk)
    queue = services.queue_create(
        label_set=label_set,
        user=request.user,
        strategy=payload.strategy,
        sample_size=payload.sample_size,
        seed=payload.seed,
    )
    return Status(201, _queue_out(request, queue))


@router.get("/teams/{slug}/queues/{pk}", response={200: QueueOut, **ERRORS})
def queue_detail(request: HttpRequest, slug: str, pk: int) -> QueueOut:
    """A queue and the caller's progress through it (as the queue page shows)."""
    team, _ = team_access(request, slug)
    return _queue_out(request, selectors.queue_get(team=team, pk=pk))
