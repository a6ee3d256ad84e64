"""Lookups and editing helpers shared by the constitution screens (public to the
sibling view modules; the team lookup, partial rendering and form errors come from
``cai_web.web``).

An htmx edit answers with partials of ``version_detail.html`` (plus out-of-band
updates); the same edit without htmx redirects or renders the whole page.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django_htmx.http import HttpResponseClientRefresh

from cai_web.models import Capability
from cai_web.permissions import get_for_user, require_membership
from cai_web.web import render_partial

from .. import selectors, services
from ..content import DEFAULT_COMPARISON_QUESTION
from ..forms import MAX_ROW_VERSION, CaseForm, CategoryForm, FewShotForm, PrincipleForm
from ..models import ChangeEvent, Constitution, ConstitutionVersion
from ..presenters import ProbabilityView, probability_view

PAGE = "constitutions/version_detail.html"
EDIT = Capability.EDIT_CONSTITUTIONS

# --- lookups ------------------------------------------------------------------------


def constitution_for(
    request: HttpRequest, pk: int, capability: str = Capability.VIEW
) -> Constitution:
    return get_for_user(
        Constitution.objects.select_related("team"), request.user, capability=capability, pk=pk
    )


def version_for(
    request: HttpRequest, pk: int, capability: str = Capability.VIEW
) -> ConstitutionVersion:
    return get_for_user(
        ConstitutionVersion.objects.select_related("constitution__team"),
        request.user,
        team_path="constitution__team",
        capability=capability,
        pk=pk,
    )


def child_for(request: HttpRequest, model, pk: int):
    """A category, principle or few-shot example the user may edit."""
    return get_for_user(
        model.objects.select_related("version__constitution__team"),
        request.user,
        team_path="version__constitution__team",
        capability=EDIT,
        pk=pk,
    )


CRITIQUE_TITLE = "Effective probability of each principle in critique-revision"
LABELLING_TITLE = "Effective probability of each principle in AI labelling"


def _chart(view: ProbabilityView, title: str) -> str:
    """The view's chart through the app's chart layer; nothing when nothing can be drawn."""
    from ..charts import probability_chart

    return probability_chart(view, title=title) if view.available else ""


def page_context(request: HttpRequest, pk: int, **extra: Any) -> dict[str, Any]:
    """Everything the version page and its partials need, in a fixed number of queries."""
    version = selectors.version_with_content(pk)
    membership = require_membership(request.user, version.constitution.team)
    content = selectors.version_content(version)
    categories = list(version.categories.all())
    principles = list(version.principles.all())
    for c in categories:
        c.principle_list = [p for p in principles if p.category_id == c.pk]
    can_edit = membership.can(EDIT) and version.is_editable
    critique = probability_view(content)
    labelling = probability_view(content, "comparison")
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
        "probabilities": critique,
        "probabilities_chart": _chart(critique, CRITIQUE_TITLE),
        "labelling_probabilities": labelling,
        "labelling_probabilities_chart": _chart(labelling, LABELLING_TITLE),
        "default_question": DEFAULT_COMPARISON_QUESTION,
        "can_edit": can_edit,
        "can_author": membership.can(EDIT),
        "category_form": CategoryForm(auto_id="new-category-%s"),
        "principle_form": PrincipleForm(auto_id="new-principle-%s", categories=categories),
        "few_shot_form": FewShotForm(auto_id="new-few-shot-%s"),
    }
    context.update(case_context(version, principles, content.content_hash()))
    context.update(extra)
    return context


def case_context(version: ConstitutionVersion, principles: list, live_hash: str) -> dict[str, Any]:
    """The test cases grouped by principle, each group with its badge from the version's
    last constitution check, and that check (stale when the content changed since)."""
    from training.kinds.constitution_check import check_view

    cases = list(version.test_cases.all())
    check = check_view(version, live_hash)
    groups = []
    for p in principles:
        mine = [c for c in cases if c.principle_id == p.pk]
        groups.append(
            {"principle": p, "cases": mine, "result": check.results.get(p.key) if check else None}
        )
    from ..models import PublishCheck

    rule = services.publish_check_rule(version.constitution.team)
    return {
        "publish_rule": rule,
        "publish_rule_label": PublishCheck(rule).label,
        "test_cases": cases,
        "case_groups": groups,
        "check": check,
        "case_form": CaseForm(auto_id="new-case-%s", principles=principles),
    }


def conflict_info(exc: services.EditConflict, form, fields: tuple[str, ...]) -> dict[str, Any]:
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
            mine = dict(form.fields["category"].choices).get(as_int(form.data.get("category")))
        elif name == "enabled":
            mine = form.data.get("enabled") in ("on", "true", "True", "1")
        else:
            mine = form.data.get(name, "")
        if name == "weight":
            changed = as_float(mine) != saved
        else:
            changed = str(saved).strip() != str(mine).strip()
        if changed:
            info["saved"].append((name.replace("_", " "), saved))
    info["last"] = (
        ChangeEvent.objects.filter(version=current.version_id).select_related("user").first()
    )
    return info


def as_int(value: Any) -> int | None:
    """A posted integer, or None when it is missing, not a number or out of any column's range."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if abs(number) <= MAX_ROW_VERSION else None


def as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def find_row(items, pk: int):
    return next(item for item in items if item.pk == pk)


def immutable(
    request: HttpRequest, version_pk: int, exc: services.ConstitutionError
) -> HttpResponse:
    messages.error(request, str(exc))
    if request.htmx:
        # The page is stale (the version left draft): reload it whole.
        return HttpResponseClientRefresh()
    return render(request, PAGE, page_context(request, version_pk), status=409)


def partials_response(
    request: HttpRequest, context: dict[str, Any], main: str, *oob: str, status: int = 200
) -> HttpResponse:
    """One partial for the htmx target plus out-of-band partials (each renders hx-swap-oob);
    ``cai_web.web.render_partial`` renders one partial, this page swaps several."""
    html = render_to_string(f"{PAGE}#{main}", context, request)
    for name in oob:
        html += render_to_string(f"{PAGE}#{name}", {**context, "oob": True}, request)
    return HttpResponse(html, status=status)


def done(
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
        context = page_context(request, version_pk, flash=message)
        if focus is not None:
            list_name, name, pk = focus
            context[name] = find_row(context[list_name], pk)
        return partials_response(request, context, main, *oob, "flash")
    messages.success(request, message)
    return redirect(reverse("version_detail", args=[version_pk]) + (f"#{anchor}" if anchor else ""))


def failed(
    request: HttpRequest,
    version_pk: int,
    main: str,
    *,
    status: int = 422,
    attach=None,
    **extra: Any,
) -> HttpResponse:
    """A refused edit: the form with its errors, as a partial (htmx) or on the whole page."""
    context = page_context(request, version_pk, **extra)
    if attach is not None:
        attach(context)
    return render_partial(request, PAGE, main, context, status=status)


CONTENT_CHANGED = ("probabilities", "hash")


def initial_of(obj, form_class) -> dict[str, Any]:
    initial = {name: getattr(obj, name) for name in form_class.base_fields if hasattr(obj, name)}
    if "category" in form_class.base_fields:
        initial["category"] = obj.category_id
    return initial


def attach_edit(
    context, list_name: str, pk: int, form, conflict=None, *, quick: bool = False, error: str = ""
) -> None:
    """Put the edit state on the object the page is about to render (the template checks it)."""
    obj = find_row(context[list_name], pk)
    obj.edit_form = None if quick and conflict else form
    obj.conflict = conflict
    obj.error = error
    names = {"principles": "p", "categories": "c", "few_shots": "f", "test_cases": "case"}
    context[names[list_name]] = obj


def missing_row_version(
    request: HttpRequest, version_pk: int, main: str, list_name: str, pk: int, exc: Exception
) -> HttpResponse:
    """400: an edit without the row_version it was opened at; the row shows why, freshly
    rendered (with the current row_version), so editing again works."""
    return failed(
        request,
        version_pk,
        main,
        status=400,
        attach=partial(attach_edit, list_name=list_name, pk=pk, form=None, error=str(exc)),
    )


def edit_row(
    request: HttpRequest, version_pk: int, main: str, list_name: str, pk: int, make_form
) -> HttpResponse:
    """GET on an edit URL: the row with its edit form, or back without it on ``?cancel``."""
    form = None if "cancel" in request.GET else make_form()
    return failed(
        request,
        version_pk,
        main,
        status=200,
        attach=lambda ctx: attach_edit(ctx, list_name, pk, form),
    )


def with_errors_of(quick_form, full_form):
    """The inline weight box has no room for an editor: show the full form, carrying the
    inline form's errors, so the user sees what was wrong and can fix it there."""
    full_form.is_valid()
    for field, errors in quick_form.errors.items():
        for error in errors:
            full_form.add_error(field if field in full_form.fields else None, error)
    return full_form


def delete_row(
    request: HttpRequest,
    obj,
    delete,
    *,
    list_name: str,
    main: str,
    message: str,
    oob: tuple[str, ...],
    anchor: str = "",
) -> HttpResponse:
    """Delete one row of a draft version through ``delete(user=, expected_row_version=)``.
    A refusal (a stale row_version, for one) is shown on the row itself."""
    version_pk = obj.version_id
    try:
        delete(user=request.user, expected_row_version=as_int(request.POST.get("row_version")))
    except services.VersionImmutable as exc:
        return immutable(request, version_pk, exc)
    except services.ConstitutionError as exc:
        return failed(
            request,
            version_pk,
            main,
            status=400 if isinstance(exc, services.RowVersionMissing) else 409,
            attach=partial(attach_edit, list_name=list_name, pk=obj.pk, form=None, error=str(exc)),
        )
    return done(request, version_pk, message, main, *oob, anchor=anchor)
