"""Few-shot example add, edit and delete on a draft version."""

from __future__ import annotations

from functools import partial

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from .. import services
from ..forms import FewShotForm
from ..models import FewShotExample
from .common import (
    EDIT,
    _add_error,
    _attach,
    _child,
    _conflict,
    _delete,
    _done,
    _edit_row,
    _failed,
    _immutable,
    _initial,
    _version,
)

FEW_SHOT_FIELDS = services.FEW_SHOT_FIELDS


@vary_on_headers("HX-Request")
@require_POST
def few_shot_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk, EDIT)
    form = FewShotForm(request.POST, auto_id="new-few-shot-%s")
    if form.is_valid():
        try:
            services.few_shot_add(
                version=version,
                user=request.user,
                **{k: form.cleaned_data[k] for k in FEW_SHOT_FIELDS},
            )
        except services.VersionImmutable as exc:
            return _immutable(request, pk, exc)
        except services.ConstitutionError as exc:
            _add_error(form, exc)
        else:
            return _done(
                request, pk, "Added a few-shot example.", "few_shots", "hash", anchor="few-shots"
            )
    return _failed(request, pk, "few_shots", few_shot_form=form)


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def few_shot_update(request: HttpRequest, pk: int) -> HttpResponse:
    example = _child(request, FewShotExample, pk)
    version_pk = example.version_id
    auto_id = f"few-shot-{pk}-%s"
    if request.method == "GET":
        return _edit_row(
            request,
            version_pk,
            "few_shots",
            "few_shots",
            pk,
            lambda: FewShotForm(initial=_initial(example, FewShotForm), auto_id=auto_id),
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
            return _immutable(request, version_pk, exc)
        except services.EditConflict as exc:
            conflict = _conflict(exc, form, FEW_SHOT_FIELDS)
        except services.ConstitutionError as exc:
            _add_error(form, exc)
        else:
            return _done(
                request,
                version_pk,
                "Saved the few-shot example.",
                "few_shots",
                "hash",
                anchor="few-shots",
            )
    return _failed(
        request,
        version_pk,
        "few_shots",
        status=409 if conflict else 422,
        attach=lambda ctx: _attach(ctx, "few_shots", pk, form, conflict),
    )


@vary_on_headers("HX-Request")
@require_POST
def few_shot_delete(request: HttpRequest, pk: int) -> HttpResponse:
    example = _child(request, FewShotExample, pk)
    return _delete(
        request,
        example,
        partial(services.few_shot_delete, example=example),
        list_name="few_shots",
        main="few_shots",
        message="Deleted a few-shot example.",
        oob=("hash",),
        anchor="few-shots",
    )
