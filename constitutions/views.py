"""Screens for writing constitutions: list, import, the version editor, diff, history, export.

Every object is fetched through ``get_for_user`` with its team path, so an
outsider gets 404 and a member without the capability 403. Writes go through
``constitutions.services``. The editor's htmx actions are also plain forms: a
non-htmx POST redirects back to the version page with a message; an htmx POST
gets the affected partial of ``version_detail.html`` plus out-of-band updates of
the probability table/chart and the header (whose live hash changed).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh, reswap, retarget

from cai_web.models import Capability, Team
from cai_web.permissions import get_for_user, require_membership

from . import selectors, services
from .content import DEFAULT_CATEGORIES, ConstitutionContent, ContentError
from .diff import PRINCIPLE_TEXT_FIELDS, diff_contents
from .formats import FormatError, export_json, export_yaml, import_constitution
from .forms import (
    CategoryForm,
    ConstitutionCreateForm,
    FewShotForm,
    ImportForm,
    PrincipleForm,
    QuickWeightForm,
)
from .models import (
    Category,
    ChangeEvent,
    Constitution,
    ConstitutionVersion,
    FewShotExample,
    Principle,
)
from .presenters import probability_view

PAGE = "constitutions/version_detail.html"
EDIT = Capability.EDIT_CONSTITUTIONS

# --- lookups ------------------------------------------------------------------------


def _team(request: HttpRequest, slug: str, capability: str = Capability.VIEW):
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    return team, require_membership(request.user, team, capability)


def _constitution(request: HttpRequest, pk: int, capability: str = Capability.VIEW) -> Constitution:
    return get_for_user(
        Constitution.objects.select_related("team"), request.user, capability=capability, pk=pk
    )


def _version(
    request: HttpRequest, pk: int, capability: str = Capability.VIEW
) -> ConstitutionVersion:
    return get_for_user(
        ConstitutionVersion.objects.select_related("constitution__team"),
        request.user,
        team_path="constitution__team",
        capability=capability,
        pk=pk,
    )


def _child(request: HttpRequest, model, pk: int):
    """A category, principle or few-shot example the user may edit."""
    return get_for_user(
        model.objects.select_related("version__constitution__team"),
        request.user,
        team_path="version__constitution__team",
        capability=EDIT,
        pk=pk,
    )


# --- constitutions ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def constitution_list(request: HttpRequest, slug: str) -> HttpResponse:
    team, membership = _team(request, slug)
    form = ConstitutionCreateForm()
    status = 200
    if request.method == "POST":
        require_membership(request.user, team, EDIT)
        form = ConstitutionCreateForm(request.POST)
        if form.is_valid():
            try:
                version = services.constitution_create(
                    team=team,
                    user=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    content=ConstitutionContent(categories=DEFAULT_CATEGORIES),
                )
            except services.ConstitutionError as exc:
                _add_error(form, exc)
            else:
                messages.success(request, f"Created {version.constitution.name} with draft v1.")
                return redirect("version_detail", pk=version.pk)
        status = 422
    return render(
        request,
        "constitutions/constitution_list.html",
        {
            "team": team,
            "membership": membership,
            "constitutions": selectors.constitution_list(team=team),
            "form": form,
            "can_edit": membership.can(EDIT),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def constitution_import(request: HttpRequest, slug: str) -> HttpResponse:
    team, membership = _team(request, slug, EDIT)
    form = ImportForm(team=team)
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, team=team)
        if form.is_valid():
            files = [(f.name, f.read()) for f in form.cleaned_data["files"]]
            try:
                imported = import_constitution(files)
                version = services.constitution_import(
                    team=team,
                    user=request.user,
                    name=form.cleaned_data["name"] or imported.name,
                    description=imported.description,
                    content=imported.content,
                    into=form.cleaned_data["into"],
                    source=", ".join(name for name, _ in files),
                )
            except (FormatError, ContentError) as exc:
                problems = exc.problems
            except services.ConstitutionError as exc:
                if exc.field == "name":
                    form.add_error("name", f"{exc} Choose another name below.")
                else:
                    problems = [str(exc)]
            else:
                for warning in imported.warnings:
                    messages.warning(request, warning)
                messages.success(
                    request,
                    f"Imported {len(imported.content.principles)} principles "
                    f"({imported.source_format}) as {version}.",
                )
                return redirect("version_detail", pk=version.pk)
        status = 422
    return render(
        request,
        "constitutions/import.html",
        {"team": team, "membership": membership, "form": form, "problems": problems},
        status=status,
    )


def constitution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    constitution = _constitution(request, pk)
    latest = constitution.versions.order_by("-number").first()
    if latest is None:
        return redirect("constitution_history", pk=constitution.pk)
    return redirect("version_detail", pk=latest.pk)


def constitution_history(request: HttpRequest, pk: int) -> HttpResponse:
    constitution = _constitution(request, pk)
    return render(
        request,
        "constitutions/history.html",
        {
            "team": constitution.team,
            "constitution": constitution,
            "events": selectors.history(constitution),
            "versions": selectors.versions_of(constitution),
        },
    )


def constitution_diff(request: HttpRequest, pk: int) -> HttpResponse:
    constitution = _constitution(request, pk)
    versions = list(selectors.versions_of(constitution))
    by_number = {v.number: v for v in versions}
    context: dict[str, Any] = {
        "team": constitution.team,
        "constitution": constitution,
        "versions": versions,
    }
    if not versions:
        return render(request, "constitutions/diff.html", context)
    b = _pick(request.GET.get("b"), by_number, versions[0])
    default_a = b.parent if b.parent_id in by_number else by_number.get(b.number - 1, b)
    a = _pick(request.GET.get("a"), by_number, default_a)
    old = selectors.version_content(selectors.version_with_content(a.pk))
    new = selectors.version_content(selectors.version_with_content(b.pk))
    context.update(a=a, b=b, diff=diff_contents(old, new))
    context["principle_rows"] = [_principle_diff_row(p) for p in context["diff"].principles]
    return render(request, "constitutions/diff.html", context)


def _pick(raw: str | None, by_number: dict[int, ConstitutionVersion], default):
    if raw in (None, ""):
        return default
    try:
        return by_number[int(raw)]
    except (ValueError, KeyError):
        raise Http404(f"This constitution has no version {raw!r}.") from None


def segments_html(segments) -> str:
    """Word-diff segments as markup; every piece of text is escaped by format_html."""
    tags = {"insert": "ins", "delete": "del"}
    return format_html_join(
        "",
        "{}",
        (
            (format_html("<{}>{}</{}>", tags[op], text, tags[op]) if op in tags else text,)
            for op, text in segments
        ),
    )


def _principle_diff_row(p) -> dict[str, Any]:
    texts = [
        (name.replace("_", " "), segments_html(change.segments))
        for name in PRINCIPLE_TEXT_FIELDS
        if (change := p.change(name)) is not None
    ]
    return {"diff": p, "texts": texts}


# --- versions -----------------------------------------------------------------------


def _page_context(request: HttpRequest, pk: int, **extra: Any) -> dict[str, Any]:
    """Everything the version page and its partials need, in a fixed number of queries."""
    version = selectors.version_with_content(pk)
    membership = require_membership(request.user, version.constitution.team)
    content = selectors.version_content(version)
    categories = list(version.categories.all())
    principles = list(version.principles.all())
    for c in categories:
        c.principle_list = [p for p in principles if p.category_id == c.pk]
    can_edit = membership.can(EDIT) and version.is_editable
    context: dict[str, Any] = {
        "team": version.constitution.team,
        "membership": membership,
        "constitution": version.constitution,
        "version": version,
        "categories": categories,
        "principles": principles,
        "few_shots": list(version.few_shots.all()),
        "content": content,
        "live_hash": content.short_hash,
        "probabilities": probability_view(content),
        "can_edit": can_edit,
        "can_author": membership.can(EDIT),
        "category_form": CategoryForm(auto_id="new-category-%s"),
        "principle_form": PrincipleForm(auto_id="new-principle-%s", categories=categories),
        "few_shot_form": FewShotForm(auto_id="new-few-shot-%s"),
    }
    context.update(extra)
    return context


def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _version(request, pk)
    return render(request, PAGE, _page_context(request, pk))


def version_probabilities(request: HttpRequest, pk: int) -> HttpResponse:
    _version(request, pk)
    return render(request, f"{PAGE}#probabilities", _page_context(request, pk))


@require_POST
def version_edit(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk, EDIT)
    draft, created = services.version_draft_from(version=version, user=request.user)
    if created:
        messages.success(request, f"Started draft v{draft.number} from v{version.number}.")
    return redirect("version_detail", pk=draft.pk)


@require_POST
def version_publish(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk, EDIT)
    changelog = request.POST.get("changelog", "")
    try:
        version = services.version_publish(version=version, user=request.user, changelog=changelog)
    except ContentError as exc:
        context = _page_context(request, pk, publish_problems=exc.problems, changelog=changelog)
        return render(request, PAGE, context, status=422)
    except services.ConstitutionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Published v{version.number} ({version.short_hash}).")
    return redirect("version_detail", pk=pk)


@require_POST
def version_archive(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk, EDIT)
    try:
        services.version_archive(version=version, user=request.user)
    except services.ConstitutionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Archived v{version.number}.")
    return redirect("version_detail", pk=pk)


@require_POST
def version_discard(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk, EDIT)
    try:
        services.version_discard(version=version, user=request.user)
    except services.ConstitutionError as exc:
        messages.error(request, str(exc))
        return redirect("version_detail", pk=pk)
    messages.success(request, f"Discarded draft v{version.number}.")
    return redirect("constitution_detail", pk=version.constitution_id)


def version_export(request: HttpRequest, pk: str, fmt: str) -> HttpResponse:
    version = _version(request, int(pk))
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


# --- editing helpers ----------------------------------------------------------------


def _add_error(form, exc: services.ConstitutionError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, str(exc))


def _conflict(exc: services.EditConflict, form, fields: tuple[str, ...]) -> dict[str, Any]:
    """What the user needs to resolve a conflict: the message, who changed the row last,
    the saved values that differ from theirs. The form keeps their input but now carries
    the current row_version, so saving again deliberately replaces the saved text."""
    current = exc.current
    info: dict[str, Any] = {"message": str(exc), "saved": [], "last": None}
    if current is None:
        return info
    data = form.data.copy()
    data["row_version"] = current.row_version
    form.data = data
    for name in fields:
        saved = getattr(current, name)
        if name == "category":
            saved = current.category.name
            mine = dict(form.fields["category"].choices).get(_int(form.data.get("category")))
        elif name == "enabled":
            mine = form.data.get("enabled") in ("on", "true", "True", "1")
        else:
            mine = form.data.get(name, "")
        if name == "weight":
            changed = _float(mine) != saved
        else:
            changed = str(saved).strip() != str(mine).strip()
        if changed:
            info["saved"].append((name.replace("_", " "), saved))
    info["last"] = (
        ChangeEvent.objects.filter(version=current.version_id).select_related("user").first()
    )
    return info


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _find(items, pk: int):
    return next(item for item in items if item.pk == pk)


def _immutable(
    request: HttpRequest, version_pk: int, exc: services.ConstitutionError
) -> HttpResponse:
    messages.error(request, str(exc))
    if request.htmx:
        # The page is stale (the version left draft): reload it whole.
        return HttpResponseClientRefresh()
    return render(request, PAGE, _page_context(request, version_pk), status=409)


def _partials(
    request: HttpRequest, context: dict[str, Any], main: str, *oob: str, status: int = 200
) -> HttpResponse:
    """One partial for the htmx target plus out-of-band partials (each renders hx-swap-oob)."""
    html = render_to_string(f"{PAGE}#{main}", context, request)
    for name in oob:
        html += render_to_string(f"{PAGE}#{name}", {**context, "oob": True}, request)
    return HttpResponse(html, status=status)


def _done(
    request: HttpRequest,
    version_pk: int,
    message: str,
    main: str,
    *oob: str,
    anchor: str = "",
    focus: tuple[str, str, int] | None = None,
) -> HttpResponse:
    """A successful edit: the updated partials for htmx, a redirect with a message otherwise.
    ``focus`` (list name, context name, pk) names the object a per-row partial renders."""
    if request.htmx:
        context = _page_context(request, version_pk, flash=message)
        if focus is not None:
            list_name, name, pk = focus
            context[name] = _find(context[list_name], pk)
        return _partials(request, context, main, *oob, "flash")
    messages.success(request, message)
    return redirect(reverse("version_detail", args=[version_pk]) + (f"#{anchor}" if anchor else ""))


def _failed(
    request: HttpRequest,
    version_pk: int,
    main: str,
    *,
    status: int = 422,
    attach=None,
    **extra: Any,
) -> HttpResponse:
    """A refused edit: the form with its errors, as a partial (htmx) or on the whole page."""
    context = _page_context(request, version_pk, **extra)
    if attach is not None:
        attach(context)
    if request.htmx:
        return _partials(request, context, main, status=status)
    return render(request, PAGE, context, status=status)


CONTENT_CHANGED = ("probabilities", "hash")

# --- categories ---------------------------------------------------------------------


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
        form = (
            None
            if "cancel" in request.GET
            else CategoryForm(initial=_initial(category, CategoryForm), auto_id=auto_id)
        )
        return _failed(
            request,
            version_pk,
            "category_head",
            status=200,
            attach=lambda ctx: _attach(ctx, "categories", pk, form),
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
        # The inline weight box has no room for an editor: show the full form with the error.
        full = CategoryForm(
            {**_initial(category, CategoryForm), **request.POST.dict()}, auto_id=auto_id
        )
        full.is_valid()
        for field, errors in form.errors.items():
            for error in errors:
                full.add_error(field if field in full.fields else None, error)
        form = full
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
    version_pk = category.version_id
    try:
        services.category_delete(
            category=category,
            user=request.user,
            expected_row_version=_int(request.POST.get("row_version")),
        )
    except services.VersionImmutable as exc:
        return _immutable(request, version_pk, exc)
    except services.ConstitutionError as exc:
        return _failed(
            request,
            version_pk,
            "editor",
            status=409,
            attach=partial(_attach, list_name="categories", pk=pk, form=None, error=str(exc)),
        )
    return _done(
        request, version_pk, f"Deleted category {category.name!r}.", "editor", *CONTENT_CHANGED
    )


def _initial(obj, form_class) -> dict[str, Any]:
    initial = {name: getattr(obj, name) for name in form_class.base_fields if hasattr(obj, name)}
    if "category" in form_class.base_fields:
        initial["category"] = obj.category_id
    return initial


def _attach(
    context, list_name: str, pk: int, form, conflict=None, *, quick: bool = False, error: str = ""
) -> None:
    """Put the edit state on the object the page is about to render (the template checks it)."""
    obj = _find(context[list_name], pk)
    obj.edit_form = None if quick and conflict else form
    obj.conflict = conflict
    obj.error = error
    context[{"principles": "p", "categories": "c", "few_shots": "f"}[list_name]] = obj


# --- principles ---------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_POST
def principle_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request, pk, EDIT)
    categories = list(version.categories.all())
    form = PrincipleForm(request.POST, auto_id="new-principle-%s", categories=categories)
    if form.is_valid():
        data = form.cleaned_data
        try:
            principle = services.principle_add(
                version=version,
                user=request.user,
                category=_find(categories, data["category"]),
                key=data["key"],
                critique_request=data["critique_request"],
                revision_request=data["revision_request"],
                comparison_question=data["comparison_question"],
                weight=data["weight"],
                enabled=data["enabled"],
            )
        except services.VersionImmutable as exc:
            return _immutable(request, pk, exc)
        except services.ConstitutionError as exc:
            _add_error(form, exc)
        else:
            return _done(
                request,
                pk,
                f"Added principle {principle.key!r}.",
                "editor",
                *CONTENT_CHANGED,
                anchor=f"principle-{principle.pk}",
            )
    return _failed(request, pk, "editor", principle_form=form)


PRINCIPLE_FIELDS = ("key", "category", *PRINCIPLE_TEXT_FIELDS, "weight", "enabled")


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def principle_update(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the edit form partial. POST: the full form (has ``key``) or the inline
    weight/enabled form; only the fields present are changed."""
    principle = _child(request, Principle, pk)
    version_pk = principle.version_id
    categories = list(Category.objects.filter(version=version_pk))
    auto_id = f"principle-{pk}-%s"
    if request.method == "GET":
        form = (
            None
            if "cancel" in request.GET
            else PrincipleForm(
                initial=_initial(principle, PrincipleForm), auto_id=auto_id, categories=categories
            )
        )
        return _failed(
            request,
            version_pk,
            "principle",
            status=200,
            attach=lambda ctx: _attach(ctx, "principles", pk, form),
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
            fields["category"] = _find(categories, fields["category"])
        try:
            services.principle_update(
                principle=principle,
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
            message = f"Saved principle {principle.key!r}."
            if quick:
                return _done(
                    request,
                    version_pk,
                    message,
                    "principle",
                    *CONTENT_CHANGED,
                    anchor=f"principle-{pk}",
                    focus=("principles", "p", pk),
                )
            response = _done(
                request, version_pk, message, "editor", *CONTENT_CHANGED, anchor=f"principle-{pk}"
            )
            # The form was swapped into the principle's row; a category move needs the whole editor.
            return reswap(retarget(response, "#editor"), "outerHTML") if request.htmx else response
    if quick and conflict is None:
        full = PrincipleForm(
            {
                **_initial(principle, PrincipleForm),
                **request.POST.dict(),
                "category": principle.category_id,
            },
            auto_id=auto_id,
            categories=categories,
        )
        full.is_valid()
        for field, errors in form.errors.items():
            for error in errors:
                full.add_error(field if field in full.fields else None, error)
        form = full
    return _failed(
        request,
        version_pk,
        "principle",
        status=409 if conflict else 422,
        attach=lambda ctx: _attach(ctx, "principles", pk, form, conflict, quick=quick),
    )


@vary_on_headers("HX-Request")
@require_POST
def principle_delete(request: HttpRequest, pk: int) -> HttpResponse:
    principle = _child(request, Principle, pk)
    version_pk = principle.version_id
    try:
        services.principle_delete(
            principle=principle,
            user=request.user,
            expected_row_version=_int(request.POST.get("row_version")),
        )
    except services.VersionImmutable as exc:
        return _immutable(request, version_pk, exc)
    except services.ConstitutionError as exc:
        return _failed(
            request,
            version_pk,
            "editor",
            status=409,
            attach=partial(_attach, list_name="principles", pk=pk, form=None, error=str(exc)),
        )
    return _done(
        request, version_pk, f"Deleted principle {principle.key!r}.", "editor", *CONTENT_CHANGED
    )


@vary_on_headers("HX-Request")
@require_POST
def principle_move(request: HttpRequest, pk: int) -> HttpResponse:
    principle = _child(request, Principle, pk)
    version_pk = principle.version_id
    direction = request.POST.get("direction", "")
    try:
        services.principle_move(principle=principle, user=request.user, direction=direction)
    except services.VersionImmutable as exc:
        return _immutable(request, version_pk, exc)
    except services.ConstitutionError as exc:
        messages.error(request, str(exc))
        return redirect("version_detail", pk=version_pk)
    # Order is part of the content, so the hash (header) and table order change too.
    return _done(
        request,
        version_pk,
        f"Moved principle {principle.key!r} {direction}.",
        "editor",
        *CONTENT_CHANGED,
        anchor=f"principle-{pk}",
    )


# --- few-shot examples --------------------------------------------------------------

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
        form = (
            None
            if "cancel" in request.GET
            else FewShotForm(initial=_initial(example, FewShotForm), auto_id=auto_id)
        )
        return _failed(
            request,
            version_pk,
            "few_shots",
            status=200,
            attach=lambda ctx: _attach(ctx, "few_shots", pk, form),
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
    version_pk = example.version_id
    try:
        services.few_shot_delete(
            example=example,
            user=request.user,
            expected_row_version=_int(request.POST.get("row_version")),
        )
    except services.VersionImmutable as exc:
        return _immutable(request, version_pk, exc)
    except services.ConstitutionError as exc:
        return _failed(
            request,
            version_pk,
            "few_shots",
            status=409,
            attach=partial(_attach, list_name="few_shots", pk=pk, form=None, error=str(exc)),
        )
    return _done(
        request, version_pk, "Deleted a few-shot example.", "few_shots", "hash", anchor="few-shots"
    )
