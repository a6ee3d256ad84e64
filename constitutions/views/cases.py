"""Principle test cases on a draft version: add, edit, delete (htmx, or plain forms)."""

from __future__ import annotations

from functools import partial

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cai_web.web import form_error

from .. import services
from ..forms import CaseForm
from ..models import Principle, PrincipleCase
from .common import (
    EDIT,
    attach_edit,
    child_for,
    conflict_info,
    delete_row,
    done,
    edit_row,
    failed,
    immutable,
    initial_of,
    missing_row_version,
    version_for,
)

CASE_FIELDS = (
    "kind",
    "prompt",
    "response_a",
    "response_b",
    "preferred",
    "must",
    "must_not",
    "reference",
)
EDITABLE = CASE_FIELDS[1:]  # a case keeps its kind


@vary_on_headers("HX-Request")
@require_POST
def case_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = version_for(request, pk, EDIT)
    principles = list(Principle.objects.filter(version=version).order_by("order", "pk"))
    form = CaseForm(request.POST, auto_id="new-case-%s", principles=principles)
    if form.is_valid():
        principle = next(p for p in principles if p.pk == form.cleaned_data["principle"])
        try:
            services.case_add(
                principle=principle,
                user=request.user,
                **{k: form.cleaned_data[k] for k in CASE_FIELDS},
            )
        except services.VersionImmutable as exc:
            return immutable(request, pk, exc)
        except services.ConstitutionError as exc:
            form_error(form, exc)
        else:
            return done(
                request,
                pk,
                f"Added a {form.cleaned_data['kind']} case to {principle.key}.",
                "test_cases",
                "hash",
                anchor="test-cases",
            )
    return failed(request, pk, "test_cases", case_form=form)


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def case_update(request: HttpRequest, pk: int) -> HttpResponse:
    case = child_for(request, PrincipleCase, pk)
    version_pk = case.version_id
    auto_id = f"case-{pk}-%s"
    if request.method == "GET":
        return edit_row(
            request,
            version_pk,
            "test_cases",
            "test_cases",
            pk,
            lambda: CaseForm(initial=initial_of(case, CaseForm), auto_id=auto_id),
        )
    # The kind is fixed once a case exists; the posted kind is not trusted for it.
    data = request.POST.copy()
    data["kind"] = case.kind
    form = CaseForm(data, auto_id=auto_id)
    conflict = None
    if form.is_valid():
        try:
            services.case_update(
                case=case,
                user=request.user,
                expected_row_version=form.cleaned_data["row_version"],
                **{k: form.cleaned_data[k] for k in EDITABLE},
            )
        except services.VersionImmutable as exc:
            return immutable(request, version_pk, exc)
        except services.RowVersionMissing as exc:
            return missing_row_version(request, version_pk, "test_cases", "test_cases", pk, exc)
        except services.EditConflict as exc:
            conflict = conflict_info(exc, form, EDITABLE)
        except services.ConstitutionError as exc:
            form_error(form, exc)
        else:
            return done(
                request,
                version_pk,
                "Saved the test case.",
                "test_cases",
                "hash",
                anchor="test-cases",
            )
    return failed(
        request,
        version_pk,
        "test_cases",
        status=409 if conflict else 422,
        attach=lambda ctx: attach_edit(ctx, "test_cases", pk, form, conflict),
    )


@vary_on_headers("HX-Request")
@require_POST
def case_delete(request: HttpRequest, pk: int) -> HttpResponse:
    case = child_for(request, PrincipleCase, pk)
    return delete_row(
        request,
        case,
        partial(services.case_delete, case=case),
        list_name="test_cases",
        main="test_cases",
        message="Deleted a test case.",
        oob=("hash",),
        anchor="test-cases",
    )
