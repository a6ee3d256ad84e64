"""Category add, edit (full or inline weight) and delete on a draft version."""

from __future__ import annotations

from functools import partial

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cai_web.web import form_error

from .. import services
from ..forms import CategoryForm, QuickWeightForm
from ..models import Category
from .common import (
    CONTENT_CHANGED,
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
    with_errors_of,
)


@vary_on_headers("HX-Request")
@require_POST
def category_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = version_for(request, pk, EDIT)
    form = CategoryForm(request.POST, auto_id="new-category-%s")
    if form.is_valid():
        data = form.cleaned_data
        try:
            category = services.category_add(
                version=version,
                user=request.user,
                name=data["name"],
                description=data["description"],
                weight=data["weight"],
                priority=data["priority"],
            )
        except services.VersionImmutable as exc:
            return immutable(request, pk, exc)
        except services.ConstitutionError as exc:
            form_error(form, exc)
        else:
            return done(
                request,
                pk,
                f"Added category {category.name!r}.",
                "editor",
                *CONTENT_CHANGED,
                anchor=f"category-{category.pk}",
            )
    return failed(request, pk, "editor", category_form=form)


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def category_update(request: HttpRequest, pk: int) -> HttpResponse:
    category = child_for(request, Category, pk)
    version_pk = category.version_id
    quick = request.method == "POST" and "name" not in request.POST
    auto_id = f"category-{pk}-%s"
    if request.method == "GET":
        return edit_row(
            request,
            version_pk,
            "category_head",
            "categories",
            pk,
            lambda: CategoryForm(initial=initial_of(category, CategoryForm), auto_id=auto_id),
        )
    form = (QuickWeightForm if quick else CategoryForm)(request.POST, auto_id=auto_id)
    conflict = None
    if form.is_valid():
        fields = {
            k: v for k, v in form.cleaned_data.items() if k != "row_version" and k in request.POST
        }
        try:
            services.category_update(
                category=category,
                user=request.user,
                expected_row_version=form.cleaned_data["row_version"],
                **fields,
            )
        except services.VersionImmutable as exc:
            return immutable(request, version_pk, exc)
        except services.RowVersionMissing as exc:
            return missing_row_version(request, version_pk, "category_head", "categories", pk, exc)
        except services.EditConflict as exc:
            conflict = conflict_info(exc, form, tuple(fields))
        except services.ConstitutionError as exc:
            form_error(form, exc)
        else:
            return done(
                request,
                version_pk,
                f"Saved category {category.name!r}.",
                "category_head",
                *CONTENT_CHANGED,
                anchor=f"category-{pk}",
                focus=("categories", "c", pk),
            )
    if quick and conflict is None:
        form = with_errors_of(
            form,
            CategoryForm(
                {**initial_of(category, CategoryForm), **request.POST.dict()}, auto_id=auto_id
            ),
        )
    return failed(
        request,
        version_pk,
        "category_head",
        status=409 if conflict else 422,
        attach=lambda ctx: attach_edit(ctx, "categories", pk, form, conflict, quick=quick),
    )


@vary_on_headers("HX-Request")
@require_POST
def category_delete(request: HttpRequest, pk: int) -> HttpResponse:
    category = child_for(request, Category, pk)
    return delete_row(
        request,
        category,
        partial(services.category_delete, category=category),
        list_name="categories",
        main="editor",
        message=f"Deleted category {category.name!r}.",
        oob=CONTENT_CHANGED,
    )
