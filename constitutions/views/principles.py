"""Principle add, edit (full or inline weight/enabled), delete and move on a draft version."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget

from cai_web.web import form_error

from .. import services
from ..diff import PRINCIPLE_TEXT_FIELDS
from ..forms import PrincipleForm, QuickWeightForm
from ..models import Category, Principle
from .common import (
    CONTENT_CHANGED,
    EDIT,
    as_int,
    attach_edit,
    child_for,
    conflict_info,
    delete_row,
    done,
    edit_row,
    failed,
    find_row,
    immutable,
    initial_of,
    missing_row_version,
    version_for,
    with_errors_of,
)


@vary_on_headers("HX-Request")
@require_POST
def principle_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = version_for(request, pk, EDIT)
    categories = list(version.categories.all())
    form = PrincipleForm(request.POST, auto_id="new-principle-%s", categories=categories)
    if form.is_valid():
        data = form.cleaned_data
        try:
            principle = services.principle_add(
                version=version,
                user=request.user,
                category=find_row(categories, data["category"]),
                key=data["key"],
                critique_request=data["critique_request"],
                revision_request=data["revision_request"],
                comparison_question=data["comparison_question"],
                weight=data["weight"],
                enabled=data["enabled"],
            )
        except services.VersionImmutable as exc:
            return immutable(request, pk, exc)
        except services.ConstitutionError as exc:
            form_error(form, exc)
        else:
            return done(
                request,
                pk,
                f"Added principle {principle.key!r}.",
                "editor",
                *CONTENT_CHANGED,
                anchor=f"principle-{principle.pk}",
            )
    return failed(request, pk, "editor", principle_form=form)


PRINCIPLE_FIELDS = ("key", "category", *PRINCIPLE_TEXT_FIELDS, "weight", "enabled")


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def principle_update(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the edit form partial. POST: the full form (has ``key``) or the inline
    weight/enabled form; only the fields present are changed."""
    principle = child_for(request, Principle, pk)
    version_pk = principle.version_id
    categories = list(Category.objects.filter(version=version_pk))
    auto_id = f"principle-{pk}-%s"
    if request.method == "GET":
        return edit_row(
            request,
            version_pk,
            "principle",
            "principles",
            pk,
            lambda: PrincipleForm(
                initial=initial_of(principle, PrincipleForm), auto_id=auto_id, categories=categories
            ),
        )
    quick = "key" not in request.POST
    if quick:
        form = QuickWeightForm(request.POST, auto_id=auto_id)
    else:
        form = PrincipleForm(request.POST, auto_id=auto_id, categories=categories)
    conflict = None
    if form.is_valid():
        # The full form sends every field (an unticked box sends nothing, meaning False);
        # the inline form changes only what it sent.
        fields = {
            k: form.cleaned_data[k]
            for k in PRINCIPLE_FIELDS
            if k in form.fields and (not quick or k in request.POST)
        }
        if "category" in fields:
            fields["category"] = find_row(categories, fields["category"])
        try:
            services.principle_update(
                principle=principle,
                user=request.user,
                expected_row_version=form.cleaned_data["row_version"],
                **fields,
            )
        except services.VersionImmutable as exc:
            return immutable(request, version_pk, exc)
        except services.RowVersionMissing as exc:
            return missing_row_version(request, version_pk, "principle", "principles", pk, exc)
        except services.EditConflict as exc:
            conflict = conflict_info(exc, form, tuple(fields))
        except services.ConstitutionError as exc:
            form_error(form, exc)
        else:
            message = f"Saved principle {principle.key!r}."
            if quick:
                return done(
                    request,
                    version_pk,
                    message,
                    "principle",
                    *CONTENT_CHANGED,
                    anchor=f"principle-{pk}",
                    focus=("principles", "p", pk),
                )
            response = done(
                request, version_pk, message, "editor", *CONTENT_CHANGED, anchor=f"principle-{pk}"
            )
            # The form was swapped into the principle's row; a category move needs the whole editor.
            return reswap(retarget(response, "#editor"), "outerHTML") if request.htmx else response
    if quick and conflict is None:
        form = with_errors_of(
            form,
            PrincipleForm(
                {
                    **initial_of(principle, PrincipleForm),
                    **request.POST.dict(),
                    "category": principle.category_id,
                },
                auto_id=auto_id,
                categories=categories,
            ),
        )
    return failed(
        request,
        version_pk,
        "principle",
        status=409 if conflict else 422,
        attach=lambda ctx: attach_edit(ctx, "principles", pk, form, conflict, quick=quick),
    )


@vary_on_headers("HX-Request")
@require_POST
def principle_delete(request: HttpRequest, pk: int) -> HttpResponse:
    principle = child_for(request, Principle, pk)
    return delete_row(
        request,
        principle,
        partial(services.principle_delete, principle=principle),
        list_name="principles",
        main="editor",
        message=f"Deleted principle {principle.key!r}.",
        oob=CONTENT_CHANGED,
    )


@vary_on_headers("HX-Request")
@require_POST
def principle_move(request: HttpRequest, pk: int) -> HttpResponse:
    principle = child_for(request, Principle, pk)
    version_pk = principle.version_id
    direction = request.POST.get("direction", "")
    try:
        services.principle_move(
            principle=principle,
            user=request.user,
            direction=direction,
            expected_row_version=as_int(request.POST.get("row_version")),
        )
    except services.VersionImmutable as exc:
        return immutable(request, version_pk, exc)
    except services.RowVersionMissing as exc:
        return missing_row_version(request, version_pk, "editor", "principles", pk, exc)
    except services.EditConflict as exc:
        return failed(
            request,
            version_pk,
            "editor",
            status=409,
            attach=partial(attach_edit, list_name="principles", pk=pk, form=None, error=str(exc)),
        )
    except services.ConstitutionError as exc:
        messages.error(request, str(exc))
        return redirect("version_detail", pk=version_pk)
    # Order is part of the content, so the hash (header) and table order change too.
    return done(
        request,
        version_pk,
        f"Moved principle {principle.key!r} {direction}.",
        "editor",
        *CONTENT_CHANGED,
        anchor=f"principle-{pk}",
    )
