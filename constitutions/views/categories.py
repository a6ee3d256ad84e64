"""Category add, edit (full or inline weight) and delete on a draft version."""

from __future__ import annotations

from functools import partial

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from .. import services
from ..forms import CategoryForm, QuickWeightForm
from ..models import Category
from .common import (
    CONTENT_CHANGED,
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
    _with_errors_of,
)


@vary_on_headers("HX-Request")
@require_POST
def category_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk, EDIT)
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
            return _immutable(request, pk, exc)
        except services.ConstitutionError as exc:
            _add_error(form, exc)
        else:
            return _done(
                request,
                pk,
                f"Added category {category.name!r}.",
                "editor",
                *CONTENT_CHANGED,
                anchor=f"category-{category.pk}",
            )
    return _failed(request, pk, "editor", category_form=form)


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def category_update(request: HttpRequest, pk: int) -> HttpResponse:
    category = _child(request, Category, pk)
    version_pk = category.version_id
    quick = request.method == "POST" and "name" not in request.POST
    auto_id = f"category-{pk}-%s"
    if request.method == "GET":
        return _edit_row(
            request,
            version_pk,
            "category_head",
            "categories",
            pk,
            lambda: CategoryForm(initial=_initial(category, CategoryForm), auto_id=auto_id),
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
            return _immutable(request, version_pk, exc)
        except services.EditConflict as exc:
            conflict = _conflict(exc, form, tuple(fields))
        except services.ConstitutionError as exc:
            _add_error(form, exc)
        else:
            return _done(
                request,
                version_pk,
                f"Saved category {category.name!r}.",
                "category_head",
                *CONTENT_CHANGED,
                anchor=f"category-{pk}",
                focus=("categories", "c", pk),
            )
    if quick and conflict is None:
        form = _with_errors_of(
            form,
            CategoryForm(
                {**_initial(category, CategoryForm), **request.POST.dict()}, auto_id=auto_id
            ),
        )
    return _failed(
        request,
        version_pk,
        "category_head",
        status=409 if conflict else 422,
        attach=lambda ctx: _attach(ctx, "categories", pk, form, conflict, quick=quick),
    )


@vary_on_headers("HX-Request")
@require_POST
def category_delete(request: HttpRequest, pk: int) -> HttpResponse:
    category = _child(request, Category, pk)
    return _delete(
        request,
        category,
        partial(services.category_delete, category=category),
        list_name="categories",
        main="editor",
        message=f"Deleted category {category.name!r}.",
        oob=CONTENT_CHANGED,
    )
