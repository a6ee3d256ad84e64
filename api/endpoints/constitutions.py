"""Constitutions and their versions: list, read, import a file as a draft, edit a draft
(``If-Match``), publish, start a draft from a published version, export."""

from datetime import datetime
from typing import Literal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.text import slugify
from ninja import File, Form, Header, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from cai_web.models import Capability
from constitutions import selectors, services
from constitutions.formats import export_json, export_yaml, import_constitution
from constitutions.models import Constitution, ConstitutionVersion, Principle

from ..auth import team_access
from ..problems import Problem
from .common import ERRORS, Cursor, check_if_match, get_in, with_etag

router = Router(tags=["constitutions"])
EDIT = Capability.EDIT_CONSTITUTIONS
MAX_IMPORT_BYTES = 5_000_000


class VersionSummary(Schema):
    id: int
    number: int
    status: str
    content_hash: str
    changelog: str
    row_version: int
    parent_id: int | None
    created_at: datetime
    published_at: datetime | None


class ConstitutionOut(Schema):
    id: int
    name: str
    description: str
    created_at: datetime
    latest_number: int | None = None
    version_count: int | None = None


class ConstitutionDetail(ConstitutionOut):
    versions: list[VersionSummary]


class CategoryOut(Schema):
    id: int
    name: str
    description: str
    weight: float
    priority: int
    row_version: int


class PrincipleOut(Schema):
    id: int
    key: str
    category_id: int
    critique_request: str
    revision_request: str
    comparison_question: str
    weight: float
    enabled: bool
    row_version: int


class FewShotOut(Schema):
    id: int
    prompt: str
    response: str
    critique_request: str
    critique: str
    revision_request: str
    revision: str


class VersionDetail(VersionSummary):
    constitution_id: int
    constitution_name: str
    categories: list[CategoryOut]
    principles: list[PrincipleOut]
    few_shots: list[FewShotOut]


class VersionPatch(Schema):
    changelog: str


class PublishIn(Schema):
    changelog: str = ""


class PrinciplePatch(Schema):
    key: str | None = None
    category_id: int | None = None
    critique_request: str | None = None
    revision_request: str | None = None
    comparison_question: str | None = None
    weight: float | None = None
    enabled: bool | None = None


def _version(
    team_slug: str, request: HttpRequest, pk: int, capability: str = Capability.VIEW
) -> ConstitutionVersion:
    team, _ = team_access(request, team_slug, capability)
    return get_in(
        ConstitutionVersion.objects.filter(constitution__team=team).select_related(
            "constitution__team"
        ),
        "constitution version",
        pk=pk,
    )


def _detail(version: ConstitutionVersion) -> VersionDetail:
    full = selectors.version_with_content(version.pk)
    return VersionDetail(
        **VersionSummary.model_validate(full).model_dump(),
        constitution_id=full.constitution_id,
        constitution_name=full.constitution.name,
        categories=[CategoryOut.model_validate(c) for c in full.categories.all()],
        principles=[PrincipleOut.model_validate(p) for p in full.principles.all()],
        few_shots=[FewShotOut.model_validate(f) for f in full.few_shots.all()],
    )


@router.get("/teams/{slug}/constitutions", response={200: list[ConstitutionOut], **ERRORS})
@paginate(Cursor)
def constitution_list(request: HttpRequest, slug: str) -> QuerySet[Constitution]:
    """The team's constitutions (newest first), with their latest version number."""
    team, _ = team_access(request, slug)
    return selectors.constitution_list(team=team)


@router.get("/teams/{slug}/constitutions/{pk}", response={200: ConstitutionDetail, **ERRORS})
def constitution_detail(request: HttpRequest, slug: str, pk: int) -> ConstitutionDetail:
    team, _ = team_access(request, slug)
    constitution = get_in(selectors.constitution_list(team=team), "constitution", pk=pk)
    return ConstitutionDetail(
        **ConstitutionOut.model_validate(constitution).model_dump(),
        versions=[VersionSummary.model_validate(v) for v in selectors.versions_of(constitution)],
    )


def _import(
    request: HttpRequest, slug: str, files: list[UploadedFile], name: str, into: int | None
) -> Status[VersionDetail]:
    team, _ = team_access(request, slug, EDIT)
    target = None
    if into is not None:
        target = get_in(Constitution.objects.filter(team=team), "constitution", pk=into)
    too_big = [f.name for f in files if (f.size or 0) > MAX_IMPORT_BYTES]
    if too_big:
        raise services.ConstitutionError(
            f"{', '.join(str(n) for n in too_big)}: larger than {MAX_IMPORT_BYTES:,} bytes.",
            field="files",
        )
    pairs = [(f.name or "upload", f.read()) for f in files]
    imported = import_constitution(pairs)
    version = services.constitution_import(
        team=team,
        user=request.user,
        name=name or imported.name,
        description=imported.description,
        content=imported.content,
        into=target,
        source=", ".join(n for n, _ in pairs),
    )
    return Status(201, _detail(version))


@router.post("/teams/{slug}/constitutions", response={201: VersionDetail, **ERRORS})
def constitution_import(
    request: HttpRequest, slug: str, files: File[list[UploadedFile]], name: Form[str] = ""
) -> Status[VersionDetail]:
    """Import files (a cai_web export, the CAI paper's prompt files, an llm-swarm file) as a
    new constitution and its v1 draft. All or nothing; every problem listed in ``errors``."""
    return _import(request, slug, files, name, None)


@router.post("/teams/{slug}/constitutions/{pk}/versions", response={201: VersionDetail, **ERRORS})
def constitution_import_version(
    request: HttpRequest, slug: str, pk: int, files: File[list[UploadedFile]]
) -> Status[VersionDetail]:
    """Import files as a new draft of this constitution (its parent: the latest version)."""
    return _import(request, slug, files, "", pk)


@router.get("/teams/{slug}/versions/{pk}", response={200: VersionDetail, **ERRORS})
def version_detail(
    request: HttpRequest, slug: str, pk: int, response: HttpResponse
) -> VersionDetail:
    """A version with its content; ``ETag`` is its row version, for ``If-Match`` on edits."""
    version = _version(slug, request, pk)
    with_etag(response, version.row_version)
    return _detail(version)


@router.patch(
    "/teams/{slug}/versions/{pk}",
    response={200: VersionDetail, 412: Problem, 428: Problem, **ERRORS},
)
def version_update(
    request: HttpRequest,
    slug: str,
    pk: int,
    payload: VersionPatch,
    response: HttpResponse,
    if_match: str = Header("", alias="If-Match"),
) -> VersionDetail:
    """Edit a draft's changelog; needs ``If-Match`` (412 if someone saved in between)."""
    version = _version(slug, request, pk, EDIT)
    expected = check_if_match(request, version.row_version)
    services.version_set_changelog(
        version=version,
        user=request.user,
        changelog=payload.changelog,
        expected_row_version=expected,
    )
    version.refresh_from_db()
    with_etag(response, version.row_version)
    return _detail(version)


@router.post(
    "/teams/{slug}/versions/{pk}/publish",
    response={200: VersionDetail, 409: Problem, 412: Problem, **ERRORS},
)
def version_publish(
    request: HttpRequest,
    slug: str,
    pk: int,
    payload: PublishIn,
    if_match: str = Header("", alias="If-Match"),
) -> VersionDetail:
    """Validate a draft and freeze it; refused with every problem listed in ``errors``.
    ``If-Match`` is optional here and checked when sent."""
    version = _version(slug, request, pk, EDIT)
    check_if_match(request, version.row_version, required=False)
    return _detail(
        services.version_publish(version=version, user=request.user, changelog=payload.changelog)
    )


@router.post(
    "/teams/{slug}/versions/{pk}/draft", response={200: VersionDetail, 201: VersionDetail, **ERRORS}
)
def version_draft(request: HttpRequest, slug: str, pk: int) -> Status[VersionDetail]:
    """The draft to edit from this version: itself if a draft (200), else a new copy (201)."""
    version = _version(slug, request, pk, EDIT)
    draft, created = services.version_draft_from(version=version, user=request.user)
    return Status(201 if created else 200, _detail(draft))


@router.get(
    "/teams/{slug}/versions/{pk}/export",
    response={200: None, **ERRORS},
    openapi_extra={
        "responses": {
            200: {
                "description": "The version as a cai_web JSON or YAML file.",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/yaml": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def version_export(
    request: HttpRequest, slug: str, pk: int, format: Literal["json", "yaml"] = "json"
) -> HttpResponse:
    """The version as a file in the format the import reads back."""
    version = _version(slug, request, pk)
    content = selectors.version_content(selectors.version_with_content(version.pk))
    exporter, mime = {
        "json": (export_json, "application/json"),
        "yaml": (export_yaml, "application/yaml"),
    }[format]
    text = exporter(
        content,
        name=version.constitution.name,
        description=version.constitution.description,
        version=version.number,
        content_hash=version.content_hash or None,
    )
    out = HttpResponse(text, content_type=f"{mime}; charset=utf-8")
    filename = f"{slugify(version.constitution.name) or 'constitution'}-v{version.number}.{format}"
    out["Content-Disposition"] = f'attachment; filename="{filename}"'
    return out


@router.patch(
    "/teams/{slug}/principles/{pk}",
    response={200: PrincipleOut, 412: Problem, 428: Problem, **ERRORS},
)
def principle_update(
    request: HttpRequest,
    slug: str,
    pk: int,
    payload: PrinciplePatch,
    response: HttpResponse,
    if_match: str = Header("", alias="If-Match"),
) -> PrincipleOut:
    """Edit a principle of a draft (only the fields sent); needs ``If-Match`` with the
    principle's ETag (its ``row_version`` in the version's content, or this response's)."""
    team, _ = team_access(request, slug, EDIT)
    principle = get_in(
        Principle.objects.filter(version__constitution__team=team).select_related("version"),
        "principle",
        pk=pk,
    )
    expected = check_if_match(request, principle.row_version)
    fields = payload.model_dump(exclude_unset=True)
    category_id = fields.pop("category_id", None)
    if category_id is not None:
        category = principle.version.categories.filter(pk=category_id).first()
        if category is None:
            raise services.ConstitutionError(
                "That category is not in this version.", field="category_id"
            )
        fields["category"] = category
    for name in list(fields):
        if fields[name] is None:
            raise services.ConstitutionError(f"{name} cannot be null.", field=name)
    principle = services.principle_update(
        principle=principle, user=request.user, expected_row_version=expected, **fields
    )
    with_etag(response, principle.row_version)
    return PrincipleOut.model_validate(principle)
