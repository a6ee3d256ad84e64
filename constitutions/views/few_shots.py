"""Few-shot example add, edit and delete on a draft version."""

from __future__ import annotations

from functools import partial

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cai_web.web import form_error

from .. import services
from ..forms import FewShotForm
from ..models import FewShotExample
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

FEW_SHOT_FIELDS = services.FEW_SHOT_FIELDS


@vary_on_headers("HX-Request")
@require_POST
def few_shot_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = version_for(request, pk, EDIT)
    form = FewShotForm(request.POST, auto_id="new-few-shot-%s")
    if form.is_valid():
        try:
            services.few_shot_add(
                version=version,
                user=request.user,
                **{k: form.cleaned_data[k] for k in FEW_SHOT_FIELDS},
            )
        except services.VersionImmutable as exc:
            return immutable(request, pk, exc)
        except services.ConstitutionError as exc:
            form_error(form, exc)
        else:
            return done(
                request, pk, "Added a few-shot example.", "few_shots", "hash", anchor="few-shots"
            )
    return failed(request, pk, "few_shots", few_shot_form=form)


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def few_shot_update(request: HttpRequest, pk: int) -> HttpResponse:
    example = child_for(request, FewShotExample, pk)
    version_pk = example.version_id
    auto_id = f"few-shot-{pk}-%s"
    if request.method == "GET":
        return edit_row(
            request,
            version_pk,
            "few_shots",
            "few_shots",
            pk,
            lambda: FewShotForm(initial=initial_of(example, FewShotForm), auto_id=auto_id),
        )
    form = FewShotForm(request.POST, auto_id=auto_id)
    conflict = None
    if form.is_valid():
        fields = {k: form.cleaned_data[k] for k in FEW_SHOT_FIELDS}
        try:
            services.few_shot_update(
                example=example,
                user=request.user,
                expected_row_version=form.cleaned_data["row_version"],
                **fields,
            )
        except services.VersionImmutable as exc:
            return immutable(request, version_pk, exc)
        except services.RowVersionMissing as exc:
            return missing_row_version(request, version_pk, "few_shots", "few_shots", pk, exc)
        except services.EditConflict as exc:
            conflict = conflict_info(exc, form, FEW_SHOT_FIELDS)
        except services.ConstitutionError as exc:
            form_error(form, exc)
        else:
            return done(
                request,
                version_pk,
                "Saved the few-shot example.",
                "few_shots",
                "hash",
                anchor="few-shots",
            )
    return failed(
        request,
        version_pk,
        "few_shots",
        status=409 if conflict else 422,
        attach=lambda ctx: attach_edit(ctx, "few_shots", pk, form, conflict),
    )


@vary_on_headers("HX-Request")
@require_POST
def few_shot_delete(request: HttpRequest, pk: int) -> HttpResponse:
    example = child_for(request, FewShotExample, pk)
    return delete_row(
        request,
        example,
        partial(services.few_shot_delete, example=example),
        list_name="few_shots",
        main="few_shots",
        message="Deleted a few-shot example.",
        oob=("hash",),
        anchor="few-shots",
    )
