"""The version page and its lifecycle: draft, publish, archive, discard, export."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from .. import selectors, services
from ..content import ContentError
from ..formats import export_json, export_yaml
from .common import EDIT, PAGE, as_int, page_context, version_for


def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version_for(request, pk)
    return render(request, PAGE, page_context(request, pk))


def version_probabilities(request: HttpRequest, pk: int) -> HttpResponse:
    version_for(request, pk)
    return render(request, f"{PAGE}#probabilities", page_context(request, pk))


@require_POST
def version_edit(request: HttpRequest, pk: int) -> HttpResponse:
    version = version_for(request, pk, EDIT)
    draft, created = services.version_draft_from(version=version, user=request.user)
    if created:
        messages.success(request, f"Started draft v{draft.number} from v{version.number}.")
    elif draft.pk != version.pk:
        messages.info(
            request, f"v{draft.number} is already the draft copied from v{version.number}."
        )
    return redirect("version_detail", pk=draft.pk)


@require_POST
def version_publish(request: HttpRequest, pk: int) -> HttpResponse:
    version = version_for(request, pk, EDIT)
    changelog = request.POST.get("changelog", "")
    try:
        version = services.version_publish(version=version, user=request.user, changelog=changelog)
    except ContentError as exc:
        context = page_context(request, pk, publish_problems=exc.problems, changelog=changelog)
        return render(request, PAGE, context, status=422)
    except services.ConstitutionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Published v{version.number} ({version.short_hash}).")
    return redirect("version_detail", pk=pk)


@require_POST
def version_archive(request: HttpRequest, pk: int) -> HttpResponse:
    version = version_for(request, pk, EDIT)
    try:
        services.version_archive(version=version, user=request.user)
    except services.ConstitutionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Archived v{version.number}.")
    return redirect("version_detail", pk=pk)


@require_POST
def version_discard(request: HttpRequest, pk: int) -> HttpResponse:
    version = version_for(request, pk, EDIT)
    try:
        services.version_discard(
            version=version,
            user=request.user,
            expected_row_version=as_int(request.POST.get("row_version")),
        )
    except services.RowVersionMissing as exc:
        messages.error(request, str(exc))
        return render(request, PAGE, page_context(request, pk), status=400)
    except services.ConstitutionError as exc:
        messages.error(request, str(exc))
        return redirect("version_detail", pk=pk)
    messages.success(request, f"Discarded draft v{version.number}.")
    return redirect("constitution_detail", pk=version.constitution_id)


def version_export(request: HttpRequest, pk: str, fmt: str) -> HttpResponse:
    version = version_for(request, int(pk))
    content = selectors.version_content(selectors.version_with_content(version.pk))
    exporter, mime = {
        "json": (export_json, "application/json"),
        "yaml": (export_yaml, "application/yaml"),
    }[fmt]
    try:
        text = exporter(
            content,
            name=version.constitution.name,
            description=version.constitution.description,
            version=version.number,
            content_hash=version.content_hash or None,
        )
    except ContentError as exc:
        messages.error(request, f"v{version.number} cannot be exported yet: {exc}")
        return redirect("version_detail", pk=pk)
    response = HttpResponse(text, content_type=f"{mime}; charset=utf-8")
    filename = f"{slugify(version.constitution.name) or 'constitution'}-v{version.number}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
